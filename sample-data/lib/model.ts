/**
 * The recipient model: one pension recipient's whole story over the window (routine payments, death, reporting
 * lag, funeral grant, back pay, bank returns, death records), as a pure function of (seed, index). A recipient
 * may play a forced scenario (SCENARIOS, placed by patterns.ts `placeStories`) or a part in an anomaly pattern
 * (patterns.ts), which fixes some draws and adds payments.
 *
 * Month numbers in this module are window month indexes: 0 = the first month of the window, M − 1 = the last.
 * Money is integer fen. Day numbers are days since 1970-01-01 (calendar.ts).
 */
import { firstDayOfMonth, lastDayOfMonth, monthOfDay, yearOf } from './calendar.ts';
import { hash32, Rng, TAG, cumulate } from './prng.ts';
import {
  DISTRICTS,
  Identities,
  makePerson,
  pickAgency,
  pickBank,
  pickDistrict,
  pickOtherDistrict,
  type Person,
  type Sex,
} from './population.ts';

export const SCHEMES: readonly { code: string; name: string; weight: number; minFen: number; maxFen: number }[] = [
  { code: '110', name: '企业职工基本养老保险', weight: 55, minFen: 220000, maxFen: 650000 },
  { code: '120', name: '机关事业单位养老保险', weight: 12, minFen: 450000, maxFen: 1000000 },
  { code: '170', name: '城乡居民基本养老保险', weight: 33, minFen: 15000, maxFen: 60000 },
];
const SCHEME_CUM = cumulate(SCHEMES.map((s) => s.weight));

export const ITEM_PENSION = '基本养老金';
export const ITEM_BACK_PAY = '补发养老金';
export const ITEM_FUNERAL = '丧葬补助金';
export const ITEM_SURVIVOR_LUMP = '一次性抚恤金';
export const ITEM_SURVIVOR_PENSION = '供养亲属抚恤金';
/** Items paid because of the death: never overpayments (DOMAIN.md §4, seeds/items.json). */
export const EXEMPT_ITEMS: ReadonlySet<string> = new Set([ITEM_FUNERAL, ITEM_SURVIVOR_LUMP, ITEM_SURVIVOR_PENSION]);
/** Item names written by the generator → item codes of seeds/items.json (what the store keeps). */
export const ITEM_CODES: Readonly<Record<string, string>> = {
  [ITEM_PENSION]: 'pension',
  [ITEM_BACK_PAY]: 'back_pay',
  [ITEM_FUNERAL]: 'funeral_grant',
  [ITEM_SURVIVOR_LUMP]: 'survivor_lump_sum',
  [ITEM_SURVIVOR_PENSION]: 'survivor_pension',
};

export type SourceId = 'civil-affairs' | 'public-security' | 'health';
export const SOURCES: readonly SourceId[] = ['civil-affairs', 'public-security', 'health'];
/** Share of deaths each source covers. */
const SOURCE_COVERAGE = [0.85, 0.7, 0.6] as const;

export const CANCEL_REASONS = ['迁出', '出国（境）定居', '重复登记'] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

/** Batch kinds: P routine, S funeral / survivor grants, B back pay, R bank returns (reversals). */
export type BatchKind = 'P' | 'S' | 'B' | 'R';

/** A non-routine payment row (routine rows are implicit: one per paid month). */
export interface ExtraPayment {
  /** File (pay) month. */
  m: number;
  kind: BatchKind;
  item: string;
  /** Period the payment is for. */
  period: number;
  /** Signed amount in fen (negative = reversal). */
  fen: number;
  /** Scheme index (SCHEMES) when not the recipient's own scheme (a second pension, a survivor pension). */
  scheme?: number;
  /** Run of the batch: 1 = the routine run (`…01`), 2 and 3 = re-runs (`…02`, `…03`) of the same batch. */
  run?: number;
}

export type ReversalMode = 'all' | 'last' | 'partial';

