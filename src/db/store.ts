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

/** Writes the rows of one file inside the file's transaction. */
export interface FileLoader {
  readonly fileId: number;
  /** Offers payment rows in order; returns one outcome per row. New rows are stored. */
  addPayments(rows: NewPayment[]): Promise<PaymentOutcome[]>;
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
  close(): Promise<void>;
}


/** The run that holds the lock. */
export interface RunHolder {
  id: number;
  host: string;
  pid: number;
  started_at: string;
}
