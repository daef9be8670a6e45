/**
 * Summary tables kept up to date from the payment rows stored since their high-water mark (issue 10: no scan
 * of every payment on a nightly run). Payment ids only grow, so "the rows above the mark" are exactly the rows
 * stored since the table was last brought up to date. The mark is a `detector_state` row of run 0. Used by
 * `payment_group_stats` (amount_anomaly), `account_person` (shared_account) and `scheme_period` (reports);
 * their migrations (0005–0007) fill them and set the mark with {@link setHighWater}.
 */
import type { Kysely, Transaction } from 'kysely';
import type { DB } from './schema.ts';

/** A summary table that is only ever added to from new payment rows. */
export type SummaryTable = 'payment_group_stats' | 'account_person' | 'scheme_period';

/** Where a summary table's mark is kept: `detector_state` (run 0, detector, key). */
export interface HighWaterMark {
  readonly detector: string;
  readonly key: string;
}

/** The highest payment id a summary table includes, or null when the mark is missing (the table is rebuilt). */
export async function readHighWater(db: Kysely<DB>, mark: HighWaterMark): Promise<number | null> {
  const r = await db.selectFrom('detector_state').select('value').where('run_id', '=', 0).where('detector', '=', mark.detector).where('key', '=', mark.key).executeTakeFirst();
  return r ? Number(r.value) : null;
}

/** Records that a summary table includes every payment with `id <= id` (replacing the previous mark). */
export async function setHighWater(db: Kysely<DB>, mark: HighWaterMark, id: number): Promise<void> {
  await db.deleteFrom('detector_state').where('run_id', '=', 0).where('detector', '=', mark.detector).where('key', '=', mark.key).execute();
  await db.insertInto('detector_state').values({ run_id: 0, detector: mark.detector, key: mark.key, value: String(id) }).execute();
}

/**
 * Brings a summary table up to the payments with `id <= untilId` (default: the highest stored id), in one
 * transaction: `fill(trx, since, until)` adds the rows with `since < id <= until` — every row up to `until`
 * when `since` is null, after the table was emptied because its mark was missing — and the mark moves to
 * `until`. Nothing is done when the mark is already there.
 */
export async function refreshFromNewPayments(
  db: Kysely<DB>,
  table: SummaryTable,
  mark: HighWaterMark,
  fill: (trx: Transaction<DB>, since: number | null, until: number) => Promise<void>,
  untilId?: number,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const since = await readHighWater(trx, mark);
    let until = untilId;
    if (until === undefined) {
      const top = await trx.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
      until = top?.m == null ? 0 : Number(top.m);
    }
    if (since !== null && since >= until) return;
    if (since === null) await trx.deleteFrom(table).execute();
    await fill(trx, since, until);
    await setHighWater(trx, mark, until);
  });
}