/** A forced story, placed at fixed indexes (patterns.ts `placeStories`) so that it exists even in a small data set. */
export interface Scenario {
  name: string;
  deceased: boolean;
  lag?: number;
  funeral?: boolean;
  legitBackPay?: boolean;
  postDeathBackPay?: boolean;
  reversal?: ReversalMode;
  rare?: boolean;
  legacy?: boolean;
  minority?: boolean;
  mover?: boolean;
  newRetiree?: boolean;
  sources?: SourceId[];
  cancel?: CancelReason;
  livingBackPay?: boolean;
  /** Scheme index (SCHEMES) instead of a weighted draw. */
  scheme?: number;
  /** Agency district index (DISTRICTS) instead of a weighted draw. */
  district?: number;
  /** Earliest window month of the death (room for payments before it). */
  minDeathM?: number;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'stopped_in_time', deceased: true, lag: 0, funeral: true },
  { name: 'lag_1', deceased: true, lag: 1, funeral: true },
  { name: 'back_pay_after_death', deceased: true, lag: 2, legitBackPay: true, funeral: true },
  { name: 'reversal_last', deceased: true, lag: 3, reversal: 'last' },
  { name: 'reversal_all', deceased: true, lag: 2, reversal: 'all', funeral: true },
  { name: 'reversal_partial', deceased: true, lag: 2, reversal: 'partial' },
  { name: 'post_death_back_pay_only', deceased: true, lag: 0, postDeathBackPay: true },
  { name: 'post_death_back_pay_with_lag', deceased: true, lag: 2, postDeathBackPay: true },
  { name: 'long_lag', deceased: true, lag: 12 },
  { name: 'rare_name', deceased: true, lag: 1, rare: true },
  { name: 'legacy_15_digit_id', deceased: true, lag: 1, legacy: true },
  { name: 'minority_name', deceased: true, lag: 2, minority: true },
  { name: 'agency_mover', deceased: true, lag: 2, mover: true },
  { name: 'new_retiree', deceased: true, lag: 1, newRetiree: true },
  { name: 'health_only', deceased: true, lag: 1, sources: ['health'] },
  { name: 'civil_affairs_only', deceased: true, lag: 0, sources: ['civil-affairs'] },
  { name: 'public_security_only', deceased: true, lag: 2, sources: ['public-security'] },
  { name: 'cancel_moved_out', deceased: false, cancel: '迁出' },
  { name: 'cancel_emigrated', deceased: false, cancel: '出国（境）定居' },
  { name: 'cancel_duplicate', deceased: false, cancel: '重复登记' },
  { name: 'living_back_pay', deceased: false, livingBackPay: true },
  { name: 'living_rare_name', deceased: false, rare: true },
];

/**
 * An anomaly pattern (patterns.ts): a story of one or more recipients (its members, at consecutive indexes)
 * that one or more detectors must find — or, for a decoy, must not.
 */
export interface PatternDef {
  name: string;
  /** Number of recipients taking part (members 0 … size − 1; member 0 is the lead). */
  size: number;
  kind: 'finding' | 'decoy';
  /** Detectors that must find something about the members (every fixed instance; amount_anomaly given 20 peers). */
  finds: readonly string[];
  /** Detectors that must find nothing about the members: what the pattern is a decoy for. */
  clears: readonly string[];
  description: string;
  /** The forced attributes of member `member` (scheme, death, …); every random event is off. */
  base(member: number): Scenario;
  /** Adds the pattern's payments and overrides to a member built from {@link base}. */
  apply(ctx: PatternContext): void;
}

/** What {@link PatternDef.apply} receives. */
export interface PatternContext {
  w: World;
  r: Recipient;
  member: number;
  /** Index of member 0. */
  lead: number;
  /** Draws shared by every member of the instance (the same sequence for each member). */
  shared: Rng;
  /** Member 0 of the instance (built on demand; `r` itself for member 0). */
  leadRecipient(): Recipient;
}

/** A recipient's part in a pattern instance. */
export interface Role {
  pattern: PatternDef;
  member: number;
  lead: number;
  /** Placed as a fixed story (true) or drawn at the population rate (false). */
  forced: boolean;
}

