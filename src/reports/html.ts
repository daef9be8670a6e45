/**
 * HTML helpers for the self-contained reports: every value goes through {@link esc} (names are data), pages
 * carry their CSS inline and load nothing (no script, no font, no image from the network).
 */

/** Escapes text for HTML element content and attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Formats integer fen as yuan with thousands separators, e.g. 123456789 → `1,234,567.89`, -5 → `-0.05`. */
export function yuan(fen: number): string {
  const neg = fen < 0;
  const a = Math.abs(fen);
  const int = Math.floor(a / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}${int}.${String(a % 100).padStart(2, '0')}`;
}

/**
 * A table cell: text, text with a CSS class (`n` right-aligns numbers), or markup the caller built from
 * escaped parts (`{ html }` — never pass data through it unescaped).
 */
export type Cell = string | number | { text: string | number; cls?: string } | { html: string };

/** Options of {@link table}. */
export interface TableOptions {
  /** Column indexes holding numbers (right-aligned, tabular figures). */
  numeric?: readonly number[];
  /** `data-key` of each body row (escaped), for readers and tests that look a row up. */
  keys?: readonly string[];
  /** A text per row shown in a second row under it, across all columns but the first (escaped). */
  detail?: readonly string[];
  /** Text of the single row shown when there are no rows. */
  empty?: string;
  caption?: string;
}

/** Renders a table; every header and cell is escaped. */
export function table(head: readonly string[], rows: readonly (readonly Cell[])[], o: TableOptions = {}): string {
  const num = new Set(o.numeric ?? []);
  const td = (c: Cell, i: number, tag: 'td' | 'th'): string => {
    const inner = typeof c === 'object' ? ('html' in c ? c.html : esc(c.text)) : esc(c);
    const cls = [num.has(i) ? 'n' : '', typeof c === 'object' && 'cls' in c ? (c.cls ?? '') : ''].filter(Boolean).join(' ');
    return `<${tag}${cls ? ` class="${esc(cls)}"` : ''}>${inner}</${tag}>`;
  };
  const body = rows.length
    ? rows
        .map((r, ri) => {
          const key = o.keys?.[ri] !== undefined ? ` data-key="${esc(o.keys[ri])}"` : '';
          const main = `<tr${o.detail ? ' class="case"' : ''}${key}>${r.map((c, i) => td(c, i, 'td')).join('')}</tr>`;
          return o.detail ? `${main}<tr class="why"><td></td><td colspan="${head.length - 1}">${esc(o.detail[ri] ?? '')}</td></tr>` : main;
        })
        .join('\n')
    : `<tr class="empty"><td colspan="${head.length}">${esc(o.empty ?? '—')}</td></tr>`;
  return `<table>${o.caption ? `<caption>${esc(o.caption)}</caption>` : ''}<thead><tr>${head.map((h, i) => td(h, i, 'th')).join('')}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

/** A status badge (`succeeded`, `failed`, ...). */
export function badge(status: string): string {
  return `<span class="badge ${esc(status)}">${esc(status)}</span>`;
}

/**
 * A chart figure: the inline SVG (trusted: rendered by charts.ts) with an escaped caption. The figure never
 * grows beyond the width the chart was drawn for (`width`, CSS pixels), so its text keeps its size.
 */
export function figure(svg: string, caption: string, width: number): string {
  return `<figure class="chart" role="img" aria-label="${esc(caption)}" style="max-width:${Math.round(width)}px">${svg}<figcaption>${esc(caption)}</figcaption></figure>`;
}

/** Drawing widths (CSS pixels) of a chart spanning the page and of one beside a table. */
export const FULL_WIDTH = 1120;
export const HALF_WIDTH = 550;

const CSS = `
:root{--ink:#1d2329;--muted:#5b6670;--line:#dde2e6;--bg:#f6f8f9;--accent:#2f5d8a;--warn:#a33b20}
*{box-sizing:border-box}
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",system-ui,sans-serif;margin:0;color:var(--ink);line-height:1.45;background:#fff}
main{max-width:1180px;margin:0 auto;padding:1.5rem 1.25rem 3rem}
h1{font-size:1.45rem;margin:.2rem 0} h2{font-size:1.12rem;margin:2.2rem 0 .6rem;padding-bottom:.25rem;border-bottom:2px solid var(--line)}
h2 small,h1 small{font-weight:normal;color:var(--muted);font-size:.8em;margin-left:.4rem}
.meta{color:var(--muted);font-size:.88rem;margin:.2rem 0} a{color:var(--accent)}
.alert{border:1px solid var(--warn);background:#fbeee9;color:var(--warn);padding:.6rem .9rem;border-radius:6px;margin:1rem 0}
.cards{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:.7rem;margin:1.1rem 0}
@media (max-width:700px){.cards{grid-template-columns:repeat(2,minmax(0,1fr))}}
.card{border:1px solid var(--line);border-radius:8px;padding:.55rem .8rem;background:var(--bg)}
.card span{display:block;font-size:.8rem;color:var(--muted)} .card b{display:block;font-size:1.35rem;font-variant-numeric:tabular-nums;margin-top:.1rem}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1.2rem;align-items:start}
@media (max-width:900px){.grid2{grid-template-columns:minmax(0,1fr)}}
figure.chart{margin:.3rem 0;padding:0} figure.chart svg{display:block;width:100%;height:auto;max-width:100%}
figcaption{font-size:.8rem;color:var(--muted);text-align:center}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.86rem;margin:.3rem 0}
caption{text-align:left;font-weight:600;padding:.2rem 0}
th,td{border-bottom:1px solid var(--line);padding:.28rem .5rem;text-align:left;vertical-align:top}
thead th{background:var(--bg);font-weight:600;position:sticky;top:0}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} th.n{white-space:normal}
td.why{color:#3a444d;font-size:.8rem} tr.case td{border-bottom:none} tr.why td{padding-top:0;color:#3a444d;font-size:.8rem}
.nowrap{white-space:nowrap} td.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.8rem;white-space:nowrap}
tr.empty td{color:var(--muted);font-style:italic} td.total{font-weight:600}
.note{color:var(--muted);font-size:.82rem}
.badge{display:inline-block;padding:0 .4rem;border-radius:4px;font-size:.78rem;background:var(--bg);border:1px solid var(--line)}
.badge.failed,.badge.abandoned{color:var(--warn);border-color:var(--warn)} .badge.succeeded{color:#2d6a2d;border-color:#7fb27f}
@page{size:A4 landscape;margin:12mm}
@media print{
  main{max-width:none;padding:0} body{font-size:10pt} table{font-size:8.5pt}
  h2{break-after:avoid} figure,.card,tr{break-inside:avoid} .grid2{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}
  thead th{position:static} .scroll{overflow:visible} a{color:inherit;text-decoration:none}
}
`;

/** A complete self-contained page (inline CSS, no script). `body` must already be escaped HTML. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="fundguard">
<title>${esc(title)}</title>
<style>${CSS}</style></head>
<body><main>
${body}
</main></body></html>
`;
}
