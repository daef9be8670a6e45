/**
 * Turning a run's findings into recovery cases (ARCHITECTURE.md floor 5): one case chain per detector and
 * case key, updated by later runs and never duplicated. Every change is an append-only `case_event` by the
 * actor `fundguard`. A run never touches what people decide: status, assignee, ledger and history are
 * theirs; only the overpaid amount, periods, confidence and evidence follow the extracts.
 *
 * A chain is the first case of a key (`follow_up_seq` 0) and its follow-ups (1, 2, ... each linked to the
 * previous by `follow_up_of`). For each finding, by the status of the chain's latest case:
 * - no case yet: a case is opened with status `new`;
 * - open (neither final nor false positive): its amount, periods, confidence and evidence follow the finding
 *   (event `updated`; nothing at all when nothing changed, so a re-run is a no-op);
 * - final (`recovered`, `written_off`): payments the chain has not counted yet open a follow-up case for
 *   exactly those payments (event `opened` on it, `follow_up_opened` on the final case);
 * - `false_positive`: nothing while the evidence fingerprint is one a false positive of the chain was
 *   closed with; different evidence opens a follow-up case (the investigator's decision stays on record).
 * A payment is counted by one case of a chain only (DOMAIN.md §4 "one payment, one claim"): a final case
 * keeps the payments it counted, a later case gets the rest. A final case's overpaid amount follows its own
 * payments (a reversal booked in a later extract lowers it: event `overpaid_changed`), so money that came
 * back twice — repaid by the heirs and returned by the bank — shows as a refund due (ledger.ts).
 * An open case whose finding disappeared (e.g. reversed to a net of zero) gets an event `not_found` and
 * amount 0; it is never deleted.
 *
 * Contract with detectors: a finding's `amountFen` is the sum of the payment rows in its `paymentIds`
 * (reversals included), and `evidence.comparisons` is the match evidence a false positive is judged on.
 */
import crypto from 'node:crypto';
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { DB, RecoveryCase, RecoveryCaseTable } from '../db/schema.ts';
import type { Finding } from '../detectors/types.ts';
import { formatFen } from '../calendar/values.ts';
import { caseEventRow, isFinal, normalizeCase, settle, settleWrites, type CaseEventInput, type ChangeContext } from './actions.ts';
import { balanceOf, recoveredByCase } from './ledger.ts';
import { SYSTEM_ACTOR } from './statuses.ts';
import { byteCmp } from '../byte-order.ts';

/** Counts of what {@link upsertCases} did. */
export interface CaseChanges {
  opened: number;
  updated: number;
  unchanged: number;
  followUps: number;
  notFound: number;
  /** Final cases whose overpaid amount changed (reversals booked after they were closed). */
  amountChanged: number;
  /** Cases that became `recovered` automatically because nothing was outstanding any more. */
  autoRecovered: number;
}

/** The words an `updated` event's reason uses for the case fields that changed (its data keeps the field names). */
const CHANGED_FIELD_WORDS: Readonly<Record<string, string>> = {
  confidence: 'confidence', name: 'name', district_code: 'district', scheme: 'scheme', first_period: 'first period',
  last_period: 'last period', months: 'months', amount_fen: 'amount', fingerprint: 'match evidence',
};

/**
 * Fingerprint of the match evidence of a finding: detector, case key and the comparisons (death records,
 * names, dates). Payments are deliberately left out: a person closed as a false positive (e.g. a living
 * person in a death register) is not reopened every month the pension is paid again, only when the match
 * evidence changes (a new or corrected death record, another name). DOMAIN.md §4.
 */
export function evidenceFingerprint(f: Finding): string {
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify({ d: f.detector, k: f.caseKey, c: f.evidence.comparisons }));
  return h.digest('hex').slice(0, 32);
}

type Values = ReturnType<typeof caseValues>;

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

interface PayRow {
  id: number;
  amount_fen: number;
  scheme: string;
  item: string;
  period: string;
}

const payKey = (r: PayRow): string => `${r.scheme}|${r.item}|${r.period}`;

