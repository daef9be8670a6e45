/**
 * Small pieces the detectors share: the payment row they read back after a set-based query picked the
 * groups worth a look, and the few orderings every detector needs to stay deterministic.
 */
import type { Kysely } from 'kysely';
import type { Settings } from '../config/settings.ts';
import type { DB } from '../db/schema.ts';

/** A stored payment as the detectors read it (amount in integer fen, period `YYYY-MM`, dates `YYYY-MM-DD`). */
export interface PaymentRow {
  id: number;
  id_number: string;
  id_valid: number;
  name: string;
  scheme: string;
  item: string;
  period: string;
  amount_fen: number;
  paid_on: string | null;
  account: string | null;
  bank: string | null;
  district_code: string | null;
  batch: string;
  /** Inbox-relative path of the file the payment was first stored from, and its line. */
  file: string;
  line: number;
}

/** Columns of {@link PaymentRow} on a query over `payment as p` joined to `source_file as f`. */
export const PAYMENT_COLUMNS = [
  'p.id', 'p.id_number', 'p.id_valid', 'p.name', 'p.scheme', 'p.item', 'p.period', 'p.amount_fen', 'p.paid_on',
  'p.account', 'p.bank', 'p.district_code', 'p.batch', 'f.path as file', 'p.line',
] as const;

/** Normalises the numeric columns (PostgreSQL returns bigint as text). */
export function toPaymentRow(r: {
  id: number | string; id_number: string; id_valid: number | string; name: string; scheme: string; item: string; period: string;
  amount_fen: number | string; paid_on: string | null; account: string | null; bank: string | null; district_code: string | null;
  batch: string; file: string; line: number | string;
}): PaymentRow {
  return { ...r, id: Number(r.id), id_valid: Number(r.id_valid), amount_fen: Number(r.amount_fen), line: Number(r.line) };
}

/** Byte-wise string order (the same on every engine and collation). */
import { byteCmp } from '../byte-order.ts';
export { byteCmp };

/** Orders payments earliest first: period, then pay date (unknown last), then batch, then storage order. */
export function paymentOrder(a: PaymentRow, b: PaymentRow): number {
  return (
    byteCmp(a.period, b.period) ||
    byteCmp(a.paid_on ?? '9999-99-99', b.paid_on ?? '9999-99-99') ||
    byteCmp(a.batch, b.batch) ||
    a.id - b.id
  );
}

/** The latest of some payments ({@link paymentOrder}); its agency gives a case's district (README "Case export"). */
export function latestPayment<T extends PaymentRow>(rows: readonly T[]): T {
  if (rows.length === 0) throw new RangeError('latestPayment needs at least one payment');
  return rows.reduce((best, r) => (paymentOrder(r, best) > 0 ? r : best));
}

/** District code of a case: the latest payment's agency district, else the ID's area code. */
export function districtOf(rows: readonly PaymentRow[]): string {
  const latest = latestPayment(rows);
  return latest.district_code ?? latest.id_number.slice(0, 6);
}

/** Item codes paid because of a death (funeral grant, survivor payments): never a regular benefit. */
export function payableAfterDeathItems(settings: Settings): string[] {
  return settings.items.filter((i) => i.payable_after_death).map((i) => i.code);
}

/** Distinct values, sorted byte-wise. */
export function sortedDistinct(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(byteCmp);
}

/** `2024-03..2024-05`, or the single period. */
export function periodRange(periods: readonly string[]): string {
  return periods.length === 1 ? periods[0]! : `${periods[0]}..${periods.at(-1)}`;
}

/** Appends `value` to the list under `key` (grouping without copying). */
export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * `2024-01..2024-03, 2024-06` — consecutive months joined into ranges.
 * @param periods sorted distinct `YYYY-MM`
 */
export function monthRanges(periods: readonly string[]): string {
  const idx = (p: string) => Number(p.slice(0, 4)) * 12 + Number(p.slice(5, 7));
  const parts: string[] = [];
  let start = 0;
  for (let i = 1; i <= periods.length; i++) {
    if (i < periods.length && idx(periods[i]!) === idx(periods[i - 1]!) + 1) continue;
    parts.push(i - 1 === start ? periods[start]! : `${periods[start]}..${periods[i - 1]}`);
    start = i;
  }
  return parts.join(', ');
}

/** Labels for "why" lines: `110 企业职工基本养老保险`, `基本养老金` (the code itself when unknown). */
export interface Labels {
  scheme(code: string): string;
  item(code: string): string;
}

/** {@link Labels} from the settings' scheme and item tables. */
export function labelsOf(settings: Pick<Settings, 'schemes' | 'items'>): Labels {
  const schemes = new Map(settings.schemes.map((s) => [s.code, s.name]));
  const items = new Map(settings.items.map((i) => [i.code, i.name]));
  return {
    scheme: (code) => (schemes.has(code) ? `${code} ${schemes.get(code)}` : code),
    item: (code) => items.get(code) ?? code,
  };
}

/** Labels that print the codes (tests, or when no settings are at hand). */
export const CODE_LABELS: Labels = { scheme: (c) => c, item: (c) => c };

/** Per store handle: the payment count up to a payment id (see {@link countPayments}). */
const paymentCounts = new WeakMap<Kysely<DB>, { untilId: number; n: number }>();

/**
 * Rows examined, for the run record: the stored payments. Every detector's set-based queries scan all of
 * them (filters are applied inside the scan), so this is the honest count — and a cheap one (an index-only
 * count), where a filtered count would cost one more full scan of the table. Payments are never deleted and
 * their ids only grow, so the count is taken once per store handle and then only the rows above the highest
 * id counted are added (the detectors of one run share one count instead of each scanning the index).
 */
export async function countPayments(db: Kysely<DB>): Promise<number> {
  const top = await db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
  const untilId = top?.m == null ? 0 : Number(top.m);
  const known = paymentCounts.get(db);
  if (known && known.untilId === untilId) return known.n;
  // Rows above the last count: a range of the primary key; else (first count) the index-only count of all rows.
  const since = known && known.untilId < untilId ? known : null;
  const r = await db
    .selectFrom('payment')
    .select((eb) => eb.fn.countAll().as('n'))
    .$if(since !== null, (q) => q.where('id', '>', since!.untilId).where('id', '<=', untilId))
    .executeTakeFirstOrThrow();
  const n = (since?.n ?? 0) + Number(r.n);
  paymentCounts.set(db, { untilId, n });
  return n;
}

/**
 * (person, period) pairs holding two or more payment rows — a necessary condition for a duplicate (two copies)
 * and for concurrent pensions (two schemes). One scan of the index `payment_natural_key` (its first two columns are
 * id_number and period in either order: migrations 0008, 0009), without a sort or a table lookup; on the bench data about 0.3 % of the pairs qualify, so the
 * GROUP BYs of those detectors run over a small fraction of the rows.
 */
export function multiRowPairs(db: Kysely<DB>) {
  return db.selectFrom('payment').select(['id_number', 'period']).groupBy(['id_number', 'period']).having((eb) => eb.fn.countAll(), '>=', 2);
}