/** Window and derived constants shared by every recipient. */
export interface World {
  seed: number;
  recipients: number;
  months: number;
  /** Absolute month of window month 0. */
  startAbs: number;
  ids: Identities;
  forced: Map<number, Scenario>;
  /** The pattern role of recipient `i`, if any (patterns.ts). */
  roleOf(i: number): Role | null;
}

export interface Death {
  day: number;
  /** Window month of the death. */
  m: number;
  /** Reporting lag drawn (months of routine pension after the death month, before capping). */
  lag: number;
  /** Last routine period paid (≥ death month unless the window ends first). */
  lastPaid: number;
  /** Sources holding a record, with the record's extra date (cremation / cancellation day). */
  civil: number | null;
  publicSecurity: number | null;
  health: boolean;
}

export interface Recipient {
  index: number;
  person: Person;
  personNo: string;
  account: string;
  bank: string;
  scheme: number;
  agency: string;
  /** Agency from month `moveM` on (transfers happen before any death). */
  agency2: string;
  moveM: number;
  startM: number;
  /** Monthly pension in fen per window year (index 0 = the year of window month 0). */
  amounts: number[];
  /** How the ID is written in payment extracts. */
  idForm: 'n18' | 'lowerx' | 'legacy15';
  death: Death | null;
  extras: ExtraPayment[];
  cancel: { reason: CancelReason; day: number } | null;
  scenario: Scenario | null;
  /** Part in an anomaly pattern (patterns.ts), or null. */
  role: Role | null;
  /** Routine payments of months `from`…`to` go to another account (a shared account). */
  altAccount: { account: string; bank: string; from: number; to: number } | null;
  /** Routine amount (fen) of particular months instead of the monthly pension (a keying error). */
  routineFen: Map<number, number> | null;
  reversal: ReversalMode | null;
  funeral: boolean;
  legitBackPay: boolean;
  postDeathBackPay: boolean;
  livingBackPay: boolean;
}

/** Monthly pension (fen) for window month `m`. */
export function monthlyFen(w: World, r: Recipient, m: number): number {
  return r.amounts[yearOf(w.startAbs + m) - yearOf(w.startAbs)]!;
}

/** The routine payment (fen) of window month `m`: the monthly pension unless a pattern overrides it. */
export function routineFen(w: World, r: Recipient, m: number): number {
  const o = r.routineFen?.get(m);
  return o ?? r.amounts[yearOf(w.startAbs + m) - yearOf(w.startAbs)]!;
}

/** Agency paying in window month `m`. */
export function agencyAt(r: Recipient, m: number): string {
  return m >= r.moveM ? r.agency2 : r.agency;
}

/** Whether a routine payment is made in window month `m`. */
export function paidRoutine(r: Recipient, m: number): boolean {
  return m >= r.startM && (r.death === null || m <= r.death.lastPaid);
}

/** Months a forced story needs after the death month (lag, then a later file for returns / grants). */
function scenarioTail(sc: Scenario): number {
  if (!sc.deceased) return 0;
  return Math.max((sc.lag ?? 0) + (sc.reversal ? 1 : 0), sc.funeral || sc.legitBackPay || sc.postDeathBackPay ? 1 : 0);
}

function sampleLag(rng: Rng): number {
  const x = rng.float();
  if (x < 0.35) return 0;
  if (x < 0.65) return 1;
  if (x < 0.8) return rng.int(2, 3);
  if (x < 0.92) return rng.int(4, 8);
  return rng.int(9, 15);
}

function between(rng: Rng, lo: number, hi: number): number {
  // Average of two uniforms: a soft peak in the middle of the range.
  return Math.floor((rng.int(lo, hi) + rng.int(lo, hi)) / 2);
}

const KIND_ORDER: Record<BatchKind, number> = { P: 0, B: 1, S: 2, R: 3 };

/** Sort order of extra payments: pay month, kind, scheme, run, period, item. */
export function extraOrder(a: ExtraPayment, b: ExtraPayment): number {
  return (
    a.m - b.m ||
    KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
    (a.scheme ?? -1) - (b.scheme ?? -1) ||
    (a.run ?? 1) - (b.run ?? 1) ||
    a.period - b.period ||
    (a.item < b.item ? -1 : a.item > b.item ? 1 : 0)
  );
}

