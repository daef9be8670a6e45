/**
 * The run folder `OUT/<as-of>/` for auditors (DOMAIN.md §6: IDs and accounts masked):
 * - `findings.csv` — every finding of the run with its case, confidence, status and "why" line;
 * - `rejects.csv` — every rejected row (file, line, code, reason, raw text masked) of the files ingested for
 *   this business date, and every file rejected whole; written even when empty;
 * - `summary.html` — one self-contained page (no network): headline figures, amounts by detector and
 *   district, overpayment by months between death and stop, data quality per file, the largest cases.
 * A re-run for the same date rewrites the folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Settings } from '../config/settings.ts';
import type { DB, SourceFile } from '../db/schema.ts';
import { formatFen } from '../calendar/values.ts';
import { maskIdNumber, maskIdsInText } from '../identity/resident-id.ts';
import { writeCsv } from './csv.ts';
import { esc, yuan } from './html.ts';

/** Per-detector outcome of a run, as recorded in the run's stats. */
export interface DetectorOutcome {
  id: string;
  title: string;
  status: 'succeeded' | 'failed';
  error?: string;
  examined: number;
  findings: number;
  amountFen: number;
  ms: number;
}

export interface RunReportInput {
  db: Kysely<DB>;
  runId: number;
  asOf: string;
  startedAt: string;
  outDir: string;
  settings: Settings;
  detectors: DetectorOutcome[];
}

/** Paths of the files written. */
export interface RunReportFiles {
  dir: string;
  summary: string;
  findings: string;
  rejects: string;
}

interface FindingRow {
  case_id: number | null;
  status: string;
  detector: string;
  id_number: string;
  name: string;
  district_code: string;
  scheme: string;
  first_period: string;
  last_period: string;
  months: number;
  amount_fen: number;
  confidence: string;
  evidence: { why: string; death?: { date: string }; months_paid_after_death?: number };
}

const byteCmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Writes the run folder.
 * @throws Error when the folder cannot be written
 */
export async function writeRunReports(input: RunReportInput): Promise<RunReportFiles> {
  const { db, runId, asOf, settings } = input;
  const dir = path.join(input.outDir, asOf);
  fs.mkdirSync(dir, { recursive: true });

  const findingsRaw = await db.selectFrom('finding').selectAll().where('run_id', '=', runId).execute();
  const cases = await db.selectFrom('recovery_case').select(['id', 'detector', 'case_key', 'follow_up_seq', 'status']).execute();
  const caseByKey = new Map<string, { id: number; status: string }>();
  for (const c of cases.sort((a, b) => a.follow_up_seq - b.follow_up_seq)) caseByKey.set(`${c.detector}|${c.case_key}`, { id: Number(c.id), status: c.status });
  const findings: FindingRow[] = findingsRaw
    .map((f) => {
      const c = caseByKey.get(`${f.detector}|${f.case_key}`);
      return {
        case_id: c?.id ?? null, status: c?.status ?? 'new', detector: f.detector, id_number: f.id_number, name: f.name, district_code: f.district_code,
        scheme: f.scheme, first_period: f.first_period, last_period: f.last_period, months: f.months, amount_fen: Number(f.amount_fen),
        confidence: f.confidence, evidence: JSON.parse(f.evidence) as FindingRow['evidence'],
      };
    })
    .sort((a, b) => byteCmp(a.detector, b.detector) || byteCmp(a.id_number, b.id_number) || byteCmp(a.first_period, b.first_period));

  const findingsFile = path.join(dir, 'findings.csv');
  await writeCsv(
    findingsFile,
    ['case_id', 'detector', 'confidence', 'status', 'id_number', 'name', 'district_code', 'district_name', 'scheme', 'first_period', 'last_period', 'months', 'amount', 'death_date', 'why'],
    findings.map((f) => [
      f.case_id ?? '', f.detector, f.confidence, f.status, maskIdNumber(f.id_number), f.name, f.district_code, settings.districts[f.district_code] ?? '',
      f.scheme, f.first_period, f.last_period, f.months, { numeric: formatFen(f.amount_fen) }, f.evidence.death?.date ?? '', maskIdsInText(f.evidence.why),
    ]),
  );

  // Files ingested for this business date (any run with this as-of), and their rejects.
  const runIds = (await db.selectFrom('run').select('id').where('as_of', '=', asOf).execute()).map((r) => Number(r.id));
  if (!runIds.includes(runId)) runIds.push(runId);
  const files = await db.selectFrom('source_file').selectAll().where('run_id', 'in', runIds).orderBy('id').execute();
  const fileIds = files.map((f) => Number(f.id));
  const rejects = fileIds.length
    ? await db.selectFrom('reject').selectAll().where('file_id', 'in', fileIds).orderBy('file_id').orderBy('line').orderBy('id').execute()
    : [];
  const pathById = new Map(files.map((f) => [Number(f.id), f.path]));
  const rejectsFile = path.join(dir, 'rejects.csv');
  const wholeFile = files.filter((f) => f.status === 'rejected');
  await writeCsv(rejectsFile, ['file', 'line', 'code', 'reason', 'raw'], [
    ...wholeFile.map((f) => [f.path, '', f.error_code ?? 'FILE_REJECTED', maskIdsInText(f.error ?? ''), ''] as const),
    ...rejects.map((r) => [pathById.get(Number(r.file_id)) ?? '', r.line, r.code, maskIdsInText(r.reason), maskIdsInText(r.raw)] as const),
  ]);

  const summaryFile = path.join(dir, 'summary.html');
  fs.writeFileSync(summaryFile, renderSummary({ ...input, findings, files, rejects, pathById }));
  return { dir, summary: summaryFile, findings: findingsFile, rejects: rejectsFile };
}

