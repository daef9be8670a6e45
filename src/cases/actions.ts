/**
 * What people do to a case (DOMAIN.md §5): change its status, assign it, record money coming back, refund
 * an over-recovery, void a ledger entry recorded in error, record conduct (refused to repay, broke a
 * repayment agreement) or a note. Every change is an append-only `case_event` with who (actor, approver),
 * when (instant), why (reason) and an optional evidence reference; nothing is ever updated in place except
 * the case's current status / assignee, which the events explain.
 *
 * Each public function runs in its own transaction; the `apply*` forms run inside a caller's transaction
 * (the feedback import applies a whole work list in one). Every change starts by locking its case (a
 * portable `UPDATE` of the case row: a row lock on PostgreSQL, the write lock on SQLite), and a status is
 * changed with a compare-and-set, so two investigators (or an investigator and the nightly job) never
 * overwrite each other silently.
 *
 * Errors: {@link CaseError} with a stable code; nothing is changed when one is thrown.
 */
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { CaseEventTable, DB, LedgerEntryTable, RecoveryCase } from '../db/schema.ts';
import { formatFen, isIsoDate, parseAmountFen } from '../calendar/values.ts';
import { CaseError } from './errors.ts';
import { balanceOf, recoveredOf, type Balance } from './ledger.ts';
import {
  AUTO_RECOVER_FROM, CASE_STATUSES, CHANNELS, FINAL_STATUSES, NEEDS_APPROVAL, SYSTEM_ACTOR, TRANSITIONS,
  isCaseStatus, isChannel, type CaseStatus, type Channel, type ConductFlag,
} from './statuses.ts';

type Db = Kysely<DB>;
type Trx = Transaction<DB>;

/** When and through what a change is made. */
export interface ChangeContext {
  /** ISO-8601 instant of the change (`case_event.at`). */
  now: string;
  /** Business date `YYYY-MM-DD` (Asia/Shanghai by default): dates after it are refused. */
  today: string;
  /** `cli` (default), `feedback` (work-list import) or `nightly` (the run's case update). */
  source?: 'cli' | 'feedback' | 'nightly';
  importId?: number | null;
  /** Extra fields stored in the event's data (e.g. the work-list file and line). */
  extra?: Record<string, unknown>;
}

export interface TransitionInput {
  caseId: number;
  to: string;
  by: string;
  reason: string;
  approvedBy?: string | null;
  evidenceRef?: string | null;
  /** Date the step happened (e.g. the notice was sent), `YYYY-MM-DD`; default `ctx.today`. */
  date?: string | null;
}

export interface TransitionResult {
  caseId: number;
  from: CaseStatus;
  to: CaseStatus;
  /** Set when an automatic event followed (e.g. `recovered` because nothing is outstanding). */
  automatic: CaseStatus | null;
  balance: Balance;
}

export interface RepaymentInput {
  caseId: number;
  /** Integer fen, > 0 (see {@link parseYuan}). */
  amountFen: number;
  channel: string;
  /** Date the money came back, `YYYY-MM-DD`. */
  date: string;
  by: string;
  reason?: string | null;
  evidenceRef?: string | null;
  /** Record it even though the same amount, channel and date is already in the ledger. */
  again?: boolean;
}

export interface MoneyResult {
  caseId: number;
  entryId: number;
  status: CaseStatus;
  /** Set when the entry triggered the automatic `recovered`. */
  automatic: CaseStatus | null;
  balance: Balance;
}

/**
 * Parses a CLI / work-list amount of yuan (`1234.56`, `1,234.56`, `¥1234.5`) into positive integer fen.
 * @throws CaseError(BAD_AMOUNT) for anything else: empty, not a number, more than two decimals (never
 *   rounded), zero or negative
 */
export function parseYuan(text: string, what = 'amount'): number {
  const p = parseAmountFen(text);
  if (!p.ok) throw new CaseError('BAD_AMOUNT', `${what}: ${p.reason}`);
  if (p.value <= 0) throw new CaseError('BAD_AMOUNT', `${what}: got "${text.trim()}", expected a positive amount of yuan (at least 0.01)`);
  return p.value;
}

