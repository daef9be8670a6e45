/**
 * File layouts of the payment extracts (issue 3, DOMAIN.md §2): `plain` writes a header row and data rows
 * only; `messy` adds what real exports carry — title rows above the header, blank lines, a repeated header
 * inside the data (two exports concatenated), a summary row (合计) with the file's total at the end (wrong
 * in one file), notes at the end, and XLSX workbooks (an ID stored as a number, dates as real date cells,
 * amounts as numbers).
 *
 * Every choice is a pure function of (seed, months, recipients) and balanced over the files, so that each
 * quirk appears whenever there are enough months.
 */
import { hash32, Rng, TAG } from './prng.ts';

export type Layout = 'plain' | 'messy';
export const LAYOUTS: readonly Layout[] = ['plain', 'messy'];

export const TITLE = '南昌市社会保险事业管理局 待遇发放明细表';
export const TITLE_REEXPORT = '南昌市社会保险事业管理局 待遇发放明细表（补充导出）';
/** `制表日期：2025年7月1日` (the day the table was made: the first day of the month after the pay month). */
export const tableDate = (y: number, m: number, d: number): string => `制表日期：${y}年${m}月${d}日`;
export const SUMMARY_LABEL = '合计';
export const NOTES: readonly (readonly string[])[] = [['注：本表金额单位为元'], ['制表人：熊建华', '审核人：刘芳']];

/** The largest month file written as XLSX: a worksheet holds at most 1,048,576 rows. */
export const XLSX_MAX_RECIPIENTS = 500_000;

/** How one payment file is laid out. */
export interface FileLayout {
  container: 'csv' | 'xlsx';
  /** Rows above the header: 0, 1 (title) or 2 (title, 制表日期). */
  titleRows: number;
  /** CSV: title rows padded with empty cells to the header's width. */
  padTitle: boolean;
  /** A blank line between the title rows and the header. */
  blankAfterTitle: boolean;
  /** Recipient index before whose rows a second export starts (blank line, [制表日期 note], header again), or null. */
  concatAt: number | null;
  /** The second export starts with its 制表日期 line (a note row). */
  concatNote: boolean;
  /** How a blank CSV line looks: nothing, or only separators. */
  blank: 'empty' | 'commas';
  /** A blank line before the summary row. */
  blankBeforeSummary: boolean;
  /** A 合计 row with the file's total (only in files without rejected rows: the total is unambiguous). */
  summary: boolean;
  /** The total written in the 合计 row is wrong by this many fen (0: correct). */
  summaryErrorFen: number;
  /** Note rows at the end (0–2, from {@link NOTES}). */
  notes: number;
  /** XLSX: legacy 15-digit IDs stored as numbers (exact, usable). */
  legacyIdsAsNumbers: boolean;
  /** XLSX: number format of the 发放日期 date cells. */
  dateNumFmt: string;
  /** XLSX: 待遇所属期 written as a date cell of the month's first day with a year-month format (else text). */
  periodAsDate: boolean;
}

export const PLAIN_LAYOUT: Readonly<FileLayout> = Object.freeze({
  container: 'csv',
  titleRows: 0,
  padTitle: false,
  blankAfterTitle: false,
  concatAt: null,
  concatNote: false,
  blank: 'empty',
  blankBeforeSummary: false,
  summary: false,
  summaryErrorFen: 0,
  notes: 0,
  legacyIdsAsNumbers: false,
  dateNumFmt: 'yyyy-mm-dd',
  periodAsDate: false,
});

/** The layout plan of a whole inbox. */
export interface LayoutPlan {
  /** Per month file. */
  months: FileLayout[];
  /** The CSV re-export (month `csvReexportMonth`). */
  csvReexport: FileLayout;
  /** The XLSX re-export of one district's routine rows of month `xlsxReexportMonth`, or null. */
  xlsxReexport: FileLayout | null;
  xlsxReexportMonth: number;
  /** Month whose XLSX file stores a few 18-digit IDs as numbers (digits lost: rejected), or −1. */
  lostIdMonth: number;
}

/** An array of `count` variants, each of `n` repeated evenly, shuffled: every variant appears when count ≥ n. */
export function balanced(n: number, count: number, rng: Rng): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(i % n);
  return rng.shuffle(out);
}

/**
 * Plans the layouts of an inbox.
 * @param csvReexportMonth month repeated by the CSV re-export (months − 2)
 */
export function planLayouts(layout: Layout, seed: number, months: number, recipients: number, csvReexportMonth: number): LayoutPlan {
  if (layout === 'plain') {
    return { months: Array.from({ length: months }, () => ({ ...PLAIN_LAYOUT })), csvReexport: { ...PLAIN_LAYOUT }, xlsxReexport: null, xlsxReexportMonth: -1, lostIdMonth: -1 };
  }
  const rng = new Rng(hash32(seed, TAG.layout, 1));
  const title = balanced(3, months, rng);
  const notes = balanced(3, months, rng);
  const concat = balanced(2, months, rng);
  const flags = balanced(4, months, rng);
  const out: FileLayout[] = [];
  for (let m = 0; m < months; m++) {
    out.push({
      ...PLAIN_LAYOUT,
      titleRows: title[m]!,
      padTitle: (flags[m]! & 1) === 1,
      blankAfterTitle: title[m]! > 0 && (flags[m]! & 2) === 2,
      concatAt: concat[m] === 1 && recipients >= 2 ? Math.floor(recipients / 2) : null,
      concatNote: (flags[m]! & 1) === 0,
      blank: (flags[m]! & 2) === 0 ? 'empty' : 'commas',
      blankBeforeSummary: (flags[m]! & 1) === 1,
      summary: true,
      notes: notes[m]!,
    });
  }
  // Two month files as XLSX (when there is room besides the re-exported months, and the sheets stay small).
  const used = new Set([csvReexportMonth]);
  const pick = (want: number): number => {
    for (let d = 0; d < months; d++) {
      for (const m of [want + d, want - d]) if (m >= 0 && m < months && !used.has(m)) return used.add(m), m;
    }
    return -1;
  };
  let lostIdMonth = -1;
  let xlsxReexportMonth = -1;
  if (months >= 4 && recipients <= XLSX_MAX_RECIPIENTS) {
    const x1 = pick(Math.floor(months / 4));
    const x2 = pick(Math.floor(months / 2));
    xlsxReexportMonth = pick(months - 3);
    out[x1] = { ...out[x1]!, container: 'xlsx', titleRows: 1, blankAfterTitle: false, blankBeforeSummary: false, padTitle: false, concatAt: null, notes: 1, legacyIdsAsNumbers: true, dateNumFmt: 'yyyy-mm-dd', periodAsDate: false };
    out[x2] = { ...out[x2]!, container: 'xlsx', titleRows: 0, blankAfterTitle: false, blankBeforeSummary: false, padTitle: false, concatAt: null, notes: 1, legacyIdsAsNumbers: true, dateNumFmt: 'yyyy"年"m"月"d"日"', periodAsDate: true };
    lostIdMonth = x1;
  }
  return {
    months: out,
    csvReexport: { ...PLAIN_LAYOUT, titleRows: 2, padTitle: true, blankAfterTitle: true, summary: true, notes: 1 },
    xlsxReexport:
      xlsxReexportMonth >= 0
        ? { ...PLAIN_LAYOUT, container: 'xlsx', titleRows: 2, summary: true, notes: 2, legacyIdsAsNumbers: false, dateNumFmt: 'yyyy/m/d', periodAsDate: false }
        : null,
    xlsxReexportMonth,
    lostIdMonth,
  };
}
