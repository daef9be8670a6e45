/**
 * Deterministic synthetic scenarios for the detectors: a small background population paid every month of
 * 2024, and named patterns — each a detector's finding with its expected truth, or a decoy that must find
 * nothing. Written to be ported into the sample-data generator: every pattern is one function that adds
 * payment and death lines to a {@link Scenario} and records what the detectors must (not) find, computing
 * the expected amounts from the very amounts it generates.
 *
 * All names, IDs and accounts are synthetic (DOMAIN.md §6). IDs are valid GB 11643-1999 numbers (check
 * character from `checkCharacter`). Money is integer fen; periods `YYYY-MM`.
 *
 * Inbox written by {@link writeInbox}:
 * - `payments/<YYYY-MM>.csv` — the regular extract of each period (header {@link PAYMENT_HEADER});
 * - `payments/2024-05_2024-06-reexport.csv` — an overlapping re-export of scheme 110's May and June rows
 *   (the same records again: never duplicates);
 * - `payments/extra-<batch>.csv` — extra batches (re-runs, reversals, back pay, Benford batches);
 * - `deaths/health/deaths-2024.csv` — medical death certificates (header {@link DEATH_HEADER}).
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkCharacter } from '../../src/identity/resident-id.ts';
import { formatFen } from '../../src/calendar/values.ts';

export const PAYMENT_HEADER = '个人编号,姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,发放日期,银行账号,开户银行,经办机构,发放批次号';
export const DEATH_HEADER = '死者姓名,证件号码,性别,死亡日期';

/** The business date the scenario is meant to be run for. */
export const AS_OF = '2025-01-15';
/** The twelve periods of the scenario. */
export const PERIODS: readonly string[] = Array.from({ length: 12 }, (_, i) => `2024-${String(i + 1).padStart(2, '0')}`);

/** Item codes (seeds/items.json) and the names written into extracts. */
export const ITEM_NAMES = {
  pension: '基本养老金',
  back_pay: '补发养老金',
  adjustment: '待遇调整补差',
  survivor_pension: '供养亲属抚恤金',
} as const;
export type ItemCode = keyof typeof ITEM_NAMES;

export interface Person {
  personNo: string;
  name: string;
  id: string;
  sex: 'M' | 'F';
  /** District (area) code, also the first 6 digits of the agency. */
  district: string;
  agency: string;
  account: string;
  bank: string;
}

export interface PaymentLine {
  person: Person;
  scheme: string;
  item: ItemCode;
  period: string;
  amountFen: number;
  paidOn: string;
  account: string;
  /** The bank of `account`. */
  bank: string;
  batch: string;
  /** Inbox-relative file. */
  file: string;
}

export interface DeathLine {
  person: Person;
  deathDate: string;
}

/** What a detector must find (the export and finding columns that are checked). */
export interface ExpectedFinding {
  pattern: string;
  detector: string;
  caseKey: string;
  idNumber: string;
  name: string;
  schemes: string[];
  periods: string[];
  amountFen: number;
  confidence: 'confirmed' | 'probable' | 'review';
}

/** Something that looks like a finding but is not: no finding of `detector` may have one of these case keys. */
export interface Decoy {
  pattern: string;
  detector: string;
  why: string;
  caseKeys: string[];
}

/** A first-digit test batch and the conformity it must get (or `absent`: below minRows). */
export interface ExpectedBenford {
  pattern: string;
  batch: string;
  rows: number;
  conformity: 'close' | 'acceptable' | 'marginal' | 'nonconformity' | 'absent';
}

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '林', '罗', '高'];
const GIVEN = ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超', '秀英', '霞', '平', '桂兰', '建华', '玉梅', '志强'];
const BANKS = ['中国工商银行南昌分行', '中国建设银行南昌分行', '中国农业银行南昌分行', '江西银行', '中国邮政储蓄银行南昌分行'];

/** mulberry32: a small deterministic PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** A scenario under construction: lines, truth and decoys. */
export class Scenario {
  readonly payments: PaymentLine[] = [];
  readonly deaths: DeathLine[] = [];
  readonly expected: ExpectedFinding[] = [];
  readonly decoys: Decoy[] = [];
  readonly benford: ExpectedBenford[] = [];
  /** Background people per scheme (peers for amount_anomaly, rows for the Benford batches). */
  readonly background: { person: Person; scheme: string; monthlyFen: number }[] = [];
  readonly rand: () => number;
  private count = 0;