/** Normal form of a person's name for comparisons (approver ≠ actor): NFKC, no spaces or middle dots of any kind, lower case. */
export function personKey(name: string): string {
  // Every kind of space removed (ASCII, full-width U+3000, NBSP…): "王 审核" is 王审核 and "Wang Li" is wangli.
  return name.normalize('NFKC').replace(/[\s\u3000\u00a0\u200b\u00b7·•・.]+/g, '').toLowerCase();
}

/**
 * Checks a person's name (`--by`, `--to`, `--approved-by`) and returns it trimmed.
 * @throws CaseError(BAD_ACTOR) when empty, too long or the reserved system actor `fundguard`
 */
export function checkPerson(name: string | null | undefined, flag: string): string {
  const n = (name ?? '').normalize('NFKC').trim().replace(/\s+/g, ' ');
  if (!n) throw new CaseError('BAD_ACTOR', `${flag}: a person's name is required`);
  if (n.length > 100) throw new CaseError('BAD_ACTOR', `${flag}: name longer than 100 characters`);
  if (personKey(n) === SYSTEM_ACTOR) throw new CaseError('BAD_ACTOR', `${flag}: "${SYSTEM_ACTOR}" is reserved for automatic events; give a person's name`);
  return n;
}

function checkReason(reason: string | null | undefined, required: boolean): string | null {
  const r = (reason ?? '').trim();
  if (!r && required) throw new CaseError('BAD_REASON', '--reason: say why (it is kept in the case history)');
  return r || null;
}

/**
 * Checks a date given by a person: a real date `YYYY-MM-DD`, not after `today`, not before `notBefore`.
 * @throws CaseError(BAD_DATE)
 */
export function checkDate(date: string, today: string, what: string, notBefore?: string): string {
  const d = date.trim();
  if (!isIsoDate(d)) throw new CaseError('BAD_DATE', `${what}: got "${d}", expected a real date YYYY-MM-DD`);
  if (d > today) throw new CaseError('BAD_DATE', `${what}: ${d} is in the future (today is ${today})`);
  if (notBefore && d < notBefore) throw new CaseError('BAD_DATE', `${what}: ${d} is before ${notBefore}, the first overpaid period of the case`);
  return d;
}

const num = (v: number | string | bigint): number => Number(v);

/** Reads a case with numbers as numbers. */
export async function getCase(db: Db, caseId: number): Promise<RecoveryCase | undefined> {
  const c = await db.selectFrom('recovery_case').selectAll().where('id', '=', caseId).executeTakeFirst();
  return c && normalizeCase(c);
}

/** Converts the bigint columns of a case row (strings on PostgreSQL) to numbers. */
export function normalizeCase(c: RecoveryCase): RecoveryCase {
  return {
    ...c, id: num(c.id), amount_fen: num(c.amount_fen), months: num(c.months), follow_up_seq: num(c.follow_up_seq),
    follow_up_of: c.follow_up_of === null ? null : num(c.follow_up_of), created_run_id: num(c.created_run_id), updated_run_id: num(c.updated_run_id),
  };
}

/**
 * Locks the case for the rest of the transaction and reads it.
 * @throws CaseError(CASE_NOT_FOUND)
 */
export async function lockCase(trx: Trx, caseId: number): Promise<RecoveryCase> {
  if (!Number.isSafeInteger(caseId) || caseId <= 0) throw new CaseError('CASE_NOT_FOUND', `no case ${caseId}: a case id is a positive whole number`);
  await trx.updateTable('recovery_case').set((eb) => ({ updated_at: eb.ref('updated_at') })).where('id', '=', caseId).execute();
  const c = await getCase(trx, caseId);
  if (!c) throw new CaseError('CASE_NOT_FOUND', `no case ${caseId} (see fundguard cases list)`, caseId);
  return c;
}

/** Appends an event. */
export async function addEvent(trx: Trx, e: CaseEventInput): Promise<number> {
  const r = await trx.insertInto('case_event').values(caseEventRow(e)).returning('id').executeTakeFirstOrThrow();
  return num(r.id);
}

/** One case event as {@link addEvent} takes it: `at` an ISO-8601 instant, `data` stored as JSON. */
export interface CaseEventInput {
  caseId: number;
  at: string;
  actor: string;
  kind: string;
  from?: string | null;
  to?: string | null;
  reason?: string | null;
  data?: unknown;
  runId?: number | null;
  approvedBy?: string | null;
  evidenceRef?: string | null;
}

