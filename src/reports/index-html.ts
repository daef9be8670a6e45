/**
 * `OUT/index.html` — every run recorded in the database, newest first, with its headline figures and a
 * link to its run folder's summary (auditors; no personal data on this page). The folder of a business
 * date holds the reports of the latest run for that date; earlier runs of the same date say which run
 * replaced them. Rewritten by every run.
 *
 * Element ids: `#latest` (cards of this run), `#runs` (the table; rows carry `data-key` = run id).
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './files.ts';
import { badge, esc, page, table, yuan, type Cell } from './html.ts';
import type { RunData, RunHeadline } from './report-data.ts';
import type { ReportSink } from './sink.ts';

/** Duration between two ISO instants, e.g. `1 min 05 s`; empty when either is missing. */
function duration(start: string, end: string | null): string {
  if (!end) return '';
  const ms = Date.parse(end) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/**
 * Renders the index. Pure but for `hasSummary`, which says whether `OUT/<as-of>/summary.html` exists.
 * @param nowEnded end instant to show for the current run (it is still running while reports are written)
 */
export function renderIndex(d: RunData, hasSummary: (asOf: string) => boolean, nowEnded: string): string {
  const runs = [...d.history].sort((a, b) => b.runId - a.runId);
  const latestByDate = new Map<string, number>();
  for (const r of runs) if (!latestByDate.has(r.asOf) && (r.current || r.status !== 'running')) latestByDate.set(r.asOf, r.runId);
  const cur = runs.find((r) => r.current);
  const out: string[] = [];
  out.push('<header><h1>fundguard 运行记录 <small>All runs</small></h1>');
  out.push(`<p class="meta">${esc(runs.length)} run(s) in the database · newest first · amounts in yuan · each business date links to its auditors' summary</p></header>`);
  if (cur) {
    out.push('<section class="cards" id="latest" aria-label="this run">');
    out.push(`<div class="card"><span>最新业务日期 Latest business date</span><b><a href="${esc(encodeURIComponent(cur.asOf))}/summary.html">${esc(cur.asOf)}</a></b></div>`);
    out.push(`<div class="card" id="latest-findings"><span>本次发现 Findings</span><b>${esc(cur.findings)}</b></div>`);
    out.push(`<div class="card" id="latest-amount"><span>应追回金额（元）Amount</span><b>${esc(yuan(cur.amountFen))}</b></div>`);
    out.push(`<div class="card" id="latest-opened"><span>新立案 Cases opened</span><b>${esc(cur.casesOpened)}</b></div>`);
    out.push('</section>');
  }
  const row = (r: RunHeadline): Cell[] => {
    const latest = latestByDate.get(r.asOf) === r.runId;
    const href = `${esc(encodeURIComponent(r.asOf))}/summary.html`;
    const report: Cell = latest && hasSummary(r.asOf) ? { html: `<a href="${href}">summary</a>` } : latest ? '—' : `replaced by run ${latestByDate.get(r.asOf) ?? '?'}`;
    return [
      r.runId, { text: r.asOf, cls: 'nowrap' }, { html: badge(r.status) }, { text: r.startedAt.replace('T', ' ').replace(/(\.\d+)?Z$/, ''), cls: 'nowrap' }, duration(r.startedAt, r.current ? nowEnded : r.endedAt), r.filesIngested, r.filesRejected, r.rowsRejected,
      r.findings, r.confirmed, r.casesOpened, yuan(r.amountFen), report,
    ];
  };
  const html = table(
    ['run', 'business date', 'status', 'started (UTC)', 'took', 'files', 'files rejected', 'rows rejected', 'findings', 'confirmed', 'cases opened', 'amount (yuan)', 'report'],
    runs.map(row),
    { numeric: [0, 5, 6, 7, 8, 9, 10, 11], keys: runs.map((r) => String(r.runId)), empty: 'no runs yet' },
  );
  out.push(`<section id="runs"><h2>历次运行 <small>Runs</small></h2><div class="scroll">${html}</div>`);
  out.push('<p class="note">"files" are files ingested by the run (known files are not read again, so a re-run shows 0); findings and amounts are what the detectors found in that run over all data stored so far.</p></section>');
  return page('fundguard — 运行记录 All runs', out.join('\n'));
}

export const indexHtml: ReportSink = {
  id: 'index-html',
  audience: 'auditors',
  async write(data, { outDir }) {
    const file = path.join(outDir, 'index.html');
    writeFileAtomic(file, renderIndex(data, (asOf) => fs.existsSync(path.join(outDir, asOf, 'summary.html')), new Date().toISOString()));
    return [file];
  },
};
