/**
 * `findings.csv` — every finding of the run, for auditors: IDs masked to first 6 + last 4 characters and
 * accounts to their last 4 digits (DOMAIN.md §6); CSV rules in `csv.ts` (BOM, CRLF, RFC 4180, formula
 * neutralisation; `amount` stays a number in yuan with two decimals).
 */
import path from 'node:path';
import { formatFen } from '../calendar/values.ts';
import { maskIdNumber } from '../identity/resident-id.ts';
import { writeCsv, type CsvValue } from './csv.ts';
import { maskAccounts, maskText } from './privacy.ts';
import type { ReportFinding } from './report-data.ts';
import type { ReportSink } from './sink.ts';

export const FINDINGS_HEADER = [
  'case_id', 'detector', 'confidence', 'status', 'id_number', 'name', 'district_code', 'district_name', 'scheme',
  'first_period', 'last_period', 'months', 'amount', 'account', 'death_date', 'why',
] as const;

/** The rows of findings.csv (masked), in the order given. */
export function findingsRows(findings: readonly ReportFinding[], districts: Readonly<Record<string, string>>): CsvValue[][] {
  return findings.map((f) => [
    f.caseId ?? '', f.detector, f.confidence, f.caseStatus, maskIdNumber(f.idNumber), f.name, f.districtCode, districts[f.districtCode] ?? '',
    f.scheme, f.firstPeriod, f.lastPeriod, f.months, { numeric: formatFen(f.amountFen) }, maskAccounts(f.accounts), f.deathDate ?? '', maskText(f.why),
  ]);
}

export const findingsCsv: ReportSink = {
  id: 'findings-csv',
  audience: 'auditors',
  async write(data, { runDir }) {
    const file = path.join(runDir, 'findings.csv');
    await writeCsv(file, FINDINGS_HEADER, findingsRows(data.findings, data.settings.districts));
    return [file];
  },
};