/** The `case_event` row of an event (pure; every column set, so rows can go into one multi-row INSERT). */
export function caseEventRow(e: CaseEventInput): Insertable<CaseEventTable> {
  return {
    case_id: e.caseId, at: e.at, actor: e.actor, kind: e.kind, from_status: e.from ?? null, to_status: e.to ?? null, reason: e.reason ?? null,
    data: e.data === undefined || e.data === null ? null : JSON.stringify(e.data), run_id: e.runId ?? null, approved_by: e.approvedBy ?? null, evidence_ref: e.evidenceRef ?? null,
  };
}

function eventData(ctx: ChangeContext, data: Record<string, unknown>): Record<string, unknown> {
  return { ...data, source: ctx.source ?? 'cli', ...(ctx.importId ? { import_id: ctx.importId } : {}), ...(ctx.extra ?? {}) };
}

async function setStatus(trx: Trx, c: RecoveryCase, to: CaseStatus, now: string): Promise<void> {
  const r = await trx.updateTable('recovery_case').set({ status: to, updated_at: now }).where('id', '=', c.id).where('status', '=', c.status).executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) throw new CaseError('CONCURRENT_CHANGE', `case ${c.id} changed while this change was made; look at it again (fundguard cases show ${c.id})`, c.id);
}

/** Why `from → to` is refused, or null when it is legal (pure). */
export function transitionProblem(from: string, to: string): string | null {
  if (!isCaseStatus(to)) return `unknown status "${to}"; statuses: ${CASE_STATUSES.join(', ')}`;
  if (!isCaseStatus(from)) return `the case has an unknown status "${from}"`;
  if (from === to) return `the case is already ${to}`;
  const allowed = TRANSITIONS[from];
  if (allowed.includes(to)) return null;
  if (allowed.length === 0) return `${from} is final: no status change is allowed (new overpayments open a follow-up case)`;
  return `${from} → ${to} is not allowed; from ${from} the case can go to ${allowed.join(' or ')}`;
}

/** Current balance of a locked case. */
export async function balanceFor(trx: Db, c: RecoveryCase): Promise<Balance> {
  return balanceOf(c.status, c.amount_fen, await recoveredOf(trx, c.id));
}

const refundDueChanged = (bal: Balance, refundBefore: number): boolean => bal.refundDueFen > 0 && bal.refundDueFen !== refundBefore;
const autoRecovers = (status: string, bal: Balance): boolean => AUTO_RECOVER_FROM.includes(status as CaseStatus) && bal.recoveredFen > 0 && bal.outstandingFen <= 0;

/**
 * Whether {@link settle} would write anything (a `refund_due` event or the automatic `recovered`) for a case in
 * `status` whose overpaid amount is now `overpaidFen` and whose ledger sums to `recoveredFen` (pure; fen). Lets a
 * caller that already knows the ledger sum skip settle's reads when it would do nothing.
 */
export function settleWrites(status: string, overpaidFen: number, recoveredFen: number, refundBefore: number): boolean {
  const bal = balanceOf(status, overpaidFen, recoveredFen);
  return refundDueChanged(bal, refundBefore) || autoRecovers(status, bal);
}

/**
 * After anything that moved money or the overpaid amount: records a `refund_due` event when more has come
 * back than was owed (and the excess changed), and makes the case `recovered` by an automatic event when
 * it is verified, not final, something was recovered and nothing is outstanding.
 * @param refundBefore refund due (fen) before the change
 * @returns the automatic status reached, or null
 */
