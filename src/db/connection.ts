/**
 * Opening the database. This folder is the only engine-aware part of fundguard (ARCHITECTURE.md floors):
 * everything above it talks to a {@link Store} — kysely's query builder plus a bulk file loader.
 *
 * SQLite (better-sqlite3) is the embedded default: WAL journal, a busy timeout, foreign keys on.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { DB, NewDeathRecord, NewPayment, NewReject } from './schema.ts';
import { migrateToLatest } from './migrations.ts';

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
  beginRun(asOf: string, host: string, pid: number, startedAt: string): Promise<{ runId: number } | { heldBy: { id: number; host: string; pid: number; started_at: string } }>;
  close(): Promise<void>;
}

/**
 * Opens (creating if needed) and migrates the database at `target`: a file path for SQLite.
 * @throws Error with a one-line reason when the database cannot be opened or migrated
 */
export async function openStore(target: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(target)) {
    throw new Error('PostgreSQL URLs are not supported yet; use a SQLite file path');
  }
  return openSqlite(target);
}

async function openSqlite(file: string): Promise<Store> {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('busy_timeout = 15000');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: raw }) });
  await migrateToLatest(db, 'sqlite');

  const insertFile = raw.prepare(
    `INSERT INTO source_file (path, sha256, size, mtime_ms, kind, source, format, encoding, status, error_code, error, layout_key,
       header_line, rows_read, rows_accepted, rows_rejected, rows_skipped, rows_repeated, run_id, ingested_at)
     VALUES (@path, @sha256, @size, @mtimeMs, @kind, @source, @format, NULL, 'loading', NULL, NULL, @layoutKey,
       NULL, 0, 0, 0, 0, 0, @runId, @at)`,
  );
  const finishFile = raw.prepare(
    `UPDATE source_file SET status = @status, encoding = @encoding, error_code = @errorCode, error = @error, header_line = @headerLine,
       rows_read = @rowsRead, rows_accepted = @rowsAccepted, rows_rejected = @rowsRejected,
       rows_skipped = @rowsSkipped, rows_repeated = @rowsRepeated WHERE id = @id`,
  );
  const insertPayment = raw.prepare(
    `INSERT INTO payment (file_id, line, person_no, id_number, id_raw, id_valid, name, sex, scheme, item, item_raw,
       period, amount_fen, paid_on, account, bank, agency, district_code, batch)
     VALUES (@file_id, @line, @person_no, @id_number, @id_raw, @id_valid, @name, @sex, @scheme, @item, @item_raw,
       @period, @amount_fen, @paid_on, @account, @bank, @agency, @district_code, @batch)
     ON CONFLICT (batch, id_number, scheme, item, period) DO NOTHING`,
  );
  const findPayment = raw.prepare(
    `SELECT p.amount_fen AS amount_fen, p.line AS line, f.path AS path FROM payment p JOIN source_file f ON f.id = p.file_id
     WHERE p.batch = ? AND p.id_number = ? AND p.scheme = ? AND p.item = ? AND p.period = ?`,
  );
  const insertDeath = raw.prepare(
    `INSERT INTO death_record (file_id, line, source, id_number, id_raw, id_valid, name, sex, birth_date, death_date,
       cremation_date, cancel_date, cancel_reason, is_death)
     VALUES (@file_id, @line, @source, @id_number, @id_raw, @id_valid, @name, @sex, @birth_date, @death_date,
       @cremation_date, @cancel_date, @cancel_reason, @is_death)`,
  );
  const insertReject = raw.prepare(
    `INSERT INTO reject (file_id, line, code, reason, raw) VALUES (@file_id, @line, @code, @reason, @raw)`,
  );

  const addPayments = raw.transaction((fileId: number, rows: NewPayment[]): PaymentOutcome[] => {
    const out: PaymentOutcome[] = [];
    for (const r of rows) {
      const info = insertPayment.run({ ...r, file_id: fileId });
      if (info.changes === 1) {
        out.push({ status: 'new' });
        continue;
      }
      const ex = findPayment.get(r.batch, r.id_number, r.scheme, r.item, r.period) as { amount_fen: number; line: number; path: string };
      out.push(
        ex.amount_fen === r.amount_fen
          ? { status: 'repeat', file: ex.path, line: ex.line }
          : { status: 'conflict', file: ex.path, line: ex.line, amountFen: ex.amount_fen },
      );
    }
    return out;
  });

  let loading = false;
  const store: Store = {
    engine: 'sqlite',
    db,
    location: file,
    async loadFile(meta, body) {
      if (loading) throw new Error('loadFile is not re-entrant');
      loading = true;
      raw.exec('BEGIN IMMEDIATE');
      try {
        const fileId = Number(insertFile.run({ ...meta, at: new Date().toISOString() }).lastInsertRowid);
        const loader: FileLoader = {
          fileId,
          addPayments: async (rows) => addPayments(fileId, rows),
          addDeathRecords: async (rows) => {
            for (const r of rows) insertDeath.run({ ...r, file_id: fileId });
          },
          addRejects: async (rows) => {
            for (const r of rows) insertReject.run({ ...r, file_id: fileId });
          },
        };
        const result = await body(loader);
        finishFile.run({ ...result, id: fileId });
        raw.exec('COMMIT');
        return { fileId, result };
      } catch (e) {
        if (raw.inTransaction) raw.exec('ROLLBACK');
        throw e;
      } finally {
        loading = false;
      }
    },
    async beginRun(asOf, host, pid, startedAt) {
      const running = raw.prepare(`SELECT id, host, pid, started_at FROM run WHERE status = 'running' ORDER BY id`);
      const abandon = raw.prepare(`UPDATE run SET status = 'abandoned', ended_at = ?, error = 'the process holding this run is gone' WHERE id = ?`);
      const insert = raw.prepare(`INSERT INTO run (as_of, started_at, ended_at, status, host, pid, stats, error) VALUES (?, ?, NULL, 'running', ?, ?, '{}', NULL)`);
      const tx = raw.transaction(() => {
        for (const r of running.all() as { id: number; host: string; pid: number; started_at: string }[]) {
          if (r.host === host && !processAlive(r.pid)) abandon.run(new Date().toISOString(), r.id);
          else return { heldBy: r };
        }
        return { runId: Number(insert.run(asOf, startedAt, host, pid).lastInsertRowid) };
      });
      return tx.immediate();
    },
    async close() {
      await db.destroy();
    },
  };
  return store;
}

/** True when a process with this pid exists on this machine. */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
