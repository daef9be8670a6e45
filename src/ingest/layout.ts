/**
 * Layout of an extract: finding the header row (title rows may sit above it), mapping columns to fields
 * through the header aliases (seeds/header-aliases.json + settings), and recognising rows that are not
 * data — blank lines, repeated header rows of concatenated exports, summary rows (合计 / 总计 / 小计) and
 * notes at the end (DOMAIN.md §2). Pure functions.
 */
import { toHalfWidth } from '../calendar/values.ts';

/** Normalises a header cell for alias lookup: full-width folded, lower-case, no spaces, no trailing unit like （元）, no `*`. */
export function headerKey(cell: string): string {
  return toHalfWidth(cell.normalize('NFKC'))
    .toLowerCase()
    .replace(/^\ufeff/, '')
    .replace(/[\s*:：]/g, '')
    .replace(/[（(][^）)]*[）)]$/, '');
}

/** A recognised header: which column holds which field. */
export interface Layout<F extends string> {
  /** 1-based line of the header row. */
  headerLine: number;
  /** Field → column index. */
  columns: Partial<Record<F, number>>;
  /** Header keys of the header row, to recognise repeated header rows. */
  headerKeys: string[];
}

/**
 * Maps the cells of a row to fields through the aliases, whether or not every required field is there.
 * Each field takes the first of its aliases (most specific) that appears in the row, in a column no other
 * field took.
 * @returns field → 0-based column index
 */
export function mapHeader<F extends string>(cells: readonly string[], aliases: Readonly<Record<F, readonly string[]>>): Partial<Record<F, number>> {
  const keys = cells.map(headerKey);
  const columns: Partial<Record<F, number>> = {};
  const taken = new Set<number>();
  for (const field of Object.keys(aliases) as F[]) {
    for (const alias of aliases[field]) {
      const idx = keys.indexOf(headerKey(alias));
      if (idx !== -1 && !taken.has(idx)) {
        columns[field] = idx;
        taken.add(idx);
        break;
      }
    }
  }
  return columns;
}

/**
 * Tries to read `cells` as a header row: every required field must be found.
 * @returns the column map, or null when this row is not a header
 */
export function matchHeader<F extends string>(
  cells: readonly string[],
  aliases: Readonly<Record<F, readonly string[]>>,
  required: readonly F[],
): Partial<Record<F, number>> | null {
  const columns = mapHeader(cells, aliases);
  return required.every((f) => columns[f] !== undefined) ? columns : null;
}

/** Why a row after the header is skipped rather than read as data. */
export type SkipKind = 'blank' | 'repeated_header' | 'summary' | 'note';

/**
 * True when `s` is non-empty and made only of characters headerKey leaves unchanged: unified CJK
 * ideographs U+4E00–U+9FFF (NFKC-stable), a–z, 0–9 — no case, width, space or unit (`/^[\u4e00-\u9fffa-z0-9]+$/`,
 * as a loop: issue 10, it runs for most cells of every row).
 */
function isKeyClean(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x4e00 && c <= 0x9fff) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57))) return false;
  }
  return true;
}
const SUMMARY = /^(合\s*计|总\s*计|小\s*计|累\s*计|共\s*计|本页合计|本页小计|total|subtotal|grand\s*total)/i;
const NOTE = /^(注|备注|说明|制表|填表|审核|打印|导出|数据来源|note)[:：\s]?/i;

function hasAsciiDigit(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) return true;
  }
  return false;
}

/** `c.trim() !== ''`, without trimming when the first character is visibly not white space (ASCII graphic, CJK ideograph). */
function filled(c: string): boolean {
  if (c === '') return false;
  const f = c.charCodeAt(0);
  if ((f > 0x20 && f < 0x7f) || (f >= 0x4e00 && f <= 0x9fff)) return true;
  return c.trim() !== '';
}

/**
 * Classifies a non-data row, or returns null for a data row.
 * @param headerKeys the header row's keys (from {@link headerKey})
 */
export function classifyRow(cells: readonly string[], headerKeys: readonly string[]): SkipKind | null {
  // Issue 10: this runs for every row, so it allocates nothing on a data row. The first non-empty cell
  // and whether there are at most two of them is all the summary and note tests need.
  let firstFilled = -1;
  let nonEmpty = 0;
  for (let i = 0; i < cells.length && nonEmpty <= 2; i++) {
    if (filled(cells[i]!)) {
      if (firstFilled === -1) firstFilled = i;
      nonEmpty++;
    }
  }
  if (nonEmpty === 0) return 'blank';
  let same = 0;
  const n = Math.min(cells.length, headerKeys.length);
  for (let i = 0; i < n; i++) {
    const hk = headerKeys[i]!;
    const c = cells[i]!;
    // Cheap test first: a cell with an ASCII digit cannot match a key without one.
    if (hk === '' || c === '' || (hasAsciiDigit(c) && !hasAsciiDigit(hk))) continue;
    // A cell of CJK ideographs, lower-case letters and digits only is its own header key (issue 10: most
    // data cells — names, schemes, banks — skip headerKey's normalisations).
    if (isKeyClean(c) ? c === hk : headerKey(c) === hk) same++;
  }
  // The threshold is at least 2: below that no need to count the header's keys.
  if (same >= 2) {
    let keys = 0;
    for (const k of headerKeys) if (k !== '') keys++;
    if (same >= Math.ceil(keys / 2)) return 'repeated_header';
  }
  const cell = cells[firstFilled]!;
  const c0 = cell.charCodeAt(0);
  // A first cell starting with an ASCII digit (a person number, an ID) is neither a summary nor a note.
  if (c0 >= 48 && c0 <= 57) return null;
  const first = toHalfWidth(cell);
  if (SUMMARY.test(first)) return 'summary';
  if (nonEmpty <= 2 && NOTE.test(first)) return 'note';
  return null;
}
