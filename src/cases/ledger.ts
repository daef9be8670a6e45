/**
 * The money side of a case (DOMAIN.md §5 "the ledger must catch double recovery").
 *
 * - overpaid — `recovery_case.amount_fen`: the current NET overpaid amount according to the payment
 *   extracts (reversals booked in the payment system, e.g. a bank return that appears as a negative payment
 *   row in a later extract, already lower it — they are never entered in the ledger as well);
 * - recovered — the sum of the case's ledger entries: repayments outside the payment extracts (positive),
 *   refunds of an over-recovery and voids of entries recorded in error (negative);
 * - owed — overpaid, except 0 for a false positive (nothing is owed);
 * - outstanding = owed − recovered. A negative outstanding is money recovered twice (two channels, or a
 *   ledger entry for money that the payment system has booked as a reversal too): a refund due of
 *   −outstanding, shown everywhere and never hidden.
 * All amounts are integer fen.
 */
import type { Kysely } from 'kysely';
import type { DB, LedgerEntry } from '../db/schema.ts';

/** The balance of one case, in fen. */
export interface Balance {
  overpaidFen: number;
  owedFen: number;
  recoveredFen: number;
  /** owed − recovered; negative when more came back than was owed. */
  outstandingFen: number;
  /** max(0, −outstanding). */
  refundDueFen: number;
}

/** Balance from a case's status, overpaid amount and ledger sum (pure). */
export function balanceOf(status: string, overpaidFen: number, recoveredFen: number): Balance {
  const owedFen = status === 'false_positive' ? 0 : overpaidFen;
  const outstandingFen = owedFen - recoveredFen;
  return { overpaidFen, owedFen, recoveredFen, outstandingFen, refundDueFen: Math.max(0, -outstandingFen) };
}

/** Sum of the ledger of each case (cases without entries are absent: 0). */
export async function recoveredByCase(db: Kysely<DB>, caseIds?: readonly number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (caseIds && caseIds.length === 0) return out;
  const chunks = caseIds ? chunk(caseIds, 500) : [null];
  for (const ids of chunks) {
    let q = db.selectFrom('ledger_entry').select((eb) => ['case_id', eb.fn.sum<number | string>('amount_fen').as('recovered')]).groupBy('case_id');
    if (ids) q = q.where('case_id', 'in', ids);
    for (const r of await q.execute()) out.set(Number(r.case_id), Number(r.recovered));
  }
  return out;
}

/** Sum of one case's ledger, in fen. */
export async function recoveredOf(db: Kysely<DB>, caseId: number): Promise<number> {
  return (await recoveredByCase(db, [caseId])).get(caseId) ?? 0;
}

/** The ledger of one case, oldest first, with amounts as numbers. */
export async function ledgerOf(db: Kysely<DB>, caseId: number): Promise<LedgerEntry[]> {
  const rows = await db.selectFrom('ledger_entry').selectAll().where('case_id', '=', caseId).orderBy('id').execute();
  return rows.map((r) => ({ ...r, id: Number(r.id), case_id: Number(r.case_id), amount_fen: Number(r.amount_fen), voids_entry_id: r.voids_entry_id === null ? null : Number(r.voids_entry_id), import_id: r.import_id === null ? null : Number(r.import_id) }));
}

function chunk<T>(a: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
}
