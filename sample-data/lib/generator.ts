/**
 * Deterministic synthetic inbox for fundguard: monthly pension payment extracts, death-record extracts from
 * three sources, and the findings a correct run must produce (expected/).
 *
 * - Every recipient is a pure function of (seed, index) (model.ts, patterns.ts); the output is byte-identical
 *   for the same options on any machine and time zone (XLSX workbooks: for the same zlib build, xlsx.ts).
 * - Payment rows are streamed: one pass over the recipients writes every month file at once; only death
 *   records (a few % of the population), the rows of the few recipients whose findings are computed, the
 *   peer amounts amount_anomaly needs, and the expected cases are held in memory, so memory stays flat.
 * - `layout` (layout.ts): `plain` writes a header and data rows only (the benchmark input); `messy` adds title
 *   rows, blank lines, repeated headers, summary rows, notes and XLSX workbooks, with their accounting.
 *
 * Expected findings (expected/cases.csv) are computed for every detector from the payments as written
 * (oracle.ts): DOMAIN.md §4 and README "Detectors".
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  DATE_FORMATS,
  PERIOD_FORMATS,
  absMonth,
  civilFromDays,
  daysFromCivil,
  formatDay,
  formatPeriod,
  formatPeriodParts,
  monthOf,
  parseYearMonth,
  periodCompact,
  periodIso,
  yearOf,
  type DateFormat,
  type PeriodFormat,
} from './calendar.ts';
import { hash32, Rng, TAG } from './prng.ts';
import { DISTRICTS, ID_SPACE, Identities, fullWidthDigits, legacyName, makePerson, pickAgency, pickBank, pickDistrict, type Person } from './population.ts';
import {
  ITEM_CODES,
  ITEM_PENSION,
  SCHEMES,
  SOURCES,
  agencyAt,
  makeNonRecipientDeath,
  makeRecipient,
  routineFen,
  type BatchKind,
  type Recipient,
  type SourceId,
  type World,
} from './model.ts';
import { PATTERNS, patternLeads, placeStories, roleLookup } from './patterns.ts';
import {
  DETECTOR_ORDER,
  anomalyFindings,
  expectUnit,
  peerOutlier,
  type Detector,
  type ExpectedFinding,
  type OwnOutlier,
  type StoredRow,
  type UnitPerson,
} from './oracle.ts';
import { NOTES, SUMMARY_LABEL, TITLE, TITLE_REEXPORT, balanced, planLayouts, tableDate, type FileLayout, type Layout } from './layout.ts';
import { FILE_ENCODINGS, Sink, csvCell, type Eol, type FileEncoding } from './sink.ts';
import { XlsxSheetWriter, type XlsxCell, type XlsxDateColumn } from './xlsx.ts';

export type { Layout } from './layout.ts';

/** Options of {@link generateInbox}. */
export interface GenerateOptions {
  /** PRNG seed (non-negative integer). */
  seed: number;
  /** Number of pension recipients (1 … ~6,000,000). */
  recipients: number;
  /** Number of monthly payment files (window length, 1 … 240). */
  months: number;
  /** First month of the window, `YYYY-MM`. */
  start: string;
  /** Output directory: `inbox/` and `expected/` are (re)created inside it. */
  outDir: string;
  /**
   * File layout (layout.ts): `plain` (header and data rows, CSV only — the benchmark input) or `messy` (title
   * rows, repeated headers, summary rows, notes, blank lines, XLSX). Default `plain` here (callers that predate
   * layouts, such as bench/run.ts, keep their input); the CLI defaults to `messy` ({@link DEFAULT_OPTIONS}).
   */
  layout?: Layout;
  /**
   * Collect the peer amounts amount_anomaly needs during the pass, for the groups the pattern instances are
   * known to need (default true). false leaves every group to the second pass that otherwise only collects
   * groups nobody foresaw — the same result, slower; tests use it to check that both paths agree.
   */
  peersInPass?: boolean;
}

/** Defaults of the CLI (`npm run generate`): the committed sample. */
export const DEFAULT_OPTIONS: Readonly<Omit<GenerateOptions, 'outDir'> & { layout: Layout }> = Object.freeze({
  seed: 20240101,
  recipients: 3000,
  months: 18,
  start: '2024-01',
  layout: 'messy',
});

export type RejectCode =
  | 'ID_BAD_LENGTH'
  | 'ID_BAD_CHARACTERS'
  | 'ID_PRECISION_LOST'
  | 'AMOUNT_TOO_PRECISE'
  | 'AMOUNT_INVALID'
  | 'PERIOD_INVALID'
  | 'SCHEME_UNKNOWN';

/** The bad rows planted in the payment files (each must be rejected with its code). */
const BAD_ROW_CODES: readonly RejectCode[] = [
  'ID_BAD_LENGTH',
  'ID_BAD_LENGTH',
  'ID_BAD_CHARACTERS',
  'ID_BAD_CHARACTERS',
  'AMOUNT_TOO_PRECISE',
  'AMOUNT_TOO_PRECISE',
  'AMOUNT_INVALID',
  'PERIOD_INVALID',
  'PERIOD_INVALID',
  'SCHEME_UNKNOWN',
];

/** 18-digit IDs stored as numbers in the messy layout's first XLSX month file (each row rejected). */
const LOST_ID_ROWS = 4;

export interface ExpectedReject {
  file: string;
  line: number;
  code: RejectCode;
}

type AmountStyle = 'plain' | 'grouped' | 'yuan';
const AMOUNT_STYLES: readonly AmountStyle[] = ['plain', 'grouped', 'yuan'];

interface PaymentFormat {
  encoding: FileEncoding;
  lineEnding: Eol;
  period: PeriodFormat;
  amount: AmountStyle;
  date: DateFormat;
  scheme: 'code' | 'name';
  /** How the legacy system writes a character outside the BMP. */
  rareChar: '?' | '□';
}

interface DeathFormat {
  encoding: FileEncoding;
  lineEnding: Eol;
  date: DateFormat;
}

/** Rows that are not data, by kind (ingest counts them all as skipped). */
export interface SkippedRows {
  title: number;
  header: number;
  blank: number;
  repeatedHeader: number;
  summary: number;
  note: number;
}

/** Per-file entry of summary.json: the accounting a correct ingest must report for the file. */
export interface FileSummary {
  file: string;
  kind: 'payments' | 'deaths';
  source?: SourceId;
  format: 'csv' | 'xlsx';
  /** CSV only (null for XLSX). */
  encoding: FileEncoding | null;
  lineEnding: Eol | null;
  /** Data rows (accepted + rejected). */
  rows: number;
  /** Rows expected to be rejected by ingest. */
  rejects: number;
  /** Rows repeating a payment already seen in an earlier file (same batch, person, scheme, item, period). */
  overlap: number;
  /** Every physical record: CSV lines, XLSX sheet rows (title, header, blank, summary and note rows included). */
  rowsRead: number;
  accepted: number;
  rejected: number;
  /** Title rows + header + blank lines + repeated headers + summary rows + notes. */
  skipped: number;
  repeated: number;
  skippedRows: SkippedRows;
  /** The 合计 row: its line, the total written in it and the sum of the accepted amounts of the file (fen). */
  summaryRow: { line: number; statedTotal: number; expectedTotal: number } | null;
  formats: Record<string, string>;
}

