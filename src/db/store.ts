/**
 * The engine-neutral face of the database (ARCHITECTURE.md: only src/db/ knows the engine): kysely's query
 * builder for everything, plus the few operations each engine does its own fast way — the bulk file loader
 * and the run lock.
 */
import type { Kysely } from 'kysely';
import type { DB, NewDeathRecord, NewPayment, NewReject } from './schema.ts';

export type Engine = 'sqlite' | 'postgres';

/** What happened to one payment row offered to the store. */
export type PaymentOutcome =
  | { status: 'new' }
  /** The same record (natural key and amount) is already stored: one payment, not two. */
  | { status: 'repeat'; file: string; line: number }
  /** Same natural key, different amount: the stored row is kept; this row must be rejected. */
  | { status: 'conflict'; file: string; line: number; amountFen: number };

/** Metadata of a file being ingested (the `source_file` row, before counts are known). */
export interface FileMeta {
  path: string;
  sha256: string;
  size: number;
  mtimeMs: number;
  kind: 'payments' | 'deaths';
  source: string;
  format: 'csv' | 'xlsx' | 'xls';
  layoutKey: string;
  runId: number;
  /**
   * A previous reading of the same file to replace, in the same transaction (its rows and rejects are
   * deleted): a death file re-read once the business date reaches dates of death it rejected as future.
   */
  replaces?: number;
}

/** Final accounting of a file (rows read = accepted + rejected + skipped). */
export interface FileResult {
  status: 'ingested' | 'rejected';
  encoding: string | null;
  errorCode: string | null;
  error: string | null;
  headerLine: number | null;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  rowsSkipped: number;
  rowsRepeated: number;
  /**
   * Earliest date of death rejected as after the business date (DEATH_DATE_FUTURE), or null: the first run
   * whose business date reaches it reads the file again, so no death is lost to a run dated too early.
   */
  recheckFrom?: string | null;
}

/**
 * Values of one packed payment row (ingest's hand-off between threads, issue 10), in this order: the payment
 * table's columns without id and file_id. All values are strings; `''` is null (no nullable payment field is
 * ever an empty string); line, id_valid and amount_fen are decimal integers.
 */
export const PAY_FIELDS = [
  'line', 'person_no', 'id_number', 'id_raw', 'id_valid', 'name', 'sex', 'scheme', 'item', 'item_raw',
  'period', 'amount_fen', 'paid_on', 'account', 'bank', 'agency', 'district_code', 'batch',
] as const;
/** Values per packed payment row. */
export const PAY_STRIDE = PAY_FIELDS.length;
/** Index of a field in a packed payment row. */
export const PAY = Object.fromEntries(PAY_FIELDS.map((f, i) => [f, i])) as { readonly [K in (typeof PAY_FIELDS)[number]]: number };

/** Unpacks row `i` of packed payment values ({@link PAY_FIELDS}). */
export function unpackPayment(v: readonly string[], i: number): NewPayment {
  const o = i * PAY_STRIDE;
  return {
    line: Number(v[o]), person_no: v[o + 1] || null, id_number: v[o + 2]!, id_raw: v[o + 3]!, id_valid: Number(v[o + 4]), name: v[o + 5]!,
    sex: v[o + 6] || null, scheme: v[o + 7]!, item: v[o + 8]!, item_raw: v[o + 9]!, period: v[o + 10]!, amount_fen: Number(v[o + 11]),
    paid_on: v[o + 12] || null, account: v[o + 13] || null, bank: v[o + 14] || null, agency: v[o + 15] || null, district_code: v[o + 16] || null, batch: v[o + 17]!,
  };
}

/** A payment row offered that was not new: its index in the batch and its outcome. */
export interface PaymentNotNew {
  index: number;
  outcome: Exclude<PaymentOutcome, { status: 'new' }>;
}

/** Writes the rows of one file inside the file's transaction. */
export interface FileLoader {
  readonly fileId: number;
  /** Offers payment rows in order; returns one outcome per row. New rows are stored. */
  addPayments(rows: NewPayment[]): Promise<PaymentOutcome[]>;
  /**
   * Offers `n` packed payment rows ({@link PAY_FIELDS}) in order, like {@link addPayments} without a row
   * object per row (the fast path of ingest). During a first load ({@link Store.beginFirstLoad}) every row
   * is stored and reported new: duplicates are resolved when the load finishes.
   * @returns the rows that were not new (repeats and conflicts), in order
   */
  addPaymentsPacked?(values: readonly string[], n: number): Promise<PaymentNotNew[]>;
  addDeathRecords(rows: NewDeathRecord[]): Promise<void>;
  addRejects(rows: NewReject[]): Promise<void>;
}