  constructor(seed = 7) {
    this.rand = prng(seed);
  }

  /** A new synthetic person with a valid resident ID, an own account and agency in `district`. */
  person(district: string, sex?: 'M' | 'F'): Person {
    const n = this.count++;
    const s = sex ?? (n % 2 === 0 ? 'M' : 'F');
    const birth = `${1945 + (n % 20)}${pad((n % 12) + 1, 2)}${pad((n % 28) + 1, 2)}`;
    const seq = pad(((n * 2) % 998) + 10 + (s === 'M' ? 1 : 0), 3);
    const first17 = `${district}${birth}${seq}`;
    return {
      personNo: `P${pad(n + 1, 8)}`,
      name: SURNAMES[n % SURNAMES.length]! + GIVEN[Math.floor(n / SURNAMES.length) % GIVEN.length]!,
      id: first17 + checkCharacter(first17),
      sex: s,
      district,
      agency: `${district}001`,
      account: `6217${pad(100_000_000_000 + n * 7_919, 15)}`,
      bank: BANKS[n % BANKS.length]!,
    };
  }

  /** The regular batch of a scheme and period, e.g. `B110-202405-A`. */
  static regularBatch(scheme: string, period: string): string {
    return `B${scheme}-${period.replace('-', '')}-A`;
  }

  /** Adds one payment line (defaults: regular batch and file of the period, paid on the 15th, own account). */
  pay(person: Person, line: { scheme: string; period: string; amountFen: number; item?: ItemCode; batch?: string; paidOn?: string; account?: Pick<Person, 'account' | 'bank'>; file?: string }): PaymentLine {
    const batch = line.batch ?? Scenario.regularBatch(line.scheme, line.period);
    const p: PaymentLine = {
      person,
      scheme: line.scheme,
      item: line.item ?? 'pension',
      period: line.period,
      amountFen: line.amountFen,
      paidOn: line.paidOn ?? `${line.period}-15`,
      account: line.account?.account ?? person.account,
      bank: line.account?.bank ?? person.bank,
      batch,
      file: line.file ?? (line.batch ? `payments/extra-${batch}.csv` : `payments/${line.period}.csv`),
    };
    this.payments.push(p);
    return p;
  }

  /**
   * Pays `amountFen` (or amountFen(period)) for every period in `periods`, in the regular batches, into the
   * person's own account unless `opts.account(period)` names another.
   */
  monthly(person: Person, scheme: string, periods: readonly string[], amountFen: number | ((period: string) => number), opts: { account?: (period: string) => Pick<Person, 'account' | 'bank'> | undefined } = {}): void {
    for (const period of periods) {
      this.pay(person, { scheme, period, amountFen: typeof amountFen === 'number' ? amountFen : amountFen(period), account: opts.account?.(period) });
    }
  }

  died(person: Person, deathDate: string): void {
    this.deaths.push({ person, deathDate });
  }

  expect(f: ExpectedFinding): void {
    this.expected.push(f);
  }

  decoy(d: Decoy): void {
    this.decoys.push(d);
  }

  /** An amount in fen between lo and hi yuan, whole yuan plus fen. */
  amount(loYuan: number, hiYuan: number): number {
    return Math.round((loYuan + this.rand() * (hiYuan - loYuan)) * 100);
  }
}

/** Periods from `from` to `to` inclusive (both within {@link PERIODS}). */
export const span = (from: string, to: string): string[] => PERIODS.filter((p) => p >= from && p <= to);

/** The yearly pension adjustment: +3 % from July (rounded to the fen). */
export const adjusted = (baseFen: number) => (period: string): number => (period >= '2024-07' ? Math.round(baseFen * 1.03) : baseFen);

export const DISTRICT_110 = '360102';
export const DISTRICT_170 = '360111';
export const DISTRICT_120 = '360103';

/**
 * Background: 30 enterprise pensioners (110) in 360102, 24 residents' pensioners (170) in 360111 and
 * 8 public-institution pensioners (120) in 360103, paid every month with the yearly +3 % adjustment from
 * July — itself a decoy for amount_anomaly (a few per cent is no anomaly).
 */
