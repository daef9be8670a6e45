/**
 * The reading half of ingest (issue 10): one file's bytes → decoded, split, laid out and parsed rows, packed
 * in ordered batches for the writing half (src/ingest/ingest.ts), which runs on the main thread while this
 * runs in a worker thread (src/ingest/parse-worker.ts) or, for tests, in-process.
 *
 * Everything that does not depend on the store happens here: the fingerprint (sha256, encoding), the header
 * search with title rows, skipped rows (blank, repeated header, summary, note), row parsing and whole-file
 * rejects (HEADER_NOT_FOUND, ENCODING_INVALID, FORMAT_UNSUPPORTED). What depends on the stored rows — the
 * outcome of a payment's natural key (new / repeat / KEY_CONFLICT) and therefore the summary-row check — is
 * left to the writer: batches are cut at every section boundary and summary row so that the writer can run
 * {@link SummaryCheck} exactly as if it saw the rows one by one.
 *
 * Hand-off format: payment rows travel as one string per batch, PAY_STRIDE values a row (src/db/store.ts) joined by a
 * separator that occurs in no row of the batch (`\0` unless a row holds it), because structured-cloning a
 * string is ~10x cheaper than cloning an array of row values. `''` stands for null (no nullable payment
 * field is ever an empty string).
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { DeathField, PaymentField, Settings } from '../config/settings.ts';
import type { NewDeathRecord, NewReject } from '../db/schema.ts';
import { parseAmountFen } from '../calendar/values.ts';
import { decodeGb18030, fingerprintFile, gb18030CompletePrefix, type FileFingerprint, type TextEncoding } from './encoding.ts';
import { IngestError } from './errors.ts';
import { CsvSplitter, type CsvRecord } from './csv-splitter.ts';
import { classifyRow, headerKey, mapHeader, matchHeader } from './layout.ts';
import { buildVocabulary, parseDeathRow, parsePaymentRow, type Vocabulary } from './parse-rows.ts';
import { readXlsx } from './read-xlsx.ts';
import type { SourceRow } from './source-row.ts';

/** Rows searched for the header row (title rows may sit above it), per sheet. */
export const MAX_TITLE_ROWS = 50;
/** Rows (payments + deaths + rejects) per batch. */
export const BATCH = 250;

/** A file to read. */
export interface FileJob {
  /** Sequence number of the file in this run (messages carry it). */
  fid: number;
  abs: string;
  rel: string;
  kind: 'payments' | 'deaths';
  source: string;
  format: 'csv' | 'xlsx' | 'xls';
}

/** What the reader needs from the settings (plain data: it is sent to the worker). */
export interface ParseSettings {
  aliases: { payments: Record<string, readonly string[]>; deaths: Record<string, readonly string[]> };
  required: { payments: readonly PaymentField[]; deaths: readonly DeathField[] };
  schemes: Settings['schemes'];
  items: Settings['items'];
  /** Business date `YYYY-MM-DD`. */
  asOf: string;
}

/** Picks the reader's part of the settings. */
export function parseSettings(settings: Settings, asOf: string): ParseSettings {
  return {
    aliases: { payments: settings.headerAliases.payments as Record<string, readonly string[]>, deaths: settings.headerAliases.deaths as Record<string, readonly string[]> },
    required: { payments: settings.requiredFields.payments, deaths: settings.requiredFields.deaths },
    schemes: settings.schemes,
    items: settings.items,
    asOf,
  };
}

/** A boundary for the summary check, after the batch's rows: a new section, or a summary row (check, then a new section after it). */
export type SummaryEvent = { kind: 'section'; line: number } | { kind: 'summary'; line: number; cell: string | null; raw: string; place: string };

