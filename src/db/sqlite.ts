/**
 * The embedded SQLite engine (better-sqlite3): WAL journal, a busy timeout, prepared statements inside one
 * IMMEDIATE transaction per file for the bulk load, and a run lock taken in an IMMEDIATE transaction on the
 * `run` table (a `running` run whose process is gone on this host is marked `abandoned`).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { DB, NewPayment } from './schema.ts';
import { migrateToLatest } from './migrations.ts';
import type { FileLoader, PaymentOutcome, RunHolder, Store } from './store.ts';

/** Opens (creating and migrating) a SQLite database file. */
export async function openSqlite(file: string): Promise<Store> {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('busy_timeout = 15000');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  // Bulk loads insert into a unique index in random key order: a large page cache keeps it in memory.
  raw.pragma('cache_size = -131072'); // 128 MiB, a bound: peak RSS levels off once it is full
  // Sorts of large GROUP BYs (the detectors' full computation) spill to temporary files beyond the sorter's
  // memory instead of growing the heap (a report's GROUP BY over 2.9 M rows held 136 MiB more): with temp_store = MEMORY, shared_account's GROUP BY over 12 M rows
  // took the process to 1.5 GiB; on disk it peaks at 0.4 GiB and runs faster (1M-recipient bench, issue 10).
  raw.pragma('temp_store = FILE');
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
       rows_skipped = @rowsSkipped, rows_repeated = @rowsRepeated, recheck_from = @recheckFrom WHERE id = @id`,
  );
  const insertPayment = raw.prepare(
    `INSERT INTO payment (file_id, line, person_no, id_number, id_raw, id_valid, name, sex, scheme, item, item_raw,
       period, amount_fen, paid_on, account, bank, agency, district_code, batch)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
      // Positional binding: no per-row object; the order is the column list above.
      const info = insertPayment.run(fileId, r.line, r.person_no ?? null, r.id_number, r.id_raw, r.id_valid, r.name, r.sex ?? null, r.scheme, r.item, r.item_raw,
        r.period, r.amount_fen, r.paid_on ?? null, r.account ?? null, r.bank ?? null, r.agency ?? null, r.district_code ?? null, r.batch);
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
        if (meta.replaces !== undefined) {
          for (const t of ['death_record', 'reject']) raw.prepare(`DELETE FROM ${t} WHERE file_id = ?`).run(meta.replaces);
          raw.prepare('DELETE FROM source_file WHERE id = ?').run(meta.replaces);
        }
        const { replaces: _replaces, ...fileRow } = meta;
        const fileId = Number(insertFile.run({ ...fileRow, at: new Date().toISOString() }).lastInsertRowid);
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
        finishFile.run({ ...result, recheckFrom: result.recheckFrom ?? null, id: fileId });
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
          else return { heldBy: r as RunHolder };
        }
        return { runId: Number(insert.run(asOf, startedAt, host, pid).lastInsertRowid) };
      });
      return tx.immediate();
    },
    async optimize() {
      raw.pragma('analysis_limit = 1000');
      raw.pragma('optimize');
    },
    async endRun() {
      // The lock is the `running` row itself: the caller sets the final status.
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
