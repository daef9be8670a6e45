/**
 * `rejects.csv` — every rejected row (file, line, code, reason, raw text) of the files ingested for this
 * business date, and every file refused whole (empty line number); written even when empty. For auditors:
 * IDs and long digit runs (accounts) in the reason and raw text are masked (DOMAIN.md §6); the raw text is
 * one text cell, neutralised like any other (a raw line may start with `=`).
 */
import path from 'node:path';
import { writeCsv, type CsvValue } from './csv.ts';
import { maskText } from './privacy.ts';
import type { ReportReject } from './report-data.ts';
import type { ReportSink } from './sink.ts';

export const REJECTS_HEADER = ['file', 'line', 'code', 'reason', 'raw'] as const;

/** The rows of rejects.csv (masked). */
export function rejectsRows(rejects: readonly ReportReject[]): CsvValue[][] {
  return rejects.map((r) => [maskText(r.file), r.line ?? '', r.code, maskText(r.reason), maskText(r.raw)]);
}

export const rejectsCsv: ReportSink = {
  id: 'rejects-csv',
  audience: 'auditors',
  async write(data, { runDir }) {
    const file = path.join(runDir, 'rejects.csv');
    await writeCsv(file, REJECTS_HEADER, rejectsRows(data.rejects));
    return [file];
  },
};