function renderSummary(x: RunReportInput & {
  findings: FindingRow[];
  files: SourceFile[];
  rejects: { file_id: number; code: string }[];
  pathById: Map<number, string>;
}): string {
  const { findings, settings } = x;
  const total = findings.reduce((s, f) => s + f.amount_fen, 0);
  const table = (head: string[], rows: (string | number)[][], numericFrom = 1): string =>
    `<table><thead><tr>${head.map((h, i) => `<th${i >= numericFrom ? ' class="n"' : ''}>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    (rows.length ? rows.map((r) => `<tr>${r.map((c, i) => `<td${i >= numericFrom ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('') : `<tr><td colspan="${head.length}">none</td></tr>`) +
    '</tbody></table>';

  const group = <K extends string>(key: (f: FindingRow) => K) => {
    const m = new Map<K, { n: number; fen: number; confirmed: number; probable: number; review: number }>();
    for (const f of findings) {
      const g = m.get(key(f)) ?? { n: 0, fen: 0, confirmed: 0, probable: 0, review: 0 };
      g.n++;
      g.fen += f.amount_fen;
      g[f.confidence as 'confirmed' | 'probable' | 'review']++;
      m.set(key(f), g);
    }
    return [...m.entries()].sort((a, b) => byteCmp(a[0], b[0]));
  };
  const byDetector = group((f) => f.detector).map(([k, g]) => [k, g.n, g.confirmed, g.probable, g.review, yuan(g.fen)]);
  const byDistrict = group((f) => f.district_code).map(([k, g]) => [`${k} ${settings.districts[k] ?? ''}`.trim(), g.n, yuan(g.fen)]);
  const lagBuckets = new Map<string, { n: number; fen: number }>();
  const bucket = (m: number): string => (m <= 1 ? '1 month' : m <= 3 ? '2–3 months' : m <= 6 ? '4–6 months' : m <= 12 ? '7–12 months' : 'over 12 months');
  for (const f of findings) {
    if (f.evidence.months_paid_after_death === undefined) continue;
    const b = bucket(f.evidence.months_paid_after_death);
    const g = lagBuckets.get(b) ?? { n: 0, fen: 0 };
    g.n++;
    g.fen += f.amount_fen;
    lagBuckets.set(b, g);
  }
  const lagRows = ['1 month', '2–3 months', '4–6 months', '7–12 months', 'over 12 months'].filter((b) => lagBuckets.has(b)).map((b) => [b, lagBuckets.get(b)!.n, yuan(lagBuckets.get(b)!.fen)]);
  const rejectCodes = new Map<string, number>();
  for (const r of x.rejects) rejectCodes.set(r.code, (rejectCodes.get(r.code) ?? 0) + 1);
  const fileRows = x.files.map((f) => [
    f.path, f.source, f.encoding ?? '', f.rows_read, f.rows_accepted, f.rows_repeated, f.rows_rejected, f.rows_skipped, f.status === 'rejected' ? `REJECTED: ${maskIdsInText(f.error ?? '')}` : 'ingested',
  ]);
  const largest = [...findings].sort((a, b) => b.amount_fen - a.amount_fen || byteCmp(a.id_number, b.id_number)).slice(0, 25);
  const detectorRows = x.detectors.map((d) => [d.id, d.status + (d.error ? `: ${d.error}` : ''), d.examined, d.findings, yuan(d.amountFen), `${d.ms} ms`]);

  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>fundguard — ${esc(x.asOf)}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
.meta{color:#555;font-size:.9rem} .cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:10rem} .card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.5rem 0} th,td{border-bottom:1px solid #e5e5e5;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5} .n{text-align:right;font-variant-numeric:tabular-nums} .why{color:#444;font-size:.82rem}
@media print{body{margin:0;max-width:none} .card{break-inside:avoid} tr{break-inside:avoid}}
</style></head><body>
<h1>fundguard — overpayment findings</h1>
<p class="meta">Business date ${esc(x.asOf)} · run ${esc(x.runId)} started ${esc(x.startedAt)} (UTC) · IDs masked (first 6 and last 4 characters)</p>
<div class="cards">
<div class="card" id="total-cases">Cases found<b>${esc(findings.length)}</b></div>
<div class="card" id="total-amount">Amount to recover (yuan)<b>${esc(yuan(total))}</b></div>
<div class="card" id="files-ingested">Files ingested for this date<b>${esc(x.files.filter((f) => f.status === 'ingested').length)}</b></div>
<div class="card" id="rows-rejected">Rows rejected<b>${esc(x.rejects.length)}</b></div>
</div>
<h2>By detector</h2>
${table(['detector', 'cases', 'confirmed', 'probable', 'review', 'amount (yuan)'], byDetector)}
<h2>By district</h2>
${table(['district', 'cases', 'amount (yuan)'], byDistrict)}
<h2>Overpayment by months between death and stop</h2>
${table(['paid after the death month for', 'cases', 'amount (yuan)'], lagRows)}
<h2>Largest cases</h2>
${table(
  ['case', 'detector', 'ID', 'name', 'district', 'periods', 'months', 'amount (yuan)', 'confidence', 'why'],
  largest.map((f) => [f.case_id ?? '', f.detector, maskIdNumber(f.id_number), f.name, f.district_code, `${f.first_period}..${f.last_period}`, f.months, yuan(f.amount_fen), f.confidence, maskIdsInText(f.evidence.why)]),
  6,
).replace(/<td class="n">([^<]*)<\/td><\/tr>/g, '<td class="why">$1</td></tr>')}
<h2>Detectors</h2>
${table(['detector', 'status', 'rows examined', 'findings', 'amount (yuan)', 'time'], detectorRows, 2)}
<h2>Data quality</h2>
${table(['file', 'source', 'encoding', 'read', 'accepted', 'repeats', 'rejected', 'skipped', 'status'], fileRows, 3)}
${table(['reject code', 'rows'], [...rejectCodes.entries()].sort((a, b) => byteCmp(a[0], b[0])))}
<p class="meta">Rows read = accepted + rejected + skipped (title, header, blank, summary and note rows). "repeats" are accepted rows that repeat a payment already stored (overlapping extracts): counted once. Every rejected row is listed in rejects.csv.</p>
</body></html>
`;
}
