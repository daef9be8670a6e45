/**
 * Streaming XLSX reader (exceljs `stream.xlsx.WorkbookReader`): yields the same {@link SourceRow} as the
 * CSV reader, one per row stored in the workbook, so layout detection and row parsers never know the format.
 *
 * Which sheets: every worksheet, in the order the workbook stores them (sheet1.xml, sheet2.xml, …: the
 * order they were created, normally the tab order). Rows Excel never stored (empty rows) are not read.
 * `line` is the row number in the sheet plus the last row number of every earlier sheet — as if the sheets
 * were stacked — so a line identifies one row of the file; `sheet` says where it really is.
 *
 * Cell values become text the way the bureau reads them (DOMAIN.md §2, STYLE.md §12):
 * - a date cell (a number with a date format, including the Chinese built-in formats 27–36 and 50–58 that
 *   exceljs does not know) → `YYYY-MM-DD`, computed from the serial number alone — no time zone is
 *   involved, so the date is the same under any `TZ`; a format that shows a year and a month but no day
 *   (`yyyy"年"m"月"`) → `YYYY-MM`. Both date systems are honoured: 1900 (with Excel's phantom 1900-02-29:
 *   serial 60 reads `1900-02-29` and is refused by the date parser) and 1904 (`date1904="1"` or `"true"`
 *   in workbook.xml — see {@link patchReader});
 * - any other number → the shortest decimal that reads back as the same double (`3456.7`, `0.30000000000000004`,
 *   `360102195001011000`), and its index is recorded in `numericCells`: row parsers reject an identifier
 *   that lost digits, and amounts with more than two decimals are refused, never rounded;
 * - rich text, hyperlinks → their text; a formula → its cached result (a formula never calculated reads as
 *   empty); an error value (`#N/A`) → its text; booleans → `TRUE` / `FALSE`.
 *
 * Memory: rows are streamed; what stays in memory is the workbook's shared-string table (needed to read
 * any cell; kept compactly, see {@link CompactStrings}), the styles, and one row. Each sheet's XML is staged in a temporary
 * file and read after the whole archive has been seen (see {@link patchReader}, which also works around
 * exceljs's corruption of characters split across chunks).
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import type ExcelJS from 'exceljs';
import { IngestError } from './errors.ts';
import type { SourceRow } from './source-row.ts';

/**
 * zh-CN meanings of built-in number formats that exceljs leaves undefined (ECMA-376 Part 1 §18.8.30 lists
 * ids 27–36 and 50–58 as locale-dependent); a Chinese Excel writes dates with ids 31, 57 and 58.
 */
const ZH_CN_BUILTIN_FORMATS: Readonly<Record<number, string>> = {
  27: 'yyyy"年"m"月"', 28: 'm"月"d"日"', 29: 'm"月"d"日"', 30: 'm-d-yy', 31: 'yyyy"年"m"月"d"日"',
  32: 'h"时"mm"分"', 33: 'h"时"mm"分"ss"秒"', 34: '上午/下午h"时"mm"分"', 35: '上午/下午h"时"mm"分"ss"秒"', 36: 'yyyy"年"m"月"',
  50: 'yyyy"年"m"月"', 51: 'm"月"d"日"', 52: 'yyyy"年"m"月"', 53: 'm"月"d"日"', 54: 'm"月"d"日"',
  55: '上午/下午h"时"mm"分"', 56: '上午/下午h"时"mm"分"ss"秒"', 57: 'yyyy"年"m"月"', 58: 'm"月"d"日"',
};

/** What a number format shows: not a date, a full date, or a year and month only. */
export type DateFormatKind = 'number' | 'date' | 'month';

/**
 * Classifies an Excel number format code. Quoted text, `[...]` sections (colours, locales, elapsed time),
 * escapes (`\x`), padding (`_x`, `*x`) and exponents (`E+`) are ignored; what remains is a date when it
 * has a y, m, d, h or s token. A date format with a year but no day shows a month (`YYYY-MM`).
 */
