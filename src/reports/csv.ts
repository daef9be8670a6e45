/**
 * CSV output for people who open files in Excel or WPS: UTF-8 with BOM, CRLF line ends, RFC 4180 quoting,
 * and text cells that a spreadsheet would run as a formula neutralised with a leading apostrophe (OWASP
 * "CSV injection": a text cell starting with = + - @, tab or CR; the full-width ＝ ＋ － ＠ too, which
 * East-Asian spreadsheet set-ups may treat alike). Numeric columns are written as plain numbers and never
 * altered, so a negative amount stays a number.
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * A cell: text (neutralised and quoted as needed), a number, or an already formatted numeric string
 * (`{ numeric: '-12.50' }`, written as is — for amounts in yuan formatted from integer fen).
 */
export type CsvValue = string | number | null | undefined | { numeric: string };

const FORMULA_START = /^[=+\-@\t\r＝＋－＠]/;
const NUMERIC = /^-?\d+(\.\d+)?$/;

/**
 * Encodes one cell (RFC 4180; formula-injection safe for text).
 * @throws RangeError when a `{ numeric }` cell is not a plain decimal number (it would bypass neutralisation)
 */
export function csvCell(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`CSV number cell must be finite, got ${v}`);
    return String(v);
  }
  if (typeof v === 'object') {
    if (!NUMERIC.test(v.numeric)) throw new RangeError(`CSV numeric cell must be a plain decimal number, got "${v.numeric}"`);
    return v.numeric;
  }
  let s = v;
  if (FORMULA_START.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

/** One CSV line with CRLF. */
export function csvLine(cells: readonly CsvValue[]): string {
  return cells.map(csvCell).join(',') + '\r\n';
}

/**
 * Writes a CSV file (BOM, CRLF) atomically: to a temporary name, then renamed into place. `-` writes to
 * standard output, and an existing path that is not a regular file (`/dev/stdout`, a FIFO) is written in
 * place — never replaced.
 * @param rows iterable of rows; the header is written even when there are no rows
 * @throws Error when the file cannot be written (the temporary file is removed)
 */
export async function writeCsv(file: string, header: readonly string[], rows: Iterable<readonly CsvValue[]>): Promise<void> {
  const toStdout = file === '-';
  const inPlace = toStdout || writesInPlace(file);
  if (!inPlace) fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = inPlace ? file : `${file}.tmp-${process.pid}`;
  const out: import('node:stream').Writable = toStdout ? process.stdout : fs.createWriteStream(tmp);
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  const write = (s: string): Promise<void> | void => {
    if (!out.write(s)) return Promise.race([new Promise<void>((r) => out.once('drain', () => r())), failed]);
  };
  try {
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
    if (toStdout) return;
    await Promise.race([new Promise<void>((resolve, reject) => out.end(() => resolve())), failed]);
    if (!inPlace) fs.renameSync(tmp, file);
  } catch (e) {
    if (!toStdout) out.destroy();
    if (!inPlace) fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** True when `file` exists and is not a regular file (a device such as /dev/stdout, a FIFO): write it in place. */
export function writesInPlace(file: string): boolean {
  try {
    return !fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