export async function settle(trx: Trx, caseId: number, refundBefore: number, ctx: ChangeContext, cause: string, runId: number | null = null): Promise<CaseStatus | null> {
  const c = (await getCase(trx, caseId))!;
  const bal = await balanceFor(trx, c);
  if (refundDueChanged(bal, refundBefore)) {
    await addEvent(trx, {
      caseId, at: ctx.now, actor: SYSTEM_ACTOR, kind: 'refund_due', from: c.status, to: c.status, runId,
      reason: `recovered ${formatFen(bal.recoveredFen)} exceeds what is owed (${formatFen(bal.owedFen)}): refund due ${formatFen(bal.refundDueFen)} yuan — money came back twice (${cause}); refund it (cases refund) or void an entry recorded in error (cases void-entry)`,
      data: eventData(ctx, { refund_due_fen: bal.refundDueFen, recovered_fen: bal.recoveredFen, owed_fen: bal.owedFen }),
    });
  }
  if (autoRecovers(c.status, bal)) {
    await setStatus(trx, c, 'recovered', ctx.now);
    await addEvent(trx, {
      caseId, at: ctx.now, actor: SYSTEM_ACTOR, kind: 'transition', from: c.status, to: 'recovered', runId,
      reason: `outstanding reached zero (${cause}): recovered automatically`,
      data: eventData(ctx, { automatic: true, recovered_fen: bal.recoveredFen, owed_fen: bal.owedFen }),
    });
    return 'recovered';
  }
  return null;
}

/**
 * Changes a case's status inside a transaction (see {@link transitionCase}).
 * @throws CaseError(BAD_STATUS | ILLEGAL_TRANSITION | APPROVAL_REQUIRED | SAME_APPROVER | OUTSTANDING | NOT_ALLOWED | BAD_DATE | BAD_ACTOR | BAD_REASON | CASE_NOT_FOUND)
 */
export async function applyTransition(trx: Trx, input: TransitionInput, ctx: ChangeContext): Promise<TransitionResult> {
  const by = checkPerson(input.by, '--by');
  const reason = checkReason(input.reason, true)!;
  const to = input.to.trim();
  if (!isCaseStatus(to)) throw new CaseError('BAD_STATUS', `--to: unknown status "${to}"; statuses: ${CASE_STATUSES.join(', ')}`);
  const approvedBy = input.approvedBy ? checkPerson(input.approvedBy, '--approved-by') : null;
  const date = checkDate(input.date ?? ctx.today, ctx.today, '--date');
  const c = await lockCase(trx, input.caseId);
  const from = c.status as CaseStatus;
  const problem = transitionProblem(from, to);
  if (problem) throw new CaseError('ILLEGAL_TRANSITION', `case ${c.id}: ${problem}`, c.id);
  if (NEEDS_APPROVAL.includes(to) && !approvedBy) {
    throw new CaseError('APPROVAL_REQUIRED', `case ${c.id}: ${to} needs a second person's approval: add --approved-by NAME (someone other than ${by})`, c.id);
  }
  if (approvedBy && personKey(approvedBy) === personKey(by)) {
    throw new CaseError('SAME_APPROVER', `case ${c.id}: the approver must be a second person, not ${by} who makes the change`, c.id);
  }
  if (from === 'false_positive') {
    const later = await trx.selectFrom('recovery_case').select('id').where('detector', '=', c.detector).where('case_key', '=', c.case_key).where('follow_up_seq', '>', c.follow_up_seq).executeTakeFirst();
    if (later) throw new CaseError('NOT_ALLOWED', `case ${c.id}: new evidence already opened case ${num(later.id)} for the same person; work on that case`, c.id);
  }
  const before = await balanceFor(trx, c);
  if (to === 'recovered' && before.outstandingFen > 0) {
    throw new CaseError('OUTSTANDING', `case ${c.id}: ${formatFen(before.outstandingFen)} yuan is still outstanding; record the repayments first (fundguard cases repay) — the case becomes recovered by itself when nothing is outstanding — or write the rest off`, c.id);
  }
  await setStatus(trx, c, to, ctx.now);
  await addEvent(trx, {
    caseId: c.id, at: ctx.now, actor: by, kind: 'transition', from, to, reason, approvedBy, evidenceRef: input.evidenceRef?.trim() || null,
    data: eventData(ctx, { effective_on: date }),
  });
  const automatic = await settle(trx, c.id, before.refundDueFen, ctx, `case became ${to}`);
  const after = (await getCase(trx, c.id))!;
  return { caseId: c.id, from, to, automatic, balance: await balanceFor(trx, after) };
}

/**
 * Changes a case's status: legal transitions only (statuses.ts `TRANSITIONS`); `false_positive` and
 * `written_off` need an approver other than the actor; `recovered` needs nothing outstanding; a false
 * positive can be reopened unless new evidence already opened a follow-up case. DOMAIN.md §5.
 * @throws CaseError (see {@link applyTransition})
 */
