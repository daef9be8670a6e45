/**
 * Streaming CSV reader: decodes (UTF-8 or GB18030, across any chunk boundary), parses RFC 4180 with
 * csv-parse, and yields one {@link SourceRow} per record with its 1-based physical line number. Memory does
 * not grow with file size. A record csv-parse cannot parse (an unclosed quote) is yielded as a row with
 * `error` so it becomes a reject and is never lost (STYLE.md §7).
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream';
import { parse } from 'csv-parse';
import { Gb18030Decoder, type TextEncoding } from './encoding.ts';
import { IngestError } from './errors.ts';
import type { SourceRow } from './source-row.ts';

export type { SourceRow } from './source-row.ts';

/** Options of {@link readCsv}. */
export interface CsvReadOptions {
  /** Bytes per read chunk (default 64 KiB); tests make it tiny so chunk boundaries fall inside characters. */
  highWaterMark?: number;
}

function stripEol(s: string): string {
  return s.replace(/(?:\r\n|\n|\r)$/, '');
}

/** Number of line breaks (CRLF, LF or CR) in a text. */
function lineBreaks(s: string): number {
  return (s.match(/\r\n|\n|\r/g) ?? []).length;
}

/**
 * Reads a CSV file.
 * @param displayPath path used in error messages (relative to the inbox)
 * @throws IngestError(ENCODING_INVALID) when a GB18030 file holds byte sequences invalid in GB18030 (after
 *   every row was yielded: the caller's file transaction must roll back — a file is all or none)
 */
export async function* readCsv(file: string, encoding: TextEncoding, displayPath: string, options: CsvReadOptions = {}): AsyncGenerator<SourceRow> {
  // Records csv-parse could not parse, in order; `endLine` is csv-parse's own line count (used only to
  // order them among the good records), `text` the raw record with its line break.
  const skipped: { row: SourceRow; endLine: number; text: string }[] = [];
  const parser = parse({
    info: true,
    raw: true,
    bom: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: false,
    skip_records_with_error: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    on_skip: (err, raw) => {
      const text = raw ?? '';
      skipped.push({
        endLine: Number((err as { lines?: number } | undefined)?.lines ?? 0),
        text,
        row: {
          line: 0,
          cells: [],
          raw: stripEol(text),
          error: { code: 'CSV_MALFORMED', reason: `not a valid CSV record (${err?.code ?? 'parse error'})` },
        },
      });
      return undefined;
    },
  });
  const input = fs.createReadStream(file, { highWaterMark: options.highWaterMark ?? 1 << 16 });
  let decoder: Gb18030Decoder | null = null;
  if (encoding === 'gb18030') {
    decoder = new Gb18030Decoder();
    pipeline(input, decoder, parser, () => {});
  } else {
    input.setEncoding('utf8');
    pipeline(input, parser, () => {});
  }
  const badBytes = (): number => decoder?.invalid ?? 0;
  // Physical line numbers are counted here from the raw text: csv-parse counts a CRLF inside a quoted
  // cell as two lines.
  let next = 1;
  const take = (text: string): number => {
    const line = next;
    next += lineBreaks(text) + (/[\r\n]$/.test(text) ? 0 : 1);
    return line;
  };
  for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number }; raw: string }>) {
    if (badBytes() > 0) break;
    while (skipped.length && skipped[0]!.endLine < rec.info.lines) {
      const s = skipped.shift()!;
      yield { ...s.row, line: take(s.text) };
    }
    yield { line: take(rec.raw), cells: rec.record, raw: stripEol(rec.raw) };
  }
  if (badBytes() > 0) {
    parser.destroy();
    throw new IngestError('ENCODING_INVALID', `${displayPath}: bytes are valid neither as UTF-8 nor as GB18030 (${badBytes()} undecodable sequences); file rejected whole`, displayPath);
  }
  while (skipped.length) {
    const s = skipped.shift()!;
    yield { ...s.row, line: take(s.text) };
  }
}