/** A summary row whose total does not match its file (to be reported as SUMMARY_MISMATCH; not a rejected row). */
export interface SummaryMismatch {
  file: string;
  line: number;
  /** Sum of the accepted amounts of the file, fen. */
  expectedTotal: number;
  /** The total written in the 合计 row, fen. */
  statedTotal: number;
}

export interface Summary {
  generator: string;
  options: { seed: number; recipients: number; months: number; start: string; end: string; layout: Layout };
  files: FileSummary[];
  summaryMismatches: SummaryMismatch[];
  totals: {
    paymentFiles: number;
    xlsxFiles: number;
    paymentRows: number;
    paymentRowsRejected: number;
    paymentRowsOverlap: number;
    distinctPayments: number;
    reversalRows: number;
    deathFiles: number;
    deathRecords: Record<SourceId, number>;
    nonDeathCancellations: number;
    recipients: number;
    deceasedRecipients: number;
    nonRecipientDeaths: number;
    /** deceased_payment cases (recipients paid after death). */
    overpaidRecipients: number;
    totalOverpaidFen: number;
    totalOverpaid: string;
    /** Expected cases per detector. */
    cases: Record<Detector, number>;
    /** Sum of the expected case amounts per detector, fen (0 for the review detectors). */
    caseAmountFen: Record<Detector, number>;
  };
  scenarios: {
    stoppedInTime: number;
    overpaidByLag: number;
    lagCappedByWindow: number;
    withFuneralGrant: number;
    withBackPayAfterDeath: number;
    withPostDeathBackPay: number;
    withReversal: number;
    fullyReversed: number;
    partialReversal: number;
    livingWithBackPay: number;
    newRetirees: number;
    agencyMovers: number;
    rareNameRecipients: number;
    minorityNameRecipients: number;
    legacyIdRecipients: number;
    lowercaseXRecipients: number;
    forced: { scenario: string; idNumber: string; deceased: boolean; deathDate: string | null; expectCase: boolean }[];
  };
  /** Anomaly patterns (patterns.ts): instances placed, and the fixed ones with their members' IDs. */
  patterns: {
    instances: Record<string, { forced: number; random: number }>;
    forced: { pattern: string; kind: 'finding' | 'decoy'; finds: readonly string[]; clears: readonly string[]; members: string[]; findings: string[] }[];
  };
}

export interface GenerateResult {
  inboxDir: string;
  expectedDir: string;
  summary: Summary;
}

const PAYMENT_HEADER = '个人编号,姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,发放日期,银行账号,开户银行,经办机构,发放批次号';
const PAYMENT_HEADER_CELLS = PAYMENT_HEADER.split(',');
const PAYMENT_COLUMNS = PAYMENT_HEADER_CELLS.length;
const DEATH_HEADERS: Record<SourceId, string> = {
  'civil-affairs': '逝者姓名,身份证号,性别,出生日期,死亡日期,火化日期',
  'public-security': '姓名,公民身份号码,性别,注销原因,死亡日期,注销日期',
  health: '死者姓名,证件号码,性别,死亡日期',
};
const DEATH_FILE_PREFIX: Record<SourceId, string> = {
  'civil-affairs': '火化信息',
  'public-security': '户籍注销',
  health: '死亡医学证明',
};
const CASES_HEADER = 'detector,id_number,name,district_code,scheme,first_period,last_period,months,amount,confidence';

/** Tags for the derived streams local to this module. */
const LOCAL_TAG = { rowNoise: 101, formats: 102, deathFormats: 103, reexport: 104 } as const;

const KINDS: readonly BatchKind[] = ['P', 'S', 'B', 'R'];
const KIND_INDEX: Record<BatchKind, number> = { P: 0, S: 1, B: 2, R: 3 };
/** Runs of a batch: 01 (routine), 02 and 03 (re-runs). */
const RUNS = 3;
/** Batch slot of (kind, run, scheme index): the index into the per-month batch and pay-day tables. */
const slot = (kind: BatchKind, run: number, si: number): number => (KIND_INDEX[kind] * RUNS + run - 1) * SCHEMES.length + si;

function validate(opts: GenerateOptions): { startAbs: number; layout: Layout } {
  const intIn = (v: number, lo: number, hi: number, what: string) => {
    if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new RangeError(`${what} must be an integer in [${lo}, ${hi}], got "${v}"`);
  };
  intIn(opts.seed, 0, Number.MAX_SAFE_INTEGER, 'seed');
  intIn(opts.recipients, 1, 6_000_000, 'recipients');
  intIn(opts.months, 1, 240, 'months');
  const startAbs = parseYearMonth(opts.start);
  if (yearOf(startAbs) < 2000 || yearOf(startAbs + opts.months - 1) > 2099) throw new RangeError(`window must lie in 2000–2099, got start "${opts.start}"`);
  if (!opts.outDir) throw new RangeError('outDir is required');
  const layout = opts.layout ?? 'plain';
  if (layout !== 'plain' && layout !== 'messy') throw new RangeError(`layout must be "plain" or "messy", got "${String(layout)}"`);
  return { startAbs, layout };
}

/** Formats signed fen as yuan text in a file's amount style (grouped cells are quoted by csvCell). */
function amountText(fen: number, style: AmountStyle): string {
  const neg = fen < 0;
  const a = neg ? -fen : fen;
  const f = a % 100;
  const yuan = (a - f) / 100;
  let y = String(yuan);
  if (style === 'grouped' && y.length > 3) {
    let g = '';
    while (y.length > 3) {
      g = ',' + y.slice(-3) + g;
      y = y.slice(0, -3);
    }
    y += g;
  }
  const body = `${y}.${f < 10 ? '0' : ''}${f}`;
  if (style === 'yuan') return neg ? `￥-${body}` : `￥${body}`;
  const s = neg ? '-' + body : body;
  return style === 'grouped' ? csvCell(s) : s;
}

/** Day of the month a batch is paid on: routine 5–15, re-runs and others later in the month. */
function batchDayOfMonth(seed: number, kind: BatchKind, schemeCode: string, abs: number, run: number): number {
  if (run > 1) return 16 + (hash32(seed, TAG.payDay, kind.charCodeAt(0), Number(schemeCode), abs, run) % 12);
  const h = hash32(seed, TAG.payDay, kind.charCodeAt(0), Number(schemeCode), abs);
  switch (kind) {
    case 'P':
      return 5 + (h % 11);
    case 'R':
      return 18 + (h % 10);
    default:
      return 16 + (h % 10);
  }
}