/** The case values for a part of a finding's payments (a follow-up, or the open case after a final one). */
function partValues(f: Finding, ids: readonly number[], rows: ReadonlyMap<number, PayRow>, amountFen: number): Values {
  const own = ids.map((id) => rows.get(id)!).filter(Boolean);
  const positive = own.filter((r) => r.amount_fen > 0);
  const basis = positive.length ? positive : own;
  const periods = [...new Set(basis.map((r) => r.period))].sort();
  const schemes = [...new Set(basis.map((r) => r.scheme))].sort();
  const v = caseValues(f);
  return {
    ...v,
    scheme: schemes.length ? schemes.join('+') : v.scheme,
    first_period: periods[0] ?? v.first_period,
    last_period: periods.at(-1) ?? v.last_period,
    months: periods.length,
    amount_fen: amountFen,
  };
}

/** A case as the writes below refer to it: `id` is 0 while a case opened in this upsert is not inserted yet. */
interface CaseRef {
  id: number;
}

/**
 * The cases opened, case events and case-payment changes of one {@link upsertCases}, held back and written in
 * multi-row statements (issue 10: a first load opens ≈ 15,000 cases and a nightly run updates thousands, and
 * one statement per case, per event and per case's payments cost ≈ 50–200 µs each). {@link flush} writes
 * them in the order they were added — cases, then events, then payments — and runs before anything reads what
 * they touch or writes an event directly (`settle`), so case and event ids come out in the same order as when
 * each row was inserted at once. A case's payments are either replaced (its old rows deleted first) or added
 * to, never both in one upsert.
 */
class PendingCaseWrites {
  private opens: { ref: CaseRef; row: Insertable<RecoveryCaseTable> }[] = [];
  private events: { ref: CaseRef; e: Omit<CaseEventInput, 'caseId'> }[] = [];
  private cleared: CaseRef[] = [];
  private payments: { ref: CaseRef; paymentId: number }[] = [];
  constructor(private readonly trx: Transaction<DB>) {}

  /** A new case (`row` holds every column but `id`); its id is set by the next {@link flush}. */
  open(row: Insertable<RecoveryCaseTable>): CaseRef {
    const ref = { id: 0 };
    this.opens.push({ ref, row });
    return ref;
  }

  event(ref: CaseRef, e: Omit<CaseEventInput, 'caseId'>): void {
    this.events.push({ ref, e });
  }

  /** The case's payments become `ids` (all its current rows are deleted). */
  setPayments(ref: CaseRef, ids: readonly number[]): void {
    this.cleared.push(ref);
    this.addPayments(ref, ids);
  }

  /** Payments added to a case that has none of them yet (a new case, or a reversal a final case owns). */
  addPayments(ref: CaseRef, ids: readonly number[]): void {
    for (const paymentId of ids) this.payments.push({ ref, paymentId });
  }

  /** Rows held back: {@link upsertCases} flushes at {@link PendingCaseWrites.LIMIT} so memory stays bounded. */
  get size(): number {
    return this.opens.length + this.events.length + this.cleared.length + this.payments.length;
  }

  static readonly LIMIT = 4000;

  async flush(): Promise<void> {
    const { opens, events, cleared, payments } = this;
    this.opens = [];
    this.events = [];
    this.cleared = [];
    this.payments = [];
    for (let i = 0; i < opens.length; i += 300) {
      const part = opens.slice(i, i + 300);
      const rows = await this.trx.insertInto('recovery_case').values(part.map((o) => o.row)).returning(['id', 'case_key', 'follow_up_seq']).execute();
      // RETURNING gives no order (SQLite, PostgreSQL): match by the chain key, unique per detector.
      const ids = new Map(rows.map((r) => [`${r.case_key}\n${Number(r.follow_up_seq)}`, Number(r.id)]));
      for (const o of part) o.ref.id = ids.get(`${o.row.case_key}\n${Number(o.row.follow_up_seq)}`)!;
    }
    for (let i = 0; i < events.length; i += 400) {
      await this.trx.insertInto('case_event').values(events.slice(i, i + 400).map(({ ref, e }) => caseEventRow({ ...e, caseId: ref.id }))).execute();
    }
    for (let i = 0; i < cleared.length; i += 500) {
      await this.trx.deleteFrom('case_payment').where('case_id', 'in', cleared.slice(i, i + 500).map((r) => r.id)).execute();
    }
    for (let i = 0; i < payments.length; i += 500) {
      await this.trx.insertInto('case_payment').values(payments.slice(i, i + 500).map((p) => ({ case_id: p.ref.id, payment_id: p.paymentId }))).execute();
    }
  }
}

