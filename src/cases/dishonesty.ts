/**
 * Serious-dishonesty list candidates (DOMAIN.md §5; policy item 23): more than 6 months or more than
 * ¥10,000 drawn after losing eligibility, AND the payer refused to repay or broke a repayment agreement.
 * The conduct is recorded by an investigator as an event (`fundguard cases flag ID --refused-to-repay |
 * --broke-agreement --by NAME --reason TEXT`); the size is the case's months and overpaid amount.
 * False positives are never candidates. A candidate is a proposal for a person to decide on, not a listing.
 * Written by `fundguard cases dishonesty --out FILE` (CSV, UTF-8 with BOM, CRLF; full IDs, for investigators).
 */
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { formatFen } from '../calendar/values.ts';
import { writeCsv, type CsvValue } from '../reports/csv.ts';
import { balanceOf, recoveredByCase } from './ledger.ts';
import { dateIn } from './queries.ts';
import { CONDUCT_FLAGS } from './statuses.ts';

/** More than this many months drawn after losing eligibility. */
export const DISHONESTY_MONTHS = 6;
/** More than this amount (fen) drawn after losing eligibility: ¥10,000. */
export const DISHONESTY_FEN = 1_000_000;

export const DISHONESTY_HEADER = [
  'case_id', 'detector', 'id_number', 'name', 'district_code', 'status', 'first_period', 'last_period', 'months', 'amount',
  'recovered', 'outstanding', 'grounds', 'conduct', 'conduct_on', 'recorded_by', 'conduct_reason',
] as const;

export interface DishonestyCandidate {
  caseId: number;
  detector: string;
  idNumber: string;
  name: string;
  districtCode: string;
  status: string;
  firstPeriod: string;
  lastPeriod: string;
  months: number;
  amountFen: number;
  recoveredFen: number;
  outstandingFen: number;
  /** Which size criteria hold: `more than 6 months`, `more than 10000 yuan`. */
  grounds: string[];
  /** The latest conduct event. */
  conduct: string;
  conductOn: string;
  recordedBy: string;
  conductReason: string;
}

/** The candidates, ordered by amount (largest first), then case id. */
export async function dishonestyCandidates(db: Kysely<DB>, timeZone = 'Asia/Shanghai'): Promise<DishonestyCandidate[]> {
  const flagged = await db
    .selectFrom('case_event as e')
    .innerJoin('recovery_case as c', 'c.id', 'e.case_id')
    .select(['c.id', 'c.detector', 'c.id_number', 'c.name', 'c.district_code', 'c.status', 'c.first_period', 'c.last_period', 'c.months', 'c.amount_fen', 'e.kind', 'e.at', 'e.actor', 'e.reason', 'e.data', 'e.id as event_id'])
    .where('e.kind', 'in', [...CONDUCT_FLAGS])
    .where('c.status', '!=', 'false_positive')
    .where((eb) => eb.or([eb('c.months', '>', DISHONESTY_MONTHS), eb('c.amount_fen', '>', DISHONESTY_FEN)]))
    .orderBy('e.id')
    .execute();
  const latest = new Map<number, (typeof flagged)[number]>();
  for (const r of flagged) latest.set(Number(r.id), r);
  const recovered = await recoveredByCase(db, [...latest.keys()]);
  const out = [...latest.values()].map((r): DishonestyCandidate => {
    const id = Number(r.id);
    const months = Number(r.months);
    const amountFen = Number(r.amount_fen);
    const bal = balanceOf(r.status, amountFen, recovered.get(id) ?? 0);
    const data = r.data ? (JSON.parse(r.data) as { effective_on?: string }) : {};
    return {
      caseId: id, detector: r.detector, idNumber: r.id_number, name: r.name, districtCode: r.district_code, status: r.status,
      firstPeriod: r.first_period, lastPeriod: r.last_period, months, amountFen, recoveredFen: bal.recoveredFen, outstandingFen: bal.outstandingFen,
      grounds: [...(months > DISHONESTY_MONTHS ? [`more than ${DISHONESTY_MONTHS} months`] : []), ...(amountFen > DISHONESTY_FEN ? [`more than ${formatFen(DISHONESTY_FEN).replace(/\.00$/, '')} yuan`] : [])],
      conduct: r.kind, conductOn: data.effective_on ?? dateIn(r.at, timeZone), recordedBy: r.actor, conductReason: r.reason ?? '',
    };
  });
  return out.sort((a, b) => b.amountFen - a.amountFen || a.caseId - b.caseId);
}

/** Writes the candidates (CSV). @returns the number of rows */
export async function writeDishonestyCsv(db: Kysely<DB>, file: string, timeZone?: string): Promise<number> {
  const rows = await dishonestyCandidates(db, timeZone);
  await writeCsv(file, DISHONESTY_HEADER, rows.map((r): CsvValue[] => [
    r.caseId, r.detector, r.idNumber, r.name, r.districtCode, r.status, r.firstPeriod, r.lastPeriod, r.months, { numeric: formatFen(r.amountFen) },
    { numeric: formatFen(r.recoveredFen) }, { numeric: formatFen(r.outstandingFen) }, r.grounds.join('; '), r.conduct, r.conductOn, r.recordedBy, r.conductReason,
  ]));
  return rows.length;
}