/** An instant for an Excel date cell: UTC midnight of a day number (no time zone involved). */
const excelDate = (day: number): Date => new Date(day * 86_400_000);

interface PaymentFile {
  rel: string;
  /** Window month of the file (pay month). */
  m: number;
  format: PaymentFormat;
  layout: FileLayout;
  sink: Sink | null;
  xlsx: XlsxSheetWriter | null;
  /** Period cell per window month: text, or (XLSX, periodAsDate) a date. */
  periodText: string[];
  periodCell: XlsxCell[];
  schemeText: string[];
  /** Pay date text / date cell per batch slot ({@link slot}: kind, run, scheme). */
  dayText: string[];
  dayCell: Date[];
  /** 姓名 as this file writes it (a rare character as `?` or `□`): true for `?`. */
  questionMark: boolean;
  dateColumns: XlsxDateColumn[];
  data: number;
  rejects: number;
  overlap: number;
  reversals: number;
  sumFen: number;
  skipped: SkippedRows;
  summaryRow: FileSummary['summaryRow'];
}

interface DeathLine {
  day: number;
  id: string;
  line: string;
}

/** A growable list of int32 (peer amounts in fen). */
class IntList {
  data = new Int32Array(256);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new Int32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }
}

const byteCmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Generates the inbox and the expected findings into `opts.outDir` (its `inbox/` and `expected/` are removed
 * first). Streams payment rows; resolves when every file is closed.
 */
