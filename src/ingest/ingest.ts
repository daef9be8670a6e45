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
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { FileLoader, FileMeta, FileResult, Store } from '../db/connection.ts';
import type { NewPayment, NewReject } from '../db/schema.ts';
import { PAY, PAY_STRIDE, unpackPayment, type DuplicatePayment, type FirstLoad, type FirstLoadFixups, type PaymentNotNew } from '../db/store.ts';
import { formatFen, parseAmountFen } from '../calendar/values.ts';
import type { TextEncoding } from './encoding.ts';
import { IngestError } from './errors.ts';
import { parseFile, parseSettings, placeSuffix, vocabularyOf, type FileJob, type ParsedMessage, type ParseSettings, type SummaryEvent } from './file-parser.ts';
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
  /**
   * Receives cumulative sub-step times (ms): `ingest_read` (read + decode + split) and `ingest_parse` (layout +
   * parse + normalise), thread time of the reader thread; `ingest_insert` (writes, index rebuild and
   * duplicate resolution of a first load included), time of the writing (main) thread; and after a first
   * load `ingest_index`, the part of `ingest_insert` spent at its end (duplicates, index rebuild, commit).
   */
  timings?: Record<string, number>;
  /**
   * Read files in a worker thread while the main thread writes (default), or in the main thread (`false`;
   * also `FUNDGUARD_INGEST_THREADS=0`): the results are the same.
   */
  worker?: boolean;
  /** Use the first-load fast path when the store offers it and holds no payment yet (default true). */
  firstLoad?: boolean;
}

/** Per-batch summary figures of a file (a first load replays them once its duplicates are known). */
interface BatchLog {
  lastLine: number;
  accFen: number;
  accRows: number;
  rejFen: number;
  rejRows: number;
  events: SummaryEvent[];
}

/** A file written in this run through a first load, for the duplicate resolution at its end. */
interface FirstLoadFile {
  file: InboxFile;
  encoding: TextEncoding;
  report: FileReport;
  log: BatchLog[];
}

/**
 * Applies a batch's summary figures and boundaries to the check; returns the SUMMARY_MISMATCH rejects.
 * `accFen`/`accRows` are the batch's accepted payments (new or repeat), `rejFen`/`rejRows` its rejected
 * payments with a readable amount (parse rejects and KEY_CONFLICT).
 */
function summaryStep(summary: SummaryCheck, b: BatchLog): NewReject[] {
  const out: NewReject[] = [];
  summary.acceptedMany(b.accFen, b.accRows);
  summary.rejectedMany(b.rejFen, b.rejRows);
  for (const ev of b.events) {
    if (ev.kind === 'section') summary.startSection(ev.line);
    else {
      if (ev.cell !== null) {
        const mismatch = summary.check(ev.cell, ev.line);
        if (mismatch) out.push({ line: ev.line, code: 'SUMMARY_MISMATCH', reason: mismatch + ev.place, raw: ev.raw });
      }
      summary.startSection(ev.line + 1);
    }
  }
  return out;
}

/** The reason text of a KEY_CONFLICT reject (README "Reject codes"). */
function conflictReason(rel: string, line: number, place: string, key: { batch: string; scheme: string; item: string; period: string }, amountFen: number, first: { file: string; line: number; amountFen: number }): string {
  return `line ${line} of ${rel}${place} has the payment key (batch ${key.batch}, scheme ${key.scheme}, item ${key.item}, period ${key.period}) of ${first.file} line ${first.line} but amount ${formatFen(amountFen)} instead of ${formatFen(first.amountFen)}; the first (${first.file} line ${first.line}) is kept, this row is rejected`;
}

/** Source of reader messages: a worker thread, or the same reader in this thread. */
interface Reader {
  read(job: FileJob): void;
  skip(fid: number): void;
  /** One batch of file `fid` written: the reader may read further. */
  credit(fid: number): void;
  /** The next message of file `fid` (each reader sends its files' messages in order). */
  next(fid: number): Promise<ParsedMessage>;
  close(): Promise<void>;
}

/**
 * Worker threads reading files in turns (file i to worker i mod n): while the main thread writes one file,
 * the next ones are being read.
 */