export function background(s: Scenario): void {
  const groups: [string, string, number, number, number][] = [
    ['110', DISTRICT_110, 30, 2800, 4200],
    ['170', DISTRICT_170, 24, 150, 400],
    ['120', DISTRICT_120, 8, 5000, 7000],
  ];
  for (const [scheme, district, n, lo, hi] of groups) {
    for (let i = 0; i < n; i++) {
      const person = s.person(district);
      const monthlyFen = s.amount(lo, hi);
      s.monthly(person, scheme, PERIODS, adjusted(monthlyFen));
      s.background.push({ person, scheme, monthlyFen });
    }
  }
  s.decoy({ pattern: 'background', detector: 'amount_anomaly', why: 'the yearly +3 % adjustment is no anomaly', caseKeys: s.background.map((b) => `${b.person.id}|2024-07`) });
}

/** A pattern: adds its lines and its truth to a scenario. */
export interface Pattern {
  id: string;
  detector: string;
  kind: 'finding' | 'decoy';
  description: string;
  build(s: Scenario): void;
}

export const PATTERNS: readonly Pattern[] = [
  {
    id: 'dup-rerun-batch',
    detector: 'duplicate_payment',
    kind: 'finding',
    description: '110 pension for 2024-05 paid again, same amount, in a re-run batch: one duplicate',
    build(s) {
      const p = s.person(DISTRICT_110);
      const a = 321050;
      s.monthly(p, '110', PERIODS, a);
      s.pay(p, { scheme: '110', period: '2024-05', amountFen: a, batch: 'B110-202405-RERUN', paidOn: '2024-05-28' });
      s.expect({ pattern: this.id, detector: 'duplicate_payment', caseKey: `${p.id}|110|pension|2024-05`, idNumber: p.id, name: p.name, schemes: ['110'], periods: ['2024-05'], amountFen: a, confidence: 'probable' });
    },
  },
  {
    id: 'dup-three-batches',
    detector: 'duplicate_payment',
    kind: 'finding',
    description: '120 pension for 2024-09 paid in three batches: two duplicates',
    build(s) {
      const p = s.person(DISTRICT_120);
      const a = 612300;
      s.monthly(p, '120', PERIODS, a);
      s.pay(p, { scheme: '120', period: '2024-09', amountFen: a, batch: 'B120-202409-B', paidOn: '2024-09-20' });
      s.pay(p, { scheme: '120', period: '2024-09', amountFen: a, batch: 'B120-202409-C', paidOn: '2024-09-25' });
      s.expect({ pattern: this.id, detector: 'duplicate_payment', caseKey: `${p.id}|120|pension|2024-09`, idNumber: p.id, name: p.name, schemes: ['120'], periods: ['2024-09'], amountFen: 2 * a, confidence: 'probable' });
    },
  },
  {
    id: 'dup-partly-reversed',
    detector: 'duplicate_payment',
    kind: 'finding',
    description: '110 pension for 2024-10 paid twice, then ¥1,000.00 reversed: the rest is to recover',
    build(s) {
      const p = s.person(DISTRICT_110);
      const a = 345670;
      s.monthly(p, '110', PERIODS, a);
      s.pay(p, { scheme: '110', period: '2024-10', amountFen: a, batch: 'B110-202410-RERUN', paidOn: '2024-10-27' });
      s.pay(p, { scheme: '110', period: '2024-10', amountFen: -100000, batch: 'B110-202411-REV', paidOn: '2024-11-10' });
      s.expect({ pattern: this.id, detector: 'duplicate_payment', caseKey: `${p.id}|110|pension|2024-10`, idNumber: p.id, name: p.name, schemes: ['110'], periods: ['2024-10'], amountFen: a - 100000, confidence: 'probable' });
    },
  },
  {
    id: 'dup-fully-reversed',
    detector: 'duplicate_payment',
    kind: 'decoy',
    description: '110 pension for 2024-03 paid twice and the copy reversed in full: nothing left to recover',
    build(s) {
      const p = s.person(DISTRICT_110);
      const a = 298800;
      s.monthly(p, '110', PERIODS, a);
      s.pay(p, { scheme: '110', period: '2024-03', amountFen: a, batch: 'B110-202403-RERUN', paidOn: '2024-03-29' });
      s.pay(p, { scheme: '110', period: '2024-03', amountFen: -a, batch: 'B110-202404-REV', paidOn: '2024-04-08' });
      s.decoy({ pattern: this.id, detector: 'duplicate_payment', why: 'the duplicate was reversed', caseKeys: [`${p.id}|110|pension|2024-03`] });
    },
  },
  {
    id: 'back-pay-same-period',
    detector: 'duplicate_payment',
    kind: 'decoy',
    description: '110 back pay (补发) for 2024-06 of exactly the monthly amount, in another batch: a different item',
    build(s) {
      const p = s.person(DISTRICT_110);
      const a = 305000;
      s.monthly(p, '110', PERIODS, a);
      s.pay(p, { scheme: '110', period: '2024-06', item: 'back_pay', amountFen: a, batch: 'B110-202408-BP', paidOn: '2024-08-12' });
      s.decoy({ pattern: this.id, detector: 'duplicate_payment', why: 'back pay is another item', caseKeys: [`${p.id}|110|pension|2024-06`, `${p.id}|110|back_pay|2024-06`] });
    },
  },
  {
    id: 'overlapping-extract',
    detector: 'duplicate_payment',
    kind: 'decoy',
    description: "the background 110 pensioners' May and June rows exported again in one overlapping file: the same records, one payment each",
    build(s) {
      const people = new Set(s.background.filter((b) => b.scheme === '110').map((b) => b.person.id));
      const again = s.payments.filter((l) => people.has(l.person.id) && l.item === 'pension' && (l.period === '2024-05' || l.period === '2024-06'));
      for (const l of again) s.payments.push({ ...l, file: 'payments/2024-05_2024-06-reexport.csv' });
      s.decoy({ pattern: this.id, detector: 'duplicate_payment', why: 'same batch, same record', caseKeys: again.map((l) => `${l.person.id}|110|pension|${l.period}`) });
    },
  },
  {
    id: 'concurrent-110-170',
    detector: 'concurrent_pension',
    kind: 'finding',
    description: 'draws 110 all year and 170 for 2024-04..2024-09: the six 170 payments are to be refunded',
    build(s) {
      const p = s.person(DISTRICT_110);
      const a110 = 310000;
      const a170 = 23000;
      s.monthly(p, '110', PERIODS, a110);
      const months = span('2024-04', '2024-09');
      for (const m of months) s.pay(p, { scheme: '170', period: m, amountFen: a170 });
      s.expect({ pattern: this.id, detector: 'concurrent_pension', caseKey: p.id, idNumber: p.id, name: p.name, schemes: ['110', '170'], periods: months, amountFen: months.length * a170, confidence: 'confirmed' });
    },
  },
  {
    id: 'concurrent-120-170-with-duplicate',
    detector: 'concurrent_pension',
    kind: 'finding',
    description: "draws 120 all year and 170 for 2024-01..2024-03; the February 170 payment is also duplicated: the copy is duplicate_payment's, the three months concurrent_pension's — each fen once",
    build(s) {
      const p = s.person(DISTRICT_120);
      const a120 = 580000;
      const a170 = 18800;
      s.monthly(p, '120', PERIODS, a120);
      const months = span('2024-01', '2024-03');
      for (const m of months) s.pay(p, { scheme: '170', period: m, amountFen: a170 });
      s.pay(p, { scheme: '170', period: '2024-02', amountFen: a170, batch: 'B170-202402-RERUN', paidOn: '2024-02-27' });
      s.expect({ pattern: this.id, detector: 'duplicate_payment', caseKey: `${p.id}|170|pension|2024-02`, idNumber: p.id, name: p.name, schemes: ['170'], periods: ['2024-02'], amountFen: a170, confidence: 'probable' });
      s.expect({ pattern: this.id, detector: 'concurrent_pension', caseKey: p.id, idNumber: p.id, name: p.name, schemes: ['120', '170'], periods: months, amountFen: months.length * a170, confidence: 'confirmed' });
    },
  },
  {
    id: 'scheme-switch',
    detector: 'concurrent_pension',
    kind: 'decoy',
    description: 'residents\' pension until 2024-03, enterprise pension from 2024-04: no month with both',
    build(s) {
      const p = s.person(DISTRICT_110);
      s.monthly(p, '170', span('2024-01', '2024-03'), 20500);
      s.monthly(p, '110', span('2024-04', '2024-12'), 295000);
      s.decoy({ pattern: this.id, detector: 'concurrent_pension', why: 'no overlapping month', caseKeys: [p.id] });
    },
  },
  {
    id: 'survivor-pension-with-170',
    detector: 'concurrent_pension',
    kind: 'decoy',
    description: "draws 170 all year and a 110 survivors' pension (供养亲属抚恤金) on a late spouse's account: not a pension of their own",
    build(s) {
      const p = s.person(DISTRICT_170);
      s.monthly(p, '170', PERIODS, 21000);
      for (const m of PERIODS) s.pay(p, { scheme: '110', period: m, item: 'survivor_pension', amountFen: 90000 });
      s.decoy({ pattern: this.id, detector: 'concurrent_pension', why: "survivors' pension is paid because of a death", caseKeys: [p.id] });
    },
  },
  {
    id: 'deceased-with-duplicates',
    detector: 'duplicate_payment',
    kind: 'finding',
    description: 'died 2024-06-10, paid through 2024-09 with 2024-08 paid twice, and 2024-03 paid twice while alive: the post-death copy is deceased_payment\'s (one claim), the March copy duplicate_payment\'s',
    build(s) {
      const p = s.person(DISTRICT_110);
      const a = 333300;
      s.monthly(p, '110', PERIODS.filter((m) => m <= '2024-09'), a);
      s.pay(p, { scheme: '110', period: '2024-08', amountFen: a, batch: 'B110-202408-RERUN', paidOn: '2024-08-28' });
      s.pay(p, { scheme: '110', period: '2024-03', amountFen: a, batch: 'B110-202403-RERUN', paidOn: '2024-03-29' });
      s.died(p, '2024-06-10');
      s.expect({ pattern: this.id, detector: 'deceased_payment', caseKey: p.id, idNumber: p.id, name: p.name, schemes: ['110'], periods: span('2024-07', '2024-09'), amountFen: 4 * a, confidence: 'confirmed' });
      s.expect({ pattern: this.id, detector: 'duplicate_payment', caseKey: `${p.id}|110|pension|2024-03`, idNumber: p.id, name: p.name, schemes: ['110'], periods: ['2024-03'], amountFen: a, confidence: 'probable' });
      s.decoy({ pattern: this.id, detector: 'duplicate_payment', why: 'the post-death copy is already claimed by deceased_payment', caseKeys: [`${p.id}|110|pension|2024-08`] });
    },
  },
  {
    id: 'deceased-concurrent',
    detector: 'concurrent_pension',
    kind: 'finding',
    description: 'draws 110 and 170 all year, died 2024-10-05: November and December are deceased_payment\'s, January..October concurrent_pension\'s',
    build(s) {
      const p = s.person(DISTRICT_110);
      const a110 = 288000;
      const a170 = 19900;
      s.monthly(p, '110', PERIODS, a110);
      s.monthly(p, '170', PERIODS, a170);
      s.died(p, '2024-10-05');
      const alive = span('2024-01', '2024-10');
      s.expect({ pattern: this.id, detector: 'deceased_payment', caseKey: p.id, idNumber: p.id, name: p.name, schemes: ['110', '170'], periods: span('2024-11', '2024-12'), amountFen: 2 * (a110 + a170), confidence: 'confirmed' });
      s.expect({ pattern: this.id, detector: 'concurrent_pension', caseKey: p.id, idNumber: p.id, name: p.name, schemes: ['110', '170'], periods: alive, amountFen: alive.length * a170, confidence: 'confirmed' });
    },
  },
  {
    id: 'shared-account-four',
    detector: 'shared_account',
    kind: 'finding',
    description: "one account receives its holder's 170 pension all year and three other people's for 2024-03..2024-05",
    build(s) {
      const holder = s.person(DISTRICT_170);
      s.monthly(holder, '170', PERIODS, 26000);
      const flagged = span('2024-03', '2024-05');
      for (let i = 0; i < 3; i++) {
        const o = s.person(DISTRICT_170);
        s.monthly(o, '170', PERIODS, 24000 + i * 1000, { account: (m) => (flagged.includes(m) ? holder : undefined) });
      }
      s.expect({ pattern: this.id, detector: 'shared_account', caseKey: holder.account, idNumber: holder.id, name: holder.name, schemes: ['170'], periods: flagged, amountFen: 0, confidence: 'review' });
    },
  },
  {
    id: 'shared-account-three-one-month',
    detector: 'shared_account',
    kind: 'finding',
    description: 'three people paid into one fresh account for 2024-11 only (exactly the default threshold); the holder is the smallest ID on a tie',
    build(s) {
      const people = [s.person(DISTRICT_110), s.person(DISTRICT_110), s.person(DISTRICT_110)];
      const account = { account: '6222020000000000017', bank: '中国银行南昌分行' };
      for (const [i, p] of people.entries()) s.monthly(p, '110', PERIODS, 300000 + i * 10000, { account: (m) => (m === '2024-11' ? account : undefined) });
      const holder = [...people].sort((a, b) => (a.id < b.id ? -1 : 1))[0]!;
      s.expect({ pattern: this.id, detector: 'shared_account', caseKey: account.account, idNumber: holder.id, name: holder.name, schemes: ['110'], periods: ['2024-11'], amountFen: 0, confidence: 'review' });
    },
  },
  {
    id: 'spouses-one-account',
    detector: 'shared_account',
    kind: 'decoy',
    description: 'two spouses paid into one account all year: below the default of 3 people',
    build(s) {
      const a = s.person(DISTRICT_110, 'M');
      const b = s.person(DISTRICT_110, 'F');
      s.monthly(a, '110', PERIODS, 315000);
      s.monthly(b, '110', PERIODS, 276000, { account: () => a });
      s.decoy({ pattern: this.id, detector: 'shared_account', why: 'two people only', caseKeys: [a.account] });
    },
  },
  {
    id: 'anomaly-extra-digit',
    detector: 'amount_anomaly',
    kind: 'finding',
    description: '110 pension of ¥3,150.00 paid as ¥31,500.00 for 2024-08 (an extra digit)',
    build(s) {
      const p = s.person(DISTRICT_110);
      s.monthly(p, '110', PERIODS, (m) => (m === '2024-08' ? 3150000 : 315000));
      s.expect({ pattern: this.id, detector: 'amount_anomaly', caseKey: `${p.id}|2024-08`, idNumber: p.id, name: p.name, schemes: ['110'], periods: ['2024-08'], amountFen: 0, confidence: 'review' });
    },
  },
  {
    id: 'anomaly-high-earner',
    detector: 'amount_anomaly',
    kind: 'decoy',
    description: 'a constant ¥25,000.00 pension: far above peers but never above its own history',
    build(s) {
      const p = s.person(DISTRICT_110);
      s.monthly(p, '110', PERIODS, 2500000);
      s.decoy({ pattern: this.id, detector: 'amount_anomaly', why: 'own history agrees', caseKeys: PERIODS.map((m) => `${p.id}|${m}`) });
    },
  },
  {
    id: 'anomaly-big-back-pay',
    detector: 'amount_anomaly',
    kind: 'decoy',
    description: 'a ¥18,000.00 back pay for 2024-04 beside a ¥3,000.00 pension: back pay is irregular by nature (Benford instead)',
    build(s) {
      const p = s.person(DISTRICT_110);
      s.monthly(p, '110', PERIODS, 300000);
      s.pay(p, { scheme: '110', period: '2024-04', item: 'back_pay', amountFen: 1800000, batch: 'B110-202405-BP', paidOn: '2024-05-20' });
      s.decoy({ pattern: this.id, detector: 'amount_anomaly', why: 'back pay is not judged', caseKeys: [`${p.id}|2024-04`] });
    },
  },
  {
    id: 'anomaly-new-recipient',
    detector: 'amount_anomaly',
    kind: 'decoy',
    description: 'a new 110 recipient since 2024-10 with a tenfold December payment: too little history to judge',
    build(s) {
      const p = s.person(DISTRICT_110);
      s.monthly(p, '110', span('2024-10', '2024-12'), (m) => (m === '2024-12' ? 3000000 : 300000));
      s.decoy({ pattern: this.id, detector: 'amount_anomaly', why: 'fewer than minHistory earlier payments', caseKeys: [`${p.id}|2024-12`] });
    },
  },
  {
    id: 'anomaly-after-death',
    detector: 'amount_anomaly',
    kind: 'decoy',
    description: 'died 2024-05-20; the July payment is tenfold — already claimed by deceased_payment, so no second case',
    build(s) {
      const p = s.person(DISTRICT_110);
      const a = 302000;
      s.monthly(p, '110', span('2024-01', '2024-07'), (m) => (m === '2024-07' ? 10 * a : a));
      s.died(p, '2024-05-20');
      s.expect({ pattern: this.id, detector: 'deceased_payment', caseKey: p.id, idNumber: p.id, name: p.name, schemes: ['110'], periods: span('2024-06', '2024-07'), amountFen: 11 * a, confidence: 'confirmed' });
      s.decoy({ pattern: this.id, detector: 'amount_anomaly', why: 'the payment is claimed by deceased_payment', caseKeys: [`${p.id}|2024-07`] });
    },
  },
  {
    id: 'benford-batches',
    detector: 'amount_anomaly',
    kind: 'finding',
    description: 'back-pay batch of 600 amounts following Benford; adjustment batch of 520 amounts all starting 5-9; a 120-row back-pay batch below minRows',
    build(s) {
      const bg = s.background;
      // Batch of 600 back-pay amounts whose first digits follow Benford exactly (largest remainder).
      const conform = benfordDigits(600).map((d) => d * 10 ** (3 + Math.floor(s.rand() * 3)) + Math.floor(s.rand() * 10 ** 3));
      let k = 0;
      for (const m of span('2024-01', '2024-10')) {
        for (const b of bg) {
          if (k >= conform.length) break;
          s.pay(b.person, { scheme: b.scheme, period: m, item: 'back_pay', amountFen: conform[k++]!, batch: 'BP-202412-A', paidOn: '2024-12-18' });
        }
      }
      // Batch of 520 adjustment amounts all starting with 5-9 (e.g. split to stay under a ¥10,000 approval limit).
      k = 0;
      for (const m of span('2024-01', '2024-09')) {
        for (const b of bg) {
          if (k >= 520) break;
          s.pay(b.person, { scheme: b.scheme, period: m, item: 'adjustment', amountFen: (5 + (k % 5)) * 100000 + Math.floor(s.rand() * 99999), batch: 'ADJ-202412-A', paidOn: '2024-12-20' });
          k++;
        }
      }
      // 120 back pays in a small batch: not tested.
      k = 0;
      for (const m of span('2024-11', '2024-12')) {
        for (const b of bg.slice(0, 60)) {
          s.pay(b.person, { scheme: b.scheme, period: m, item: 'back_pay', amountFen: 5000 + (k++ % 7) * 1234, batch: 'BP-202412-S', paidOn: '2024-12-28' });
        }
      }
      s.benford.push(
        { pattern: this.id, batch: 'ADJ-202412-A', rows: 520, conformity: 'nonconformity' },
        { pattern: this.id, batch: 'BP-202412-A', rows: 600, conformity: 'close' },
        { pattern: this.id, batch: 'BP-202412-S', rows: 120, conformity: 'absent' },
      );
    },
  },
];

