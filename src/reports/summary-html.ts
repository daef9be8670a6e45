/**
 * `summary.html` — the auditors' page for one run: one self-contained file (inline CSS and inline SVG
 * charts rendered by ECharts on the server; no script, no network), readable on a laptop and in print.
 * IDs and accounts are masked (DOMAIN.md §6); every value is HTML-escaped (names are data).
 *
 * Sections (element ids, for readers and tests): headline cards (`#total-cases`, `#total-amount`,
 * `#confirmed-cases`, `#cases-opened`, `#open-cases`, `#stop-requests`, `#files-ingested`, `#rows-rejected`),
 * `#by-detector`, `#by-district`, `#by-lag` (overpayment by months between death and stop), `#trend`
 * (earlier runs), `#data-quality` (per file, rejects by code), `#largest` (largest findings with their "why"
 * line), `#detectors` (outcomes). Table rows carry a `data-key` (detector id, district code, bucket,
 * business date, file path, case id).
 */
import path from 'node:path';
import { maskIdNumber } from '../identity/resident-id.ts';
import { barChart, trendChart } from './charts.ts';
import { writeFileAtomic } from './files.ts';
import { badge, esc, figure, FULL_WIDTH, HALF_WIDTH, page, table, yuan, type Cell } from './html.ts';
import { maskAccounts, maskText } from './privacy.ts';
import { byteCmp, trendPoints, type ReportFinding, type RunData } from './report-data.ts';
import type { ReportSink } from './sink.ts';
import { stopRequests } from './stop-requests-csv.ts';

/** Buckets of months paid after the death month (inclusive bounds). */
export const LAG_BUCKETS: readonly { label: string; min: number; max: number }[] = [
  { label: '1', min: 1, max: 1 },
  { label: '2–3', min: 2, max: 3 },
  { label: '4–6', min: 4, max: 6 },
  { label: '7–12', min: 7, max: 12 },
  { label: '13–24', min: 13, max: 24 },
  { label: '>24', min: 25, max: Number.MAX_SAFE_INTEGER },
];

/** Why a finding's amount can differ from its case's (README "findings.csv"). */
export const FINDING_VS_CASE =
  'Amounts and periods are the findings\u2019: all the overpayment a detector found for the person in this run. The case a finding feeds can count less: a follow-up case counts only what the recovered or written-off case before it did not, and a case closed as a false positive keeps its adjudicated figures. The cases\u2019 own figures are in <code>fundguard cases export</code>.';

/** How many of the largest cases the page lists. */
export const LARGEST_CASES = 25;

interface Group {
  key: string;
  n: number;
  fen: number;
  confirmed: number;
  probable: number;
  review: number;
}

/** Groups findings by a key: count, amount (fen) and counts by confidence; ordered byte-wise by key. */
export function groupFindings(findings: readonly ReportFinding[], key: (f: ReportFinding) => string): Group[] {
  const m = new Map<string, Group>();
  for (const f of findings) {
    const k = key(f);
    const g = m.get(k) ?? { key: k, n: 0, fen: 0, confirmed: 0, probable: 0, review: 0 };
    g.n++;
    g.fen += f.amountFen;
    if (f.confidence === 'confirmed' || f.confidence === 'probable' || f.confidence === 'review') g[f.confidence]++;
    m.set(k, g);
  }
  return [...m.values()].sort((a, b) => byteCmp(a.key, b.key));
}

/** Overpayment by months between the death month and the last period paid (deceased_payment findings). */
export function lagBuckets(findings: readonly ReportFinding[]): { label: string; n: number; fen: number }[] {
  return LAG_BUCKETS.map((b) => {
    const inB = findings.filter((f) => f.monthsAfterDeath !== null && f.monthsAfterDeath >= b.min && f.monthsAfterDeath <= b.max);
    return { label: b.label, n: inB.length, fen: inB.reduce((s, f) => s + f.amountFen, 0) };
  });
}

