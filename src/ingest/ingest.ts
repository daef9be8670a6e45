/**
 * Ingest: every new extract under the inbox into the store, one file at a time and atomically.
 *
 * Inbox layout: `payments/` (benefit payments) and `deaths/<source>/` (death records; the folder name is
 * the death record source: `civil-affairs`, `public-security`, `health`, ...). Files are processed in
 * byte-wise order of their paths. A file already ingested (same path, size and modification time, or the
 * same sha256) is not read again. Every row is accepted, rejected (file, line, code, raw text) or skipped
 * (title, header, blank, summary, note): rows read = accepted + rejected + skipped (STYLE.md §7).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings.ts';
import type { FileLoader, FileMeta, FileResult, Store } from '../db/connection.ts';
import type { NewDeathRecord, NewPayment, NewReject } from '../db/schema.ts';
import { formatFen, parseAmountFen } from '../calendar/values.ts';
import { fingerprintFile, type TextEncoding } from './encoding.ts';
import { IngestError } from './errors.ts';
import { classifyRow, headerKey, mapHeader, matchHeader } from './layout.ts';
import { buildVocabulary, parseDeathRow, parsePaymentRow } from './parse-rows.ts';
import { readCsv } from './read-csv.ts';
import { readXlsx } from './read-xlsx.ts';
import type { SourceRow } from './source-row.ts';
import { pausePoint } from '../config/test-hooks.ts';

/** How one file of the inbox was handled in this run. */
export interface FileReport {
  path: string;
  kind: 'payments' | 'deaths';
  source: string;
  /** `ingested`, `rejected` (whole file), or `known` (ingested by an earlier run, not read again). */
  status: 'ingested' | 'rejected' | 'known';
  error: string | null;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  rowsSkipped: number;
  rowsRepeated: number;
}

/** A file found in the inbox. */
export interface InboxFile {
  abs: string;
  /** Path relative to the inbox, `/`-separated. */
  rel: string;
  kind: 'payments' | 'deaths';
  source: string;
  /** `xls` (old binary Excel) is listed so that it is reported (FORMAT_UNSUPPORTED), never silently ignored. */
  format: 'csv' | 'xlsx' | 'xls';
}

/** Extract formats by file extension (lower-case); other files are not extracts and are not listed. */
const FORMATS: Readonly<Record<string, InboxFile['format']>> = { '.csv': 'csv', '.txt': 'csv', '.xlsx': 'xlsx', '.xls': 'xls' };

/** Rows searched for the header row (title rows may sit above it), per sheet. */
const MAX_TITLE_ROWS = 50;
const BATCH = 2000;

/**
 * Lists the extracts of an inbox in byte-wise order of their relative paths.
 * @throws Error when the inbox does not exist or has neither `payments/` nor `deaths/`
 */
export function listInbox(inbox: string): InboxFile[] {
  if (!fs.existsSync(inbox) || !fs.statSync(inbox).isDirectory()) throw new Error(`inbox ${inbox} is not a directory`);
  const hasPayments = fs.existsSync(path.join(inbox, 'payments'));
  const hasDeaths = fs.existsSync(path.join(inbox, 'deaths'));
  if (!hasPayments && !hasDeaths) throw new Error(`inbox ${inbox} has neither a payments/ nor a deaths/ folder`);
  const out: InboxFile[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.isFile()) {
        const rel = path.relative(inbox, abs).split(path.sep).join('/');
        const ext = path.extname(e.name).toLowerCase();
        const format = FORMATS[ext];
        if (!format) continue;
        if (e.name.startsWith('.') || e.name.startsWith('~$')) continue;
        const parts = rel.split('/');
        if (parts[0] === 'payments') out.push({ abs, rel, kind: 'payments', source: 'payments', format });
        else if (parts[0] === 'deaths' && parts.length >= 3) out.push({ abs, rel, kind: 'deaths', source: parts[1]!, format });
      }
    }
  };
  if (hasPayments) walk(path.join(inbox, 'payments'));
  if (hasDeaths) walk(path.join(inbox, 'deaths'));
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)));
}

/** Fingerprint of the header aliases a layout was read with: a whole-file reject is retried when it changes. */
export function layoutKey(settings: Settings): string {
  return crypto.createHash('sha256').update(JSON.stringify(settings.headerAliases)).digest('hex').slice(0, 16);
}