export async function transitionCase(db: Db, input: TransitionInput, ctx: ChangeContext): Promise<TransitionResult> {
  return db.transaction().execute((trx) => applyTransition(trx, input, ctx));
}

/**
 * Records money that came back, inside a transaction (see {@link recordRepayment}).
 */
export async function applyRepayment(trx: Trx, input: RepaymentInput, ctx: ChangeContext): Promise<MoneyResult> {
  const by = checkPerson(input.by, '--by');
  if (!Number.isSafeInteger(input.amountFen) || input.amountFen <= 0) throw new CaseError('BAD_AMOUNT', `--amount: expected a positive amount of yuan, got ${input.amountFen} fen`);
  const channel = input.channel.trim();
  if (!isChannel(channel)) throw new CaseError('BAD_CHANNEL', `--channel: got "${channel}", expected one of ${CHANNELS.join(', ')}`);
  const c = await lockCase(trx, input.caseId);
  const date = checkDate(input.date, ctx.today, '--date', `${c.first_period}-01`);
  if (c.status === 'false_positive') {
    throw new CaseError('NOT_ALLOWED', `case ${c.id} is a false positive: nothing is owed, so nothing can be repaid; reopen it first (cases transition ${c.id} --to under_review)`, c.id);
  }
  if (!input.again) {
    const dup = await trx
      .selectFrom('ledger_entry as e')
      .leftJoin('ledger_entry as v', 'v.voids_entry_id', 'e.id')
      .select(['e.id', 'e.actor', 'e.recorded_at'])
      .where('e.case_id', '=', c.id).where('e.kind', '=', 'repayment').where('e.amount_fen', '=', input.amountFen)
      .where('e.channel', '=', channel).where('e.paid_on', '=', date).where('v.id', 'is', null)
      .executeTakeFirst();
    if (dup) {
      throw new CaseError('DUPLICATE_REPAYMENT', `case ${c.id}: the same repayment (${formatFen(input.amountFen)} yuan, ${channel}, ${date}) is already in the ledger as entry ${num(dup.id)} (recorded by ${dup.actor}); if this is a second repayment, record it with --again`, c.id);
    }
  }
  const before = await balanceFor(trx, c);
  const entryId = await insertEntry(trx, { case_id: c.id, kind: 'repayment', amount_fen: input.amountFen, channel, paid_on: date, actor: by, recorded_at: ctx.now, reason: input.reason?.trim() || null, voids_entry_id: null, source: ctx.source ?? 'cli', import_id: ctx.importId ?? null });
  const afterEntry = balanceOf(c.status, c.amount_fen, before.recoveredFen + input.amountFen);
  await addEvent(trx, {
    caseId: c.id, at: ctx.now, actor: by, kind: 'repayment', from: c.status, to: c.status, reason: input.reason?.trim() || `repayment of ${formatFen(input.amountFen)} yuan (${channel})`,
    evidenceRef: input.evidenceRef?.trim() || null,
    data: eventData(ctx, { entry_id: entryId, amount_fen: input.amountFen, channel, paid_on: date, recovered_fen: afterEntry.recoveredFen, outstanding_fen: afterEntry.outstandingFen }),
  });
  const automatic = await settle(trx, c.id, before.refundDueFen, ctx, `${channel} of ${formatFen(input.amountFen)} on ${date}`);
  const after = (await getCase(trx, c.id))!;
  return { caseId: c.id, entryId, status: after.status as CaseStatus, automatic, balance: await balanceFor(trx, after) };
}

/**
 * Records a repayment in the ledger: amount in fen (> 0), channel `bank_return | heir_repayment | offset`,
 * the date the money came back (not in the future, not before the first overpaid period) and who recorded
 * it. The same amount, channel and date twice is refused unless `again` (a second, identical repayment).
 * Recovering more than is owed is accepted and flagged as a refund due (event `refund_due`); a verified
 * case with nothing outstanding becomes `recovered` by an automatic event. DOMAIN.md §5.
 * @throws CaseError(CASE_NOT_FOUND | BAD_AMOUNT | BAD_CHANNEL | BAD_DATE | BAD_ACTOR | NOT_ALLOWED | DUPLICATE_REPAYMENT)
 */
export async function recordRepayment(db: Db, input: RepaymentInput, ctx: ChangeContext): Promise<MoneyResult> {
  return db.transaction().execute((trx) => applyRepayment(trx, input, ctx));
}