/** A percentage that never shows a non-zero rate as 0: `0%`, `0.004%`, `2.5%`. */
export function percent(part: number, whole: number): string {
  if (whole <= 0) return '';
  const p = (100 * part) / whole;
  if (p === 0) return '0%';
  return p < 0.1 ? `${Number(p.toPrecision(1))}%` : `${p.toFixed(1)}%`;
}

/** The end of a long label (file paths differ at their end), with a leading ellipsis when cut. */
function tail(label: string, max: number): string {
  const chars = Array.from(label);
  return chars.length <= max ? label : '…' + chars.slice(-(max - 1)).join('');
}

const card = (id: string, label: string, value: string | number, title = ''): string =>
  `<div class="card" id="${esc(id)}"${title ? ` title="${esc(title)}"` : ''}><span>${esc(label)}</span><b>${esc(value)}</b></div>`;

/** Renders the page. Pure: the same data gives the same bytes. */
export function renderSummary(d: RunData): string {
  const { findings, settings } = d;
  const districtName = (code: string): string => settings.districts[code] ?? '';
  const totalFen = findings.reduce((s, f) => s + f.amountFen, 0);
  const confirmed = findings.filter((f) => f.confidence === 'confirmed').length;
  const requests = stopRequests(d.openCases, d.latestPeriodByScheme);
  const requestCases = new Set(requests.map((r) => r.caseId)).size;
  const openDistricts = new Set(d.openCases.map((c) => c.districtCode)).size;
  const filesIngested = d.files.filter((f) => f.status === 'ingested').length;
  const filesRejected = d.files.filter((f) => f.status === 'rejected').length;
  // SUMMARY_MISMATCH entries note a skipped summary row whose total is wrong; they are not rejected rows.
  const rowsRejected = d.rejects.filter((r) => r.line !== null && r.code !== 'SUMMARY_MISMATCH').length;
  const titles = new Map(d.detectors.map((o) => [o.id, o.title]));
  const out: string[] = [];

  out.push(`<header><h1>死亡冒领核查报告 <small>fundguard · overpayment findings</small></h1>`);
  out.push(`<p class="meta">业务日期 Business date <b id="as-of">${esc(d.asOf)}</b> · run ${esc(d.runId)} ${badge(d.status)} · started ${esc(d.startedAt)} (UTC)</p>`);
  out.push(`<p class="meta">身份证号仅显示前 6 位与后 4 位，银行账号仅显示后 4 位 · IDs show first 6 and last 4 characters, accounts last 4 digits (DOMAIN §6). <a href="../index.html">所有运行 All runs</a></p></header>`);
  const failed = d.detectors.filter((o) => o.status === 'failed');
  if (failed.length) {
    out.push(`<div class="alert" id="failed-detectors">检测失败 Detector(s) failed — figures are incomplete: ${failed.map((o) => `${esc(o.id)} (${esc(maskText(o.error ?? ''))})`).join('; ')}</div>`);
  }

  out.push('<section class="cards" aria-label="headline figures">');
  out.push(card('total-cases', '本次发现 Findings', findings.length));
  // What this run found, and what is still open: a closed case (recovered, written off, false positive) is
  // still found by the detector but no longer to be recovered (found by a new user).
  out.push(card('total-amount', '本次发现多发金额（元）Overpaid, found this run', yuan(totalFen)));
  out.push(card('open-amount', '未结案件金额（元）Overpaid in open cases', yuan(d.openCases.reduce((s, c) => s + c.amountFen, 0))));
  out.push(card('confirmed-cases', '高可信 Confirmed', confirmed));
  out.push(card('cases-opened', '新立案 Cases opened', d.casesOpened));
  out.push(card('open-cases', '未结案件 Open cases', d.openCases.length, `${openDistricts} district work list(s)`));
  out.push(card('stop-requests', '暂停发放申请 Suspension requests', requestCases, `${requests.length} scheme request(s) in worklists/stop-requests.csv`));
  out.push(card('files-ingested', '本日入库文件 Files ingested', filesIngested, filesRejected ? `${filesRejected} file(s) rejected whole` : ''));
  out.push(card('rows-rejected', '拒收行 Rows rejected', rowsRejected));
  out.push('</section>');

  // By detector.
  const byDet = groupFindings(findings, (f) => f.detector);
  out.push('<section id="by-detector"><h2>按检测类型 <small>By detector</small></h2><div class="grid2">');
  out.push(byDet.length ? figure(barChart({ categories: byDet.map((g) => titles.get(g.key) ?? g.key), values: byDet.map((g) => g.fen / 100), unit: '元', horizontal: true, width: HALF_WIDTH }), 'Overpaid found this run, by detector (yuan)', HALF_WIDTH) : '<p class="note">No findings in this run.</p>');
  out.push(`<div class="scroll">${table(
    ['detector', 'findings', 'confirmed', 'probable', 'review', 'amount (yuan)'],
    [...byDet.map((g) => [g.key, g.n, g.confirmed, g.probable, g.review, yuan(g.fen)] as Cell[]), ...(byDet.length > 1 ? [[{ text: 'total', cls: 'total' }, findings.length, confirmed, byDet.reduce((s, g) => s + g.probable, 0), byDet.reduce((s, g) => s + g.review, 0), yuan(totalFen)] as Cell[]] : [])],
    { numeric: [1, 2, 3, 4, 5], keys: [...byDet.map((g) => g.key), ...(byDet.length > 1 ? ['total'] : [])], empty: 'no findings' },
  )}</div></div></section>`);

  // By district.
  const byDist = groupFindings(findings, (f) => f.districtCode);
  out.push('<section id="by-district"><h2>按区县 <small>By district</small></h2><div class="grid2">');
  out.push(byDist.length ? figure(barChart({ categories: byDist.map((g) => `${g.key} ${districtName(g.key)}`.trim()), values: byDist.map((g) => g.fen / 100), labels: byDist.map((g) => `${yuan(g.fen)} (${g.n})`), unit: '元', horizontal: true, width: HALF_WIDTH }), 'Overpaid found this run, by district (yuan; findings in brackets)', HALF_WIDTH) : '<p class="note">No findings in this run.</p>');
  out.push(`<div class="scroll">${table(
    ['district', 'name', 'findings', 'confirmed', 'amount (yuan)'],
    byDist.map((g) => [g.key, districtName(g.key), g.n, g.confirmed, yuan(g.fen)]),
    { numeric: [2, 3, 4], keys: byDist.map((g) => g.key), empty: 'no findings' },
  )}</div></div></section>`);

  // By months between death and stop.
  const lags = lagBuckets(findings);
  const withLag = findings.filter((f) => f.monthsAfterDeath !== null).length;
  out.push('<section id="by-lag"><h2>按死亡至停发月数 <small>Overpayment by months between death and stop</small></h2><div class="grid2">');
  out.push(withLag ? figure(barChart({ categories: lags.map((b) => b.label), values: lags.map((b) => b.fen / 100), labels: lags.map((b) => (b.n ? `${yuan(b.fen)} (${b.n})` : '')), unit: '元', width: HALF_WIDTH }), 'Amount by months paid after the death month (findings in brackets)', HALF_WIDTH) : '<p class="note">No payments after death found in this run.</p>');
  out.push(`<div class="scroll">${table(['months paid after the death month', 'findings', 'amount (yuan)'], lags.map((b) => [b.label, b.n, yuan(b.fen)]), { numeric: [1, 2], keys: lags.map((b) => b.label) })}
<p class="note">Months from the month of death to the last period paid; the death month itself is payable (DOMAIN §4).</p></div></div></section>`);

  // Trend.
  const points = trendPoints(d.history);
  out.push('<section id="trend"><h2>历次运行趋势 <small>Trend across runs</small></h2>');
  out.push(points.length > 1 ? figure(trendChart({ dates: points.map((p) => p.asOf), amounts: points.map((p) => p.amountFen / 100), cases: points.map((p) => p.findings), width: FULL_WIDTH }), 'Findings per business date: amount (bars, yuan) and cases (line)', FULL_WIDTH) : '<p class="note">This is the first run with findings to compare; the trend appears after the next business date.</p>');
  out.push(`<div class="scroll">${table(
    ['business date', 'run', 'findings', 'confirmed', 'cases opened', 'amount (yuan)', 'change (yuan)'],
    points.map((p, i) => [p.current ? { text: p.asOf, cls: 'current' } : p.asOf, p.runId, p.findings, p.confirmed, p.casesOpened, yuan(p.amountFen), i === 0 ? '' : yuan(p.amountFen - points[i - 1]!.amountFen)]),
    { numeric: [1, 2, 3, 4, 5, 6], keys: points.map((p) => p.asOf) },
  )}</div><p class="note">Per business date, the latest run that succeeded (failed and abandoned runs are left out: their findings may be partial).</p></section>`);

  // Data quality.
  out.push('<section id="data-quality"><h2>数据质量 <small>Data quality per file</small></h2>');
  const ingested = d.files.filter((f) => f.status === 'ingested');
  if (ingested.length) {
    const shown = ingested.slice(0, 40);
    const rate = (f: (typeof shown)[number]): number => (f.rows_read > 0 ? (100 * f.rows_rejected) / f.rows_read : 0);
    out.push(figure(barChart({
      categories: shown.map((f) => tail(maskText(f.path), 34)),
      values: shown.map(rate),
      labels: shown.map((f) => `${f.rows_rejected} / ${f.rows_read} (${percent(f.rows_rejected, f.rows_read)})`),
      unit: '%',
      axisFormat: (v) => `${v}%`,
      horizontal: true,
      labelWidth: 260,
      width: FULL_WIDTH,
    }), ingested.length > shown.length ? `Rejected rows per file, % of rows read (first ${shown.length} of ${ingested.length} files)` : 'Rejected rows per file, % of rows read (rejected / read)', FULL_WIDTH));
  }
  out.push(`<div class="scroll">${table(
    ['file', 'source', 'encoding', 'read', 'accepted', 'repeats', 'rejected', 'skipped', 'reject rate', 'status'],
    d.files.map((f) => [
      maskText(f.path), f.source, f.encoding ?? '', f.rows_read, f.rows_accepted, f.rows_repeated, f.rows_rejected, f.rows_skipped,
      percent(f.rows_rejected, f.rows_read),
      f.status === 'rejected' ? { text: `REJECTED ${f.error_code ?? ''}: ${maskText(f.error ?? '')}`, cls: 'why' } : 'ingested',
    ]),
    { numeric: [3, 4, 5, 6, 7, 8], keys: d.files.map((f) => maskText(f.path)), empty: 'no new files for this business date' },
  )}</div>`);
  const codes = new Map<string, number>();
  for (const r of d.rejects) codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
  const codeRows = [...codes.entries()].sort((a, b) => b[1] - a[1] || byteCmp(a[0], b[0]));
  out.push(`<div class="scroll">${table(['reject code', 'rows or files'], codeRows.map(([c, n]) => [c, n]), { numeric: [1], keys: codeRows.map(([c]) => c), empty: 'no rejects', caption: 'Rejects by code' })}</div>`);
  out.push('<p class="note">Rows read = accepted + rejected + skipped (title, header, blank, summary and note rows). "repeats" are accepted rows repeating a payment already stored (overlapping extracts): counted once. Every rejected row is listed in rejects.csv.</p></section>');

  // Largest findings, with the case each feeds. A finding's figures are the detector's (all it found for the
  // person); its case can count less — a follow-up case, a false positive kept as adjudicated (fresh-user trial:
  // the section said "cases" and the charts "amount to recover", and the figures differed from `cases export`).
  const largest = [...findings].sort((a, b) => b.amountFen - a.amountFen || byteCmp(a.idNumber, b.idNumber)).slice(0, LARGEST_CASES);
  out.push(`<section id="largest"><h2>金额最大的发现 <small>Largest findings${findings.length > LARGEST_CASES ? ` (top ${LARGEST_CASES} of ${findings.length})` : ''}</small></h2>`);
  out.push(`<p class="note">${FINDING_VS_CASE}</p>`);
  const head = ['case', 'detector', 'confidence / status', 'ID', 'name', 'district', 'account', 'periods', 'months', 'amount (yuan)'];
  const rows = largest.map((f) => {
    const cells: Cell[] = [
      f.caseId ?? '', f.detector, `${f.confidence} / ${f.caseStatus}`, { text: maskIdNumber(f.idNumber), cls: 'mono' }, f.name, `${f.districtCode} ${districtName(f.districtCode)}`.trim(),
      { text: maskAccounts(f.accounts), cls: 'mono' }, { text: `${f.firstPeriod} – ${f.lastPeriod}`, cls: 'nowrap' }, f.months, yuan(f.amountFen),
    ];
    return cells;
  });
  // Each case is two rows: its figures, then its "why" line across the table (readable on screen and paper).
  const largestHtml = table(head, rows, { numeric: [0, 8, 9], keys: largest.map((f) => String(f.caseId ?? '')), detail: largest.map((f) => maskText(f.why)), empty: 'no findings' });
  out.push(`<div class="scroll">${largestHtml}</div></section>`);

  // Detector outcomes.
  out.push('<section id="detectors"><h2>检测器运行情况 <small>Detector outcomes</small></h2>');
  out.push(`<div class="scroll">${table(
    ['detector', 'title', 'status', 'rows examined', 'findings', 'amount (yuan)', 'time'],
    d.detectors.map((o) => [o.id, o.title, o.status === 'failed' ? { text: `failed: ${maskText(o.error ?? '')}`, cls: 'why' } : o.status, o.examined, o.findings, yuan(o.amountFen), `${o.ms} ms`]),
    { numeric: [3, 4, 5, 6], keys: d.detectors.map((o) => o.id), empty: 'no detectors ran' },
  )}</div></section>`);
  const benford = d.detectors.flatMap((o) => o.benford ?? []);
  if (benford.length) {
    out.push('<section id="benford"><h2>首位数字检验 <small>First-digit (Benford) test of back pay and adjustments, per batch</small></h2>');
    out.push(`<div class="scroll">${table(
      ['batch', 'rows', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `${n}`), 'MAD', 'conformity (Nigrini)', 'χ²'],
      benford.map((b) => [b.batch, b.n, ...b.observed.map((p) => `${(p * 100).toFixed(1)}%`), b.mad.toFixed(5), b.conformity, `${b.chiSquare.toFixed(2)}${b.chiSquareRejects ? ' *' : ''}`]),
      { numeric: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13], keys: benford.map((b) => b.batch), empty: 'no batch with enough rows' },
    )}</div><p class="note">Observed share of each first digit; Benford expects 30.1%, 17.6%, 12.5%, 9.7%, 7.9%, 6.7%, 5.8%, 5.1%, 4.6%. MAD conformity ranges: close ≤ 0.006, acceptable ≤ 0.012, marginal ≤ 0.015, else nonconformity. * χ² above 15.51 (8 df, α = 0.05). A table for auditors, not cases.</p></section>`);
  }
  out.push(`<footer><p class="note">Generated by fundguard from the store; a match is never a verdict — every case carries its evidence and a confidence level, and a person adjudicates it. Work lists (full IDs) for investigators are in <code>worklists/</code>.</p></footer>`);
  return page(`fundguard ${d.asOf} — 死亡冒领核查报告`, out.join('\n'));
}

export const summaryHtml: ReportSink = {
  id: 'summary-html',
  audience: 'auditors',
  async write(data, { runDir }) {
    const file = path.join(runDir, 'summary.html');
    writeFileAtomic(file, renderSummary(data));
    return [file];
  },
};