function workerPool(ps: ParseSettings, n: number): Reader {
  const workers = Array.from({ length: n }, () => workerReader(ps));
  const owner = new Map<number, Reader>();
  let turn = 0;
  const of = (fid: number): Reader => {
    const w = owner.get(fid);
    if (!w) throw new Error(`ingest reader: file ${fid} was not queued`);
    return w;
  };
  return {
    read(job) {
      const w = workers[turn++ % n]!;
      owner.set(job.fid, w);
      w.read(job);
    },
    skip: (fid) => of(fid).skip(fid),
    credit: (fid) => of(fid).credit(fid),
    next: (fid) => of(fid).next(fid),
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}

/** Reader threads by default: on two cores, two readers and the writer keep both busy (issue 10 measurements). */
const READER_THREADS = 2;

/** Batches read ahead of the writer. */
const MAX_AHEAD = 32;

function messageQueue(): { push: (m: ParsedMessage) => void; fail: (e: Error) => void; next: () => Promise<ParsedMessage> } {
  const q: ParsedMessage[] = [];
  let waiting: { resolve: (m: ParsedMessage) => void; reject: (e: Error) => void } | null = null;
  let error: Error | null = null;
  return {
    push(m) {
      if (waiting) {
        const w = waiting;
        waiting = null;
        w.resolve(m);
      } else q.push(m);
    },
    fail(e) {
      error = e;
      if (waiting) {
        const w = waiting;
        waiting = null;
        w.reject(e);
      }
    },
    next() {
      if (q.length) return Promise.resolve(q.shift()!);
      if (error) return Promise.reject(error);
      return new Promise((resolve, reject) => (waiting = { resolve, reject }));
    },
  };
}

/** File URL of the bundled parse worker, defined by the bundled build (bin/bundle.js); undeclared in the sources. */
declare const FUNDGUARD_BUNDLED_PARSE_WORKER: string | undefined;

/**
 * The parse worker's module: under the bundled CLI its bundled twin, else a boot file that registers tsx
 * (a worker does not inherit the main thread's TypeScript loader) and loads parse-worker.ts.
 */
function parseWorkerUrl(): URL {
  return typeof FUNDGUARD_BUNDLED_PARSE_WORKER === 'string'
    ? new URL(FUNDGUARD_BUNDLED_PARSE_WORKER)
    : new URL('./parse-worker-boot.js', import.meta.url);
}

function workerReader(ps: ParseSettings): Reader {
  const worker = new Worker(parseWorkerUrl(), { workerData: { ps } });
  const q = messageQueue();
  let closing = false;
  worker.on('message', (m: ParsedMessage) => q.push(m));
  worker.on('error', (e) => q.fail(e));
  worker.on('exit', (code) => {
    if (!closing) q.fail(new Error(`the ingest worker thread exited (code ${code})`));
  });
  return {
    read: (job) => worker.postMessage({ t: 'file', job }),
    skip: (fid) => worker.postMessage({ t: 'skip', fid }),
    credit: () => worker.postMessage({ t: 'credit' }),
    next: () => q.next(),
    async close() {
      closing = true;
      await worker.terminate();
    },
  };
}

function inThreadReader(ps: ParseSettings): Reader {
  const vocab = vocabularyOf(ps);
  const q = messageQueue();
  const jobs: FileJob[] = [];
  const skipped = new Set<number>();
  let ahead = 0;
  let wake: (() => void) | null = null;
  let running = false;
  let closed = false;
  const emit = async (m: ParsedMessage): Promise<void> => {
    if (m.t === 'batch') {
      while (ahead >= MAX_AHEAD && !closed) await new Promise<void>((r) => (wake = r));
      ahead++;
    }
    if (!closed) q.push(m);
  };
  const drain = async (): Promise<void> => {
    if (running) return;
    running = true;
    while (jobs.length && !closed) {
      const job = jobs.shift()!;
      try {
        await parseFile(job, ps, vocab, emit, () => skipped.has(job.fid) || closed);
      } catch (e) {
        q.push({ t: 'crash', fid: job.fid, message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined });
      }
      q.push({ t: 'done', fid: job.fid });
    }
    running = false;
  };
  const wakeUp = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  return {
    read(job) {
      jobs.push(job);
      void drain();
    },
    skip: (fid) => skipped.add(fid),
    credit() {
      ahead--;
      wakeUp();
    },
    next: () => q.next(),
    async close() {
      closed = true;
      wakeUp();
    },
  };
}

/**
 * Ingests every new file of the inbox. One file failing (unreadable, unknown layout, bad encoding) is
 * recorded as a rejected file; the others go on.
 *
 * Files are read (fingerprint, decode, split, parse) by a worker thread, ahead of the main thread, which
 * writes them one at a time, each in its own transaction, in inbox order (issue 10). When the store holds
 * no payment yet and offers a first load (SQLite), the whole ingest is one transaction with each file a
 * savepoint, the payment indexes are dropped for the load and rebuilt at its end, and natural-key
 * duplicates are resolved set-based at the end exactly as the file-by-file path resolves them: first file,
 * then first line, wins; same amount → repeat (accepted, counted repeated); other amount → KEY_CONFLICT.
 * @returns one report per file found, in processing order
 */
export async function ingestInbox(opts: IngestOptions): Promise<FileReport[]> {
  const { store, settings, logger } = opts;
  const lk = layoutKey(settings);
  const reports: FileReport[] = [];
  const inbox = listInbox(opts.inbox);
  const timings = opts.timings ?? {};
  for (const k of ['ingest_read', 'ingest_parse', 'ingest_insert']) timings[k] ??= 0;

  // Which files are known by path, size and modification time (the same path appears once per inbox, so
  // this does not depend on the files ingested before it in this run).
  type Plan = { f: InboxFile; size: number; mtimeMs: number; known?: Awaited<ReturnType<typeof knownByStat>>; replaces?: number; fid: number };
  const knownByStat = async (f: InboxFile, size: number, mtimeMs: number) => {
    const byStat = await store.db
      .selectFrom('source_file')
      .selectAll()
      .where('path', '=', f.rel)
      .where('size', '=', size)
      .where('mtime_ms', '=', mtimeMs)
      .where('superseded_by', 'is', null)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    return byStat && (byStat.status === 'ingested' || byStat.layout_key === lk) ? byStat : undefined;
  };
  const plans: Plan[] = [];
  for (const [fid, f] of inbox.entries()) {
    const stat = fs.statSync(f.abs);
    const mtimeMs = Math.trunc(stat.mtimeMs);
    const p: Plan = { f, size: stat.size, mtimeMs, known: await knownByStat(f, stat.size, mtimeMs), fid };
    // A death file that rejected dates of death as after an earlier business date is read again (replacing
    // its first reading) once the business date reaches them: no death is lost to a run dated too early.
    if (p.known && p.known.status === 'ingested' && p.known.recheck_from && p.known.recheck_from <= opts.asOf) {
      p.replaces = Number(p.known.id);
      p.known = undefined;
    }
    plans.push(p);
  }
  const toRead = plans.filter((p) => !p.known);
  if (toRead.length === 0) {
    for (const p of plans) {
      if (opts.signal?.aborted) break;
      reports.push(knownReport(p.f, p.known!));
      opts.onFile?.(reports.at(-1)!, reports.length, inbox.length);
    }
    return reports;
  }

  const ps = parseSettings(settings, opts.asOf);
  const threads = opts.worker === false ? 0 : Math.max(0, Math.trunc(Number(process.env.FUNDGUARD_INGEST_THREADS ?? READER_THREADS)) || 0);
  const reader = threads === 0 ? inThreadReader(ps) : workerPool(ps, Math.min(threads, toRead.length));
  for (const p of toRead) reader.read({ fid: p.fid, abs: p.f.abs, rel: p.f.rel, kind: p.f.kind, source: p.f.source, format: p.f.format });

  let first: FirstLoad | null = null;
  const firstFiles = new Map<number, FirstLoadFile>();
  try {
    if (opts.firstLoad !== false && store.beginFirstLoad && toRead.some((p) => p.f.kind === 'payments')) {
      const t = performance.now();
      first = await store.beginFirstLoad();
      timings.ingest_insert! += performance.now() - t;
    }
    /** The next message of file `fid` (the reader sends files in order). */
    const next = async (fid: number): Promise<ParsedMessage> => {
      const m = await reader.next(fid);
      if (m.fid !== fid) throw new Error(`ingest reader out of order: message for file ${m.fid} while writing file ${fid}`);
      if (m.t === 'crash') throw Object.assign(new Error(m.message), { stack: m.stack });
      return m;
    };
    /** Drops the rest of a file's messages (up to its `done`). */
    const drainFile = async (fid: number): Promise<void> => {
      for (;;) {
        const m = await next(fid);
        if (m.t === 'batch') reader.credit(fid);
        if (m.t === 'done') return;
      }
    };

    for (const p of plans) {
      // Back to the event loop once per file: while the readers' messages are queued, the loop below runs on
      // promises alone and a SIGTERM would not be dispatched (nor the signal aborted) until the step ended.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (opts.signal?.aborted) break;
      const { f } = p;
      let known = p.known;
      if (known) {
        reports.push(knownReport(f, known));
        opts.onFile?.(reports.at(-1)!, reports.length, inbox.length);
        continue;
      }
      const fpm = await next(p.fid);
      if (fpm.t !== 'fp') throw new Error(`ingest reader: expected the fingerprint of ${f.rel}, got ${fpm.t}`);
      const fp = fpm.fp;
      if (p.replaces === undefined) {
        const byHash = await store.db.selectFrom('source_file').selectAll().where('sha256', '=', fp.sha256).where('superseded_by', 'is', null).orderBy('id', 'desc').execute();
        known = byHash.find((k) => k.status === 'ingested' || k.layout_key === lk);
      }
      if (known) {
        reader.skip(p.fid);
        await drainFile(p.fid);
        reports.push(knownReport(f, known));
        opts.onFile?.(reports.at(-1)!, reports.length, inbox.length);
        continue;
      }
      const meta: FileMeta = {
        path: f.rel, sha256: fp.sha256, size: p.size, mtimeMs: p.mtimeMs, kind: f.kind, source: f.source, format: f.format, layoutKey: lk, runId: opts.runId, replaces: p.replaces,
      };
      const started = Date.now();
      let result: FileResult;
      let fileId: number;
      const log: BatchLog[] = [];
      try {
        ({ result, fileId } = await store.loadFile(meta, (loader) => writeRows(f, p.fid, fp.encoding, loader, () => next(p.fid), reader, timings, log)));
      } catch (e) {
        if (!(e instanceof IngestError)) throw e;
        await drainFile(p.fid);
        // The whole file is refused: record it (no rows) so the run reports it, and go on.
        ({ result, fileId } = await store.loadFile(meta, async () => ({
          status: 'rejected', encoding: f.format === 'csv' ? fp.encoding : null, errorCode: e.code, error: e.message, headerLine: null,
          rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, rowsSkipped: 0, rowsRepeated: 0,
        })));
        logger.warn({ file: f.rel, code: e.code }, e.message);
      }
      if (result.status === 'ingested') await drainFile(p.fid);
      reports.push({ path: f.rel, kind: f.kind, source: f.source, status: result.status, error: result.error, ...pickCounts(result) });
      if (first && f.kind === 'payments' && result.status === 'ingested') firstFiles.set(fileId, { file: f, encoding: fp.encoding, report: reports.at(-1)!, log });
      opts.onFile?.(reports.at(-1)!, reports.length, inbox.length);
      logger.info({ file: f.rel, status: result.status, ...pickCounts(result), ms: Date.now() - started }, `ingested ${f.rel}`);
    }
    await reader.close();
    if (first) {
      const t = performance.now();
      const fl = first;
      first = null;
      await fl.finish((dups) => resolveDuplicates(dups, firstFiles));
      const ms = performance.now() - t;
      timings.ingest_insert! += ms;
      timings.ingest_index = Math.round(ms);
      logger.info({ step: 'ingest', ms: Math.round(ms) }, 'first load: duplicates resolved, payment indexes rebuilt, committed');
    }
  } catch (e) {
    await reader.close();
    if (first) await first.abort();
    throw e;
  }
  for (const k of ['ingest_read', 'ingest_parse', 'ingest_insert']) timings[k] = Math.round(timings[k]!);
  return reports;
}

function knownReport(f: InboxFile, known: { status: string; error: string | null }): FileReport {
  return {
    path: f.rel, kind: f.kind, source: f.source, status: 'known', error: known.status === 'rejected' ? known.error : null,
    rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, rowsSkipped: 0, rowsRepeated: 0,
  };
}

function pickCounts(r: FileResult): Pick<FileReport, 'rowsRead' | 'rowsAccepted' | 'rowsRejected' | 'rowsSkipped' | 'rowsRepeated'> {
  return { rowsRead: r.rowsRead, rowsAccepted: r.rowsAccepted, rowsRejected: r.rowsRejected, rowsSkipped: r.rowsSkipped, rowsRepeated: r.rowsRepeated };
}

/**
 * Writes one file's batches (inside the file's transaction) and returns its accounting: the reader's counts
 * plus the payments' outcomes (new, repeat, KEY_CONFLICT), with the summary-row check run over the outcomes.
 * @throws IngestError for a whole-file reject found by the reader (the caller rolls the file back)
 */
async function writeRows(f: InboxFile, fid: number, encoding: TextEncoding, loader: FileLoader, next: () => Promise<ParsedMessage>, reader: Reader, timings: Record<string, number>, log: BatchLog[]): Promise<FileResult> {
  let accepted = 0;
  let rejected = 0;
  let repeated = 0;
  const summary = new SummaryCheck(1);
  const conflicts: Conflict[] = [];
  for (;;) {
    const m = await next();
    if (m.t === 'fail') throw new IngestError(m.code, m.message, f.rel);
    if (m.t === 'end') {
      timings.ingest_read! += m.readMs;
      timings.ingest_parse! += m.parseMs;
      if (conflicts.length) {
        const t = performance.now();
        await loader.addRejects(await conflictRejects(f, encoding, conflicts));
        rejected += conflicts.length;
        timings.ingest_insert! += performance.now() - t;
      }
      pausePoint('ingest'); // crash tests: the file's rows are written but not committed
      return {
        status: 'ingested', encoding: m.encoding, errorCode: null, error: null, headerLine: m.headerLine,
        rowsRead: m.rowsRead, rowsAccepted: accepted + m.deathsAccepted, rowsRejected: m.rowsRejected + rejected, rowsSkipped: m.rowsSkipped, rowsRepeated: repeated,
        recheckFrom: m.recheckFrom,
      };
    }
    if (m.t !== 'batch') throw new Error(`ingest reader: unexpected ${m.t} message while writing ${f.rel}`);
    const t = performance.now();
    const rejects = m.rejects;
    const b: BatchLog = { lastLine: m.lastLine, accFen: 0, accRows: 0, rejFen: m.rejFen, rejRows: m.rejRows, events: m.events };
    const n = m.payRows;
    if (n) {
      const v = m.pay.split(m.sep);
      const notNew = loader.addPaymentsPacked ? await loader.addPaymentsPacked(v, n) : await addUnpacked(loader, v, n);
      let fen = 0;
      for (let i = 0, o = PAY.amount_fen; i < n; i++, o += PAY_STRIDE) fen += +v[o]!;
      b.accFen = fen;
      b.accRows = n;
      for (const { index, outcome: o } of notNew) {
        if (o.status === 'repeat') {
          repeated++;
          continue;
        }
        const at = index * PAY_STRIDE;
        const amount = +v[at + PAY.amount_fen]!;
        b.accFen -= amount;
        b.accRows--;
        b.rejFen += amount;
        b.rejRows++;
        conflicts.push({
          line: +v[at + PAY.line]!, amountFen: amount, batch: v[at + PAY.batch]!, scheme: v[at + PAY.scheme]!, item: v[at + PAY.item]!, period: v[at + PAY.period]!,
          firstPath: o.file, firstLine: o.line, firstAmountFen: o.amountFen,
        });
      }
      accepted += b.accRows;
    }
    if (m.deaths.length) await loader.addDeathRecords(m.deaths);
    if (f.kind === 'payments') {
      rejects.push(...summaryStep(summary, b));
      log.push(b);
    }
    if (rejects.length) await loader.addRejects(rejects);
    timings.ingest_insert! += performance.now() - t;
    reader.credit(fid);
  }
}

/** The object path of {@link FileLoader.addPayments} for a loader without the packed one (PostgreSQL). */
async function addUnpacked(loader: FileLoader, v: readonly string[], n: number): Promise<PaymentNotNew[]> {
  const rows: NewPayment[] = new Array(n);
  for (let i = 0; i < n; i++) rows[i] = unpackPayment(v, i);
  const outcomes = await loader.addPayments(rows);
  const out: PaymentNotNew[] = [];
  outcomes.forEach((o, index) => {
    if (o.status !== 'new') out.push({ index, outcome: o });
  });
  return out;
}

/** A payment row whose natural key an earlier stored row holds with another amount. */
type Conflict = Pick<DuplicatePayment, 'line' | 'amountFen' | 'batch' | 'scheme' | 'item' | 'period' | 'firstPath' | 'firstLine' | 'firstAmountFen'>;

/**
 * The KEY_CONFLICT rejects of a file's conflicting rows, in line order. The raw text of a row is not carried
 * with the parsed rows (it would double what the reader hands over), so the rows are read again — only for
 * a file that has a conflict, which is rare.
 */
async function conflictRejects(f: InboxFile, encoding: TextEncoding, conflicts: readonly Conflict[]): Promise<NewReject[]> {
  const wanted = new Set(conflicts.map((d) => d.line));
  const found = new Map<number, { raw: string; place: string }>();
  const rows: AsyncIterable<SourceRow> = f.format === 'xlsx' ? readXlsx(f.abs, f.rel) : readCsv(f.abs, encoding, f.rel);
  for await (const row of rows) if (wanted.has(row.line)) found.set(row.line, { raw: row.raw, place: placeSuffix(row) });
  return [...conflicts]
    .sort((a, b) => a.line - b.line)
    .map((d) => {
      const at = found.get(d.line);
      if (!at) throw new Error(`line ${d.line} of ${f.rel} not found when read again for its KEY_CONFLICT reject`);
      return { line: d.line, code: 'KEY_CONFLICT', raw: at.raw, reason: conflictReason(f.rel, d.line, at.place, d, d.amountFen, { file: d.firstPath, line: d.firstLine, amountFen: d.firstAmountFen }) };
    });
}

/**
 * Decides the natural-key duplicates of a first load the way the file-by-file path decides them when it
 * offers each row to the unique index: the first stored row (earliest file, then line) stays; a duplicate
 * with the same amount is a repeat (accepted, counted repeated), one with another amount a KEY_CONFLICT
 * reject (same reason text). A file whose accepted rows change this way has its summary checks replayed
 * over its batch figures, since a conflict moves an amount from the accepted to the rejected sums.
 */
async function resolveDuplicates(dups: DuplicatePayment[], files: Map<number, FirstLoadFile>): Promise<FirstLoadFixups> {
  const fix: FirstLoadFixups = { rejects: [], dropRejects: [], files: [] };
  const byFile = new Map<number, DuplicatePayment[]>();
  for (const d of dups) {
    const l = byFile.get(d.fileId);
    if (l) l.push(d);
    else byFile.set(d.fileId, [d]);
  }
  for (const [fileId, list] of byFile) {
    const st = files.get(fileId);
    if (!st) throw new Error(`first load: duplicate payment in file ${fileId}, which this run did not write`);
    const conflicts = list.filter((d) => d.amountFen !== d.firstAmountFen);
    const r = st.report;
    r.rowsRepeated += list.length - conflicts.length;
    r.rowsAccepted -= conflicts.length;
    r.rowsRejected += conflicts.length;
    fix.files.push({ id: fileId, rowsAccepted: r.rowsAccepted, rowsRejected: r.rowsRejected, rowsRepeated: r.rowsRepeated });
    if (conflicts.length === 0) continue;
    for (const r of await conflictRejects(st.file, st.encoding, conflicts)) fix.rejects.push({ ...r, file_id: fileId });
    if (st.log.some((b) => b.events.some((e) => e.kind === 'summary'))) {
      // Replay the summary checks with the conflicts moved from accepted to rejected.
      fix.dropRejects.push({ fileId, code: 'SUMMARY_MISMATCH' });
      const summary = new SummaryCheck(1);
      const sorted = conflicts.map((d) => ({ line: d.line, fen: d.amountFen })).sort((a, b) => a.line - b.line);
      let c = 0;
      for (const b of st.log) {
        let fen = 0;
        let rows = 0;
        while (c < sorted.length && sorted[c]!.line <= b.lastLine) {
          fen += sorted[c]!.fen;
          rows++;
          c++;
        }
        const replay: BatchLog = { ...b, accFen: b.accFen - fen, accRows: b.accRows - rows, rejFen: b.rejFen + fen, rejRows: b.rejRows + rows };
        for (const rj of summaryStep(summary, replay)) fix.rejects.push({ ...rj, file_id: fileId });
      }
    }
  }
  return fix;
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
    this.acceptedMany(fen, 1);
  }

  /** `rows` data rows were accepted with these amounts in total (fen). */
  acceptedMany(fen: number, rows: number): void {
    this.fileFen += fen;
    this.fileRows += rows;
    this.sectionFen += fen;
    this.sectionRows += rows;
  }

  /** A data row with a readable amount (fen) was rejected: it explains part of a mismatch. */
  rejected(fen: number): void {
    this.rejectedMany(fen, 1);
  }

  /** `rows` data rows with readable amounts were rejected, carrying these amounts in total (fen). */
  rejectedMany(fen: number, rows: number): void {
    this.sectionRejectedFen += fen;
    this.sectionRejectedRows += rows;
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