/**
 * Records money paid back to the payer after an over-recovery (a negative ledger entry). Only up to the
 * refund due. @throws CaseError(BAD_AMOUNT when more than the refund due | BAD_DATE | BAD_ACTOR | BAD_REASON | CASE_NOT_FOUND)
 */
export async function recordRefund(db: Db, input: { caseId: number; amountFen: number; date: string; by: string; reason: string; evidenceRef?: string | null }, ctx: ChangeContext): Promise<MoneyResult> {
  return db.transaction().execute(async (trx) => {
    const by = checkPerson(input.by, '--by');
    const reason = checkReason(input.reason, true)!;
    if (!Number.isSafeInteger(input.amountFen) || input.amountFen <= 0) throw new CaseError('BAD_AMOUNT', `--amount: expected a positive amount of yuan`);
    const c = await lockCase(trx, input.caseId);
    const date = checkDate(input.date, ctx.today, '--date');
    const before = await balanceFor(trx, c);
    if (input.amountFen > before.refundDueFen) {
      throw new CaseError('BAD_AMOUNT', `case ${c.id}: refund of ${formatFen(input.amountFen)} yuan is more than the refund due (${formatFen(before.refundDueFen)} yuan)`, c.id);
    }
    const entryId = await insertEntry(trx, { case_id: c.id, kind: 'refund', amount_fen: -input.amountFen, channel: null, paid_on: date, actor: by, recorded_at: ctx.now, reason, voids_entry_id: null, source: ctx.source ?? 'cli', import_id: null });
    const after = balanceOf(c.status, c.amount_fen, before.recoveredFen - input.amountFen);
    await addEvent(trx, {
      caseId: c.id, at: ctx.now, actor: by, kind: 'refund', from: c.status, to: c.status, reason, evidenceRef: input.evidenceRef?.trim() || null,
      data: eventData(ctx, { entry_id: entryId, amount_fen: -input.amountFen, paid_on: date, recovered_fen: after.recoveredFen, outstanding_fen: after.outstandingFen }),
    });
    return { caseId: c.id, entryId, status: c.status as CaseStatus, automatic: null, balance: after };
  });
}

/**
 * Cancels a ledger entry recorded in error (e.g. a bank return entered by hand that the payment system
 * has booked as a reversal too) with a new, negative `void` entry; the original stays. An entry is voided
 * at most once. A case that is already final keeps its status; any outstanding amount shows.
 * @throws CaseError(NOT_ALLOWED for an unknown, foreign or already voided entry | BAD_ACTOR | BAD_REASON | CASE_NOT_FOUND)
 */
export async function voidEntry(db: Db, input: { caseId: number; entryId: number; by: string; reason: string }, ctx: ChangeContext): Promise<MoneyResult> {
  return db.transaction().execute(async (trx) => {
    const by = checkPerson(input.by, '--by');
    const reason = checkReason(input.reason, true)!;
    const c = await lockCase(trx, input.caseId);
    const e = await trx.selectFrom('ledger_entry').selectAll().where('id', '=', input.entryId).executeTakeFirst();
    if (!e || num(e.case_id) !== c.id) throw new CaseError('NOT_ALLOWED', `case ${c.id} has no ledger entry ${input.entryId} (see fundguard cases show ${c.id})`, c.id);
    if (e.kind === 'void') throw new CaseError('NOT_ALLOWED', `entry ${input.entryId} is itself a void`, c.id);
    const already = await trx.selectFrom('ledger_entry').select('id').where('voids_entry_id', '=', input.entryId).executeTakeFirst();
    if (already) throw new CaseError('NOT_ALLOWED', `entry ${input.entryId} was already voided by entry ${num(already.id)}`, c.id);
    const before = await balanceFor(trx, c);
    const amount = -num(e.amount_fen);
    const entryId = await insertEntry(trx, { case_id: c.id, kind: 'void', amount_fen: amount, channel: e.channel, paid_on: e.paid_on, actor: by, recorded_at: ctx.now, reason, voids_entry_id: input.entryId, source: ctx.source ?? 'cli', import_id: null });
    const after = balanceOf(c.status, c.amount_fen, before.recoveredFen + amount);
    await addEvent(trx, {
      caseId: c.id, at: ctx.now, actor: by, kind: 'void', from: c.status, to: c.status, reason,
      data: eventData(ctx, { entry_id: entryId, voids_entry_id: input.entryId, amount_fen: amount, recovered_fen: after.recoveredFen, outstanding_fen: after.outstandingFen }),
    });
    const automatic = await settle(trx, c.id, before.refundDueFen, ctx, `entry ${input.entryId} voided`);
    const now = (await getCase(trx, c.id))!;
    return { caseId: c.id, entryId, status: now.status as CaseStatus, automatic, balance: await balanceFor(trx, now) };
  });
}