/** An open database. */
export interface Store {
  readonly engine: Engine;
  readonly db: Kysely<DB>;
  /** Where the database is, for messages (no password). */
  readonly location: string;
  /**
   * Ingests one file atomically: `body` writes its rows through the loader; the file's row and all its rows
   * are committed together with the returned accounting, or nothing is (DOMAIN: a file is all or none).
   */
  loadFile(meta: FileMeta, body: (loader: FileLoader) => Promise<FileResult>): Promise<{ fileId: number; result: FileResult }>;
  /**
   * First-load fast path (SQLite; optional): when the payment table is empty, opens one transaction for the
   * whole ingest, in which every later {@link loadFile} is a savepoint, and drops the payment table's
   * secondary indexes (whatever migrations defined them) so rows are appended without index upkeep.
   * {@link FirstLoad.finish} resolves natural-key duplicates, rebuilds the indexes and commits; a crash
   * before it leaves the store as it was (indexes present, no rows).
   * @returns null when the payment table already holds rows (the incremental path applies)
   */
  beginFirstLoad?(): Promise<FirstLoad | null>;
  /**
   * Starts a run if no other run is running (atomically, across processes): a `running` run whose process
   * is gone (same host, pid not alive) is first marked `abandoned`.
   * @returns the new run id, or the run that holds the lock
   */
  beginRun(asOf: string, host: string, pid: number, startedAt: string): Promise<{ runId: number } | { heldBy: RunHolder }>;
  /**
   * Refreshes the planner's statistics after a bulk load (PostgreSQL: ANALYZE, which autovacuum may never
   * do in time — without it a detector's join was seen to take 100 s instead of 0.1 s; SQLite: PRAGMA optimize).
   */
  optimize(): Promise<void>;
  /** Releases the run lock taken by {@link beginRun} (the run row's status is the caller's business). */
  endRun(runId: number): Promise<void>;
  /**
   * SQLite (optional): runs a {@link ThreadJob} on a connection of its own in a worker thread, while this
   * connection goes on; `close()` waits for it.
   * @returns null when the job committed, else the error that stopped it (its transaction rolled back)
   */
  runInThread?(job: ThreadJob): Promise<string | null>;
  close(): Promise<void>;
}

/** A compiled statement: SQL text and its parameters (kysely's CompiledQuery, as data a thread can receive). */
export interface ThreadStatement {
  sql: string;
  parameters: readonly unknown[];
}

/**
 * Work for {@link Store.runInThread}: `pragmas` (connection settings, e.g. `cache_size = -2048`), then `read`
 * statements outside any write transaction (reads of the stored tables, writes to TEMP tables only: they take
 * no write lock), then `write` statements in one IMMEDIATE transaction (none when there are none), then `after`
 * (clean-up of TEMP tables).
 */
export interface ThreadJob {
  pragmas: readonly string[];
  read: readonly ThreadStatement[];
  write: readonly ThreadStatement[];
  after: readonly ThreadStatement[];
}


/** A stored payment whose natural key an earlier stored payment (lower id: earlier file, then line) has. */
export interface DuplicatePayment {
  id: number;
  fileId: number;
  line: number;
  amountFen: number;
  batch: string;
  scheme: string;
  item: string;
  period: string;
  /** The first payment with this key: its file path, line and amount. */
  firstPath: string;
  firstLine: number;
  firstAmountFen: number;
}

/** What ingest decides about the duplicates of a first load (every duplicate row is removed from payment). */
export interface FirstLoadFixups {
  /** Rejects to add (KEY_CONFLICT, recomputed SUMMARY_MISMATCH). */
  rejects: (NewReject & { file_id: number })[];
  /** Rejects with this code to remove from the file first (a summary check recomputed). */
  dropRejects: { fileId: number; code: string }[];
  /** New counts of source files. */
  files: { id: number; rowsAccepted: number; rowsRejected: number; rowsRepeated: number }[];
}

/** An open first load (see {@link Store.beginFirstLoad}). */
export interface FirstLoad {
  /**
   * Finds the duplicates, lets `resolve` decide them, removes the duplicate rows, applies the fixups,
   * rebuilds the dropped indexes and commits.
   */
  finish(resolve: (dups: DuplicatePayment[]) => Promise<FirstLoadFixups>): Promise<void>;
  /** Rolls the whole load back (an error): the store is as before {@link Store.beginFirstLoad}. */
  abort(): Promise<void>;
}

/** The run that holds the lock. */
export interface RunHolder {
  id: number;
  host: string;
  pid: number;
  started_at: string;
}