/** Options of {@link ingestInbox}. */
export interface IngestOptions {
  store: Store;
  inbox: string;
  settings: Settings;
  runId: number;
  /** Business date `YYYY-MM-DD` (death dates after it are rejected). */
  asOf: string;
  logger: Logger;
  /** When aborted (SIGTERM), ingest stops after the file in progress is committed. */
  signal?: AbortSignal;
  /** Called after each file (progress display). */
  onFile?: (report: FileReport, index: number, total: number) => void;
}

/**
 * Ingests every new file of the inbox. One file failing (unreadable, unknown layout, bad encoding) is
 * recorded as a rejected file; the others go on.
 * @returns one report per file found, in processing order
 */
export async function ingestInbox(opts: IngestOptions): Promise<FileReport[]> {
  const { store, settings, logger } = opts;
  const lk = layoutKey(settings);
  const reports: FileReport[] = [];
  const inbox = listInbox(opts.inbox);
  for (const f of inbox) {
    if (opts.signal?.aborted) break;
    const stat = fs.statSync(f.abs);
    const mtimeMs = Math.trunc(stat.mtimeMs);
    const byStat = await store.db
      .selectFrom('source_file')
      .selectAll()
      .where('path', '=', f.rel)
      .where('size', '=', stat.size)
      .where('mtime_ms', '=', mtimeMs)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    let known = byStat && (byStat.status === 'ingested' || byStat.layout_key === lk) ? byStat : undefined;
    let fp: Awaited<ReturnType<typeof fingerprintFile>> | undefined;
    if (!known) {
      fp = await fingerprintFile(f.abs);
      const byHash = await store.db.selectFrom('source_file').selectAll().where('sha256', '=', fp.sha256).orderBy('id', 'desc').execute();
      known = byHash.find((k) => k.status === 'ingested' || k.layout_key === lk);
    }
    // A death file that rejected dates of death as after an earlier business date is read again (replacing
    // its first reading) once the business date reaches them: no death is lost to a run dated too early.
    let replaces: number | undefined;
    if (known && known.status === 'ingested' && known.recheck_from && known.recheck_from <= opts.asOf) {
      replaces = Number(known.id);
      known = undefined;
      fp ??= await fingerprintFile(f.abs);
    }
    if (known) {
      reports.push({
        path: f.rel, kind: f.kind, source: f.source, status: 'known', error: known.status === 'rejected' ? known.error : null,
        rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, rowsSkipped: 0, rowsRepeated: 0,
      });
      opts.onFile?.(reports.at(-1)!, reports.length, inbox.length);
      continue;
    }
    const meta: FileMeta = {
      path: f.rel, sha256: fp!.sha256, size: stat.size, mtimeMs, kind: f.kind, source: f.source, format: f.format, layoutKey: lk, runId: opts.runId, replaces,
    };
    const started = Date.now();
    let result: FileResult;
    try {
      ({ result } = await store.loadFile(meta, (loader) => loadRows(f, fp!.encoding, loader, opts)));
    } catch (e) {
      if (!(e instanceof IngestError)) throw e;
      // The whole file is refused: record it (no rows) so the run reports it, and go on.
      ({ result } = await store.loadFile(meta, async () => ({
        status: 'rejected', encoding: f.format === 'csv' ? fp!.encoding : null, errorCode: e.code, error: e.message, headerLine: null,
        rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, rowsSkipped: 0, rowsRepeated: 0,
      })));
      logger.warn({ file: f.rel, code: e.code }, e.message);
    }
    reports.push({ path: f.rel, kind: f.kind, source: f.source, status: result.status, error: result.error, ...pickCounts(result) });
    opts.onFile?.(reports.at(-1)!, reports.length, inbox.length);
    logger.info({ file: f.rel, status: result.status, ...pickCounts(result), ms: Date.now() - started }, `ingested ${f.rel}`);
  }
  return reports;
}

function pickCounts(r: FileResult): Pick<FileReport, 'rowsRead' | 'rowsAccepted' | 'rowsRejected' | 'rowsSkipped' | 'rowsRepeated'> {
  return { rowsRead: r.rowsRead, rowsAccepted: r.rowsAccepted, rowsRejected: r.rowsRejected, rowsSkipped: r.rowsSkipped, rowsRepeated: r.rowsRepeated };
}