/**
 * First digits for n amounts in Benford's proportions, by largest remainder (deterministic order: all 1s,
 * then 2s, ...).
 */
export function benfordDigits(n: number): number[] {
  const p = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => Math.log10(1 + 1 / d));
  const exact = p.map((x) => x * n);
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) if (left-- > 0) counts[i]!++;
  return counts.flatMap((c, i) => new Array<number>(c).fill(i + 1));
}

/**
 * Builds the scenario: background first, then the patterns in order (`only` restricts them by id).
 */
export function buildScenario(opts: { seed?: number; only?: readonly string[] } = {}): Scenario {
  const s = new Scenario(opts.seed ?? 7);
  background(s);
  for (const p of PATTERNS) if (!opts.only || opts.only.includes(p.id)) p.build(s);
  return s;
}

const csvCell = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** Writes the scenario's extracts into `inbox` (created); returns the files written (inbox-relative). */
export function writeInbox(s: Scenario, inbox: string): string[] {
  const files = new Map<string, string[]>();
  const add = (file: string, line: string) => {
    const list = files.get(file);
    if (list) list.push(line);
    else files.set(file, [line]);
  };
  for (const l of s.payments) {
    const p = l.person;
    add(l.file, [p.personNo, p.name, p.id, p.sex === 'M' ? '男' : '女', l.scheme, ITEM_NAMES[l.item], l.period.replace('-', ''), formatFen(l.amountFen), l.paidOn, l.account, l.bank, p.agency, l.batch].map(csvCell).join(','));
  }
  for (const d of s.deaths) add('deaths/health/deaths-2024.csv', [d.person.name, d.person.id, d.person.sex === 'M' ? '男' : '女', d.deathDate].map(csvCell).join(','));
  for (const [rel, lines] of files) {
    const abs = path.join(inbox, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    const header = rel.startsWith('deaths/') ? DEATH_HEADER : PAYMENT_HEADER;
    fs.writeFileSync(abs, [header, ...lines].join('\r\n') + '\r\n');
  }
  if (!files.has('deaths/health/deaths-2024.csv')) fs.mkdirSync(path.join(inbox, 'deaths', 'health'), { recursive: true });
  return [...files.keys()].sort();
}
