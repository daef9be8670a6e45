/**
 * The follow-up list: every open case (neither final nor a false positive) with how long it has been open
 * and, once a recovery notice was sent, the deadline of the heirs' 30 working days counted on the State
 * Council holiday calendar (seeds/holidays-cn.json, make-up working days included) — DOMAIN.md §5.
 * For investigators: full IDs. Written by `fundguard cases followup --out FILE` (CSV, UTF-8 with BOM, CRLF).
 */
import type { Kysely } from 'kysely';
import type { CaseEvent, DB } from '../db/schema.ts';
import { businessDatesOfRuns } from './queries.ts';
import { formatFen } from '../calendar/values.ts';
import { daysBetween, workingDaysBetween, type HolidayCalendar } from '../calendar/working-days.ts';
import { writeCsv, type CsvValue } from '../reports/csv.ts';
import { dateIn, deadlineOf, noticeSentOn } from './queries.ts';
import { balanceOf, recoveredByCase } from './ledger.ts';
import { isOpenStatus } from './statuses.ts';

export const FOLLOW_UP_HEADER = [
  'case_id', 'detector', 'district_code', 'status', 'assignee', 'id_number', 'name', 'opened_on', 'days_open',
  'notice_sent_on', 'notice_deadline', 'working_days_left', 'overdue', 'deadline_basis', 'amount', 'recovered', 'outstanding', 'last_event_on',
] as const;

export interface FollowUpRow {
  caseId: number;
  detector: string;
  districtCode: string;
  status: string;
  assignee: string | null;
  idNumber: string;
  name: string;
  openedOn: string;
  daysOpen: number;
  noticeSentOn: string | null;
  noticeDeadline: string | null;
  /** Working days from the business date to the deadline (negative once it has passed). */
  workingDaysLeft: number | null;
  /** The case is `notice_sent` and the deadline has passed. */
  overdue: boolean;
  /** `holiday table`, or `weekdays only` when the deadline reaches a year the table does not cover. */
  deadlineBasis: string;
  amountFen: number;
  recoveredFen: number;
  outstandingFen: number;
  lastEventOn: string;
}

/**
 * The follow-up rows for a business date, ordered by district, deadline (cases without one last), case id.
 * @param asOf business date `YYYY-MM-DD`
 */
export async function followUpRows(db: Kysely<DB>, opts: { asOf: string; calendar: HolidayCalendar; district?: string; timeZone?: string }): Promise<FollowUpRow[]> {
  const tz = opts.timeZone ?? 'Asia/Shanghai';
  let q = db.selectFrom('recovery_case').selectAll().where('status', 'not in', ['recovered', 'written_off', 'false_positive']);
  if (opts.district) q = q.where('district_code', '=', opts.district);
  const cases = (await q.execute()).filter((c) => isOpenStatus(c.status));
  const ids = cases.map((c) => Number(c.id));
  const recovered = await recoveredByCase(db, ids.length > 2000 ? undefined : ids);
  const events = new Map<number, CaseEvent[]>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db.selectFrom('case_event').selectAll().where('case_id', 'in', ids.slice(i, i + 500)).orderBy('id').execute();
    for (const e of rows) {
      const list = events.get(Number(e.case_id)) ?? [];
      list.push({ ...e, id: Number(e.id), case_id: Number(e.case_id), run_id: e.run_id === null ? null : Number(e.run_id) });
      events.set(Number(e.case_id), list);
    }
  }
  const runDates = await businessDatesOfRuns(db, cases.map((c) => Number(c.created_run_id)));
  const rows: FollowUpRow[] = cases.map((c) => {
    const id = Number(c.id);
    const evs = events.get(id) ?? [];
    const sentOn = noticeSentOn(evs, tz);
    const dl = sentOn ? deadlineOf(sentOn, opts.calendar) : null;
    const bal = balanceOf(c.status, Number(c.amount_fen), recovered.get(id) ?? 0);
    const openedOn = runDates.get(Number(c.created_run_id)) ?? dateIn(c.created_at, tz);
    const left = dl ? workingDaysBetween(opts.asOf, dl.deadline, opts.calendar) : null;
    return {
      caseId: id, detector: c.detector, districtCode: c.district_code, status: c.status, assignee: c.assignee, idNumber: c.id_number, name: c.name,
      openedOn, daysOpen: daysBetween(openedOn, opts.asOf),
      noticeSentOn: sentOn, noticeDeadline: dl?.deadline ?? null, workingDaysLeft: left,
      overdue: c.status === 'notice_sent' && !!dl && opts.asOf > dl.deadline,
      deadlineBasis: dl ? (dl.provisional ? 'weekdays only (year not in seeds/holidays-cn.json)' : 'holiday table') : '',
      amountFen: bal.overpaidFen, recoveredFen: bal.recoveredFen, outstandingFen: bal.outstandingFen,
      lastEventOn: evs.length ? dateIn(evs.at(-1)!.at, tz) : openedOn,
    };
  });
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return rows.sort((a, b) => cmp(a.districtCode, b.districtCode) || cmp(a.noticeDeadline ?? '9999', b.noticeDeadline ?? '9999') || a.caseId - b.caseId);
}

/** Writes the follow-up list (CSV). @returns the number of rows */
export async function writeFollowUpCsv(db: Kysely<DB>, file: string, opts: Parameters<typeof followUpRows>[1]): Promise<number> {
  const rows = await followUpRows(db, opts);
  await writeCsv(file, FOLLOW_UP_HEADER, rows.map((r): CsvValue[] => [
    r.caseId, r.detector, r.districtCode, r.status, r.assignee, r.idNumber, r.name, r.openedOn, r.daysOpen,
    r.noticeSentOn, r.noticeDeadline, r.workingDaysLeft, r.overdue ? 'yes' : 'no', r.deadlineBasis,
    { numeric: formatFen(r.amountFen) }, { numeric: formatFen(r.recoveredFen) }, { numeric: formatFen(r.outstandingFen) }, r.lastEventOn,
  ]));
  return rows.length;
}
