/**
 * Deterministic synthetic inbox for fundguard: monthly pension payment extracts, death-record extracts from
 * three sources, and the findings a correct run must produce (expected/).
 *
 * - Every recipient is a pure function of (seed, index) (model.ts); the output is byte-identical for the same
 *   options on any machine and time zone.
 * - Payment rows are streamed: one pass over the recipients writes every month file at once; only death
 *   records (a few % of the population) and expected cases are held in memory, so memory stays flat.
 *
 * Rules applied to compute expected/cases.csv: DOMAIN.md §4 (death month payable, by period, exempt items,
 * net of reversals, an overlapping re-export is one payment).
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
import {
  DISTRICTS,
  ID_SPACE,
  Identities,
  fullWidthDigits,
  legacyName,
  makePerson,
  pickAgency,
  pickBank,
  pickDistrict,
  type Person,
} from './population.ts';
import {
  ITEM_PENSION,
  SCHEMES,
  SOURCES,
  expectedCase,
  agencyAt,
  makeNonRecipientDeath,
  makeRecipient,
  monthlyFen,
  scenarioIndexes,
  type BatchKind,
  type ExpectedCase,
  type Recipient,
  type SourceId,
  type World,
} from './model.ts';
import { FILE_ENCODINGS, Sink, csvCell, type Eol, type FileEncoding } from './sink.ts';

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
}

export const DEFAULT_OPTIONS: Readonly<Omit<GenerateOptions, 'outDir'>> = Object.freeze({
  seed: 20240101,
  recipients: 3000,
  months: 18,
  start: '2024-01',
});

export type RejectCode =
  | 'ID_BAD_LENGTH'
  | 'ID_BAD_CHARACTERS'
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

/** Per-file entry of summary.json. */
export interface FileSummary {
  file: string;
  kind: 'payments' | 'deaths';
  source?: SourceId;
  encoding: FileEncoding;
  lineEnding: Eol;
  /** Data rows (header excluded). */
  rows: number;
  /** Rows expected to be rejected by ingest. */
  rejects: number;
  /** Rows repeating a payment already seen in an earlier file (same batch, person, scheme, item, period). */
  overlap: number;
  formats: Record<string, string>;
}

export interface Summary {
  generator: string;
  options: { seed: number; recipients: number; months: number; start: string; end: string };
  files: FileSummary[];
  totals: {
    paymentFiles: number;
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
    overpaidRecipients: number;
    totalOverpaidFen: number;
    totalOverpaid: string;
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
}

export interface GenerateResult {
  inboxDir: string;
  expectedDir: string;
  summary: Summary;
}

const PAYMENT_HEADER = '个人编号,姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,发放日期,银行账号,开户银行,经办机构,发放批次号';
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
const LOCAL_TAG = { rowNoise: 101, formats: 102, deathFormats: 103 } as const;

/** An array of `count` variants, each of `n` repeated evenly, shuffled: every variant appears when count ≥ n. */
function balanced(n: number, count: number, rng: Rng): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(i % n);
  return rng.shuffle(out);
}

