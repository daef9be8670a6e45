/**
 * Turning a run's findings into recovery cases (ARCHITECTURE.md floor 5): one case per detector and case
 * key, updated in place by later runs and never duplicated. Every change is an append-only `case_event`.
 *
 * - no case for the key: a case is opened with status `new`;
 * - an open case: its amount, periods, confidence and evidence follow the latest finding (event `updated`
 *   when anything changed; nothing at all when nothing did, so a re-run is a no-op);
 * - a `false_positive` case: left alone while the evidence fingerprint is the same;
 * - a final case (`recovered`, `written_off`) and the finding counts payments the case did not: a follow-up
 *   case is opened for the new payments' periods, linked to it.
 * An open case whose finding disappeared (e.g. a reversal netted the overpayment to zero) gets an event
 * `not_found` and amount 0; it is never deleted.
 */
import crypto from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../db/schema.ts';
import type { Finding } from '../detectors/types.ts';
import { FINAL_STATUSES, type CaseStatus } from './statuses.ts';

/** Counts of what {@link upsertCases} did. */
export interface CaseChanges {
  opened: number;
  updated: number;
  unchanged: number;
  followUps: number;
  notFound: number;
}

/** Fingerprint of the evidence that decided a finding: the death facts and the payments counted. */
export function evidenceFingerprint(f: Finding): string {
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify({ d: f.detector, k: f.caseKey, c: f.evidence.comparisons, p: f.paymentIds }));
  return h.digest('hex').slice(0, 32);
}

function caseValues(f: Finding) {
  return {
    confidence: f.confidence,
    id_number: f.idNumber,
    name: f.name,
    district_code: f.districtCode,
    scheme: f.schemes.join('+'),
    first_period: f.periods[0]!,
    last_period: f.periods.at(-1)!,
    months: f.periods.length,
    amount_fen: f.amountFen,
    evidence: JSON.stringify(f.evidence),
    fingerprint: evidenceFingerprint(f),
  };
}

async function setPayments(trx: Transaction<DB>, caseId: number, ids: readonly number[]): Promise<void> {
  await trx.deleteFrom('case_payment').where('case_id', '=', caseId).execute();
  for (let i = 0; i < ids.length; i += 500) {
    await trx.insertInto('case_payment').values(ids.slice(i, i + 500).map((payment_id) => ({ case_id: caseId, payment_id }))).execute();
  }
}

/**
 * Applies the findings of one detector in one run to the cases, in one transaction.
 * @param detector the detector id (cases of this detector not in `findings` get `not_found`)
 * @param now ISO instant of the change
 */
export async function upsertCases(db: Kysely<DB>, runId: number, detector: string, findings: readonly Finding[], now: string): Promise<CaseChanges> {
  const changes: CaseChanges = { opened: 0, updated: 0, unchanged: 0, followUps: 0, notFound: 0 };
  await db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('recovery_case').selectAll().where('detector', '=', detector).orderBy('case_key').orderBy('follow_up_seq').execute();
    const latestByKey = new Map<string, (typeof existing)[number]>();
    for (const c of existing) latestByKey.set(c.case_key, c); // ordered by seq: the last is the latest
    const seen = new Set<string>();
    const event = (case_id: number, kind: string, from: string | null, to: string | null, reason: string | null, data: unknown) =>
      trx.insertInto('case_event').values({ case_id, at: now, actor: 'fundguard', kind, from_status: from, to_status: to, reason, data: data === null ? null : JSON.stringify(data), run_id: runId }).execute();

    for (const f of findings) {
      seen.add(f.caseKey);
      const v = caseValues(f);
      const cur = latestByKey.get(f.caseKey);
      if (!cur) {
        const ins = await trx
          .insertInto('recovery_case')
          .values({ detector, case_key: f.caseKey, follow_up_seq: 0, follow_up_of: null, status: 'new', assignee: null, created_run_id: runId, updated_run_id: runId, created_at: now, updated_at: now, ...v })
          .returning('id')
          .executeTakeFirstOrThrow();
        const id = Number(ins.id);
        await setPayments(trx, id, f.paymentIds);
        await event(id, 'opened', null, 'new', f.evidence.why, { amount_fen: f.amountFen, periods: f.periods });
        changes.opened++;
        continue;
      }
      const curId = Number(cur.id);
      if (FINAL_STATUSES.includes(cur.status as CaseStatus)) {
        const counted = new Set((await trx.selectFrom('case_payment').select('payment_id').where('case_id', '=', curId).execute()).map((r) => Number(r.payment_id)));
        const fresh = f.paymentIds.filter((p) => !counted.has(p));
        if (fresh.length === 0) {
          changes.unchanged++;
          continue;
        }
        const ins = await trx
          .insertInto('recovery_case')
          .values({ detector, case_key: f.caseKey, follow_up_seq: cur.follow_up_seq + 1, follow_up_of: curId, status: 'new', assignee: null, created_run_id: runId, updated_run_id: runId, created_at: now, updated_at: now, ...v })
          .returning('id')
          .executeTakeFirstOrThrow();
        const id = Number(ins.id);
        await setPayments(trx, id, f.paymentIds);
        await event(id, 'opened', null, 'new', `follow-up of case ${curId} (${cur.status}): new overpayments found`, { follow_up_of: curId });
        await event(curId, 'follow_up_opened', cur.status, cur.status, `follow-up case ${id} opened for new overpayments`, { follow_up: id });
        changes.followUps++;
        continue;
      }
      if (cur.status === 'false_positive' && cur.fingerprint === v.fingerprint) {
        changes.unchanged++;
        continue;
      }
      const diff: Record<string, [unknown, unknown]> = {};
      for (const k of ['confidence', 'name', 'district_code', 'scheme', 'first_period', 'last_period', 'months', 'amount_fen', 'fingerprint'] as const) {
        const before = k === 'amount_fen' || k === 'months' ? Number(cur[k]) : cur[k];
        if (before !== v[k]) diff[k] = [before, v[k]];
      }
      if (Object.keys(diff).length === 0) {
        changes.unchanged++;
        continue;
      }
      await trx.updateTable('recovery_case').set({ ...v, updated_run_id: runId, updated_at: now }).where('id', '=', curId).execute();
      await setPayments(trx, curId, f.paymentIds);
      const reason = cur.status === 'false_positive' ? 'new evidence for a case closed as false positive' : 'finding changed';
      await event(curId, cur.status === 'false_positive' ? 'new_evidence' : 'updated', cur.status, cur.status, reason, diff);
      changes.updated++;
    }
    for (const [key, cur] of latestByKey) {
      if (seen.has(key) || FINAL_STATUSES.includes(cur.status as CaseStatus) || cur.status === 'false_positive') continue;
      if (Number(cur.amount_fen) === 0 && cur.months === 0) continue;
      const curId = Number(cur.id);
      await trx.updateTable('recovery_case').set({ amount_fen: 0, months: 0, updated_run_id: runId, updated_at: now }).where('id', '=', curId).execute();
      await trx.deleteFrom('case_payment').where('case_id', '=', curId).execute();
      await event(curId, 'not_found', cur.status, cur.status, 'the detector no longer finds an overpayment (e.g. reversed or corrected)', { amount_fen: [Number(cur.amount_fen), 0] });
      changes.notFound++;
    }
  });
  return changes;
}