export async function generateInbox(opts: GenerateOptions): Promise<GenerateResult> {
  const { startAbs, layout } = validate(opts);
  const M = opts.months;
  const R = opts.recipients;
  const seed = opts.seed;
  const endAbs = startAbs + M - 1;
  const nonRecipientDeaths = Math.max(3, Math.round(R * 0.03));
  if (R + nonRecipientDeaths + BAD_ROW_CODES.length > ID_SPACE) throw new RangeError(`too many recipients for the ID space (${ID_SPACE})`);

  const placement = placeStories(R);
  const world: World = {
    seed,
    recipients: R,
    months: M,
    startAbs,
    ids: new Identities(seed),
    forced: placement.scenarios,
    roleOf: roleLookup(seed, R, placement),
  };

  const inboxDir = path.join(opts.outDir, 'inbox');
  const expectedDir = path.join(opts.outDir, 'expected');
  await rm(inboxDir, { recursive: true, force: true });
  await rm(expectedDir, { recursive: true, force: true });
  await mkdir(path.join(inboxDir, 'payments'), { recursive: true });
  for (const s of SOURCES) await mkdir(path.join(inboxDir, 'deaths', s), { recursive: true });
  await mkdir(expectedDir, { recursive: true });

  // ---- file formats (balanced so that every variant appears) --------------------------------------------
  const fr = new Rng(hash32(seed, TAG.fileFormats, LOCAL_TAG.formats));
  const enc = balanced(3, M, fr);
  const per = balanced(3, M, fr);
  const amt = balanced(3, M, fr);
  const dat = balanced(4, M, fr);
  const sch = balanced(2, M, fr);
  const eol = balanced(2, M, fr);
  const rare = balanced(2, M, fr);
  const paymentFormats: PaymentFormat[] = [];
  for (let m = 0; m < M; m++) {
    paymentFormats.push({
      encoding: FILE_ENCODINGS[enc[m]!]!,
      lineEnding: eol[m] === 0 ? 'crlf' : 'lf',
      period: PERIOD_FORMATS[per[m]!]!,
      amount: AMOUNT_STYLES[amt[m]!]!,
      date: DATE_FORMATS[dat[m]!]!,
      scheme: sch[m] === 0 ? 'code' : 'name',
      rareChar: rare[m] === 0 ? '?' : '□',
    });
  }
  // The re-export repeats the routine rows of the month before last, in a different format and encoding.
  const ovM = Math.max(0, M - 2);
  const variant = (base: PaymentFormat): PaymentFormat => ({
    encoding: FILE_ENCODINGS[(FILE_ENCODINGS.indexOf(base.encoding) + fr.int(1, 2)) % 3]!,
    lineEnding: base.lineEnding === 'crlf' ? 'lf' : 'crlf',
    period: PERIOD_FORMATS[(PERIOD_FORMATS.indexOf(base.period) + fr.int(1, 2)) % 3]!,
    amount: AMOUNT_STYLES[(AMOUNT_STYLES.indexOf(base.amount) + fr.int(1, 2)) % 3]!,
    date: DATE_FORMATS[(DATE_FORMATS.indexOf(base.date) + fr.int(1, 3)) % 4]!,
    scheme: base.scheme === 'code' ? 'name' : 'code',
    rareChar: base.rareChar === '?' ? '□' : '?',
  });
  const ovFormat = variant(paymentFormats[ovM]!);
  const plan = planLayouts(layout, seed, M, R, ovM);

  // ---- batches and pay days per window month, kind, run and scheme (the same in every file) -------------
  const batchText: string[][] = [];
  const payDay: number[][] = [];
  for (let m = 0; m < M; m++) {
    const abs = startAbs + m;
    const texts: string[] = [];
    const days: number[] = [];
    for (const k of KINDS) {
      for (let run = 1; run <= RUNS; run++) {
        SCHEMES.forEach((s, si) => {
          texts[slot(k, run, si)] = `${k}${s.code}${periodCompact(abs)}0${run}`;
          days[slot(k, run, si)] = daysFromCivil(yearOf(abs), monthOf(abs), batchDayOfMonth(seed, k, s.code, abs, run));
        });
      }
    }
    batchText.push(texts);
    payDay.push(days);
  }

  const openPaymentFile = (rel: string, m: number, format: PaymentFormat, fl: FileLayout): PaymentFile => {
    const abs = (rel2: string) => path.join(inboxDir, ...rel2.split('/'));
    const xlsx = fl.container === 'xlsx';
    const periodText: string[] = [];
    const periodCell: XlsxCell[] = [];
    for (let p = 0; p < M; p++) {
      periodText.push(formatPeriod(startAbs + p, format.period));
      periodCell.push(fl.periodAsDate ? excelDate(daysFromCivil(yearOf(startAbs + p), monthOf(startAbs + p), 1)) : formatPeriod(startAbs + p, format.period));
    }
    const days = payDay[m]!;
    const dateColumns: XlsxDateColumn[] = [{ col: 9, numFmt: fl.dateNumFmt }];
    if (fl.periodAsDate) dateColumns.push({ col: 7, numFmt: 'yyyy"年"m"月"' });
    return {
      rel,
      m,
      format,
      layout: fl,
      sink: xlsx ? null : new Sink(abs(rel), format.encoding, format.lineEnding),
      xlsx: xlsx ? new XlsxSheetWriter(abs(rel), excelDate(daysFromCivil(yearOf(endAbs + 1), monthOf(endAbs + 1), 1)), '待遇发放明细') : null,
      periodText,
      periodCell,
      schemeText: SCHEMES.map((s) => (format.scheme === 'code' ? s.code : s.name)),
      dayText: days.map((d) => formatDay(d, format.date)),
      dayCell: days.map(excelDate),
      questionMark: format.rareChar === '?',
      dateColumns,
      data: 0,
      rejects: 0,
      overlap: 0,
      reversals: 0,
      sumFen: 0,
      skipped: { title: 0, header: 0, blank: 0, repeatedHeader: 0, summary: 0, note: 0 },
      summaryRow: null,
    };
  };

  /** Line (CSV) or sheet row (XLSX) the next row of `f` gets. */
  const nextLine = (f: PaymentFile): number => (f.sink ? f.sink.lines : f.xlsx!.rows) + 1;
  const skipRow = (f: PaymentFile, kind: keyof SkippedRows, cells: readonly XlsxCell[], pad: boolean): void => {
    f.skipped[kind]++;
    if (f.xlsx) {
      f.xlsx.row(cells);
      return;
    }
    const texts = cells.map((c) => (c === null ? '' : csvCell(String(c))));
    while (pad && texts.length < PAYMENT_COLUMNS) texts.push('');
    f.sink!.line(texts.join(','));
  };
  const blankRow = (f: PaymentFile): void => {
    if (f.xlsx) return; // Excel does not store an empty row: nothing is read
    skipRow(f, 'blank', [], f.layout.blank === 'commas');
  };
  const tableDateText = (f: PaymentFile): string => {
    const [y, mo] = [yearOf(startAbs + f.m + 1), monthOf(startAbs + f.m + 1)];
    return tableDate(y, mo, 1);
  };
  const writeHead = (f: PaymentFile, title: string): void => {
    const fl = f.layout;
    if (fl.titleRows >= 1) skipRow(f, 'title', [title], fl.padTitle);
    if (fl.titleRows >= 2) skipRow(f, 'title', [tableDateText(f)], fl.padTitle);
    if (fl.titleRows > 0 && fl.blankAfterTitle) blankRow(f);
    skipRow(f, 'header', PAYMENT_HEADER_CELLS, false);
  };
  const concatenate = (f: PaymentFile): void => {
    blankRow(f);
    if (f.layout.concatNote) skipRow(f, 'note', [tableDateText(f)], false);
    skipRow(f, 'repeatedHeader', PAYMENT_HEADER_CELLS, false);
  };
  const writeTail = (f: PaymentFile, summaryErrorFen: number): void => {
    const fl = f.layout;
    if (fl.summary && f.rejects === 0) {
      if (fl.blankBeforeSummary) blankRow(f);
      const stated = f.sumFen + summaryErrorFen;
      f.summaryRow = { line: nextLine(f), statedTotal: stated, expectedTotal: f.sumFen };
      const cells: XlsxCell[] = [SUMMARY_LABEL, `共${f.data}笔`, null, null, null, null, null];
      if (f.xlsx) skipRow(f, 'summary', [...cells, stated / 100], false);
      else {
        // The amount in the file's own style (a grouped amount is quoted: keep it out of csvCell).
        f.skipped.summary++;
        f.sink!.line([...cells.map((c) => (c === null ? '' : String(c))), amountText(stated, f.format.amount), '', '', '', '', ''].join(','));
      }
    }
    for (let k = 0; k < fl.notes; k++) skipRow(f, 'note', NOTES[k]!, false);
  };

  const monthFiles: PaymentFile[] = [];
  for (let m = 0; m < M; m++) {
    const fl = plan.months[m]!;
    monthFiles.push(openPaymentFile(`payments/待遇发放明细_${periodCompact(startAbs + m)}.${fl.container}`, m, paymentFormats[m]!, fl));
  }
  const ovFile = openPaymentFile(`payments/待遇发放明细_补充导出_${periodCompact(startAbs + ovM)}.csv`, ovM, ovFormat, plan.csvReexport);
  const xrM = plan.xlsxReexportMonth;
  const xrFile = plan.xlsxReexport ? openPaymentFile(`payments/待遇发放明细_补充导出_${periodCompact(startAbs + xrM)}.xlsx`, xrM, variant(paymentFormats[xrM]!), plan.xlsxReexport) : null;
  /** The XLSX re-export holds the routine rows of one district's agencies. */
  const xrDistrict = DISTRICTS[new Rng(hash32(seed, TAG.fileFormats, LOCAL_TAG.reexport)).int(0, DISTRICTS.length - 1)]!.code;
  const allPaymentFiles = [...monthFiles, ovFile, ...(xrFile ? [xrFile] : [])];
  for (const f of allPaymentFiles) writeHead(f, f === ovFile || f === xrFile ? TITLE_REEXPORT : TITLE);
  const concatAt = new Map<number, PaymentFile[]>();
  for (const f of monthFiles) {
    if (f.layout.concatAt === null) continue;
    const list = concatAt.get(f.layout.concatAt) ?? [];
    list.push(f);
    concatAt.set(f.layout.concatAt, list);
  }

  // ---- 18-digit IDs stored as numbers (messy: a few rows of one XLSX file; every such row is rejected) ----
  const lostIds = new Set<number>();
  if (plan.lostIdMonth >= 0) {
    const start = hash32(seed, TAG.idAsNumber) % R;
    for (let j = 0; j < R && lostIds.size < LOST_ID_ROWS; j++) {
      const i = (start + j * 104729) % R;
      const r = makeRecipient(world, i);
      // A plain living recipient with a digits-only ID, paid that month: the lost row changes no finding.
      if (r.role || r.scenario || r.death || r.idForm !== 'n18' || r.person.id18.endsWith('X') || r.startM > plan.lostIdMonth) continue;
      lostIds.add(i);
    }
  }

  // ---- death-record file formats ------------------------------------------------------------------------
  const q0 = Math.floor(startAbs / 3);
  const Q = Math.floor(endAbs / 3) - q0 + 1;
  const dr = new Rng(hash32(seed, TAG.fileFormats, LOCAL_TAG.deathFormats));
  const dEnc = balanced(3, 3 * Q, dr);
  const deathFormats: DeathFormat[][] = SOURCES.map((s, si) => {
    const dates = balanced(4, Q, dr);
    return Array.from({ length: Q }, (_, q) => ({
      encoding: FILE_ENCODINGS[dEnc[si * Q + q]!]!,
      lineEnding: dr.chance(0.5) ? 'crlf' : 'lf',
      date: s === 'health' ? 'cjk' : DATE_FORMATS[dates[q]!]!,
    }));
  });
  const deathLines: DeathLine[][][] = SOURCES.map(() => Array.from({ length: Q }, () => []));
  const quarterOfDay = (day: number, fallback: number): number => {
    // File = quarter of the death date (or, for a non-death cancellation, of the cancellation).
    const [y, mo] = civilFromDays(day);
    const q = Math.floor(absMonth(y, mo) / 3) - q0;
    return q >= 0 && q < Q ? q : fallback;
  };
  const sexText = (p: Person) => (p.sex === 'M' ? '男' : '女');
  const addDeathRecords = (p: Person, day: number, civil: number | null, publicSec: number | null, health: boolean) => {
    const q = quarterOfDay(day, 0);
    if (civil !== null) {
      const f = deathFormats[0]![q]!;
      deathLines[0]![q]!.push({
        day,
        id: p.id18,
        line: `${p.name},${p.id18},${sexText(p)},${formatDay(p.birthDay, f.date)},${formatDay(day, f.date)},${formatDay(civil, f.date)}`,
      });
    }
    if (publicSec !== null) {
      const f = deathFormats[1]![q]!;
      deathLines[1]![q]!.push({
        day,
        id: p.id18,
        line: `${p.name},${p.id18},${sexText(p)},死亡,${formatDay(day, f.date)},${formatDay(publicSec, f.date)}`,
      });
    }
    if (health) {
      deathLines[2]![q]!.push({ day, id: p.id18, line: `${p.name},${p.id18},${sexText(p)},${formatDay(day, 'cjk')}` });
    }
  };

  // ---- bad rows plan ------------------------------------------------------------------------------------
  const br = new Rng(hash32(seed, TAG.badRows));
  const badPlan = BAD_ROW_CODES.map((code, k) => ({ code, k, m: br.int(0, M - 1), at: br.int(0, R) }));
  badPlan.sort((a, b) => a.at - b.at || a.k - b.k);
  const rejects: ExpectedReject[] = [];
  const writeBadRow = (plan: (typeof badPlan)[number]) => {
    const f = monthFiles[plan.m]!;
    const rng = new Rng(hash32(seed, TAG.badPerson, plan.k));
    const idSlot = R + nonRecipientDeaths + plan.k;
    const district = pickDistrict(rng);
    const sex = rng.chance(0.5) ? 'M' : 'F';
    const p = makePerson(world.ids, rng, idSlot, DISTRICTS[district]!.code, sex, {});
    const si = rng.int(0, SCHEMES.length - 1);
    const s = SCHEMES[si]!;
    const fen = rng.int(s.minFen, s.maxFen);
    const bank = pickBank(rng);
    let id = p.id18;
    let scheme = f.schemeText[si]!;
    let amount: string | number | null = null;
    let period: XlsxCell = null;
    let batch = batchText[plan.m]![slot('P', 1, si)]!;
    switch (plan.code) {
      case 'ID_BAD_LENGTH': {
        const cut = rng.int(0, 16);
        id = id.slice(0, cut) + id.slice(cut + 1);
        break;
      }
      case 'ID_BAD_CHARACTERS': {
        const at = rng.int(6, 16);
        id = id.slice(0, at) + rng.pick(['O', 'I', 'B']) + id.slice(at + 1);
        break;
      }
      case 'AMOUNT_TOO_PRECISE': {
        const body = `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}${rng.int(1, 9)}`;
        amount = f.xlsx ? Number(body) : f.format.amount === 'yuan' ? `￥${body}` : body;
        break;
      }
      case 'AMOUNT_INVALID':
        amount = 'abc';
        break;
      case 'PERIOD_INVALID':
        period = formatPeriodParts(yearOf(startAbs + f.m), 13, f.format.period);
        break;
      case 'SCHEME_UNKNOWN':
        scheme = '999';
        batch = `P999${periodCompact(startAbs + f.m)}01`;
        break;
    }
    const personNo = world.ids.personNo(idSlot);
    const account = world.ids.account(idSlot, bank.prefix);
    const agency = pickAgency(rng, district);
    rejects.push({ file: f.rel, line: nextLine(f), code: plan.code });
    f.rejects++;
    f.data++;
    if (f.xlsx) {
      f.xlsx.row(
        [personNo, p.name, id, sexText(p), scheme, ITEM_PENSION, period ?? f.periodCell[f.m]!, amount ?? fen / 100, f.dayCell[slot('P', 1, si)]!, account, bank.name, agency, batch],
        f.dateColumns,
      );
    } else {
      const amountCell = amount === null ? amountText(fen, f.format.amount) : String(amount);
      f.sink!.line(`${personNo},${p.name},${id},${sexText(p)},${scheme},${ITEM_PENSION},${period ?? f.periodText[f.m]},${amountCell},${f.dayText[slot('P', 1, si)]},${account},${bank.name},${agency},${batch}`);
    }
  };
  let badNext = 0;

  // ---- rows of a recipient -------------------------------------------------------------------------------
  /** One payment row of a recipient, in file order (routine rows and extras by pay month); `b` = batch slot. */
  type RowFn = (m: number, b: number, si: number, item: string, period: number, fen: number, account: string, bank: string, agency: string, routine: boolean) => void;
  const forEachRow = (r: Recipient, fn: RowFn): void => {
    const lastRoutine = r.death ? r.death.lastPaid : M - 1;
    const extras = r.extras;
    const alt = r.altAccount;
    const si0 = r.scheme;
    let xi = 0;
    while (xi < extras.length && extras[xi]!.m < r.startM) {
      const x = extras[xi++]!;
      const si = x.scheme ?? si0;
      fn(x.m, slot(x.kind, x.run ?? 1, si), si, x.item, x.period, x.fen, r.account, r.bank, agencyAt(r, x.m), false);
    }
    for (let m = r.startM; m < M; m++) {
      if (m > lastRoutine && xi >= extras.length) break;
      if (m <= lastRoutine) {
        const a = alt !== null && m >= alt.from && m <= alt.to ? alt : r;
        fn(m, si0, si0, ITEM_PENSION, m, routineFen(world, r, m), a.account, a.bank, m >= r.moveM ? r.agency2 : r.agency, true);
      }
      while (xi < extras.length && extras[xi]!.m === m) {
        const x = extras[xi++]!;
        const si = x.scheme ?? si0;
        fn(m, slot(x.kind, x.run ?? 1, si), si, x.item, x.period, x.fen, r.account, r.bank, agencyAt(r, m), false);
      }
    }
  };
  const isLost = (i: number, m: number, routine: boolean): boolean => m === plan.lostIdMonth && routine && lostIds.has(i);

  /** Stored rows of a unit (pattern instance or one recipient), as the oracle reads them. */
  const unitOf = (members: readonly Recipient[]): { persons: UnitPerson[]; rows: StoredRow[] } => {
    const persons: UnitPerson[] = [];
    const rows: StoredRow[] = [];
    members.forEach((r, k) => {
      persons.push({ id: r.person.id18, name: r.person.name, deathName: r.death ? r.person.name : null, deathMonth: r.death ? r.death.m : null });
      let prevM = -1;
      let n = 0;
      forEachRow(r, (m, b, si, item, period, fen, account, _bank, agency, routine) => {
        if (m !== prevM) (prevM = m), (n = 0);
        const seq = (m * R + r.index) * 64 + n++;
        if (isLost(r.index, m, routine)) return;
        rows.push({ person: k, scheme: SCHEMES[si]!.code, item: ITEM_CODES[item] ?? item, period, fen, day: payDay[m]![b]!, batch: batchText[m]![b]!, agency, account, seq });
      });
    });
    return { persons, rows };
  };

  // ---- amount_anomaly peers: the peer groups the own-history outliers need, known before the pass ---------
  const D = DISTRICTS.length;
  const districtIndex = new Map(DISTRICTS.map((d, k) => [d.code, k] as const));
  const groupCode = (schemeCode: string, districtCode: string, period: number): number =>
    (SCHEMES.findIndex((s) => s.code === schemeCode) * D + districtIndex.get(districtCode)!) * M + period;
  const leads = patternLeads(seed, R, placement);
  const peerGroups = new Map<number, IntList>();
  const wanted = new Uint8Array(SCHEMES.length * D * M);
  for (const { lead, pattern } of opts.peersInPass === false ? [] : leads) {
    const members = Array.from({ length: pattern.size }, (_, k) => makeRecipient(world, lead + k));
    const { persons, rows } = unitOf(members);
    for (const o of expectUnit(persons, rows).own) {
      if (o.group.item !== 'pension') continue;
      const code = groupCode(o.group.scheme, o.group.district, o.group.period);
      wanted[code] = 1;
      if (!peerGroups.has(code)) peerGroups.set(code, new IntList());
    }
  }
  const collectPeers = peerGroups.size > 0;

  // ---- counters -----------------------------------------------------------------------------------------
  const sc: Omit<Summary['scenarios'], 'forced'> = {
    stoppedInTime: 0,
    overpaidByLag: 0,
    lagCappedByWindow: 0,
    withFuneralGrant: 0,
    withBackPayAfterDeath: 0,
    withPostDeathBackPay: 0,
    withReversal: 0,
    fullyReversed: 0,
    partialReversal: 0,
    livingWithBackPay: 0,
    newRetirees: 0,
    agencyMovers: 0,
    rareNameRecipients: 0,
    minorityNameRecipients: 0,
    legacyIdRecipients: 0,
    lowercaseXRecipients: 0,
  };
  const forced: Summary['scenarios']['forced'] = [];
  const findings: ExpectedFinding[] = [];
  const ownOutliers: { o: OwnOutlier; ownFen: number[] }[] = [];
  const instances: Summary['patterns']['instances'] = Object.fromEntries(PATTERNS.map((p) => [p.name, { forced: 0, random: 0 }]));
  const forcedPatterns: Summary['patterns']['forced'] = [];
  let deceased = 0;
  let nonDeathCancellations = 0;
  let unit: Recipient[] = [];

  const finishUnit = (members: Recipient[]): ExpectedFinding[] => {
    const { persons, rows } = unitOf(members);
    const res = expectUnit(persons, rows);
    findings.push(...res.findings);
    for (const o of res.own) {
      const k = persons.indexOf(o.person);
      const ownFen = rows
        .filter((x) => x.person === k && x.fen > 0 && x.item === o.group.item && x.scheme === o.group.scheme && x.period === o.group.period && x.agency.slice(0, 6) === o.group.district)
        .map((x) => x.fen);
      ownOutliers.push({ o, ownFen });
    }
    return res.findings;
  };

  // ---- the single pass over recipients -----------------------------------------------------------------
  // The recipient being written (set once per recipient, so that the row writers are not re-created per row).
  let cur!: Recipient;
  let noise!: Rng;
  let baseId = '';
  let nameQ = '';
  let nameBox = '';
  let sx = '';
  let districtA = 0;
  let districtB = 0;
  const idText = (): string => {
    if (noise.float() >= 0.003) return baseId;
    if (noise.chance(0.5)) return fullWidthDigits(baseId);
    const at = noise.chance(0.5) ? 6 : baseId.length === 15 ? 12 : 14;
    return baseId.slice(0, at) + ' ' + baseId.slice(at);
  };
  const write = (f: PaymentFile, b: number, si: number, item: string, period: number, fen: number, account: string, bank: string, agency: string, lost: boolean): void => {
    const r = cur;
    const id = idText();
    const name = f.questionMark ? nameQ : nameBox;
    f.data++;
    if (lost) {
      rejects.push({ file: f.rel, line: nextLine(f), code: 'ID_PRECISION_LOST' });
      f.rejects++;
    } else f.sumFen += fen;
    if (fen < 0) f.reversals++;
    if (f.sink !== null) {
      f.sink.line(`${r.personNo},${name},${id},${sx},${f.schemeText[si]},${item},${f.periodText[period]},${amountText(fen, f.format.amount)},${f.dayText[b]},${account},${bank},${agency},${batchText[f.m]![b]}`);
      return;
    }
    const idCell: string | number = lost ? Number(r.person.id18) : f.layout.legacyIdsAsNumbers && r.idForm === 'legacy15' && id === baseId ? Number(id) : id;
    f.xlsx!.row([r.personNo, name, idCell, sx, f.schemeText[si]!, item, f.periodCell[period]!, fen / 100, f.dayCell[b]!, account, bank, agency, batchText[f.m]![b]!], f.dateColumns);
  };
  const onRow: RowFn = (m, b, si, item, period, fen, account, bank, agency, routine) => {
    const lost = routine && m === plan.lostIdMonth && lostIds.has(cur.index);
    write(monthFiles[m]!, b, si, item, period, fen, account, bank, agency, lost);
    if (routine) {
      if (m === ovM) {
        write(ovFile, b, si, item, period, fen, account, bank, agency, false);
        ovFile.overlap++;
      }
      if (m === xrM && xrFile !== null && agency.startsWith(xrDistrict)) {
        write(xrFile, b, si, item, period, fen, account, bank, agency, false);
        xrFile.overlap++;
      }
    }
    if (collectPeers && !lost && fen > 0 && item === ITEM_PENSION) {
      const code = (si * D + (m >= cur.moveM ? districtB : districtA)) * M + period;
      if (wanted[code] === 1) peerGroups.get(code)!.push(fen);
    }
  };
  const writeRecipient = (r: Recipient): void => {
    cur = r;
    noise = new Rng(hash32(seed, LOCAL_TAG.rowNoise, r.index));
    const p = r.person;
    baseId = r.idForm === 'legacy15' ? p.id15 : r.idForm === 'lowerx' ? p.id18.slice(0, 17) + 'x' : p.id18;
    nameQ = p.rare ? legacyName(p.name, '?') : p.name;
    nameBox = p.rare ? legacyName(p.name, '□') : p.name;
    sx = sexText(p);
    if (collectPeers) {
      districtA = districtIndex.get(r.agency.slice(0, 6))!;
      districtB = districtIndex.get(r.agency2.slice(0, 6))!;
    }
    forEachRow(r, onRow);
  };

  for (let i = 0; i < R; i++) {
    for (const f of concatAt.get(i) ?? []) concatenate(f);
    while (badNext < badPlan.length && badPlan[badNext]!.at === i) writeBadRow(badPlan[badNext++]!);
    const r = makeRecipient(world, i);
    writeRecipient(r);

    const p = r.person;
    if (r.startM > 0) sc.newRetirees++;
    if (r.moveM < M) sc.agencyMovers++;
    if (p.rare) sc.rareNameRecipients++;
    if (p.minority) sc.minorityNameRecipients++;
    if (r.idForm === 'legacy15') sc.legacyIdRecipients++;
    if (r.idForm === 'lowerx') sc.lowercaseXRecipients++;
    if (r.livingBackPay) sc.livingWithBackPay++;
    if (r.cancel) {
      nonDeathCancellations++;
      const q = quarterOfDay(r.cancel.day, 0);
      const f = deathFormats[1]![q]!;
      deathLines[1]![q]!.push({
        day: r.cancel.day,
        id: p.id18,
        line: `${p.name},${p.id18},${sexText(p)},${r.cancel.reason},,${formatDay(r.cancel.day, f.date)}`,
      });
    }
    const d = r.death;
    if (d) {
      deceased++;
      addDeathRecords(p, d.day, d.civil, d.publicSecurity, d.health);
      if (d.lastPaid > d.m) sc.overpaidByLag++;
      if (d.m + d.lag > M - 1) sc.lagCappedByWindow++;
      if (r.funeral) sc.withFuneralGrant++;
      if (r.legitBackPay) sc.withBackPayAfterDeath++;
      if (r.postDeathBackPay) sc.withPostDeathBackPay++;
    }
    // Findings: a pattern instance once its last member is written; a deceased recipient alone; a living one
    // whose own amounts vary enough to hold an outlier (a residents' pension raised over several years).
    let mine: ExpectedFinding[] = [];
    if (r.role) {
      if (r.role.member === 0) unit = [];
      unit.push(r);
      if (r.role.member === r.role.pattern.size - 1) {
        finishUnit(unit);
        if (unit[0]!.role!.forced) {
          forcedPatterns.push({
            pattern: r.role.pattern.name,
            kind: r.role.pattern.kind,
            finds: r.role.pattern.finds,
            clears: r.role.pattern.clears,
            members: unit.map((u) => u.person.id18),
            findings: [],
          });
        }
        instances[r.role.pattern.name]![unit[0]!.role!.forced ? 'forced' : 'random']++;
      }
    } else if (d) {
      mine = finishUnit([r]);
    } else {
      let lo = Infinity;
      let hi = -Infinity;
      for (const a of r.amounts) (lo = Math.min(lo, a)), (hi = Math.max(hi, a));
      if ((hi - lo) * 4 > lo) finishUnit([r]);
    }
    if (d && !r.role) {
      const c = mine.find((f) => f.detector === 'deceased_payment');
      if (d.lastPaid === d.m && !c) sc.stoppedInTime++;
      if (r.reversal) {
        sc.withReversal++;
        if (r.reversal === 'partial') sc.partialReversal++;
        if (!c) sc.fullyReversed++;
      }
    }
    if (r.scenario) {
      forced.push({
        scenario: r.scenario.name,
        idNumber: p.id18,
        deceased: !!d,
        deathDate: d ? formatDay(d.day, 'iso') : null,
        expectCase: mine.some((f) => f.detector === 'deceased_payment'),
      });
    }
    if ((i & 127) === 127) await Promise.all(allPaymentFiles.map((f) => (f.sink ? f.sink.drain() : f.xlsx!.drain())));
  }
  while (badNext < badPlan.length) writeBadRow(badPlan[badNext++]!);

  // ---- summary rows and notes; one total deliberately wrong (a file without rejects, CSV) ----------------
  const eligible = layout === 'messy' ? monthFiles.filter((f) => f.sink && f.layout.summary && f.rejects === 0) : [];
  const wrongTotal = eligible.length ? eligible[Math.floor(M / 3) % eligible.length]! : null;
  for (const f of allPaymentFiles) writeTail(f, f === wrongTotal ? -100000 : 0);
  await Promise.all(allPaymentFiles.map((f) => (f.sink ? f.sink.close() : f.xlsx!.close())));

  // ---- amount_anomaly, second stage: own-history outliers against their peers ----------------------------
  const missing = new Set<number>();
  for (const { o } of ownOutliers) {
    if (o.group.item !== 'pension') continue;
    const code = groupCode(o.group.scheme, o.group.district, o.group.period);
    if (!peerGroups.has(code)) missing.add(code);
  }
  if (missing.size > 0) {
    // Outliers the pre-pass did not foresee (a living recipient's own amounts): collect their peer groups.
    for (const code of missing) peerGroups.set(code, new IntList());
    for (let i = 0; i < R; i++) {
      const r = makeRecipient(world, i);
      forEachRow(r, (m, _b, si, item, period, fen, _account, _bank, agency, routine) => {
        if (isLost(i, m, routine) || fen <= 0 || item !== ITEM_PENSION) return;
        const code = (si * D + districtIndex.get(agency.slice(0, 6))!) * M + period;
        if (missing.has(code)) peerGroups.get(code)!.push(fen);
      });
    }
  }
  const flagged: OwnOutlier[] = [];
  for (const { o, ownFen } of ownOutliers) {
    if (o.group.item !== 'pension') continue;
    const list = peerGroups.get(groupCode(o.group.scheme, o.group.district, o.group.period))!;
    const all = Array.from(list.data.subarray(0, list.length)).sort((a, b) => a - b);
    // The person's own payments in the group are not their peers.
    for (const fen of ownFen) all.splice(all.indexOf(fen), 1);
    if (peerOutlier(o, all)) flagged.push(o);
  }
  findings.push(...anomalyFindings(flagged));
  for (const fp of forcedPatterns) {
    const ids = new Set(fp.members);
    const range = (ps: number[]) => periodIso(startAbs + ps[0]!) + (ps.length > 1 ? `..${periodIso(startAbs + ps[ps.length - 1]!)}` : '');
    fp.findings = findings.filter((f) => ids.has(f.idNumber)).map((f) => `${f.detector} ${f.idNumber} ${range(f.periods)} ${fenToYuan(f.amountFen)}`);
  }

  // ---- deaths of people who draw no pension here ---------------------------------------------------------
  for (let j = 0; j < nonRecipientDeaths; j++) {
    const d = makeNonRecipientDeath(world, j);
    addDeathRecords(d.person, d.day, d.civil, d.publicSecurity, d.health);
  }

  // ---- per-file accounting ---------------------------------------------------------------------------------
  const files: FileSummary[] = [];
  const summaryMismatches: SummaryMismatch[] = [];
  for (const f of allPaymentFiles) {
    const skipped = Object.values(f.skipped).reduce((a, b) => a + b, 0);
    const xlsx = f.xlsx !== null;
    const fl = f.layout;
    files.push({
      file: f.rel,
      kind: 'payments',
      format: xlsx ? 'xlsx' : 'csv',
      encoding: xlsx ? null : f.format.encoding,
      lineEnding: xlsx ? null : f.format.lineEnding,
      rows: f.data,
      rejects: f.rejects,
      overlap: f.overlap,
      rowsRead: f.data + skipped,
      accepted: f.data - f.rejects,
      rejected: f.rejects,
      skipped,
      repeated: f.overlap,
      skippedRows: { ...f.skipped },
      summaryRow: f.summaryRow,
      formats: {
        period: fl.periodAsDate ? 'date-cell' : f.format.period,
        amount: xlsx ? 'number' : f.format.amount,
        date: xlsx ? `date-cell ${fl.dateNumFmt}` : f.format.date,
        scheme: f.format.scheme,
        rareChar: f.format.rareChar,
        reversalRows: String(f.reversals),
        ...(xlsx ? { legacyIds: fl.legacyIdsAsNumbers ? 'number' : 'text' } : {}),
        ...(f === xrFile ? { reexport: `routine rows of agencies in ${xrDistrict}` } : {}),
      },
    });
    if (f.summaryRow && f.summaryRow.statedTotal !== f.summaryRow.expectedTotal) {
      summaryMismatches.push({ file: f.rel, line: f.summaryRow.line, expectedTotal: f.summaryRow.expectedTotal, statedTotal: f.summaryRow.statedTotal });
    }
  }

  // ---- death-record files, sorted by date then ID ---------------------------------------------------------
  const deathCounts = { 'civil-affairs': 0, 'public-security': 0, health: 0 } as Record<SourceId, number>;
  for (let si = 0; si < SOURCES.length; si++) {
    const source = SOURCES[si]!;
    for (let q = 0; q < Q; q++) {
      const qa = (q0 + q) * 3;
      const rel = `deaths/${source}/${DEATH_FILE_PREFIX[source]}_${yearOf(qa)}Q${Math.floor((monthOf(qa) - 1) / 3) + 1}.csv`;
      const fmt = deathFormats[si]![q]!;
      const lines = deathLines[si]![q]!;
      lines.sort((a, b) => a.day - b.day || byteCmp(a.id, b.id));
      const sink = new Sink(path.join(inboxDir, ...rel.split('/')), fmt.encoding, fmt.lineEnding);
      sink.line(DEATH_HEADERS[source]);
      for (const l of lines) sink.line(l.line);
      await sink.close();
      deathCounts[source] += lines.length;
      files.push({
        file: rel,
        kind: 'deaths',
        source,
        format: 'csv',
        encoding: fmt.encoding,
        lineEnding: fmt.lineEnding,
        rows: lines.length,
        rejects: 0,
        overlap: 0,
        rowsRead: lines.length + 1,
        accepted: lines.length,
        rejected: 0,
        skipped: 1,
        repeated: 0,
        skippedRows: { title: 0, header: 1, blank: 0, repeatedHeader: 0, summary: 0, note: 0 },
        summaryRow: null,
        formats: { date: fmt.date },
      });
      deathLines[si]![q] = [];
    }
  }

  // ---- expected/ ----------------------------------------------------------------------------------------
  const caseLines = findings.map((c) =>
    [
      c.detector,
      c.idNumber,
      csvCell(c.name),
      c.districtCode,
      c.schemes.join('+'),
      periodIso(startAbs + c.periods[0]!),
      periodIso(startAbs + c.periods[c.periods.length - 1]!),
      String(c.periods.length),
      fenToYuan(c.amountFen),
      c.confidence,
    ].join(','),
  );
  // Byte-wise by detector, id_number, first_period (the export's order), then the whole line.
  const order = caseLines.map((line, k) => ({ line, f: findings[k]! }));
  order.sort((a, b) => byteCmp(a.f.detector, b.f.detector) || byteCmp(a.f.idNumber, b.f.idNumber) || a.f.periods[0]! - b.f.periods[0]! || byteCmp(a.line, b.line));
  await writeFile(path.join(expectedDir, 'cases.csv'), [CASES_HEADER, ...order.map((o) => o.line)].join('\n') + '\n', 'utf8');

  rejects.sort((a, b) => byteCmp(a.file, b.file) || a.line - b.line);
  await writeFile(
    path.join(expectedDir, 'rejects.csv'),
    ['file,line,code', ...rejects.map((r) => `${csvCell(r.file)},${r.line},${r.code}`)].join('\n') + '\n',
    'utf8',
  );

  const count = (det: Detector) => findings.filter((f) => f.detector === det);
  const deceasedCases = count('deceased_payment');
  const totalFen = deceasedCases.reduce((s, c) => s + c.amountFen, 0);
  const paymentRows = allPaymentFiles.reduce((s, f) => s + f.data, 0);
  const overlap = allPaymentFiles.reduce((s, f) => s + f.overlap, 0);
  const summary: Summary = {
    generator: 'fundguard sample-data generator 2',
    options: { seed, recipients: R, months: M, start: periodIso(startAbs), end: periodIso(endAbs), layout },
    files,
    summaryMismatches,
    totals: {
      paymentFiles: allPaymentFiles.length,
      xlsxFiles: allPaymentFiles.filter((f) => f.xlsx).length,
      paymentRows,
      paymentRowsRejected: rejects.length,
      paymentRowsOverlap: overlap,
      distinctPayments: paymentRows - rejects.length - overlap,
      reversalRows: monthFiles.reduce((s, f) => s + f.reversals, 0),
      deathFiles: SOURCES.length * Q,
      deathRecords: deathCounts,
      nonDeathCancellations,
      recipients: R,
      deceasedRecipients: deceased,
      nonRecipientDeaths,
      overpaidRecipients: deceasedCases.length,
      totalOverpaidFen: totalFen,
      totalOverpaid: fenToYuan(totalFen),
      cases: Object.fromEntries(DETECTOR_ORDER.map((det) => [det, count(det).length])) as Record<Detector, number>,
      caseAmountFen: Object.fromEntries(DETECTOR_ORDER.map((det) => [det, count(det).reduce((s, c) => s + c.amountFen, 0)])) as Record<Detector, number>,
    },
    scenarios: { ...sc, forced },
    patterns: { instances, forced: forcedPatterns },
  };
  await writeFile(path.join(expectedDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n', 'utf8');
  return { inboxDir, expectedDir, summary };
}

/** Integer fen → yuan text with exactly two decimals (negative allowed). */
export function fenToYuan(fen: number): string {
  const neg = fen < 0;
  const a = neg ? -fen : fen;
  const f = a % 100;
  return `${neg ? '-' : ''}${(a - f) / 100}.${f < 10 ? '0' : ''}${f}`;
}
