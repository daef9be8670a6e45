/**
 * Reading the recovery queue: the filtered case list and everything about one case (evidence, payments
 * counted, ledger, history, chain of follow-ups, notice deadline). Full resident IDs: these are for
 * investigators (DOMAIN.md §6).
 */
import type { Kysely } from 'kysely';
import type { CaseEvent, DB, LedgerEntry, RecoveryCase } from '../db/schema.ts';
import { todayIn } from '../calendar/values.ts';
import { addWorkingDays, daysBetween, type HolidayCalendar } from '../calendar/working-days.ts';
import { getCase, normalizeCase } from './actions.ts';
import { CaseError } from './errors.ts';
import { balanceOf, ledgerOf, recoveredByCase, type Balance } from './ledger.ts';
import { CASE_STATUSES, isCaseStatus } from './statuses.ts';

/** Working days heirs have to repay after a recovery notice (DOMAIN.md §5). */
export const NOTICE_WORKING_DAYS = 30;

/** Filters of `cases list` (all optional; combined with AND). */
export interface CaseFilter {
  /** District code (first 6 digits of the agency). */
  district?: string;
  /** One or more statuses. */
  status?: readonly string[];
  detector?: string;
  /** Overpaid amount at least this, in fen. */
  minAmountFen?: number;
  assignee?: string;
}

export interface CaseListRow {
  case: RecoveryCase;
  balance: Balance;
  /** Calendar days from the day the case was opened to `asOf`. */
  daysOpen: number;
  openedOn: string;
}

/**
 * The cases matching `filter`, largest overpaid amount first, then by id.
 * @param asOf business date for days open
 * @throws CaseError(BAD_STATUS) for an unknown status name
 */
export async function listCases(db: Kysely<DB>, filter: CaseFilter, asOf: string, timeZone = 'Asia/Shanghai'): Promise<CaseListRow[]> {
  for (const s of filter.status ?? []) {
    if (!isCaseStatus(s)) throw new CaseError('BAD_STATUS', `--status: unknown status "${s}"; statuses: ${CASE_STATUSES.join(', ')}`);
  }
  let q = db.selectFrom('recovery_case').selectAll();
  if (filter.district) q = q.where('district_code', '=', filter.district);
  if (filter.status?.length) q = q.where('status', 'in', [...filter.status]);
  if (filter.detector) q = q.where('detector', '=', filter.detector);
  if (filter.minAmountFen !== undefined) q = q.where('amount_fen', '>=', filter.minAmountFen);
  if (filter.assignee) q = q.where('assignee', '=', filter.assignee);
  const cases = (await q.orderBy('amount_fen', 'desc').orderBy('id').execute()).map(normalizeCase);
  const recovered = await recoveredByCase(db, cases.length > 2000 ? undefined : cases.map((c) => c.id));
  const runDates = await businessDatesOfRuns(db, cases.map((c) => Number(c.created_run_id)));
  return cases.map((c) => {
    const openedOn = runDates.get(Number(c.created_run_id)) ?? dateIn(c.created_at, timeZone);
    return { case: c, balance: balanceOf(c.status, c.amount_fen, recovered.get(c.id) ?? 0), openedOn, daysOpen: daysBetween(openedOn, asOf) };
  });
}

/** Calendar date of an ISO instant in a time zone. */
export function dateIn(instant: string, timeZone = 'Asia/Shanghai'): string {
  return todayIn(timeZone, new Date(instant));
}

/** One payment row a case counts. */
export interface CasePayment {
  id: number;
  period: string;
  scheme: string;
  item: string;
  amount_fen: number;
  paid_on: string | null;
  batch: string;
  account: string | null;
  agency: string | null;
  file: string;
  line: number;
}

export interface NoticeInfo {
  /** Date the notice was sent (`--date` of the transition, else the day it was recorded). */
  sentOn: string;
  /** The 30th working day after it. */
  deadline: string;
  /** The holiday table does not cover every day counted. */
  provisional: boolean;
}

