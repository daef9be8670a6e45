/**
 * CSV output for people who open files in Excel or WPS: UTF-8 with BOM, CRLF line ends, RFC 4180 quoting,
 * and text cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) neutralised
 * with a leading apostrophe. Numeric columns are written as plain numbers and never altered.
 */
import fs from 'node:fs';
import path from 'node:path';

/** A cell: text (neutralised and quoted as needed), a number, or an already formatted numeric string. */
export type CsvValue = string | number | null | undefined | { numeric: string };

const FORMULA_START = /^[=+\-@\t\r]/;

/** Encodes one cell (RFC 4180; formula-injection safe for text). */
export function csvCell(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'object') return v.numeric;
  let s = v;
  if (FORMULA_START.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

/** One CSV line with CRLF. */
export function csvLine(cells: readonly CsvValue[]): string {
  return cells.map(csvCell).join(',') + '\r\n';
}

/**
 * Writes a CSV file (BOM, CRLF) atomically: to a temporary name, then renamed into place.
 * @param rows iterable of rows; the header is written even when there are no rows
 */
export async function writeCsv(file: string, header: readonly string[], rows: Iterable<readonly CsvValue[]>): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const out = fs.createWriteStream(tmp);
  const write = (s: string): Promise<void> | void => {
    if (!out.write(s)) return new Promise((r) => out.once('drain', () => r()));
  };
  await write('\ufeff' + csvLine(header));
  let buf = '';
  for (const r of rows) {
    buf += csvLine(r);
    if (buf.length > 1 << 16) {
      await write(buf);
      buf = '';
    }
  }
  if (buf) await write(buf);
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  fs.renameSync(tmp, file);
}
