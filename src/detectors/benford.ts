/**
 * First-digit (Benford) test of back-pay and adjustment amounts per batch — part of `amount_anomaly`,
 * reported as a table in the run summary, never as cases.
 *
 * Source: Benford's law, P(first digit = d) = log10(1 + 1/d); Nigrini, "Benford's Law: Applications for
 * Forensic Accounting, Auditing, and Fraud Detection" (Wiley, 2012), the first-digit test and its
 * conformity ranges by mean absolute deviation (MAD). The same test is built into CaseWare IDEA and ACL.
 * Amounts keyed by hand, invented or split to stay under an approval limit drift from the expected curve;
 * back pay and adjustments are one-off amounts computed case by case, the population the test suits (a
 * monthly pension, set by formula, does not).
 *
 * - Amount tested: |amount_fen| of every stored payment of the tested items (`detectors.benford.items`,
 *   default back_pay and adjustment), reversals included, zero amounts left out; its first significant digit
 *   is the same in fen and in yuan.
 * - Per batch (发放批次号), only batches with at least `detectors.benford.minRows` (default 500) such rows:
 *   smaller samples say little (Nigrini recommends at least about 1,000 records; 500 is the floor).
 * - Statistics: MAD = mean over d = 1..9 of |observed proportion − expected proportion|, with Nigrini's
 *   first-digit ranges: ≤ 0.006 close conformity, ≤ 0.012 acceptable conformity, ≤ 0.015 marginally
 *   acceptable, above that nonconformity. The chi-square statistic (8 degrees of freedom, 5 % critical value
 *   15.507) is given as well, but it rejects almost any large sample, which is why MAD decides.
 *
 * Scale: one GROUP BY (batch, first digit) over the tested items; the digit is computed in SQL with
 * `substr(cast(abs(amount_fen) as text), 1, 1)`, which SQLite and PostgreSQL both understand. The counts
 * per batch and digit add up, so an incremental run counts the new rows only and adds them to the counts the
 * previous run kept ({@link benfordCounts}).
 */
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import type { DetectorSettings } from '../config/detector-settings.ts';
import { byteCmp } from './shared.ts';

/** Expected first-digit proportions, index 0 = digit 1 … index 8 = digit 9. */
export const BENFORD_FIRST_DIGIT: readonly number[] = Object.freeze([1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => Math.log10(1 + 1 / d)));

/** Nigrini's conformity class of a first-digit MAD. */
export type BenfordConformity = 'close' | 'acceptable' | 'marginal' | 'nonconformity';

/** Chi-square critical value, 8 degrees of freedom, α = 0.05. */
export const CHI_SQUARE_CRITICAL_8DF = 15.507;

/** The result of the first-digit test on one set of counts. */
export interface BenfordTest {
  /** Rows tested (sum of counts). */
  n: number;
  /** Rows per first digit 1..9 (index 0 = digit 1). */
  counts: number[];
  /** Observed proportions per digit, rounded to 4 decimals. */
  observed: number[];
  /** Mean absolute deviation from {@link BENFORD_FIRST_DIGIT}, rounded to 5 decimals. */
  mad: number;
  conformity: BenfordConformity;
  /** Pearson chi-square against the expected counts, rounded to 2 decimals. */
  chiSquare: number;
  /** chiSquare > {@link CHI_SQUARE_CRITICAL_8DF}. */
  chiSquareRejects: boolean;
}

/** One row of the summary's Benford table: a batch and its test. */
export interface BenfordBatch extends BenfordTest {
  batch: string;
}

/** Nigrini's first-digit conformity ranges (Nigrini 2012, the first-digit test). */
export function conformityOf(mad: number): BenfordConformity {
  if (mad <= 0.006) return 'close';
  if (mad <= 0.012) return 'acceptable';
  if (mad <= 0.015) return 'marginal';
  return 'nonconformity';
}

const round = (x: number, d: number): number => Math.round(x * 10 ** d) / 10 ** d;

/**
 * The first-digit test on counts per digit. Pure.
 * @param counts nine non-negative integers, rows whose first digit is 1..9
 * @throws RangeError when there are not nine counts or they sum to 0
 */
export function benfordTest(counts: readonly number[]): BenfordTest {
  if (counts.length !== 9) throw new RangeError(`benfordTest needs 9 counts (digits 1-9), got ${counts.length}`);
  const n = counts.reduce((s, c) => s + c, 0);
  if (n <= 0) throw new RangeError('benfordTest needs at least one row');
  let madSum = 0;
  let chi = 0;
  const observed: number[] = [];
  for (let i = 0; i < 9; i++) {
    const p = counts[i]! / n;
    const e = BENFORD_FIRST_DIGIT[i]!;
    observed.push(round(p, 4));
    madSum += Math.abs(p - e);
    chi += (counts[i]! - n * e) ** 2 / (n * e);
  }
  const mad = madSum / 9;
  return { n, counts: [...counts], observed, mad: round(mad, 5), conformity: conformityOf(mad), chiSquare: round(chi, 2), chiSquareRejects: chi > CHI_SQUARE_CRITICAL_8DF };
}

/** First significant digit of a non-zero integer amount (1..9). */
export function firstDigit(amountFen: number): number {
  const a = Math.abs(amountFen);
  if (!Number.isSafeInteger(a) || a === 0) throw new RangeError(`firstDigit needs a non-zero integer, got ${amountFen}`);
  return Number(String(a)[0]);
}

/**
 * Rows of the tested items per batch and first digit (index 0 = digit 1): over every stored payment, or over
 * those with `id > sinceId` only (counts are additive: payments are never deleted).
 */
export async function benfordCounts(db: Kysely<DB>, params: DetectorSettings['benford'], sinceId?: number): Promise<Map<string, number[]>> {
  const byBatch = new Map<string, number[]>();
  if (params.items.length === 0) return byBatch;
  const digit = sql<string>`substr(cast(abs(${sql.ref('amount_fen')}) as text), 1, 1)`;
  const rows = await db
    .selectFrom('payment')
    .select(['batch', digit.as('digit'), (eb) => eb.fn.countAll().as('n')])
    .where('item', 'in', [...params.items])
    .where('amount_fen', '<>', 0)
    .$if(sinceId !== undefined, (q) => q.where('id', '>', sinceId!))
    .groupBy(['batch', digit])
    .execute();
  for (const r of rows) {
    const d = Number(r.digit);
    if (!(d >= 1 && d <= 9)) continue;
    const counts = byBatch.get(r.batch) ?? new Array<number>(9).fill(0);
    counts[d - 1]! += Number(r.n);
    byBatch.set(r.batch, counts);
  }
  return byBatch;
}

/** The Benford table from counts per batch: batches with at least `minRows` rows, byte-wise by batch. Pure. */
export function benfordTable(byBatch: ReadonlyMap<string, readonly number[]>, minRows: number): BenfordBatch[] {
  return [...byBatch.entries()]
    .filter(([, c]) => c.reduce((s, x) => s + x, 0) >= minRows)
    .sort((a, b) => byteCmp(a[0], b[0]))
    .map(([batch, counts]) => ({ batch, ...benfordTest(counts) }));
}

/**
 * The Benford table of the store: one row per batch with at least `minRows` rows of the tested items,
 * ordered byte-wise by batch. This is what the run summary shows (see README "Detectors").
 */
export async function benfordByBatch(db: Kysely<DB>, params: DetectorSettings['benford']): Promise<BenfordBatch[]> {
  return benfordTable(await benfordCounts(db, params), params.minRows);
}