async function paymentRows(trx: Transaction<DB>, ids: readonly number[]): Promise<Map<number, PayRow>> {
  const out = new Map<number, PayRow>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await trx.selectFrom('payment').select(['id', 'amount_fen', 'scheme', 'item', 'period']).where('id', 'in', ids.slice(i, i + 500)).execute();
    for (const r of rows) out.set(Number(r.id), { ...r, id: Number(r.id), amount_fen: Number(r.amount_fen) });
  }
  return out;
}

/**
 * What an incremental run tells {@link upsertCases}: which findings are the previous succeeded run's, carried
 * forward unchanged. That run left every chain as this function leaves it for its finding (applying the same
 * finding again writes nothing), so a chain whose finding is carried and that nothing else changed since is
 * not read at all and counts as unchanged.
 */
export interface CarriedFindings {
  /** The previous succeeded run (its own case events are not changes since). */
  prevRunId: number;
  /** Findings of this run that are the previous run's, unchanged (compared by identity). */
  carried: ReadonlySet<Finding>;
  /** Case keys of the detector's findings in the previous run. */
  previousKeys: Iterable<string>;
  /** The highest case event id when the previous run began detecting: later events mark changed chains. */
  eventsSince: number;
}

/**
 * Applies the findings of one detector in one run to the cases, in one transaction.
 * @param detector the detector id (cases of this detector not in `findings` get `not_found`)
 * @param now ISO instant of the change
 * @param since set by an incremental run: only the chains whose finding is new, changed or gone, and those
 *   changed since the previous run (a case event after its mark, other than its own updates), are looked at
 */