/**
 * Builds recipient `i`: a pure function of (world seed, window, i); forced scenarios come from `w.forced`.
 */
export function makeRecipient(w: World, i: number): Recipient {
  const M = w.months;
  const rng = new Rng(hash32(w.seed, TAG.recipient, i));
  const role = w.roleOf(i);
  const sc = role ? role.pattern.base(role.member) : (w.forced.get(i) ?? null);

  const sex: Sex = rng.chance(0.48) ? 'M' : 'F';
  const schemeDraw = rng.weighted(SCHEME_CUM);
  const scheme = sc?.scheme ?? schemeDraw;
  const districtDraw = pickDistrict(rng);
  const district = sc?.district ?? districtDraw;
  const agency = pickAgency(rng, district);
  const areaDistrict = rng.chance(0.8) ? district : pickOtherDistrict(rng, district);
  const rareDraw = rng.chance(0.005);
  const minorityDraw = rng.chance(0.002);
  const rare = sc ? !!sc.rare : rareDraw;
  const minority = sc ? !!sc.minority : !rare && minorityDraw;
  const person = makePerson(w.ids, rng, i, DISTRICTS[areaDistrict]!.code, sex, { rare, minority });
  const bank = pickBank(rng);
  const account = w.ids.account(i, bank.prefix);
  const personNo = w.ids.personNo(i);

  const legacyDraw = rng.chance(0.01);
  const lowerDraw = rng.chance(0.5);
  const legacy = sc ? !!sc.legacy : legacyDraw;
  const idForm: Recipient['idForm'] = legacy ? 'legacy15' : person.id18.endsWith('X') && lowerDraw ? 'lowerx' : 'n18';

  const newRetireeDraw = rng.chance(0.06);
  const startDraw = rng.int(1, M - 1);
  const need = sc ? scenarioTail(sc) : 0;
  let startM = M > 1 && (sc ? !!sc.newRetiree : newRetireeDraw) ? startDraw : 0;
  if (sc?.newRetiree && startM > 0) startM = Math.max(1, Math.min(startM, M - 1 - need));

  // Monthly amount for the first window year, then an annual increase every January.
  const sch = SCHEMES[scheme]!;
  const amounts = [between(rng, sch.minFen, sch.maxFen)];
  const years = yearOf(w.startAbs + M - 1) - yearOf(w.startAbs);
  for (let y = 1; y <= years; y++) {
    const prev = amounts[y - 1]!;
    amounts.push(sch.code === '170' ? prev + rng.int(1000, 3000) : prev + Math.round((prev * rng.int(200, 400)) / 10000));
  }

  const r: Recipient = {
    index: i,
    person,
    personNo,
    account,
    bank: bank.name,
    scheme,
    agency,
    agency2: agency,
    moveM: Number.POSITIVE_INFINITY,
    startM,
    amounts,
    idForm,
    death: null,
    extras: [],
    cancel: null,
    scenario: role ? null : sc,
    role,
    altAccount: null,
    routineFen: null,
    reversal: null,
    funeral: false,
    legitBackPay: false,
    postDeathBackPay: false,
    livingBackPay: false,
  };

  const deceased = sc ? sc.deceased : rng.chance(0.03);
  const winFirst = firstDayOfMonth(w.startAbs);
  const winLast = lastDayOfMonth(w.startAbs + M - 1);

  if (deceased) {
    let day: number;
    const lag = sc?.lag ?? sampleLag(rng);
    if (sc) {
      // Forced story: a death month that leaves room for it before the window ends (when the window allows).
      const lo = Math.min(M - 1, Math.max(startM + (sc.mover ? 1 : 0), sc.minDeathM ?? 0));
      const hi = Math.max(lo, M - 1 - need);
      const dm = Math.min(M - 1, rng.int(lo, hi));
      day = rng.int(firstDayOfMonth(w.startAbs + dm), lastDayOfMonth(w.startAbs + dm));
    } else {
      day = rng.int(firstDayOfMonth(w.startAbs + startM), winLast);
    }
    const dm = monthOfDay(day) - w.startAbs;
    const lastPaid = Math.min(M - 1, dm + lag);

    // Sources: each with its own coverage, at least one.
    let inCivil: boolean;
    let inPublic: boolean;
    let inHealth: boolean;
    if (sc?.sources) {
      inCivil = sc.sources.includes('civil-affairs');
      inPublic = sc.sources.includes('public-security');
      inHealth = sc.sources.includes('health');
    } else {
      inCivil = rng.chance(SOURCE_COVERAGE[0]);
      inPublic = rng.chance(SOURCE_COVERAGE[1]);
      inHealth = rng.chance(SOURCE_COVERAGE[2]);
      if (!inCivil && !inPublic && !inHealth) {
        const k = rng.weighted(cumulate([85, 70, 60]));
        inCivil = k === 0;
        inPublic = k === 1;
        inHealth = k === 2;
      }
    }
    const cremation = day + rng.int(1, 7);
    const cancelDay = day + rng.int(14, 56);
    r.death = {
      day,
      m: dm,
      lag,
      lastPaid,
      civil: inCivil ? cremation : null,
      publicSecurity: inPublic ? cancelDay : null,
      health: inHealth,
    };

    const afterDeath = dm + 1 <= M - 1;
    const backPayRange = sch.code === '170' ? ([500, 6000] as const) : ([2000, 80000] as const);

    // Funeral grant (+ one-off survivor payment), period = month after the death, paid when the death is known.
    const funeralDraw = rng.chance(0.6);
    const lumpDraw = rng.chance(0.8);
    if (afterDeath && (sc ? !!sc.funeral : funeralDraw)) {
      r.funeral = true;
      const paidM = Math.min(M - 1, dm + lag + 1);
      const grant = sch.code === '170' ? rng.int(500, 2000) * 100 : rng.int(3000, 8000) * 100;
      r.extras.push({ m: paidM, kind: 'S', item: ITEM_FUNERAL, period: dm + 1, fen: grant });
      if (sch.code !== '170' && (sc ? true : lumpDraw)) {
        r.extras.push({ m: paidM, kind: 'S', item: ITEM_SURVIVOR_LUMP, period: dm + 1, fen: amounts[0]! * rng.int(6, 10) });
      }
    }

    // Back pay for a period up to the death month, paid after the death: legitimate.
    const legitDraw = rng.chance(0.1);
    if (afterDeath && (sc ? !!sc.legitBackPay : legitDraw)) {
      r.legitBackPay = true;
      // The forced story uses the edge case: back pay FOR the death month itself.
      const periodDraw = rng.int(Math.max(startM, dm - 2), dm);
      const period = sc ? dm : periodDraw;
      const f = rng.int(dm + 1, Math.min(M - 1, dm + 3));
      r.extras.push({ m: f, kind: 'B', item: ITEM_BACK_PAY, period, fen: rng.int(backPayRange[0], backPayRange[1]) });
    }

    // Back pay for a period after the death month: an overpayment.
    const postDraw = rng.chance(0.03);
    if (afterDeath && (sc ? !!sc.postDeathBackPay : postDraw)) {
      r.postDeathBackPay = true;
      const period = rng.int(dm + 1, Math.min(M - 1, dm + Math.max(1, lag)));
      const f = rng.int(Math.min(M - 1, period + 1), Math.min(M - 1, period + 3));
      r.extras.push({ m: f, kind: 'B', item: ITEM_BACK_PAY, period, fen: rng.int(backPayRange[0], backPayRange[1]) });
    }

    // Bank returns of post-death deposits, in a later month's file.
    const reversalDraw = rng.chance(0.15);
    const modeDraw = rng.float();
    const overpaid = lastPaid - dm;
    if (overpaid >= 1 && lastPaid + 1 <= M - 1 && (sc ? !!sc.reversal : reversalDraw)) {
      const mode: ReversalMode = sc?.reversal ?? (modeDraw < 0.45 ? 'all' : modeDraw < 0.85 ? 'last' : 'partial');
      r.reversal = mode;
      const f = rng.int(lastPaid + 1, Math.min(M - 1, lastPaid + 2));
      if (mode === 'all') {
        for (let p = dm + 1; p <= lastPaid; p++) {
          r.extras.push({ m: f, kind: 'R', item: ITEM_PENSION, period: p, fen: -monthlyFen(w, r, p) });
        }
      } else if (mode === 'last') {
        r.extras.push({ m: f, kind: 'R', item: ITEM_PENSION, period: lastPaid, fen: -monthlyFen(w, r, lastPaid) });
      } else {
        const full = monthlyFen(w, r, lastPaid);
        const part = Math.max(1, Math.min(full - 1, Math.floor((full * rng.int(10, 90)) / 100)));
        r.extras.push({ m: f, kind: 'R', item: ITEM_PENSION, period: lastPaid, fen: -part });
      }
    }

    // Agency transfer strictly before (or in) the death month, so every post-death row has one agency.
    const moverDraw = rng.chance(0.01);
    if ((sc ? !!sc.mover : moverDraw) && startM + 1 <= dm) {
      r.moveM = rng.int(startM + 1, dm);
      r.agency2 = pickAgency(rng, pickOtherDistrict(rng, district));
    }
  } else {
    const backDraw = rng.chance(0.02);
    if ((sc ? !!sc.livingBackPay : backDraw) && startM + 1 <= M - 1) {
      r.livingBackPay = true;
      const period = rng.int(startM, M - 2);
      const f = rng.int(period + 1, Math.min(M - 1, period + 3));
      const range = sch.code === '170' ? ([500, 6000] as const) : ([2000, 80000] as const);
      r.extras.push({ m: f, kind: 'B', item: ITEM_BACK_PAY, period, fen: rng.int(range[0], range[1]) });
    }
    const cancelDraw = rng.chance(0.005);
    const reasonDraw = rng.float();
    const reason: CancelReason | null = sc
      ? (sc.cancel ?? null)
      : cancelDraw
        ? reasonDraw < 0.7
          ? '迁出'
          : reasonDraw < 0.85
            ? '出国（境）定居'
            : '重复登记'
        : null;
    if (reason) r.cancel = { reason, day: rng.int(winFirst, winLast) };
    const moverDraw = rng.chance(0.01);
    if ((sc ? !!sc.mover : moverDraw) && startM + 1 <= M - 1) {
      r.moveM = rng.int(startM + 1, M - 1);
      r.agency2 = pickAgency(rng, pickOtherDistrict(rng, district));
    }
  }

  if (role) {
    const shared = new Rng(hash32(w.seed, TAG.pattern, role.lead, 1));
    role.pattern.apply({ w, r, member: role.member, lead: role.lead, shared, leadRecipient: () => (role.member === 0 ? r : makeRecipient(w, role.lead)) });
  }
  if (r.extras.length > 1) r.extras.sort(extraOrder);
  return r;
}

