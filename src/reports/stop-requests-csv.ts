/**
 * `worklists/stop-requests.csv` — suspension requests for the payment system (operations; full IDs and
 * accounts). A request is a hold pending adjudication, never a verdict (DOMAIN.md §4 "never stop a payment on
 * a match alone": only `confirmed` matches qualify, and a case closed as false positive never does).
 *
 * Definition ("payments still running in the latest period"):
 * - the case is open (status other than recovered, written_off, false_positive), detector
 *   `deceased_payment`, confidence `confirmed`;
 * - for a benefit scheme S, the latest period L(S) is the greatest period of any positive payment of S in
 *   the payment table (all extracts stored so far);
 * - the case counts a positive payment of S for period L(S) (a payment whose period nets to zero after a
 *   reversal is not counted, so it does not qualify).
 * One row per (case, scheme) that qualifies: `account` the accounts of the counted payments of S in L(S)
 * (`;`-joined), `amount` the overpayment counted in S so far (yuan, net of reversals). Rows are ordered by
 * district, case id, scheme.
 */
import path from 'node:path';
import { formatFen } from '../calendar/values.ts';
import { writeCsv, type CsvValue } from './csv.ts';
import { byteCmp, type OpenCase } from './report-data.ts';
import type { ReportSink } from './sink.ts';

export const STOP_REQUESTS_HEADER = [
  'case_id', 'id_number', 'name', 'scheme', 'district_code', 'account', 'last_paid_period', 'death_date', 'amount', 'confidence', 'case_status',
] as const;

/** One suspension request. Amount in integer fen. */
export interface StopRequest {
  caseId: number;
  idNumber: string;
  name: string;
  scheme: string;
  districtCode: string;
  accounts: string[];
  lastPaidPeriod: string;
  deathDate: string | null;
  amountFen: number;
  confidence: string;
  caseStatus: string;
}

/**
 * Selects the suspension requests (see the module doc). Pure.
 * @param latestPeriodByScheme scheme code → latest period `YYYY-MM` with a positive payment
 */
export function stopRequests(openCases: readonly OpenCase[], latestPeriodByScheme: ReadonlyMap<string, string>): StopRequest[] {
  const out: StopRequest[] = [];
  for (const c of openCases) {
    if (c.detector !== 'deceased_payment' || c.confidence !== 'confirmed') continue;
    const schemes = [...new Set(c.payments.map((p) => p.scheme))].sort(byteCmp);
    for (const s of schemes) {
      const latest = latestPeriodByScheme.get(s);
      if (!latest) continue;
      const inScheme = c.payments.filter((p) => p.scheme === s);
      const running = inScheme.filter((p) => p.period === latest && p.amountFen > 0);
      if (running.length === 0) continue;
      out.push({
        caseId: c.id, idNumber: c.idNumber, name: c.name, scheme: s, districtCode: c.districtCode,
        accounts: [...new Set(running.map((p) => p.account).filter((a): a is string => a !== null))],
        lastPaidPeriod: latest, deathDate: c.deathDate, amountFen: inScheme.reduce((sum, p) => sum + p.amountFen, 0),
        confidence: c.confidence, caseStatus: c.status,
      });
    }
  }
  return out.sort((a, b) => byteCmp(a.districtCode, b.districtCode) || a.caseId - b.caseId || byteCmp(a.scheme, b.scheme));
}

/** The rows of stop-requests.csv (full IDs and accounts). */
export function stopRequestRows(requests: readonly StopRequest[]): CsvValue[][] {
  return requests.map((r) => [
    r.caseId, r.idNumber, r.name, r.scheme, r.districtCode, r.accounts.join(';'), r.lastPaidPeriod, r.deathDate ?? '',
    { numeric: formatFen(r.amountFen) }, r.confidence, r.caseStatus,
  ]);
}

export const stopRequestsCsv: ReportSink = {
  id: 'stop-requests-csv',
  audience: 'operations',
  async write(data, { runDir }) {
    const file = path.join(runDir, 'worklists', 'stop-requests.csv');
    await writeCsv(file, STOP_REQUESTS_HEADER, stopRequestRows(stopRequests(data.openCases, data.latestPeriodByScheme)));
    return [file];
  },
};
