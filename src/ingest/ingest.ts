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
import { formatFen } from '../calendar/values.ts';
import { fingerprintFile } from './encoding.ts';
import { IngestError } from './errors.ts';
import { classifyRow, headerKey, matchHeader } from './layout.ts';
import { buildVocabulary, parseDeathRow, parsePaymentRow } from './parse-rows.ts';
import { readCsv, type SourceRow } from './read-csv.ts';
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
  format: 'csv' | 'xlsx';
}

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
        if (ext !== '.csv' && ext !== '.xlsx' && ext !== '.txt') continue;
        if (e.name.startsWith('.') || e.name.startsWith('~$')) continue;
        const parts = rel.split('/');
        if (parts[0] === 'payments') out.push({ abs, rel, kind: 'payments', source: 'payments', format: ext === '.xlsx' ? 'xlsx' : 'csv' });
        else if (parts[0] === 'deaths' && parts.length >= 3) out.push({ abs, rel, kind: 'deaths', source: parts[1]!, format: ext === '.xlsx' ? 'xlsx' : 'csv' });
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
    if (known) {
      reports.push({
        path: f.rel, kind: f.kind, source: f.source, status: 'known', error: known.status === 'rejected' ? known.error : null,
        rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, rowsSkipped: 0, rowsRepeated: 0,
      });
      opts.onFile?.(reports.at(-1)!, reports.length, inbox.length);
      continue;
    }
    const meta: FileMeta = {
      path: f.rel, sha256: fp!.sha256, size: stat.size, mtimeMs, kind: f.kind, source: f.source, format: f.format, layoutKey: lk, runId: opts.runId,
    };
    const started = Date.now();
    let result: FileResult;
    try {
      ({ result } = await store.loadFile(meta, (loader) => loadRows(f, fp!.encoding, loader, opts)));
    } catch (e) {
      if (!(e instanceof IngestError)) throw e;
      // The whole file is refused: record it (no rows) so the run reports it, and go on.
      ({ result } = await store.loadFile(meta, async () => ({
        status: 'rejected', encoding: fp!.encoding, errorCode: e.code, error: e.message, headerLine: null,
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

async function loadRows(f: InboxFile, encoding: 'utf-8' | 'utf-8-bom' | 'gb18030', loader: FileLoader, opts: IngestOptions): Promise<FileResult> {
  const { settings } = opts;
  if (f.format === 'xlsx') throw new IngestError('FORMAT_UNSUPPORTED', `${f.rel}: XLSX extracts are not supported yet; export it as CSV`, f.rel);
  const vocab = buildVocabulary(settings.schemes, settings.items);
  const aliases = f.kind === 'payments' ? settings.headerAliases.payments : settings.headerAliases.deaths;
  const required = (f.kind === 'payments' ? settings.requiredFields.payments : settings.requiredFields.deaths) as readonly string[];
  const counts = { rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, rowsSkipped: 0, rowsRepeated: 0 };
  let columns: Partial<Record<string, number>> | null = null;
  let headerKeys: string[] = [];
  let headerLine: number | null = null;
  let firstNonEmpty: string[] | null = null;
  let pendingPayments: { row: NewPayment; raw: string }[] = [];
  let pendingDeaths: NewDeathRecord[] = [];
  let pendingRejects: NewReject[] = [];

  const flush = async (): Promise<void> => {
    if (pendingPayments.length) {
      const outcomes = await loader.addPayments(pendingPayments.map((p) => p.row));
      outcomes.forEach((o, i) => {
        const p = pendingPayments[i]!;
        if (o.status === 'new') counts.rowsAccepted++;
        else if (o.status === 'repeat') {
          counts.rowsAccepted++;
          counts.rowsRepeated++;
        } else {
          counts.rowsRejected++;
          pendingRejects.push({
            line: p.row.line, code: 'KEY_CONFLICT', raw: p.raw,
            reason: `same payment (batch ${p.row.batch}, scheme ${p.row.scheme}, item ${p.row.item}, period ${p.row.period}) as ${o.file} line ${o.line} but amount ${formatFen(p.row.amount_fen)} ≠ ${formatFen(o.amountFen)}; the first is kept`,
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

  const rows: AsyncIterable<SourceRow> = readCsv(f.abs, encoding, f.rel);
  for await (const r of rows) {
    counts.rowsRead++;
    if (r.error) {
      counts.rowsRejected++;
      pendingRejects.push({ line: r.line, code: r.error.code, reason: r.error.reason, raw: r.raw });
      continue;
    }
    if (columns === null) {
      const found = matchHeader(r.cells, aliases as Record<string, readonly string[]>, required);
      counts.rowsSkipped++;
      if (found) {
        columns = found;
        headerKeys = r.cells.map(headerKey);
        headerLine = r.line;
      } else {
        if (!firstNonEmpty && r.cells.some((c) => c.trim() !== '')) firstNonEmpty = r.cells;
        if (counts.rowsRead >= MAX_TITLE_ROWS) break;
      }
      continue;
    }
    const skip = classifyRow(r.cells, headerKeys);
    if (skip) {
      counts.rowsSkipped++;
      continue;
    }
    if (f.kind === 'payments') {
      const p = parsePaymentRow(r.cells, columns, r.line, vocab);
      if (p.ok) pendingPayments.push({ row: p.row, raw: r.raw });
      else {
        counts.rowsRejected++;
        pendingRejects.push({ line: r.line, code: p.code, reason: p.reason, raw: r.raw });
      }
    } else {
      const d = parseDeathRow(r.cells, columns, r.line, f.source, opts.asOf);
      if (d.ok) pendingDeaths.push(d.row);
      else {
        counts.rowsRejected++;
        pendingRejects.push({ line: r.line, code: d.code, reason: d.reason, raw: r.raw });
      }
    }
    if (pendingPayments.length + pendingDeaths.length + pendingRejects.length >= BATCH) await flush();
  }
  if (columns === null) {
    const found = (firstNonEmpty ?? []).map((c) => c.trim()).filter((c) => c !== '').slice(0, 20).join(', ');
    const need = required.join(', ');
    throw new IngestError(
      'HEADER_NOT_FOUND',
      `${f.rel}: no recognisable ${f.kind === 'payments' ? 'payment' : 'death-record'} header in the first ${MAX_TITLE_ROWS} rows (found: ${found || 'nothing'}; need columns for: ${need}); file rejected whole — add aliases under "headerAliases" in the settings file`,
      f.rel,
    );
  }
  await flush();
  pausePoint('ingest'); // crash tests: the file's rows are written but not committed
  return { status: 'ingested', encoding, errorCode: null, error: null, headerLine, ...counts };
}