/** A person who dies in the window but draws no pension here (never a case). */
export interface NonRecipientDeath {
  person: Person;
  day: number;
  civil: number | null;
  publicSecurity: number | null;
  health: boolean;
}

/** Non-recipient death `j` (ID slot recipients + j). */
export function makeNonRecipientDeath(w: World, j: number): NonRecipientDeath {
  const rng = new Rng(hash32(w.seed, TAG.nonRecipient, j));
  const sex: Sex = rng.chance(0.5) ? 'M' : 'F';
  const district = pickDistrict(rng);
  const person = makePerson(w.ids, rng, w.recipients + j, DISTRICTS[district]!.code, sex, {
    rare: rng.chance(0.005),
  });
  const day = rng.int(firstDayOfMonth(w.startAbs), lastDayOfMonth(w.startAbs + w.months - 1));
  let inCivil = rng.chance(SOURCE_COVERAGE[0]);
  const inPublic = rng.chance(SOURCE_COVERAGE[1]);
  const inHealth = rng.chance(SOURCE_COVERAGE[2]);
  if (!inCivil && !inPublic && !inHealth) inCivil = true;
  const cremation = day + rng.int(1, 7);
  const cancelDay = day + rng.int(14, 56);
  return { person, day, civil: inCivil ? cremation : null, publicSecurity: inPublic ? cancelDay : null, health: inHealth };
}