/** Messages of the reader, in file order. */
export type ParsedMessage =
  | { t: 'fp'; fid: number; fp: FileFingerprint }
  | {
      t: 'batch';
      fid: number;
      /** Separator of `pay`. */
      sep: string;
      /** Packed payment rows (PAY_FIELDS of src/db/store.ts), `payRows` of them. */
      pay: string;
      payRows: number;
      deaths: NewDeathRecord[];
      /** Row rejects of the reader (parse errors), in line order. */
      rejects: NewReject[];
      /** Sum (fen) and number of rejected payment rows whose amount was readable (for the summary check). */
      rejFen: number;
      rejRows: number;
      /** Line of the last row of the batch (0 when none). */
      lastLine: number;
      /** Boundaries after the batch's rows (payment files only). */
      events: SummaryEvent[];
    }
  | {
      t: 'end';
      fid: number;
      encoding: TextEncoding | null;
      headerLine: number | null;
      rowsRead: number;
      rowsSkipped: number;
      /** Rows rejected by the reader. */
      rowsRejected: number;
      deathsAccepted: number;
      recheckFrom: string | null;
      /** Thread time (ms) of decode + split, and of layout + parse. */
      readMs: number;
      parseMs: number;
    }
  /** A whole-file reject. */
  | { t: 'fail'; fid: number; code: string; message: string; encoding: TextEncoding | null }
  /** An unexpected error: the run fails. */
  | { t: 'crash'; fid: number; message: string; stack?: string }
  /** The last message of every file (after `end`, `fail`, `crash`, or a stop asked by the writer). */
  | { t: 'done'; fid: number };