/** The row's place for a reason text: XLSX rows of a second or later sheet name their sheet and row. */
function placeSuffix(r: SourceRow): string {
  return r.sheet && r.sheet.index > 1 ? ` [sheet ${r.sheet.index} "${r.sheet.name}", row ${r.sheet.row}]` : '';
}

function sheetLabel(r: SourceRow | null): string {
  return r?.sheet ? ` of sheet ${r.sheet.index} "${r.sheet.name}"` : '';
}

/** One line of cell texts for a message: non-empty cells, whitespace folded, at most 20 of 40 characters. */
function cellList(cells: readonly string[]): string {
  return cells
    .map((c) => c.replace(/\s+/g, ' ').trim())
    .filter((c) => c !== '')
    .slice(0, 20)
    .map((c) => (c.length > 40 ? c.slice(0, 39) + '…' : c))
    .join(', ');
}

/**
 * Reads one file's rows into the loader (inside the file's transaction) and returns its accounting.
 *
 * Layout (DOMAIN.md §2): each sheet (a CSV file is one sheet) must show a recognisable header in its first
 * {@link MAX_TITLE_ROWS} rows; the rows above it are title rows (skipped). A sheet holding rows but no
 * header rejects the whole file (HEADER_NOT_FOUND): its rows could be neither read nor safely ignored.
 * After the header, blank rows, repeated headers, summary rows and notes are skipped; a summary row's
 * total is checked (see {@link SummaryCheck}).
 * @throws IngestError for a whole-file reject (HEADER_NOT_FOUND, ENCODING_INVALID, FILE_UNREADABLE,
 *   FORMAT_UNSUPPORTED): the caller rolls the file back and records it as rejected
 */
