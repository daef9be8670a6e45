/**
 * Streaming CSV reader: decodes (UTF-8 or GB18030, across any chunk boundary), parses RFC 4180 with
 * csv-parse, and yields one {@link SourceRow} per record with its 1-based physical line number. Memory does
 * not grow with file size. A record csv-parse cannot parse (an unclosed quote) is yielded as a row with
 * `error` so it becomes a reject and is never lost (STYLE.md §7).
 */
import fs from 'node:fs';
import { pipeline, Transform } from 'node:stream';
import { parse } from 'csv-parse';
import iconv from 'iconv-lite';
import type { TextEncoding } from './encoding.ts';
import { IngestError } from './errors.ts';

/** One record of an extract: its first physical line, the cell texts, and the raw text for rejects. */
export interface SourceRow {
  line: number;
  cells: string[];
  raw: string;
  /** Set when the record could not be parsed as CSV (then `cells` is empty). */
  error?: { code: string; reason: string };
}

function stripEol(s: string): string {
  return s.replace(/[\r\n]+$/, '');
}

/**
 * Reads a CSV file.
 * @param displayPath path used in error messages (relative to the inbox)
 * @throws IngestError(ENCODING_INVALID) when a GB18030 file holds byte sequences invalid in GB18030
 */
export async function* readCsv(file: string, encoding: TextEncoding, displayPath: string): AsyncGenerator<SourceRow> {
  const skipped: { row: SourceRow; endLine: number }[] = [];
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
      const endLine = Number((err as { lines?: number } | undefined)?.lines ?? 0);
      const newlines = (stripEol(text).match(/\r\n|\n|\r/g) ?? []).length;
      skipped.push({
        endLine,
        row: {
          line: Math.max(1, endLine - newlines),
          cells: [],
          raw: stripEol(text),
          error: { code: 'CSV_MALFORMED', reason: `not a valid CSV record (${err?.code ?? 'parse error'})` },
        },
      });
      return undefined;
    },
  });
  const input = fs.createReadStream(file, { highWaterMark: 1 << 16 });
  let badBytes = 0;
  if (encoding === 'gb18030') {
    const decoder = iconv.decodeStream('gb18030');
    const counter = new Transform({
      readableObjectMode: false,
      transform(chunk: Buffer | string, _enc, cb) {
        const s = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
        for (let i = s.indexOf('\ufffd'); i !== -1; i = s.indexOf('\ufffd', i + 1)) badBytes++;
        cb(null, s);
      },
    });
    pipeline(input, decoder, counter, parser, () => {});
  } else {
    input.setEncoding('utf8');
    pipeline(input, parser, () => {});
  }
  let prevLines = 0;
  for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number }; raw: string }>) {
    if (badBytes > 0) break;
    while (skipped.length && skipped[0]!.endLine < rec.info.lines) {
      const s = skipped.shift()!;
      prevLines = Math.max(prevLines, s.endLine);
      yield s.row;
    }
    const line = prevLines + 1;
    prevLines = rec.info.lines;
    yield { line, cells: rec.record, raw: stripEol(rec.raw) };
  }
  if (badBytes > 0) {
    parser.destroy();
    throw new IngestError('ENCODING_INVALID', `${displayPath}: bytes are valid neither as UTF-8 nor as GB18030 (${badBytes} undecodable sequences); file rejected whole`, displayPath);
  }
  while (skipped.length) yield skipped.shift()!.row;
}