function validate(opts: GenerateOptions): { startAbs: number } {
  const intIn = (v: number, lo: number, hi: number, what: string) => {
    if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new RangeError(`${what} must be an integer in [${lo}, ${hi}], got "${v}"`);
  };
  intIn(opts.seed, 0, Number.MAX_SAFE_INTEGER, 'seed');
  intIn(opts.recipients, 1, 6_000_000, 'recipients');
  intIn(opts.months, 1, 240, 'months');
  const startAbs = parseYearMonth(opts.start);
  if (yearOf(startAbs) < 2000 || yearOf(startAbs + opts.months - 1) > 2099) throw new RangeError(`window must lie in 2000–2099, got start "${opts.start}"`);
  if (!opts.outDir) throw new RangeError('outDir is required');
  return { startAbs };
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

/** Day of the month a batch is paid on: routine 5–15, others later in the month. */
function batchDayOfMonth(seed: number, kind: BatchKind, schemeCode: string, abs: number): number {
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

interface PaymentFile {
  rel: string;
  sink: Sink;
  format: PaymentFormat;
  /** Absolute month of the file (pay month). */
  abs: number;
  periodText: string[];
  schemeText: string[];
  /** Batch number and pay date text per batch kind and scheme index. */
  batch: Record<BatchKind, string[]>;
  dayText: Record<BatchKind, string[]>;
  rejects: number;
  overlap: number;
  reversals: number;
}

interface DeathLine {
  day: number;
  id: string;
  line: string;
}

/**
 * Generates the inbox and the expected findings into `opts.outDir` (its `inbox/` and `expected/` are removed
 * first). Streams payment rows; resolves when every file is closed.
 */
export async function generateInbox(opts: GenerateOptions): Promise<GenerateResult> {
  const { startAbs } = validate(opts);
  const M = opts.months;
  const R = opts.recipients;
  const seed = opts.seed;
  const endAbs = startAbs + M - 1;
  const nonRecipientDeaths = Math.max(3, Math.round(R * 0.03));
  if (R + nonRecipientDeaths + BAD_ROW_CODES.length > ID_SPACE) throw new RangeError(`too many recipients for the ID space (${ID_SPACE})`);

  const world: World = { seed, recipients: R, months: M, startAbs, ids: new Identities(seed), forced: scenarioIndexes(R) };

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
  const base = paymentFormats[ovM]!;
  const ovFormat: PaymentFormat = {
    encoding: FILE_ENCODINGS[(FILE_ENCODINGS.indexOf(base.encoding) + fr.int(1, 2)) % 3]!,
    lineEnding: base.lineEnding === 'crlf' ? 'lf' : 'crlf',
    period: PERIOD_FORMATS[(PERIOD_FORMATS.indexOf(base.period) + fr.int(1, 2)) % 3]!,
    amount: AMOUNT_STYLES[(AMOUNT_STYLES.indexOf(base.amount) + fr.int(1, 2)) % 3]!,
    date: DATE_FORMATS[(DATE_FORMATS.indexOf(base.date) + fr.int(1, 3)) % 4]!,
    scheme: base.scheme === 'code' ? 'name' : 'code',
    rareChar: base.rareChar === '?' ? '□' : '?',
  };

  const openPaymentFile = (rel: string, abs: number, format: PaymentFormat): PaymentFile => {
    const sink = new Sink(path.join(inboxDir, ...rel.split('/')), format.encoding, format.lineEnding);
    sink.line(PAYMENT_HEADER);
    const periodText: string[] = [];
    for (let p = 0; p < M; p++) periodText.push(formatPeriod(startAbs + p, format.period));
    const kinds: BatchKind[] = ['P', 'S', 'B', 'R'];
    const batch = {} as Record<BatchKind, string[]>;
    const dayText = {} as Record<BatchKind, string[]>;
    for (const k of kinds) {
      batch[k] = SCHEMES.map((s) => `${k}${s.code}${periodCompact(abs)}01`);
      dayText[k] = SCHEMES.map((s) =>
        formatDay(daysFromCivil(yearOf(abs), monthOf(abs), batchDayOfMonth(seed, k, s.code, abs)), format.date),
      );
    }
    return {
      rel,
      sink,
      format,
      abs,
      periodText,
      schemeText: SCHEMES.map((s) => (format.scheme === 'code' ? s.code : s.name)),
      batch,
      dayText,
      rejects: 0,
      overlap: 0,
      reversals: 0,
    };
  };

  const monthFiles: PaymentFile[] = [];
  for (let m = 0; m < M; m++) {
    monthFiles.push(openPaymentFile(`payments/待遇发放明细_${periodCompact(startAbs + m)}.csv`, startAbs + m, paymentFormats[m]!));
  }
  const ovFile = openPaymentFile(`payments/待遇发放明细_补充导出_${periodCompact(startAbs + ovM)}.csv`, startAbs + ovM, ovFormat);
  const allPaymentFiles = [...monthFiles, ovFile];

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
    const slot = R + nonRecipientDeaths + plan.k;
    const district = pickDistrict(rng);
    const sex = rng.chance(0.5) ? 'M' : 'F';
    const p = makePerson(world.ids, rng, slot, DISTRICTS[district]!.code, sex, {});
    const si = rng.int(0, SCHEMES.length - 1);
    const s = SCHEMES[si]!;
    const fen = rng.int(s.minFen, s.maxFen);
    const bank = pickBank(rng);
    let id = p.id18;
    let scheme = f.schemeText[si]!;
    let amount = amountText(fen, f.format.amount);
    let period = f.periodText[plan.m]!;
    let batch = f.batch.P[si]!;
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
        amount = f.format.amount === 'yuan' ? `￥${body}` : body;
        break;
      }
      case 'AMOUNT_INVALID':
        amount = 'abc';
        break;
      case 'PERIOD_INVALID':
        period = formatPeriodParts(yearOf(f.abs), 13, f.format.period);
        break;
      case 'SCHEME_UNKNOWN':
        scheme = '999';
        batch = `P999${periodCompact(f.abs)}01`;
        break;
    }
    const line = `${world.ids.personNo(slot)},${p.name},${id},${sexText(p)},${scheme},${ITEM_PENSION},${period},${amount},${f.dayText.P[si]},${world.ids.account(slot, bank.prefix)},${bank.name},${pickAgency(rng, district)},${batch}`;
    rejects.push({ file: f.rel, line: f.sink.lines + 1, code: plan.code });
    f.rejects++;
    f.sink.line(line);
  };
  let badNext = 0;

  // ---- counters -----------------------------------------------------------------------------------------
  const sc = {
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
  const cases: ExpectedCase[] = [];
  let deceased = 0;
  let nonDeathCancellations = 0;

  // ---- the single pass over recipients -----------------------------------------------------------------
  const writeRecipient = (r: Recipient) => {
    const noise = new Rng(hash32(seed, LOCAL_TAG.rowNoise, r.index));
    const p = r.person;
    const baseId = r.idForm === 'legacy15' ? p.id15 : r.idForm === 'lowerx' ? p.id18.slice(0, 17) + 'x' : p.id18;
    const idText = (): string => {
      if (noise.float() >= 0.003) return baseId;
      if (noise.chance(0.5)) return fullWidthDigits(baseId);
      const at = noise.chance(0.5) ? 6 : baseId.length === 15 ? 12 : 14;
      return baseId.slice(0, at) + ' ' + baseId.slice(at);
    };
    const nameQ = p.rare ? legacyName(p.name, '?') : p.name;
    const nameBox = p.rare ? legacyName(p.name, '□') : p.name;
    const sx = sexText(p);
    const si = r.scheme;
    const lastRoutine = r.death ? r.death.lastPaid : M - 1;
    const row = (f: PaymentFile, kind: BatchKind, item: string, period: number, fen: number, m: number): string =>
      `${r.personNo},${f.format.rareChar === '?' ? nameQ : nameBox},${idText()},${sx},${f.schemeText[si]},${item},${f.periodText[period]},${amountText(fen, f.format.amount)},${f.dayText[kind][si]},${r.account},${r.bank},${agencyAt(r, m)},${f.batch[kind][si]}`;
    let xi = 0;
    const extras = r.extras;
    for (let m = r.startM; m < M; m++) {
      if (m > lastRoutine && xi >= extras.length) break;
      if (m <= lastRoutine) {
        const fen = monthlyFen(world, r, m);
        monthFiles[m]!.sink.line(row(monthFiles[m]!, 'P', ITEM_PENSION, m, fen, m));
        if (m === ovM) {
          ovFile.sink.line(row(ovFile, 'P', ITEM_PENSION, m, fen, m));
          ovFile.overlap++;
        }
      }
      while (xi < extras.length && extras[xi]!.m === m) {
        const x = extras[xi++]!;
        const f = monthFiles[m]!;
        f.sink.line(row(f, x.kind, x.item, x.period, x.fen, m));
        if (x.fen < 0) f.reversals++;
      }
    }
  };

  for (let i = 0; i < R; i++) {
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
    let c: ExpectedCase | null = null;
    const d = r.death;
    if (d) {
      deceased++;
      addDeathRecords(p, d.day, d.civil, d.publicSecurity, d.health);
      c = expectedCase(world, r);
      if (c) cases.push(c);
      if (d.lastPaid === d.m && !c) sc.stoppedInTime++;
      if (d.lastPaid > d.m) sc.overpaidByLag++;
      if (d.m + d.lag > M - 1) sc.lagCappedByWindow++;
      if (r.funeral) sc.withFuneralGrant++;
      if (r.legitBackPay) sc.withBackPayAfterDeath++;
      if (r.postDeathBackPay) sc.withPostDeathBackPay++;
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
        expectCase: !!c,
      });
    }
    if ((i & 127) === 127) await Promise.all(allPaymentFiles.map((f) => f.sink.drain()));
  }
  while (badNext < badPlan.length) writeBadRow(badPlan[badNext++]!);
  await Promise.all(allPaymentFiles.map((f) => f.sink.close()));

  // ---- deaths of people who draw no pension here ---------------------------------------------------------
  for (let j = 0; j < nonRecipientDeaths; j++) {
    const d = makeNonRecipientDeath(world, j);
    addDeathRecords(d.person, d.day, d.civil, d.publicSecurity, d.health);
  }

  // ---- death-record files, sorted by date then ID ---------------------------------------------------------
  const files: FileSummary[] = [];
  for (const f of allPaymentFiles) {
    files.push({
      file: f.rel,
      kind: 'payments',
      encoding: f.format.encoding,
      lineEnding: f.format.lineEnding,
      rows: f.sink.lines - 1,
      rejects: f.rejects,
      overlap: f.overlap,
      formats: {
        period: f.format.period,
        amount: f.format.amount,
        date: f.format.date,
        scheme: f.format.scheme,
        rareChar: f.format.rareChar,
        reversalRows: String(f.reversals),
      },
    });
  }
  const deathCounts = { 'civil-affairs': 0, 'public-security': 0, health: 0 } as Record<SourceId, number>;
  for (let si = 0; si < SOURCES.length; si++) {
    const source = SOURCES[si]!;
    for (let q = 0; q < Q; q++) {
      const qa = (q0 + q) * 3;
      const rel = `deaths/${source}/${DEATH_FILE_PREFIX[source]}_${yearOf(qa)}Q${Math.floor((monthOf(qa) - 1) / 3) + 1}.csv`;
      const fmt = deathFormats[si]![q]!;
      const lines = deathLines[si]![q]!;
      lines.sort((a, b) => a.day - b.day || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const sink = new Sink(path.join(inboxDir, ...rel.split('/')), fmt.encoding, fmt.lineEnding);
      sink.line(DEATH_HEADERS[source]);
      for (const l of lines) sink.line(l.line);
      await sink.close();
      deathCounts[source] += lines.length;
      files.push({
        file: rel,
        kind: 'deaths',
        source,
        encoding: fmt.encoding,
        lineEnding: fmt.lineEnding,
        rows: lines.length,
        rejects: 0,
        overlap: 0,
        formats: { date: fmt.date },
      });
      deathLines[si]![q] = [];
    }
  }

  // ---- expected/ ----------------------------------------------------------------------------------------
  cases.sort((a, b) => (a.idNumber < b.idNumber ? -1 : a.idNumber > b.idNumber ? 1 : a.firstPeriod - b.firstPeriod));
  let totalFen = 0;
  const caseLines = [CASES_HEADER];
  for (const c of cases) {
    totalFen += c.amountFen;
    caseLines.push(
      [
        c.detector,
        c.idNumber,
        csvCell(c.name),
        c.districtCode,
        c.scheme,
        periodIso(startAbs + c.firstPeriod),
        periodIso(startAbs + c.lastPeriod),
        String(c.months),
        fenToYuan(c.amountFen),
        'confirmed',
      ].join(','),
    );
  }
  await writeFile(path.join(expectedDir, 'cases.csv'), caseLines.join('\n') + '\n', 'utf8');

  rejects.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
  await writeFile(
    path.join(expectedDir, 'rejects.csv'),
    ['file,line,code', ...rejects.map((r) => `${csvCell(r.file)},${r.line},${r.code}`)].join('\n') + '\n',
    'utf8',
  );

  const paymentRows = allPaymentFiles.reduce((s, f) => s + f.sink.lines - 1, 0);
  const summary: Summary = {
    generator: 'fundguard sample-data generator 1',
    options: { seed, recipients: R, months: M, start: periodIso(startAbs), end: periodIso(endAbs) },
    files,
    totals: {
      paymentFiles: allPaymentFiles.length,
      paymentRows,
      paymentRowsRejected: rejects.length,
      paymentRowsOverlap: ovFile.overlap,
      distinctPayments: paymentRows - rejects.length - ovFile.overlap,
      reversalRows: monthFiles.reduce((s, f) => s + f.reversals, 0),
      deathFiles: SOURCES.length * Q,
      deathRecords: deathCounts,
      nonDeathCancellations,
      recipients: R,
      deceasedRecipients: deceased,
      nonRecipientDeaths,
      overpaidRecipients: cases.length,
      totalOverpaidFen: totalFen,
      totalOverpaid: fenToYuan(totalFen),
    },
    scenarios: { ...sc, forced },
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