async function loadRows(f: InboxFile, encoding: TextEncoding, loader: FileLoader, opts: IngestOptions): Promise<FileResult> {
  const { settings } = opts;
  if (f.format === 'xls') {
    throw new IngestError('FORMAT_UNSUPPORTED', `${f.rel}: old binary Excel (.xls) workbooks are not read; save it as .xlsx or CSV`, f.rel);
  }
  const vocab = buildVocabulary(settings.schemes, settings.items);
  const aliases = (f.kind === 'payments' ? settings.headerAliases.payments : settings.headerAliases.deaths) as Record<string, readonly string[]>;
  let required = (f.kind === 'payments' ? settings.requiredFields.payments : settings.requiredFields.deaths) as readonly string[];
  // Without the reason a household-registration cancellation cannot be told from a death (DOMAIN.md §2).
  if (f.kind === 'deaths' && f.source === 'public-security' && !required.includes('cancel_reason')) required = [...required, 'cancel_reason'];
  const counts = { rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, rowsSkipped: 0, rowsRepeated: 0 };
  let recheckFrom: string | null = null; // earliest DEATH_DATE_FUTURE date of death
  let columns: Partial<Record<string, number>> | null = null;
  let headerKeys: string[] = [];
  let headerLine: number | null = null;
  // Header search of the current sheet.
  let sheet = 0;
  let searching = true;
  let sheetRows = 0;
  let sheetHasContent = false;
  let firstRowOfSheet: SourceRow | null = null;
  let likeliest: { row: SourceRow; fields: number; filled: number } | null = null;
  const summary = new SummaryCheck(1);
  let pendingPayments: { row: NewPayment; raw: string; place: string }[] = [];
  let pendingDeaths: NewDeathRecord[] = [];
  let pendingRejects: NewReject[] = [];

  const flush = async (): Promise<void> => {
    if (pendingPayments.length) {
      const outcomes = await loader.addPayments(pendingPayments.map((p) => p.row));
      outcomes.forEach((o, i) => {
        const p = pendingPayments[i]!;
        if (o.status === 'new' || o.status === 'repeat') {
          counts.rowsAccepted++;
          if (o.status === 'repeat') counts.rowsRepeated++;
          summary.accepted(p.row.amount_fen);
        } else {
          counts.rowsRejected++;
          summary.rejected(p.row.amount_fen);
          pendingRejects.push({
            line: p.row.line, code: 'KEY_CONFLICT', raw: p.raw,
            reason: `line ${p.row.line} of ${f.rel}${p.place} has the payment key (batch ${p.row.batch}, scheme ${p.row.scheme}, item ${p.row.item}, period ${p.row.period}) of ${o.file} line ${o.line} but amount ${formatFen(p.row.amount_fen)} instead of ${formatFen(o.amountFen)}; the first (${o.file} line ${o.line}) is kept, this row is rejected`,
          });
        }
      });
      pendingPayments = [];
    }
    if (pendingDeaths.length) {
      await loader.addDeathRecords(pendingDeaths);
      counts.rowsAccepted += pendingDeaths.length;
      pendingDeaths = [];
    }
    if (pendingRejects.length) {
      await loader.addRejects(pendingRejects);
      pendingRejects = [];
    }
  };

  const rejectRow = (r: SourceRow, code: string, reason: string): void => {
    counts.rowsRejected++;
    pendingRejects.push({ line: r.line, code, reason: reason + placeSuffix(r), raw: r.raw });
  };

  const noHeader = (r: SourceRow | null): IngestError => {
    const what = f.kind === 'payments' ? 'payment' : 'death-record';
    const best = likeliest ?? (r ? { row: r, fields: 0, filled: 0 } : null);
    let found = 'nothing';
    let missing = required.join(', ');
    if (best) {
      const cols = mapHeader(best.row.cells, aliases);
      missing = required.filter((q) => cols[q] === undefined).map((q) => `${q} (${(aliases[q] ?? []).slice(0, 3).join(' / ')})`).join(', ');
      found = `${best.row.sheet ? `row ${best.row.sheet.row}` : `line ${best.row.line}`}: ${cellList(best.row.cells) || 'nothing'}`;
    }
    return new IngestError(
      'HEADER_NOT_FOUND',
      `${f.rel}: no recognisable ${what} header in the first ${MAX_TITLE_ROWS} rows${sheetLabel(r)} (headers found, ${found}; not found: ${missing}); file rejected whole — add header aliases under "headerAliases" in the settings file`,
      f.rel,
    );
  };

  const endSheet = (): void => {
    // A sheet that held rows but never showed a header (or a file with no header at all) is refused.
    if (searching && (sheetHasContent || columns === null)) throw noHeader(firstRowOfSheet);
  };

  const rows: AsyncIterable<SourceRow> = f.format === 'xlsx' ? readXlsx(f.abs, f.rel) : readCsv(f.abs, encoding, f.rel);
  for await (const r of rows) {
    const rowSheet = r.sheet?.index ?? 1;
    if (rowSheet !== sheet) {
      if (sheet !== 0) endSheet();
      sheet = rowSheet;
      searching = true;
      sheetRows = 0;
      sheetHasContent = false;
      firstRowOfSheet = r;
      likeliest = null;
      await flush();
      summary.startSection(r.line);
    }
    counts.rowsRead++;
    sheetRows++;
    if (r.error) {
      sheetHasContent = true;
      rejectRow(r, r.error.code, r.error.reason);
      continue;
    }
    if (searching || columns === null) {
      counts.rowsSkipped++;
      const found = matchHeader(r.cells, aliases, required);
      if (found) {
        columns = found;
        headerKeys = r.cells.map(headerKey);
        headerLine ??= r.line;
        searching = false;
        summary.startSection(r.line + 1);
        continue;
      }
      const filled = r.cells.filter((c) => c.trim() !== '').length;
      if (filled > 0) {
        sheetHasContent = true;
        const fields = Object.keys(mapHeader(r.cells, aliases)).length;
        if (!likeliest || fields > likeliest.fields || (fields === likeliest.fields && filled > likeliest.filled)) likeliest = { row: r, fields, filled };
      }
      if (sheetRows >= MAX_TITLE_ROWS) throw noHeader(firstRowOfSheet);
      continue;
    }
    const skip = classifyRow(r.cells, headerKeys);
    if (skip) {
      counts.rowsSkipped++;
      if (skip === 'summary' && f.kind === 'payments' && columns.amount !== undefined) {
        await flush();
        const mismatch = summary.check(r.cells[columns.amount] ?? '', r.line);
        if (mismatch) pendingRejects.push({ line: r.line, code: 'SUMMARY_MISMATCH', reason: mismatch + placeSuffix(r), raw: r.raw });
      }
      if (skip === 'summary') summary.startSection(r.line + 1);
      continue;
    }
    if (f.kind === 'payments') {
      const p = parsePaymentRow(r.cells, columns, r.line, vocab, r.numericCells);
      if (p.ok) pendingPayments.push({ row: p.row, raw: r.raw, place: placeSuffix(r) });
      else {
        rejectRow(r, p.code, p.reason);
        const amount = columns.amount === undefined ? null : parseAmountFen(r.cells[columns.amount] ?? '');
        if (amount?.ok) summary.rejected(amount.value);
      }
    } else {
      const d = parseDeathRow(r.cells, columns, r.line, f.source, opts.asOf, r.numericCells);
      if (d.ok) pendingDeaths.push(d.row);
      else {
        rejectRow(r, d.code, d.reason);
        if (d.deathDate && (recheckFrom === null || d.deathDate < recheckFrom)) recheckFrom = d.deathDate;
      }
    }
    if (pendingPayments.length + pendingDeaths.length + pendingRejects.length >= BATCH) await flush();
  }
  if (sheet === 0) throw noHeader(null);
  endSheet();
  await flush();
  pausePoint('ingest'); // crash tests: the file's rows are written but not committed
  return { status: 'ingested', encoding: f.format === 'csv' ? encoding : null, errorCode: null, error: null, headerLine, ...counts, recheckFrom };
}