export async function upsertCases(db: Kysely<DB>, runId: number, detector: string, findings: readonly Finding[], now: string, since?: CarriedFindings): Promise<CaseChanges> {
  const changes: CaseChanges = { opened: 0, updated: 0, unchanged: 0, followUps: 0, notFound: 0, amountChanged: 0, autoRecovered: 0 };
  const ctx: ChangeContext = { now, today: now.slice(0, 10), source: 'nightly' };
  await db.transaction().execute(async (trx) => {
    // Take the write lock first (a portable no-op UPDATE), so that the cases read below cannot change before
    // they are written (an investigator's change waits, or this waits for it).
    await trx.updateTable('recovery_case').set((eb) => ({ updated_at: eb.ref('updated_at') })).where('id', '=', -1).execute();
    // The case keys to look at (null: all of the detector's).
    let keys: Set<string> | null = null;
    if (since) {
      keys = new Set<string>();
      const current = new Set<string>();
      for (const f of findings) {
        current.add(f.caseKey);
        if (!since.carried.has(f)) keys.add(f.caseKey);
      }
      for (const k of since.previousKeys) if (!current.has(k)) keys.add(k);
      const changed = await trx
        .selectFrom('case_event as e')
        .innerJoin('recovery_case as c', 'c.id', 'e.case_id')
        .select('c.case_key')
        .distinct()
        .where('e.id', '>', since.eventsSince)
        .where('c.detector', '=', detector)
        .where((eb) => eb.or([eb('e.run_id', 'is', null), eb('e.run_id', '<>', since.prevRunId)]))
        .execute();
      for (const r of changed) keys.add(r.case_key);
    }
    let existing: RecoveryCase[];
    if (keys) {
      existing = [];
      const sorted = [...keys].sort(byteCmp);
      for (let i = 0; i < sorted.length; i += 500) {
        existing.push(...(await trx.selectFrom('recovery_case').selectAll().where('detector', '=', detector).where('case_key', 'in', sorted.slice(i, i + 500)).execute()).map(normalizeCase));
      }
      existing.sort((a, b) => byteCmp(a.case_key, b.case_key) || a.follow_up_seq - b.follow_up_seq);
    } else {
      existing = (await trx.selectFrom('recovery_case').selectAll().where('detector', '=', detector).orderBy('case_key').orderBy('follow_up_seq').execute()).map(normalizeCase);
    }
    const chains = new Map<string, RecoveryCase[]>();
    for (const c of existing) {
      const chain = chains.get(c.case_key) ?? [];
      chain.push(c);
      chains.set(c.case_key, chain);
    }
    const pending = new PendingCaseWrites(trx);
    const event = (c: CaseRef, kind: string, from: string | null, to: string | null, reason: string, data: unknown): void =>
      pending.event(c, { at: now, actor: SYSTEM_ACTOR, kind, from, to, reason, data, runId });
    // Ledger sums, read once: a run writes no ledger entry, so they hold for the whole transaction.
    const recovered = await recoveredByCase(trx, existing.map((c) => c.id));
    const balanceBefore = (c: RecoveryCase) => balanceOf(c.status, c.amount_fen, recovered.get(c.id) ?? 0);
    /** `settle` (actions.ts) after the case's overpaid amount became `amountFen`, read and run only when it writes. */
    const settleCase = async (c: RecoveryCase, amountFen: number, refundBefore: number, cause: string) => {
      if (!settleWrites(c.status, amountFen, recovered.get(c.id) ?? 0, refundBefore)) return null;
      await pending.flush();
      return settle(trx, c.id, refundBefore, ctx, cause, runId);
    };

    const openCase = (f: Finding, v: Values, payments: readonly number[], prev: RecoveryCase | null, reason: string): CaseRef => {
      const ref = pending.open({
        detector, case_key: f.caseKey, follow_up_seq: prev ? prev.follow_up_seq + 1 : 0, follow_up_of: prev?.id ?? null, status: 'new', assignee: null,
        created_run_id: runId, updated_run_id: runId, created_at: now, updated_at: now, ...v,
      });
      pending.addPayments(ref, payments);
      event(ref, 'opened', null, 'new', reason, { amount_fen: v.amount_fen, periods: [v.first_period, v.last_period], months: v.months, ...(prev ? { follow_up_of: prev.id } : {}) });
      return ref;
    };
    /** A follow-up case of `latest`, inserted at once: the event on `latest` names its id. */
    const openFollowUp = async (f: Finding, v: Values, payments: readonly number[], latest: RecoveryCase, reason: string): Promise<number> => {
      const ref = openCase(f, v, payments, latest, reason);
      await pending.flush();
      return ref.id;
    };

    const handle = async (chain: RecoveryCase[], f: Finding | null): Promise<void> => {
      const latest = chain.at(-1)!;
      const finals = chain.filter((c) => isFinal(c.status));
      let own: number[] | null = null; // payments left for the latest case / a follow-up; null = all of the finding's
      let ownAmount = f?.amountFen ?? 0;
      let rows = new Map<number, PayRow>();
      if (finals.length && (f || finals.some((c) => c.amount_fen !== 0))) {
        await pending.flush();
        const owned = (await trx.selectFrom('case_payment').select(['case_id', 'payment_id']).where('case_id', 'in', finals.map((c) => c.id)).execute()).map((r) => ({ case_id: Number(r.case_id), payment_id: Number(r.payment_id) }));
        const F = f?.paymentIds ?? [];
        rows = await paymentRows(trx, [...new Set([...F, ...owned.map((o) => o.payment_id)])]);
        const ownerOf = new Map(owned.map((o) => [o.payment_id, o.case_id]));
        const keyOwner = new Map<string, number>();
        for (const o of owned) {
          const r = rows.get(o.payment_id);
          if (r && r.amount_fen > 0) keyOwner.set(payKey(r), o.case_id);
        }
        // A reversal of a payment a final case counted belongs to that case.
        own = [];
        for (const p of F) {
          if (ownerOf.has(p)) continue;
          const r = rows.get(p);
          const o = r && r.amount_fen < 0 ? keyOwner.get(payKey(r)) : undefined;
          if (o !== undefined) {
            pending.addPayments({ id: o }, [p]);
            ownerOf.set(p, o);
          } else own.push(p);
        }
        const inF = new Set(F);
        let finalsFen = 0;
        for (const c of finals) {
          let amount = 0;
          for (const [p, owner] of ownerOf) if (owner === c.id && inF.has(p)) amount += rows.get(p)?.amount_fen ?? 0;
          finalsFen += amount;
          if (amount === c.amount_fen) continue;
          const before = balanceBefore(c);
          await trx.updateTable('recovery_case').set({ amount_fen: amount, updated_run_id: runId, updated_at: now }).where('id', '=', c.id).execute();
          event(c, 'overpaid_changed', c.status, c.status,
            `overpaid by the payments this case counts changed from ${formatFen(c.amount_fen)} to ${formatFen(amount)} yuan (reversal or correction in a later extract)`,
            { amount_fen: [c.amount_fen, amount] });
          await settleCase(c, amount, before.refundDueFen, 'payments reversed in the payment system after the case was closed');
          changes.amountChanged++;
        }
        ownAmount = (f?.amountFen ?? 0) - finalsFen;
      }

      if (isFinal(latest.status)) {
        if (!f) return;
        if (!own || own.length === 0 || ownAmount <= 0) {
          changes.unchanged++;
          return;
        }
        const id = await openFollowUp(f, partValues(f, own, rows, ownAmount), own, latest, `follow-up of case ${latest.id} (${latest.status}): new overpayments found`);
        event(latest, 'follow_up_opened', latest.status, latest.status, `follow-up case ${id} opened for new overpayments`, { follow_up: id });
        changes.followUps++;
        return;
      }

      if (latest.status === 'false_positive') {
        if (!f) return;
        const fp = evidenceFingerprint(f);
        if (chain.some((c) => c.status === 'false_positive' && c.fingerprint === fp) || (own && ownAmount <= 0)) {
          changes.unchanged++;
          return;
        }
        const v = own ? partValues(f, own, rows, ownAmount) : caseValues(f);
        const id = await openFollowUp(f, v, own ?? f.paymentIds, latest, `new evidence after case ${latest.id} was closed as a false positive`);
        event(latest, 'follow_up_opened', latest.status, latest.status, `new evidence: case ${id} opened (this case stays a false positive for the evidence it was closed with)`, { follow_up: id });
        changes.followUps++;
        return;
      }

      // Open case.
      if (!f) {
        if (latest.amount_fen === 0 && latest.months === 0) return;
        const before = balanceBefore(latest);
        await trx.updateTable('recovery_case').set({ amount_fen: 0, months: 0, updated_run_id: runId, updated_at: now }).where('id', '=', latest.id).execute();
        pending.setPayments(latest, []);
        event(latest, 'not_found', latest.status, latest.status, 'the detector no longer finds an overpayment (e.g. reversed or corrected)', { amount_fen: [latest.amount_fen, 0] });
        if (await settleCase(latest, 0, before.refundDueFen, 'the overpayment was reversed in the payment system')) changes.autoRecovered++;
        changes.notFound++;
        return;
      }
      const v = own ? partValues(f, own, rows, ownAmount) : caseValues(f);
      const diff: Record<string, [unknown, unknown]> = {};
      for (const k of ['confidence', 'name', 'district_code', 'scheme', 'first_period', 'last_period', 'months', 'amount_fen', 'fingerprint'] as const) {
        if (latest[k] !== v[k]) diff[k] = [latest[k], v[k]];
      }
      if (Object.keys(diff).length === 0) {
        changes.unchanged++;
        return;
      }
      const before = balanceBefore(latest);
      await trx.updateTable('recovery_case').set({ ...v, updated_run_id: runId, updated_at: now }).where('id', '=', latest.id).execute();
      pending.setPayments(latest, own ?? f.paymentIds);
      const extended = v.last_period > latest.last_period || v.months > latest.months;
      const tally = `now ${v.months} month(s) ${v.first_period}..${v.last_period}, ${formatFen(v.amount_fen)} yuan`;
      const reason = extended
        ? `new overpaid months: ${tally}`
        : v.amount_fen < latest.amount_fen
          ? `overpaid lowered from ${formatFen(latest.amount_fen)} yuan: ${tally} (reversal or correction in a later extract)`
          : v.amount_fen > latest.amount_fen
            ? `overpaid raised from ${formatFen(latest.amount_fen)} yuan: ${tally} (correction in a later extract)`
            : `finding changed (${Object.keys(diff).map((k) => CHANGED_FIELD_WORDS[k] ?? k).join(', ')})`;
      event(latest, 'updated', latest.status, latest.status, reason, diff);
      if (await settleCase(latest, v.amount_fen, before.refundDueFen, 'the overpaid amount changed')) changes.autoRecovered++;
      changes.updated++;
    };

    const seen = new Set<string>();
    for (const f of findings) {
      if (pending.size >= PendingCaseWrites.LIMIT) await pending.flush();
      seen.add(f.caseKey);
      if (keys && !keys.has(f.caseKey)) {
        // Carried forward, and its chain unchanged since the previous run applied this same finding.
        changes.unchanged++;
        continue;
      }
      const chain = chains.get(f.caseKey);
      if (!chain) {
        openCase(f, caseValues(f), f.paymentIds, null, f.evidence.why);
        changes.opened++;
        continue;
      }
      await handle(chain, f);
    }
    for (const [key, chain] of chains) {
      if (seen.has(key)) continue;
      if (pending.size >= PendingCaseWrites.LIMIT) await pending.flush();
      await handle(chain, null);
    }
    await pending.flush();
  });
  return changes;
}
