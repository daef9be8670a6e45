/**
 * `fundguard cases export`: one row per case, for investigators and for reconciliation (full IDs).
 * Contract (issue 2; later columns are appended after `status`, never reordered): header
 * `case_id,detector,id_number,name,district_code,scheme,first_period,last_period,months,amount,confidence,status,recovered,outstanding`,
 * UTF-8 with BOM, CRLF, amounts in yuan with two decimals, rows ordered byte-wise by detector, id_number,
 * first_period (so that every engine and collation gives the same bytes).
 * `amount` is the overpaid amount, `recovered` the sum of the case's ledger, `outstanding` what is owed
 * minus recovered (0 owed for a false positive; negative = a refund due) — ledger.ts.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { formatFen } from '../calendar/values.ts';
import { byteCmp } from '../byte-order.ts';
import { writeCsv, type CsvValue } from '../reports/csv.ts';
import { balanceOf, recoveredByCase } from './ledger.ts';

export const EXPORT_HEADER = ['case_id', 'detector', 'id_number', 'name', 'district_code', 'scheme', 'first_period', 'last_period', 'months', 'amount', 'confidence', 'status', 'recovered', 'outstanding'] as const;


/** The export rows, in contract order. */
export async function exportRows(db: Kysely<DB>): Promise<CsvValue[][]> {
  const cases = await db.selectFrom('recovery_case').selectAll().execute();
  const recovered = await recoveredByCase(db);
  cases.sort((a, b) => byteCmp(a.detector, b.detector) || byteCmp(a.id_number, b.id_number) || byteCmp(a.first_period, b.first_period) || Number(a.id) - Number(b.id));
  return cases.map((c) => {
    const bal = balanceOf(c.status, Number(c.amount_fen), recovered.get(Number(c.id)) ?? 0);
    return [
      Number(c.id), c.detector, c.id_number, c.name, c.district_code, c.scheme, c.first_period, c.last_period, Number(c.months),
      { numeric: formatFen(bal.overpaidFen) }, c.confidence, c.status, { numeric: formatFen(bal.recoveredFen) }, { numeric: formatFen(bal.outstandingFen) },
    ];
  });
}

/** Writes the export to `file` (see module doc). @returns the number of cases written */
export async function exportCasesCsv(db: Kysely<DB>, file: string): Promise<number> {
  const rows = await exportRows(db);
  await writeCsv(file, EXPORT_HEADER, rows);
  return rows.length;
}