async function insertEntry(trx: Trx, v: Insertable<LedgerEntryTable>): Promise<number> {
  const r = await trx.insertInto('ledger_entry').values(v).returning('id').executeTakeFirstOrThrow();
  return num(r.id);
}

/**
 * Assigns a case to an investigator (event `assigned`). Assigning to the current assignee changes nothing.
 * @returns whether anything changed
 * @throws CaseError(CASE_NOT_FOUND | BAD_ACTOR)
 */
export async function assignCase(db: Db, input: { caseId: number; to: string; by: string; reason?: string | null }, ctx: ChangeContext): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const to = checkPerson(input.to, '--to');
    const by = checkPerson(input.by, '--by');
    const c = await lockCase(trx, input.caseId);
    if (c.assignee !== null && personKey(c.assignee) === personKey(to)) return false;
    await trx.updateTable('recovery_case').set({ assignee: to, updated_at: ctx.now }).where('id', '=', c.id).execute();
    await addEvent(trx, { caseId: c.id, at: ctx.now, actor: by, kind: 'assigned', from: c.status, to: c.status, reason: input.reason?.trim() || `assigned to ${to}`, data: eventData(ctx, { assignee: [c.assignee, to] }) });
    return true;
  });
}

/**
 * Records the payer's conduct (DOMAIN.md §5, serious-dishonesty candidates): `refused_to_repay`, or
 * `broke_agreement` (only for a case that has had a repayment plan). Not for a false positive.
 * @throws CaseError(NOT_ALLOWED | BAD_ACTOR | BAD_REASON | CASE_NOT_FOUND)
 */
export async function flagCase(db: Db, input: { caseId: number; flag: ConductFlag; by: string; reason: string; evidenceRef?: string | null; date?: string | null }, ctx: ChangeContext): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const by = checkPerson(input.by, '--by');
    const reason = checkReason(input.reason, true)!;
    const c = await lockCase(trx, input.caseId);
    if (c.status === 'false_positive') throw new CaseError('NOT_ALLOWED', `case ${c.id} is a false positive: nothing is owed`, c.id);
    if (input.flag === 'broke_agreement') {
      const plan = await trx.selectFrom('case_event').select('id').where('case_id', '=', c.id).where('kind', '=', 'transition').where('to_status', '=', 'repayment_plan').executeTakeFirst();
      if (!plan) throw new CaseError('NOT_ALLOWED', `case ${c.id} never had a repayment plan, so no agreement can have been broken (use --refused-to-repay)`, c.id);
    }
    const date = checkDate(input.date ?? ctx.today, ctx.today, '--date');
    await addEvent(trx, { caseId: c.id, at: ctx.now, actor: by, kind: input.flag, from: c.status, to: c.status, reason, evidenceRef: input.evidenceRef?.trim() || null, data: eventData(ctx, { effective_on: date }) });
  });
}

/** Adds a note to a case's history inside a transaction. @throws CaseError(CASE_NOT_FOUND | BAD_ACTOR | BAD_REASON) */
export async function applyNote(trx: Trx, input: { caseId: number; by: string; note: string }, ctx: ChangeContext): Promise<void> {
  const by = checkPerson(input.by, '--by');
  const note = checkReason(input.note, true)!;
  const c = await lockCase(trx, input.caseId);
  await addEvent(trx, { caseId: c.id, at: ctx.now, actor: by, kind: 'note', from: c.status, to: c.status, reason: note, data: eventData(ctx, {}) });
}

/** True for `recovered` and `written_off`. */
export function isFinal(status: string): boolean {
  return FINAL_STATUSES.includes(status as CaseStatus);
}

export type { Channel };