/**
 * The check of a summary row's total (合计 / 总计 / 小计 with a number in the amount column) against the
 * rows of the file: the total must equal the sum of the accepted amounts either since the previous summary
 * row (or the header, or the start of the sheet) — a section total, such as a 小计 — or of the whole file
 * so far — a grand total. Accepted amounts include reversals and repeats of an already stored payment (they
 * are rows of this file). When it equals neither, the mismatch is recorded as a `SUMMARY_MISMATCH` entry
 * (line and raw text of the summary row) in the reject table; the summary row itself stays counted as
 * skipped, so rows read = accepted + rejected + skipped still holds (README "Summary rows").
 */
export class SummaryCheck {
  private fileFen = 0;
  private fileRows = 0;
  private sectionFen = 0;
  private sectionRows = 0;
  private sectionRejectedFen = 0;
  private sectionRejectedRows = 0;

  constructor(private sectionStart: number) {}

  /** A new section starts at `line` (after a header or a summary row, or at a new sheet). */
  startSection(line: number): void {
    this.sectionStart = line;
    this.sectionFen = 0;
    this.sectionRows = 0;
    this.sectionRejectedFen = 0;
    this.sectionRejectedRows = 0;
  }

  /** A data row was accepted with this amount (fen). */
  accepted(fen: number): void {
    this.fileFen += fen;
    this.fileRows++;
    this.sectionFen += fen;
    this.sectionRows++;
  }

  /** A data row with a readable amount (fen) was rejected: it explains part of a mismatch. */
  rejected(fen: number): void {
    this.sectionRejectedFen += fen;
    this.sectionRejectedRows++;
  }

  /**
   * Checks the total written in a summary row's amount cell.
   * @returns the mismatch reason, or null when the total matches or the cell holds no amount
   */
  check(amountCell: string, line: number): string | null {
    const total = parseAmountFen(amountCell);
    if (!total.ok) return null;
    if (total.value === this.sectionFen || total.value === this.fileFen) return null;
    const rejected = this.sectionRejectedRows
      ? `; ${this.sectionRejectedRows} rejected row(s) since line ${this.sectionStart} carry ${formatFen(this.sectionRejectedFen)}`
      : '';
    const sums =
      this.sectionRows === this.fileRows || this.sectionRows === 0
        ? `does not match ${formatFen(this.fileFen)}, the sum of the ${this.fileRows} accepted row(s) above it`
        : `matches neither ${formatFen(this.sectionFen)}, the sum of the ${this.sectionRows} accepted row(s) from line ${this.sectionStart}, nor ${formatFen(this.fileFen)}, the sum of all ${this.fileRows} accepted above it`;
    return `summary row total ${formatFen(total.value)} on line ${line} ${sums}${rejected}; the summary row is not ingested`;
  }
}