export interface CaseDetail {
  case: RecoveryCase;
  balance: Balance;
  evidence: { why?: string; comparisons?: { field: string; level: string; values: string[]; sources?: string[] }[]; [k: string]: unknown };
  payments: CasePayment[];
  ledger: LedgerEntry[];
  events: CaseEvent[];
  /** Every case of the same detector and key, in order (this one included). */
  chain: { id: number; status: string; follow_up_seq: number; amount_fen: number }[];
  notice: NoticeInfo | null;
}

/** Date the latest notice of a case was sent, from its events (null when never sent). */
export function noticeSentOn(events: readonly CaseEvent[], timeZone = 'Asia/Shanghai'): string | null {
  const e = [...events].reverse().find((x) => x.kind === 'transition' && x.to_status === 'notice_sent');
  if (!e) return null;
  const data = e.data ? (JSON.parse(e.data) as { effective_on?: string }) : {};
  return data.effective_on ?? dateIn(e.at, timeZone);
}

/**
 * Everything about one case.
 * @throws CaseError(CASE_NOT_FOUND)
 */
export async function caseDetail(db: Kysely<DB>, caseId: number, calendar: HolidayCalendar, timeZone = 'Asia/Shanghai'): Promise<CaseDetail> {
  const c = Number.isSafeInteger(caseId) && caseId > 0 ? await getCase(db, caseId) : undefined;
  if (!c) throw new CaseError('CASE_NOT_FOUND', `no case ${caseId} (see fundguard cases list)`, caseId);
  const ledger = await ledgerOf(db, c.id);
  const events = (await db.selectFrom('case_event').selectAll().where('case_id', '=', c.id).orderBy('id').execute()).map((e) => ({ ...e, id: Number(e.id), case_id: Number(e.case_id), run_id: e.run_id === null ? null : Number(e.run_id) }));
  const payments = await db
    .selectFrom('case_payment as cp')
    .innerJoin('payment as p', 'p.id', 'cp.payment_id')
    .innerJoin('source_file as f', 'f.id', 'p.file_id')
    .select(['p.id', 'p.period', 'p.scheme', 'p.item', 'p.amount_fen', 'p.paid_on', 'p.batch', 'p.account', 'p.agency', 'f.path as file', 'p.line'])
    .where('cp.case_id', '=', c.id)
    .orderBy('p.period').orderBy('p.scheme').orderBy('p.item').orderBy('p.id')
    .execute();
  const chain = await db.selectFrom('recovery_case').select(['id', 'status', 'follow_up_seq', 'amount_fen']).where('detector', '=', c.detector).where('case_key', '=', c.case_key).orderBy('follow_up_seq').execute();
  const sentOn = noticeSentOn(events, timeZone);
  const notice = sentOn ? { sentOn, ...deadlineOf(sentOn, calendar) } : null;
  return {
    case: c,
    balance: balanceOf(c.status, c.amount_fen, ledger.reduce((s, e) => s + e.amount_fen, 0)),
    evidence: JSON.parse(c.evidence) as CaseDetail['evidence'],
    payments: payments.map((p) => ({ ...p, id: Number(p.id), amount_fen: Number(p.amount_fen), line: Number(p.line) })),
    ledger,
    events,
    chain: chain.map((x) => ({ id: Number(x.id), status: x.status, follow_up_seq: Number(x.follow_up_seq), amount_fen: Number(x.amount_fen) })),
    notice,
  };
}

/** The notice deadline: {@link NOTICE_WORKING_DAYS} working days after the day it was sent. */
export function deadlineOf(sentOn: string, calendar: HolidayCalendar): { deadline: string; provisional: boolean } {
  const r = addWorkingDays(sentOn, NOTICE_WORKING_DAYS, calendar);
  return { deadline: r.date, provisional: r.provisional };
}

/**
 * Business dates (`run.as_of`) of the given runs: a case is "opened on" the business date of the run that
 * opened it, not the machine's clock (a catch-up run for an earlier date opens cases on that date).
 */
export async function businessDatesOfRuns(db: Kysely<DB>, runIds: readonly number[]): Promise<Map<number, string>> {
  const ids = [...new Set(runIds)];
  const out = new Map<number, string>();
  for (let i = 0; i < ids.length; i += 500) {
    for (const r of await db.selectFrom('run').select(['id', 'as_of']).where('id', 'in', ids.slice(i, i + 500)).execute()) out.set(Number(r.id), r.as_of);
  }
  return out;
}