export function dateFormatKind(format: string | undefined): DateFormatKind {
  if (!format || /^(general|@)$/i.test(format.trim())) return 'number';
  const f = format
    .replace(/"[^"]*"/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\\./g, '')
    .replace(/[_*]./g, '')
    .replace(/e[+-]/gi, '');
  if (!/[ymdhs]/i.test(f)) return 'number';
  const hasDay = /d/i.test(f);
  const hasYear = /[ye]/i.test(f);
  return hasYear && !hasDay ? 'month' : 'date';
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/**
 * Converts an Excel date serial to `YYYY-MM-DD` with integer arithmetic on the day count (the time of day
 * is dropped; no time zone is involved).
 * - 1900 system: serial 1 = 1900-01-01; serial 60 is Excel's phantom 1900-02-29 (returned as such, so the
 *   date parser refuses it); serial 0 is `1900-01-00` (likewise refused); 61 = 1900-03-01.
 * - 1904 system: serial 0 = 1904-01-01.
 * @returns null for a negative or non-finite serial (Excel shows ####)
 */
export function serialToIsoDate(serial: number, date1904: boolean): string | null {
  if (!Number.isFinite(serial) || serial < 0) return null;
  let days = Math.floor(serial);
  if (date1904) days += 1462;
  else if (days === 0) return '1900-01-00';
  else if (days === 60) return '1900-02-29';
  else if (days < 60) days += 1;
  const d = new Date(Date.UTC(1899, 11, 30) + days * 86_400_000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** The date systems of a workbook: what it declares, and what exceljs assumed when it built Date values. */
export interface DateSystem {
  /** The workbook uses the 1904 date system (`<workbookPr date1904="1"/>` or `"true"`). */
  date1904: boolean;
  /** exceljs converted date cells with the 1904 offset (it recognises only `"1"`). */
  exceljs1904: boolean;
}

/** The Excel serial of a Date exceljs built from a cell (it adds 1462 days when it took the workbook as 1904). */
function dateToSerial(d: Date, exceljs1904: boolean): number {
  return d.getTime() / 86_400_000 + 25569 - (exceljs1904 ? 1462 : 0);
}

/** Decodes Excel's `_xHHHH_` escapes (control characters, and `_x005F_` for a literal underscore). */
function unescapeOoxml(s: string): string {
  return s.includes('_x') ? s.replace(/_x([0-9A-Fa-f]{4})_/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))) : s;
}

/** The text of one cell, and whether it was stored as a (non-date) number. */
export interface CellText {
  text: string;
  numeric: boolean;
}

/**
 * Converts an exceljs cell value to text (see the module comment for the rules).
 * @param format the cell's number format code (exceljs `cell.numFmt`)
 */
export function cellToText(value: unknown, format: string | undefined, dates: DateSystem): CellText {
  const { date1904 } = dates;
  if (value === null || value === undefined) return { text: '', numeric: false };
  if (value instanceof Date) {
    const iso = serialToIsoDate(dateToSerial(value, dates.exceljs1904), date1904) ?? '';
    return { text: dateFormatKind(format) === 'month' ? iso.slice(0, 7) : iso, numeric: false };
  }
  if (typeof value === 'number') {
    const kind = dateFormatKind(format);
    if (kind !== 'number') {
      const iso = serialToIsoDate(value, date1904) ?? String(value);
      return { text: kind === 'month' ? iso.slice(0, 7) : iso, numeric: false };
    }
    return { text: String(value), numeric: true };
  }
  if (typeof value === 'string') return { text: unescapeOoxml(value), numeric: false };
  if (typeof value === 'boolean') return { text: value ? 'TRUE' : 'FALSE', numeric: false };
  if (typeof value === 'object') {
    const o = value as { richText?: { text?: string }[]; text?: unknown; error?: string; result?: unknown; formula?: string; sharedFormula?: string; sharedString?: number };
    if (o.sharedString !== undefined) throw new Error(`shared string ${o.sharedString} referenced but xl/sharedStrings.xml was not read`);
    if (Array.isArray(o.richText)) return { text: unescapeOoxml(o.richText.map((r) => r.text ?? '').join('')), numeric: false };
    if ('formula' in o || 'sharedFormula' in o) return cellToText(o.result, format, dates);
    if (typeof o.error === 'string') return { text: o.error, numeric: false };
    if (o.text !== undefined) return cellToText(o.text, format, dates);
  }
  return { text: String(value), numeric: false };
}

/** Joins cells with commas, quoting a cell that holds a comma, a quote or a line break (RFC 4180). */
export function joinRaw(cells: readonly string[]): string {
  return cells.map((c) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',');
}

/**
 * The workbook's shared-string table, kept compactly: a workbook of 200,000 payment rows holds some 600,000
 * distinct strings (IDs, accounts, person numbers, names), which exceljs would keep as as many JS strings in
 * an array (~100 bytes each, all scanned by the garbage collector). Here they are stored as UTF-8 in 1 MiB
 * buffers outside the JS heap, with a 12-byte index entry per string (~30 bytes a string in all). Rich text
 * is kept as its plain text (that is all a cell's text needs).
 */
export class CompactStrings {
  private static readonly CHUNK = 1 << 20;
  private readonly chunks: Buffer[] = [];
  private used = CompactStrings.CHUNK;
  private chunk = new Uint32Array(1024);
  private offset = new Uint32Array(1024);
  private size = new Uint32Array(1024);
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** Appends the next string (exceljs pushes a string, `{ richText }` or null). */
  push(value: unknown): number {
    let text = '';
    if (typeof value === 'string') text = value;
    else if (value && typeof value === 'object' && Array.isArray((value as { richText?: unknown }).richText)) {
      text = (value as { richText: { text?: string | null }[] }).richText.map((r) => r.text ?? '').join('');
    }
    const bytes = Buffer.byteLength(text, 'utf8');
    if (this.used + bytes > CompactStrings.CHUNK || this.chunks.length === 0) {
      this.chunks.push(Buffer.allocUnsafe(Math.max(CompactStrings.CHUNK, bytes)));
      this.used = 0;
    }
    if (this.count === this.chunk.length) {
      const grow = (a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.chunk = grow(this.chunk);
      this.offset = grow(this.offset);
      this.size = grow(this.size);
    }
    this.chunks[this.chunks.length - 1]!.write(text, this.used, 'utf8');
    this.chunk[this.count] = this.chunks.length - 1;
    this.offset[this.count] = this.used;
    this.size[this.count] = bytes;
    this.used += bytes;
    return ++this.count;
  }

  /** The i-th string, or undefined when there is none. */
  get(i: number): string | undefined {
    if (i >= this.count) return undefined;
    const start = this.offset[i]!;
    return this.chunks[this.chunk[i]!]!.toString('utf8', start, start + this.size[i]!);
  }

  /** An array-like view for exceljs (`table[index]`, `table.push(value)`). */
  asTable(): unknown {
    return new Proxy(this, {
      get(target, prop) {
        if (prop === 'push') return (v: unknown) => target.push(v);
        if (prop === 'length') return target.length;
        if (typeof prop === 'string') {
          const i = Number(prop);
          if (Number.isInteger(i) && i >= 0) return target.get(i);
        }
        return undefined;
      },
    });
  }
}

/** The parts of exceljs's WorkbookReader this module relies on (exceljs 4.4, lib/stream/xlsx/workbook-reader.js). */
interface ReaderInternals {
  workbookRels?: unknown;
  properties?: { model?: { date1904?: boolean } };
  styles?: { index?: { numFmt?: Record<number, string | undefined> }; getStyleModel(id: number): unknown };
  _parseWorksheet(iterator: unknown, sheetNo: string): unknown;
  _parseSharedStrings(entry: NodeJS.ReadableStream): AsyncGenerator<unknown>;
  _parseStyles(entry: NodeJS.ReadableStream): Promise<void>;
  _parseWorkbook(entry: NodeJS.ReadableStream): Promise<void>;
}

function decodeAsUtf8Text(stream: unknown): void {
  const s = stream as { setEncoding?: (enc: BufferEncoding) => unknown };
  if (typeof s.setEncoding === 'function') s.setEncoding('utf8');
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer | string) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * Fixes four defects of exceljs 4.4's streaming reader on one reader instance (nothing global is changed),
 * and returns a function giving the workbook's date system:
 *
 * 1. It decodes every chunk of an XML part as UTF-8 on its own, so a Chinese character split across two
 *    chunks becomes U+FFFD (exceljs issues #2063, #2084): a name would be silently changed. Every part it
 *    parses (shared strings, styles, sheets) is set to decode as text, which is exact across chunks.
 * 2. It parses a worksheet as soon as it meets it in the archive when the shared strings and the relations
 *    came first, even when styles.xml (date formats) or workbook.xml (the 1904 flag) come later — dates
 *    would read as plain numbers, or four years off. The relations are hidden until the archive has been
 *    read, so exceljs stages every sheet in a temporary file and parses it once everything else is known.
 * 3. It does not know the zh-CN built-in date formats (ids 27–36, 50–58): they are added to the workbook's
 *    format table where the workbook does not define them.
 * 4. It recognises `date1904="1"` but not `date1904="true"` (both valid, ECMA-376): workbook.xml (a few KiB)
 *    is read once here to learn the date system, then handed to exceljs.
 *
 * It also gives exceljs a {@link CompactStrings} table for the shared strings (memory).
 *
 * A fifth defect, unzipper's early end of the archive, is fixed in {@link archiveInput}. In case anything
 * still leaves a part unread, a sheet parsed without workbook.xml, a styled cell without styles.xml, or a
 * shared-string reference without the table throws, and the file is refused whole (FILE_UNREADABLE)
 * rather than read wrong (cells as `{ sharedString: n }`, dates as numbers).
 */
function patchReader(reader: ReaderInternals): () => DateSystem {
  // exceljs sets `sharedStrings = []` and pushes into it; it gets the compact table instead. Until then the
  // property is undefined, as exceljs expects when the workbook has no shared strings.
  let strings: unknown;
  Object.defineProperty(reader, 'sharedStrings', {
    configurable: true,
    get: () => strings,
    set: (v: unknown) => {
      strings = v === undefined ? undefined : new CompactStrings().asTable();
    },
  });
  let rels: unknown;
  let archiveRead = false;
  let workbookRead = false;
  const initialStyles = reader.styles;
  if (initialStyles) {
    // Replaced by a new manager when styles.xml is parsed; still in use means styles.xml was never read.
    const getStyleModel = initialStyles.getStyleModel;
    initialStyles.getStyleModel = function (this: unknown, id: number) {
      if (id > 0) throw new Error('a cell refers to cell styles but xl/styles.xml was not read');
      return getStyleModel.call(this, id);
    };
  }
  Object.defineProperty(reader, 'workbookRels', {
    configurable: true,
    get: () => (archiveRead ? rels : undefined),
    set: (v: unknown) => {
      rels = v;
    },
  });
  const parseWorksheet = reader._parseWorksheet;
  reader._parseWorksheet = function (this: ReaderInternals, iterator: unknown, sheetNo: string) {
    if (!workbookRead) throw new Error('the archive ended before xl/workbook.xml was read');
    if (!archiveRead) {
      archiveRead = true;
      const index = this.styles?.index?.numFmt;
      if (index) for (const [id, code] of Object.entries(ZH_CN_BUILTIN_FORMATS)) index[Number(id)] ??= code;
    }
    decodeAsUtf8Text(iterator);
    return parseWorksheet.call(this, iterator, sheetNo);
  };
  const parseSharedStrings = reader._parseSharedStrings;
  reader._parseSharedStrings = function (this: ReaderInternals, entry: NodeJS.ReadableStream) {
    decodeAsUtf8Text(entry);
    return parseSharedStrings.call(this, entry);
  };
  const parseStyles = reader._parseStyles;
  reader._parseStyles = function (this: ReaderInternals, entry: NodeJS.ReadableStream) {
    decodeAsUtf8Text(entry);
    return parseStyles.call(this, entry);
  };
  let date1904: boolean | null = null;
  const parseWorkbook = reader._parseWorkbook;
  reader._parseWorkbook = async function (this: ReaderInternals, entry: NodeJS.ReadableStream) {
    const xml = (await readAll(entry)).toString('utf8');
    workbookRead = true;
    date1904 = /<(?:[\w.-]+:)?workbookPr\b[^>]*\bdate1904\s*=\s*["'](?:1|true)["']/.test(xml);
    await parseWorkbook.call(this, Readable.from([xml], { objectMode: false }));
  };
  return () => ({ date1904: date1904 ?? false, exceljs1904: reader.properties?.model?.date1904 === true });
}

/**
 * The file as the input of exceljs, with unzipper 0.10's early end suppressed. unzipper's `Parse` emits
 * `end` by hand as soon as its writable side finishes — when the last bytes of the archive have been
 * parsed — even while entries it already pushed still wait unread in its readable buffer (exceljs is busy
 * staging a sheet); exceljs then stops, and the last small parts (shared strings, styles, workbook.xml)
 * are silently lost. Only a genuine end (the readable side ended and drained) is let through; the real one
 * follows once exceljs has taken every entry. A read error of the file is passed on to the archive.
 */
function archiveInput(file: string): fs.ReadStream {
  const input = fs.createReadStream(file);
  const pipe = input.pipe.bind(input);
  input.pipe = function <T extends NodeJS.WritableStream>(dest: T, options?: { end?: boolean }): T {
    const zip = dest as unknown as NodeJS.EventEmitter & { _readableState?: { ended: boolean; length: number } };
    const emit = zip.emit;
    zip.emit = function (this: typeof zip, event: string | symbol, ...args: unknown[]): boolean {
      const st = this._readableState;
      if (event === 'end' && st && !(st.ended && st.length === 0)) return false;
      return emit.call(this, event, ...args);
    };
    input.on('error', (e) => zip.emit('error', e));
    return pipe(dest, options);
  } as typeof input.pipe;
  return input;
}

function isIoError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

/**
 * Reads every worksheet of an XLSX workbook, row by row.
 * @param displayPath path used in error messages (relative to the inbox)
 * @throws IngestError(FILE_UNREADABLE) when the file is not a readable XLSX workbook (not a zip, damaged
 *   XML, no worksheet); an I/O error (EACCES, EIO) is rethrown as is
 */
export async function* readXlsx(file: string, displayPath: string): AsyncGenerator<SourceRow> {
  const { stream } = (await import('exceljs')).default; // loaded when an XLSX file is read (≈ 0.3 s)
  const reader = new stream.xlsx.WorkbookReader(archiveInput(file), {
    worksheets: 'emit', sharedStrings: 'cache', styles: 'cache', hyperlinks: 'ignore', entries: 'ignore',
  });
  const internals = reader as unknown as ReaderInternals;
  const dateSystem = patchReader(internals);
  const unreadable = (e: unknown): never => {
    if (isIoError(e)) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new IngestError('FILE_UNREADABLE', `${displayPath}: not a readable XLSX workbook (${why}); file rejected whole`, displayPath);
  };
  const sheets = reader[Symbol.asyncIterator]();
  let rows: AsyncIterator<ExcelJS.Row> | undefined;
  let sheetIndex = 0;
  let offset = 0;
  try {
    for (;;) {
      let next: IteratorResult<ExcelJS.stream.xlsx.WorksheetReader>;
      try {
        next = await sheets.next();
      } catch (e) {
        return unreadable(e);
      }
      if (next.done) break;
      sheetIndex++;
      const ws = next.value as ExcelJS.stream.xlsx.WorksheetReader & { name?: string };
      const dates = dateSystem();
      rows = ws[Symbol.asyncIterator]();
      let lastRow = 0;
      for (;;) {
        let r: IteratorResult<ExcelJS.Row>;
        try {
          r = await rows.next();
        } catch (e) {
          return unreadable(e);
        }
        if (r.done) break;
        const row = r.value;
        lastRow = row.number;
        const cells: string[] = [];
        let numeric: Set<number> | undefined;
        try {
          row.eachCell({ includeEmpty: false }, (cell, col) => {
            const t = cellToText(cell.value, cell.numFmt, dates);
            while (cells.length < col - 1) cells.push('');
            cells[col - 1] = t.text;
            if (t.numeric) (numeric ??= new Set()).add(col - 1);
          });
        } catch (e) {
          return unreadable(e);
        }
        while (cells.length && cells[cells.length - 1] === '') cells.pop();
        yield {
          line: offset + row.number,
          cells,
          raw: joinRaw(cells),
          ...(numeric ? { numericCells: numeric } : {}),
          sheet: { index: sheetIndex, name: ws.name ?? '', row: row.number },
        };
      }
      offset += lastRow;
    }
    if (sheetIndex === 0) {
      throw new IngestError('FILE_UNREADABLE', `${displayPath}: not a readable XLSX workbook (it holds no worksheet); file rejected whole`, displayPath);
    }
  } finally {
    // Stop exceljs early when the caller stops (e.g. no header in the first rows): closes the sheet stream.
    await rows?.return?.(undefined);
    await sheets.return?.(undefined);
  }
}