/** The row's place for a reason text: XLSX rows of a second or later sheet name their sheet and row. */
export function placeSuffix(r: SourceRow): string {
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

/** Read timing of {@link csvRowChunks}: thread time spent reading, decoding and splitting (ms). */
export interface ReadClock {
  ms: number;
  /**
   * Set by csvRowChunks once the decoded text has held a NUL character: until then no record can hold one
   * (issue 10: spares a scan of every record's raw text).
   */
  nul?: boolean;
}

/**
 * Reads a CSV file synchronously in 64 KiB chunks, decoding (UTF-8 or GB18030, exact across chunk
 * boundaries like {@link Gb18030Decoder}) and splitting; yields the records of each chunk.
 * @throws IngestError(ENCODING_INVALID) as {@link readCsv}
 */
export function* csvRowChunks(file: string, encoding: TextEncoding, displayPath: string, clock: ReadClock, chunkSize = 1 << 16): Generator<CsvRecord[]> {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    const splitter = new CsvSplitter();
    const utf8 = new TextDecoder('utf-8');
    let pending: Buffer = Buffer.alloc(0);
    let invalid = 0;
    for (;;) {
      const t = performance.now();
      const n = fs.readSync(fd, buf, 0, chunkSize, null);
      let text: string;
      if (encoding === 'gb18030') {
        const bytes = pending.length ? Buffer.concat([pending, buf.subarray(0, n)]) : buf.subarray(0, n);
        const cut = n === 0 ? bytes.length : gb18030CompletePrefix(bytes);
        pending = Buffer.from(bytes.subarray(cut));
        text = cut ? decodeGb18030(bytes.subarray(0, cut)) : '';
        for (let i = text.indexOf('\ufffd'); i !== -1; i = text.indexOf('\ufffd', i + 1)) invalid++;
        if (invalid > 0) {
          throw new IngestError('ENCODING_INVALID', `${displayPath}: bytes are valid neither as UTF-8 nor as GB18030 (${invalid} undecodable sequences); file rejected whole`, displayPath);
        }
      } else text = n ? utf8.decode(buf.subarray(0, n), { stream: true }) : utf8.decode();
      const out: CsvRecord[] = [];
      if (!clock.nul && text.includes('\u0000')) clock.nul = true;
      if (text) splitter.push(text, out);
      if (n === 0) splitter.end(out);
      clock.ms += performance.now() - t;
      if (out.length) yield out;
      if (n === 0) return;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Sink of {@link parseFile}: receives the messages in order; may pause the reader (back-pressure). */
export type Emit = (m: ParsedMessage) => void | Promise<void>;

/**
 * Reads one file: fingerprint, then rows, emitting `fp`, `batch`… and `end` — or `fail` for a whole-file
 * reject (rows already emitted must then be dropped by the writer: a file is all or none).
 * @param cancelled polled between batches: true stops the file (the writer found it already ingested)
 * @throws only unexpected errors (the caller reports them as `crash`)
 */
export async function parseFile(job: FileJob, ps: ParseSettings, vocab: Vocabulary, emit: Emit, cancelled: () => boolean = () => false): Promise<void> {
  const fp = await fingerprintFile(job.abs);
  await emit({ t: 'fp', fid: job.fid, fp });
  if (cancelled()) return;
  const encoding = job.format === 'csv' ? fp.encoding : null;
  try {
    await parseRows(job, fp.encoding, ps, vocab, emit, cancelled);
  } catch (e) {
    if (!(e instanceof IngestError)) throw e;
    await emit({ t: 'fail', fid: job.fid, code: e.code, message: e.message, encoding });
  }
}

/** Builds the scheme and item lookups of the reader's settings. */
export function vocabularyOf(ps: ParseSettings): Vocabulary {
  return buildVocabulary(ps.schemes, ps.items);
}

/**
 * The layout logic of DOMAIN.md §2 over one file's rows (see ingest.ts for the rules): header search per
 * sheet (a CSV file is one sheet) in the first {@link MAX_TITLE_ROWS} rows, skipped rows, parsing.
 */
async function parseRows(f: FileJob, encoding: TextEncoding, ps: ParseSettings, vocab: Vocabulary, emit: Emit, cancelled: () => boolean): Promise<void> {
  if (f.format === 'xls') {
    throw new IngestError('FORMAT_UNSUPPORTED', `${f.rel}: old binary Excel (.xls) workbooks are not read; save it as .xlsx or CSV`, f.rel);
  }
  const payments = f.kind === 'payments';
  const aliases = payments ? ps.aliases.payments : ps.aliases.deaths;
  let required = (payments ? ps.required.payments : ps.required.deaths) as readonly string[];
  // Without the reason a household-registration cancellation cannot be told from a death (DOMAIN.md §2).
  if (f.kind === 'deaths' && f.source === 'public-security' && !required.includes('cancel_reason')) required = [...required, 'cancel_reason'];
  let rowsRead = 0;
  let rowsSkipped = 0;
  let rowsRejected = 0;
  let deathsAccepted = 0;
  let recheckFrom: string | null = null; // earliest DEATH_DATE_FUTURE date of death
  let columns: Partial<Record<string, number>> | null = null;
  let headerKeys: string[] = [];
  let headerLine: number | null = null;
  let sheet = 0;
  let searching = true;
  let sheetRows = 0;
  let sheetHasContent = false;
  let firstRowOfSheet: SourceRow | null = null;
  let likeliest: { row: SourceRow; fields: number; filled: number } | null = null;
  let pay: string[] = [];
  let payRows = 0;
  let payNul = false;
  let deaths: NewDeathRecord[] = [];
  let rejects: NewReject[] = [];
  let rejFen = 0;
  let rejRows = 0;
  let lastLine = 0;
  let events: SummaryEvent[] = [];
  const clock: ReadClock = { ms: 0 };
  let waitMs = 0;

  const flush = async (): Promise<void> => {
    if (payRows === 0 && deaths.length === 0 && rejects.length === 0 && events.length === 0) return;
    let sep = '\u0000';
    if (payNul) {
      // Rare: a row holds NUL; take a separator no value of the batch holds (every value is derived from the raw text).
      for (let c = 1; ; c++) {
        sep = String.fromCharCode(c < 32 ? c : 0xe000 + c);
        if (!pay.some((v) => v.includes(sep))) break;
      }
    }
    const m: ParsedMessage = { t: 'batch', fid: f.fid, sep, pay: pay.join(sep), payRows, deaths, rejects, rejFen, rejRows, lastLine, events };
    pay = [];
    payRows = 0;
    payNul = false;
    deaths = [];
    rejects = [];
    rejFen = 0;
    rejRows = 0;
    events = [];
    const t = performance.now();
    await emit(m);
    waitMs += performance.now() - t; // waiting for the writer is neither reading nor parsing
  };

  const rejectRow = (r: SourceRow, code: string, reason: string): void => {
    rowsRejected++;
    rejects.push({ line: r.line, code, reason: reason + placeSuffix(r), raw: r.raw });
  };

  const noHeader = (r: SourceRow | null): IngestError => {
    const what = payments ? 'payment' : 'death-record';
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

  /** One row; returns true when the batch must be sent now. */
  const row = (r: SourceRow): boolean => {
    lastLine = r.line;
    const rowSheet = r.sheet?.index ?? 1;
    let cut = false;
    if (rowSheet !== sheet) {
      if (sheet !== 0) endSheet();
      sheet = rowSheet;
      searching = true;
      sheetRows = 0;
      sheetHasContent = false;
      firstRowOfSheet = r;
      likeliest = null;
      // The rows of the previous sheet go first, then the new section starts.
      // The caller sent the rows of the previous sheet before this row; the new section starts here.
      if (payments) events.push({ kind: 'section', line: r.line });
      cut = true;
    }
    rowsRead++;
    sheetRows++;
    if (r.error) {
      sheetHasContent = true;
      rejectRow(r, r.error.code, r.error.reason);
      return cut;
    }
    if (searching || columns === null) {
      rowsSkipped++;
      const found = matchHeader(r.cells, aliases, required);
      if (found) {
        columns = found;
        headerKeys = r.cells.map(headerKey);
        headerLine ??= r.line;
        searching = false;
        if (payments) events.push({ kind: 'section', line: r.line + 1 });
        return true;
      }
      const filled = r.cells.filter((c) => c.trim() !== '').length;
      if (filled > 0) {
        sheetHasContent = true;
        const fields = Object.keys(mapHeader(r.cells, aliases)).length;
        if (!likeliest || fields > likeliest.fields || (fields === likeliest.fields && filled > likeliest.filled)) likeliest = { row: r, fields, filled };
      }
      if (sheetRows >= MAX_TITLE_ROWS) throw noHeader(firstRowOfSheet);
      return cut;
    }
    const skip = classifyRow(r.cells, headerKeys);
    if (skip) {
      rowsSkipped++;
      if (skip === 'summary' && payments) {
        events.push({ kind: 'summary', line: r.line, cell: columns.amount === undefined ? null : r.cells[columns.amount] ?? '', raw: r.raw, place: placeSuffix(r) });
        return true;
      }
      return cut;
    }
    if (payments) {
      const p = parsePaymentRow(r.cells, columns, r.line, vocab, r.numericCells);
      if (p.ok) {
        const w = p.row;
        pay.push(
          String(w.line), w.person_no ?? '', w.id_number, w.id_raw, String(w.id_valid), w.name, w.sex ?? '', w.scheme, w.item, w.item_raw,
          w.period, String(w.amount_fen), w.paid_on ?? '', w.account ?? '', w.bank ?? '', w.agency ?? '', w.district_code ?? '', w.batch,
        );
        payRows++;
        if ((clock.nul || f.format !== 'csv') && r.raw.includes('\u0000')) payNul = true;
      } else {
        rejectRow(r, p.code, p.reason);
        const amount = columns.amount === undefined ? null : parseAmountFen(r.cells[columns.amount] ?? '');
        if (amount?.ok) {
          rejFen += amount.value;
          rejRows++;
        }
      }
    } else {
      const d = parseDeathRow(r.cells, columns, r.line, f.source, ps.asOf, r.numericCells);
      if (d.ok) {
        deaths.push(d.row);
        deathsAccepted++;
      } else {
        rejectRow(r, d.code, d.reason);
        if (d.deathDate && (recheckFrom === null || d.deathDate < recheckFrom)) recheckFrom = d.deathDate;
      }
    }
    return cut || payRows + deaths.length + rejects.length >= BATCH;
  };

  const started = performance.now();
  /** Sends the rows of the previous sheet before the first row of a new one. */
  const atSheetChange = async (r: SourceRow): Promise<void> => {
    if ((r.sheet?.index ?? 1) !== sheet) await flush();
  };
  if (f.format === 'csv') {
    for (const chunk of csvRowChunks(f.abs, encoding, f.rel, clock)) {
      for (const r of chunk) {
        if (r.line === 1 || sheet === 0) await atSheetChange(r);
        if (row(r)) await flush();
      }
      if (cancelled()) return;
    }
  } else {
    const it = readXlsx(f.abs, f.rel)[Symbol.asyncIterator]();
    for (;;) {
      const t = performance.now();
      const n = await it.next();
      clock.ms += performance.now() - t;
      if (n.done) break;
      await atSheetChange(n.value);
      if (row(n.value)) await flush();
      if (cancelled()) return;
    }
  }
  if (sheet === 0) throw noHeader(null);
  endSheet();
  await flush();
  await emit({
    t: 'end', fid: f.fid, encoding: f.format === 'csv' ? encoding : null, headerLine, rowsRead, rowsSkipped, rowsRejected, deathsAccepted, recheckFrom,
    readMs: clock.ms, parseMs: performance.now() - started - clock.ms - waitMs,
  });
}
