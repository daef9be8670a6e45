/**
 * The embedded SQLite engine (better-sqlite3): WAL journal, a busy timeout, prepared statements inside one
 * IMMEDIATE transaction per file for the bulk load, and a run lock taken in an IMMEDIATE transaction on the
 * `run` table (a `running` run whose process is gone on this host is marked `abandoned`).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import type { DB, NewPayment } from './schema.ts';
import { hasPendingMigrations, migrateToLatest } from './migrations.ts';
import { PAY_STRIDE, type DuplicatePayment, type FileLoader, type FirstLoad, type PaymentNotNew, type PaymentOutcome, type RunHolder, type Store, type ThreadJob } from './store.ts';

/** Page size (bytes) of a new SQLite store (see openSqlite). */
export const PAGE_SIZE = 16384;

/** Page cache (KiB) while a first load rebuilds its indexes: the sorter's in-memory run size (see finish()). */
const INDEX_BUILD_CACHE_KIB = 8192;

/** Prepared statements kept per connection by {@link cachingStatements}. */
export const STATEMENT_CACHE_SIZE = 256;

/**
 * A better-sqlite3 connection as kysely's SqliteDialect uses it, with its prepared statements kept by SQL text
 * (the least recently used beyond `size` are dropped). Kysely prepares every query it runs anew: the case
 * updates of a nightly run execute the same few statements tens of thousands of times, and preparing them
 * took about 1 s of a 1M-recipient incremental run (CPU profile, issue 10). A statement still being iterated
 * is not handed out again (better-sqlite3 refuses to run a busy statement): that caller gets one of its own.
 * A cached statement whose schema changed is prepared again by SQLite itself when it next runs. Kysely's
 * transactions begin IMMEDIATE (see `prepare`).
 * @param raw the open connection; `close()` closes it
 */
export function cachingStatements(raw: Database.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => raw.close(),
    prepare(source: string) {
      // Kysely begins a transaction with a plain (deferred) BEGIN: one that read before it wrote would fail
      // with SQLITE_BUSY_SNAPSHOT, busy timeout or not, had another connection (a thread of this store, another
      // process) committed in between. Every kysely transaction here writes, so it takes the write lock at
      // its start and waits its turn instead.
      const sql = source === 'begin' ? 'begin immediate' : source;
      const hit = cache.get(sql);
      if (hit) {
        if (hit.busy) return raw.prepare(sql);
        cache.delete(sql); // most recently used last
        cache.set(sql, hit);
        return hit;
      }
      const stmt = raw.prepare(sql);
      cache.set(sql, stmt);
      if (cache.size > size) cache.delete(cache.keys().next().value!);
      return stmt;
    },
  };
}

/**
 * WAL size (bytes) from which the checkpoint after a file's commit runs in a thread of its own (see
 * {@link openSqlite}'s `backgroundCheckpointBytes`).
 */
export const BACKGROUND_CHECKPOINT_BYTES = 64 * 2 ** 20;

/** How long a statement waits for another connection's lock (ms), and opening a store for WAL mode. */
const BUSY_TIMEOUT_MS = 15_000;

/**
 * The thread of a {@link ThreadJob} (Store.runInThread, and the background checkpoint): its own connection,
 * the job's steps — a transaction only when it has `write` statements — a message with null or the error,
 * then it closes and exits. Plain CommonJS run by `new Worker(…, { eval: true })`: no module file to bundle.
 * `workerData`: `{ file, module, job }` (the store's path, better-sqlite3's entry point, the job).
 */
const JOB_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
const job = workerData.job;
const run = (q) => db.prepare(q.sql).run(...q.parameters);
try {
  db.pragma('busy_timeout = ${BUSY_TIMEOUT_MS}');
  for (const p of job.pragmas) db.pragma(p);
  for (const q of job.read) run(q);
  if (job.write.length) {
    db.exec('BEGIN IMMEDIATE');
    for (const q of job.write) run(q);
    db.exec('COMMIT');
  }
  for (const q of job.after) run(q);
  parentPort.postMessage(null);
} catch (e) {
  if (db.inTransaction) db.exec('ROLLBACK');
  parentPort.postMessage(String((e && e.message) || e));
} finally {
  db.close();
}`;

/**
 * The background checkpoint as a job: one PASSIVE checkpoint, which copies the WAL's committed pages into the
 * database file while the main connection goes on reading and writing, and never waits for a lock.
 */
const CHECKPOINT_JOB: ThreadJob = { pragmas: ['wal_checkpoint(PASSIVE)'], read: [], write: [], after: [] };

/**
 * The store is held by another process and could not be opened: a first load writes through a rollback
 * journal and holds the whole file until it ends (src/db/sqlite.ts beginFirstLoad). The CLI exits 3, as for
 * a run that holds the run lock (README "Exit codes").
 */
export class StoreBusyError extends Error {
  override name = 'StoreBusyError';
  constructor(file: string) {
    super(`the database ${file} is busy: another process is writing it (a first load holds the whole file until it ends); not started — try again when it has finished`);
  }
}

/**
 * Puts the connection in WAL mode. SQLite answers a busy database at once here, without calling the busy
 * handler (it would risk a deadlock), when another connection is converting a new file, or holds it in a
 * first load's rollback journal: so this retries for the busy timeout. Seen by two fresh-user trials and CI:
 * a `status` or a second `run` started during a first load failed with a bare "database is locked".
 * @throws StoreBusyError when the file is still busy after {@link BUSY_TIMEOUT_MS}
 */
function toWal(raw: Database.Database, file: string): void {
  for (const until = Date.now() + BUSY_TIMEOUT_MS; ; ) {
    try {
      raw.pragma('journal_mode = WAL');
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
      if (Date.now() >= until) throw new StoreBusyError(file);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    }
  }
}

/** Options of {@link openSqlite}. */
export interface SqliteOptions {
  /**
   * A file's commit that leaves at least this many bytes in the WAL has its checkpoint run by a background
   * thread instead of by the commit itself (default {@link BACKGROUND_CHECKPOINT_BYTES}).
   */
  backgroundCheckpointBytes?: number;
}

/**
 * Opens (creating and migrating) a SQLite database file.
 *
 * Checkpoints: a new month's file commits ≈ 0.5 GB of WAL (1M-recipient bench: 32 k pages of 16 KiB, a
 * third of them old index pages that back payments for earlier periods touch). SQLite's automatic
 * checkpoint would copy it all into the database file inside that COMMIT, on the main thread (1.2–2.5 s);
 * here the COMMIT skips it, and a thread with its own connection runs it while the detectors go on (the
 * second core is idle then). Nothing is lost if that thread fails or the process dies: the WAL holds every
 * committed page until some checkpoint copies it, and the next commit's automatic checkpoint, the next run
 * or closing the store does. `close()` and a first load wait for a running checkpoint first.
 */
export async function openSqlite(file: string, options: SqliteOptions = {}): Promise<Store> {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const raw = new Database(file);
  // 16 KiB pages for a new store (SQLite's default is 4 KiB). The store is scanned and appended to in bulk:
  // four times fewer page reads, writes and B-tree cells to manage. 1M-recipient first run (issue 10), two
  // pairs on this VM: 141 → 110 s and 149 → 114 s, system time 47 → 24 and 30 → 17 s; 32 KiB measured
  // slower (124 s). Set before the first write, so it applies only to a new file: an existing store keeps
  // the page size it was made with (changing it means a VACUUM of the whole file).
  raw.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (raw.pragma('page_count', { simple: true }) === 0) raw.pragma(`page_size = ${PAGE_SIZE}`);
  toWal(raw, file);
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  // Bulk loads insert into a unique index in random key order: a large page cache keeps it in memory.
  raw.pragma('cache_size = -131072'); // 128 MiB, a bound: peak RSS levels off once it is full
  // Sorts of large GROUP BYs (the detectors' full computation) spill to temporary files beyond the sorter's
  // memory instead of growing the heap (a report's GROUP BY over 2.9 M rows held 136 MiB more): with temp_store = MEMORY, shared_account's GROUP BY over 12 M rows
  // took the process to 1.5 GiB; on disk it peaks at 0.4 GiB and runs faster (1M-recipient bench, issue 10).
  raw.pragma('temp_store = FILE');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: cachingStatements(raw) }) });
  // Migrations run under the write lock, one process at a time: kysely's SQLite migrator takes no lock between
  // processes, and every command migrates the store it opens, so a `status` started while `run` created a
  // store interleaved its DDL with the run's (a fresh-user trial left a store without its unique payment key,
  // every later command failing on migration 0009). Only when a migration is pending: opening an up-to-date
  // store takes no lock, so `status` and `cases` do not wait for a run's write transactions.
  if (await hasPendingMigrations(db, 'sqlite')) {
    raw.exec('BEGIN IMMEDIATE');
    try {
      await migrateToLatest(db, 'sqlite'); // nothing to do when another process migrated meanwhile
      raw.exec('COMMIT');
    } catch (e) {
      if (raw.inTransaction) raw.exec('ROLLBACK');
      throw e;
    }
  }

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
  // First load: no unique index to conflict with; duplicates are resolved when the load finishes.
  const appendPayment = raw.prepare(
    `INSERT INTO payment (file_id, line, person_no, id_number, id_raw, id_valid, name, sex, scheme, item, item_raw,
       period, amount_fen, paid_on, account, bank, agency, district_code, batch)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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

  /** Packed rows (PAY_FIELDS): positional binding straight from the values, no row object. */
  const addPacked = (fileId: number, v: readonly string[], n: number): PaymentNotNew[] => {
    const out: PaymentNotNew[] = [];
    const stmt = firstLoad ? appendPayment : insertPayment;
    for (let i = 0, o = 0; i < n; i++, o += PAY_STRIDE) {
      const info = stmt.run(fileId, +v[o]!, v[o + 1] || null, v[o + 2], v[o + 3], +v[o + 4]!, v[o + 5], v[o + 6] || null, v[o + 7], v[o + 8], v[o + 9],
        v[o + 10], +v[o + 11]!, v[o + 12] || null, v[o + 13] || null, v[o + 14] || null, v[o + 15] || null, v[o + 16] || null, v[o + 17]);
      if (info.changes === 1) continue;
      const amount = +v[o + 11]!;
      const ex = findPayment.get(v[o + 17], v[o + 2], v[o + 7], v[o + 8], v[o + 10]) as { amount_fen: number; line: number; path: string };
      out.push({
        index: i,
        outcome: ex.amount_fen === amount ? { status: 'repeat', file: ex.path, line: ex.line } : { status: 'conflict', file: ex.path, line: ex.line, amountFen: ex.amount_fen },
      });
    }
    return out;
  };

  /** The open first load: the payment indexes it dropped (name, CREATE statement). */
  let firstLoad: { indexes: { name: string; sql: string }[] } | null = null;

  const findDuplicates = (): DuplicatePayment[] => {
    // A scan index on the natural key (plus id: the first row of a key is its lowest id).
    raw.exec('CREATE INDEX fg_first_load_key ON payment (batch, id_number, scheme, item, period, id)');
    const rows = raw.prepare(
      `SELECT d.id AS id, d.file_id AS fileId, d.line AS line, d.amount_fen AS amountFen, d.batch AS batch, d.scheme AS scheme, d.item AS item,
              d.period AS period, sf.path AS firstPath, f.line AS firstLine, f.amount_fen AS firstAmountFen
         FROM (SELECT batch, id_number, scheme, item, period, min(id) AS first_id FROM payment
                GROUP BY batch, id_number, scheme, item, period HAVING count(*) > 1) k
         JOIN payment f ON f.id = k.first_id
         JOIN source_file sf ON sf.id = f.file_id
         JOIN payment d ON d.batch = k.batch AND d.id_number = k.id_number AND d.scheme = k.scheme AND d.item = k.item AND d.period = k.period
                       AND d.id > k.first_id
        ORDER BY d.id`,
    ).all() as DuplicatePayment[];
    return rows.map((r) => ({ ...r, id: Number(r.id), fileId: Number(r.fileId), amountFen: Number(r.amountFen), firstAmountFen: Number(r.firstAmountFen) }));
  };

  /** Whether the schema holds a table of that name (the statistics tables exist only once ANALYZE ran). */
  const hasTable = (name: string): boolean => raw.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(name) !== undefined;

  /**
   * Planner statistics for `payment_natural_key` (period, id_number, scheme, item, batch; migration 0009): the
   * row count and the rows per stored period. With them SQLite reads a lookup by person (`id_number = ?`,
   * `id_number IN (…)`) as a skip-scan, one seek per period; without them it scans every payment. Written
   * directly (sqlite_stat1 is documented as writable) because `PRAGMA optimize` analyses a table only when its
   * size has changed a lot, and with `analysis_limit` it samples the index's first pages, which hold one period.
   * The counts are read through the index (max(id), then one seek per period): cheap at any size.
   */
  const writePaymentKeyStats = (): void => {
    const cols = (raw.prepare(`SELECT name FROM pragma_index_info('payment_natural_key') ORDER BY seqno`).all() as { name: string }[]).map((c) => c.name);
    if (cols[0] !== 'period') return;
    const n = Number((raw.prepare('SELECT max(id) AS n FROM payment').get() as { n: number | null }).n ?? 0);
    const periods = Number(
      (raw.prepare(
        `WITH RECURSIVE p(x) AS (SELECT min(period) FROM payment UNION ALL SELECT (SELECT min(period) FROM payment WHERE period > p.x) FROM p WHERE p.x IS NOT NULL)
         SELECT count(x) AS n FROM p`,
      ).get() as { n: number }).n,
    );
    if (!hasTable('sqlite_stat1')) raw.exec('ANALYZE sqlite_schema');
    raw.transaction(() => {
      raw.prepare(`DELETE FROM sqlite_stat1 WHERE tbl = 'payment' AND idx = 'payment_natural_key'`).run();
      if (hasTable('sqlite_stat4')) raw.prepare(`DELETE FROM sqlite_stat4 WHERE tbl = 'payment' AND idx = 'payment_natural_key'`).run();
      if (n > 0 && periods > 0) {
        raw.prepare(`INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('payment', 'payment_natural_key', ?)`).run(`${n} ${Math.max(1, Math.round(n / periods))} 1 1 1 1`);
      }
    })();
    raw.exec('ANALYZE sqlite_schema'); // the planner reloads the statistics
  };
  {
    // A store that has payments but no statistics for the key (made before migration 0009, or never optimized).
    const hasStats = hasTable('sqlite_stat1') && raw.prepare(`SELECT 1 FROM sqlite_stat1 WHERE idx = 'payment_natural_key'`).get();
    if (!hasStats && raw.prepare('SELECT 1 FROM payment LIMIT 1').get()) writePaymentKeyStats();
  }

  // Threads with connections of their own (ThreadJobs, the checkpoint among them): close() and a first load wait for them.
  const threads = new Set<Promise<unknown>>();
  /** Starts `job` in a thread ({@link JOB_THREAD}); resolves with its one message (undefined if it died first). */
  const startThread = (job: ThreadJob): Promise<unknown> => {
    const done = new Promise<unknown>((resolve) => {
      let message: unknown;
      const thread = new Worker(JOB_THREAD, {
        eval: true,
        workerData: { file: path.resolve(file), module: createRequire(import.meta.url).resolve('better-sqlite3'), job },
      });
      thread.once('message', (m) => (message = m));
      thread.on('error', (e) => (message ??= e instanceof Error ? e.message : String(e)));
      thread.once('exit', () => {
        threads.delete(done);
        resolve(message);
      });
    });
    threads.add(done);
    return done;
  };
  const waitForThreads = async (): Promise<void> => {
    while (threads.size) await Promise.all(threads);
  };
  // The background checkpoint (see the doc above): one thread at a time; a commit while one runs asks for
  // another when it ends. A failed checkpoint is left to the next one (the pages stay in the WAL).
  const backgroundBytes = options.backgroundCheckpointBytes ?? BACKGROUND_CHECKPOINT_BYTES;
  let checkpointing = false;
  let checkpointAgain = false;
  const checkpointInBackground = (): void => {
    if (checkpointing) {
      checkpointAgain = true;
      return;
    }
    checkpointing = true;
    void startThread(CHECKPOINT_JOB).then(() => {
      checkpointing = false;
      if (checkpointAgain) {
        checkpointAgain = false;
        checkpointInBackground();
      }
    });
  };
  const walBytes = (): number => {
    try {
      return fs.statSync(`${file}-wal`).size;
    } catch {
      return 0;
    }
  };
  /** COMMITs a file's transaction without SQLite's automatic checkpoint, then checkpoints a large WAL in the background. */
  const commitFile = (): void => {
    const inWal = file !== ':memory:' && String(raw.pragma('journal_mode', { simple: true })) === 'wal';
    if (!inWal) {
      raw.exec('COMMIT');
      return;
    }
    const pages = Number(raw.pragma('wal_autocheckpoint', { simple: true }));
    raw.pragma('wal_autocheckpoint = 0');
    try {
      raw.exec('COMMIT');
    } finally {
      raw.pragma(`wal_autocheckpoint = ${pages}`);
    }
    if (walBytes() >= backgroundBytes) checkpointInBackground();
  };

  let loading = false;
  const store: Store = {
    engine: 'sqlite',
    db,
    location: file,
    async loadFile(meta, body) {
      if (loading) throw new Error('loadFile is not re-entrant');
      loading = true;
      // Inside a first load a file is a savepoint of the load's transaction: still all or none.
      const nested = firstLoad !== null;
      raw.exec(nested ? 'SAVEPOINT fg_file' : 'BEGIN IMMEDIATE');
      try {
        // A death file read again replaces its death records; its first reading (file row, rejected rows) stays
        // the history of the run that read it, marked superseded by this one (migration 0012).
        if (meta.replaces !== undefined) raw.prepare('DELETE FROM death_record WHERE file_id = ?').run(meta.replaces);
        const { replaces: _replaces, ...fileRow } = meta;
        const fileId = Number(insertFile.run({ ...fileRow, at: new Date().toISOString() }).lastInsertRowid);
        if (meta.replaces !== undefined) raw.prepare('UPDATE source_file SET superseded_by = ? WHERE id = ?').run(fileId, meta.replaces);
        const loader: FileLoader = {
          fileId,
          addPayments: async (rows) => {
            if (firstLoad) throw new Error('addPayments during a first load: use addPaymentsPacked');
            return addPayments(fileId, rows);
          },
          addPaymentsPacked: async (values, n) => addPacked(fileId, values, n),
          addDeathRecords: async (rows) => {
            for (const r of rows) insertDeath.run({ ...r, file_id: fileId });
          },
          addRejects: async (rows) => {
            for (const r of rows) insertReject.run({ ...r, file_id: fileId });
          },
        };
        const result = await body(loader);
        finishFile.run({ ...result, recheckFrom: result.recheckFrom ?? null, id: fileId });
        if (nested) raw.exec('RELEASE fg_file');
        else commitFile();
        return { fileId, result };
      } catch (e) {
        if (nested) {
          if (raw.inTransaction) raw.exec('ROLLBACK TO fg_file; RELEASE fg_file');
        } else if (raw.inTransaction) raw.exec('ROLLBACK');
        throw e;
      } finally {
        loading = false;
      }
    },
    async beginFirstLoad() {
      if (firstLoad || loading) throw new Error('beginFirstLoad: a load is already open');
      // The journal mode cannot leave WAL while another connection is reading it, as a checkpoint thread does:
      // the first load would then go through the WAL (every page written twice). Wait for the threads first.
      await waitForThreads();
      if (firstLoad || loading) throw new Error('beginFirstLoad: a load is already open');
      // The index rebuild sorts every payment: its sorter spills to temporary files, which must not be in
      // memory (temp_store = MEMORY would hold the whole sort and break the RSS bound at city scale).
      // The setting cannot change inside a transaction, so it is set for the whole load, then restored.
      if (raw.prepare('SELECT 1 FROM payment LIMIT 1').get() !== undefined) return null;
      // The load is one transaction of gigabytes at city scale. Through the WAL every page is written twice
      // (into the WAL, then into the database at the checkpoint); with a rollback journal a page appended to
      // the file is written once (SQLite journals only pages that existed when the transaction began, and
      // here the payment table is empty). A crash still rolls the whole load back (the hot journal). The WAL
      // comes back when the load ends. `synchronous = FULL` meanwhile: in rollback mode NORMAL could leave a
      // corrupt file after a power cut (it costs a few fsyncs: the journal holds only the first pages).
      // Readers in other processes may wait (busy timeout) while the load writes; if another connection holds
      // the database, the mode cannot change and the load goes through the WAL as before.
      const tempStore = Number(raw.pragma('temp_store', { simple: true }));
      let journal: string | null = null;
      if (file !== ':memory:' && String(raw.pragma('journal_mode', { simple: true })) === 'wal') {
        try {
          raw.pragma('wal_checkpoint(TRUNCATE)');
          journal = String(raw.pragma('journal_mode = DELETE', { simple: true }));
          if (journal === 'delete') raw.pragma('synchronous = FULL');
        } catch {
          journal = null; // another connection: stay in WAL
        }
      }
      const restore = (): void => {
        raw.pragma(`temp_store = ${tempStore}`);
        if (journal === 'delete') {
          raw.pragma('journal_mode = WAL');
          raw.pragma('synchronous = NORMAL');
        }
      };
      raw.pragma('temp_store = FILE');
      raw.exec('BEGIN IMMEDIATE');
      try {
        if (raw.prepare('SELECT 1 FROM payment LIMIT 1').get() !== undefined) {
          raw.exec('ROLLBACK');
          restore();
          return null;
        }
        // Every full secondary index of payment, whatever migration made it (automatic indexes have no SQL).
        // Partial indexes stay: they hold an entry only for the rare rows their WHERE admits, so keeping them
        // costs next to nothing per row and saves a scan of every row each to rebuild them at the end.
        const indexes = raw.prepare(
          `SELECT m.name AS name, m.sql AS sql FROM sqlite_master m JOIN pragma_index_list('payment') il ON il.name = m.name
            WHERE m.type = 'index' AND m.tbl_name = 'payment' AND m.sql IS NOT NULL AND il.partial = 0 ORDER BY m.name`,
        ).all() as { name: string; sql: string }[];
        for (const ix of indexes) raw.exec(`DROP INDEX "${ix.name.replace(/"/g, '""')}"`);
        firstLoad = { indexes };
      } catch (e) {
        if (raw.inTransaction) raw.exec('ROLLBACK');
        restore();
        throw e;
      }
      const handle: FirstLoad = {
        async finish(resolve) {
          if (!firstLoad) throw new Error('first load not open');
          // Sorter helper threads for the index rebuild (issue 10: at 11.7 M rows 30 s → 21 s). The sorter's
          // in-memory runs are as large as the page cache, one per thread: with the 128 MiB cache that held
          // ≈ 250 MiB more at the end of a 1M-recipient first load; small runs keep the rebuild's memory flat
          // (and sort faster: fewer CPU-cache misses, as for the summary tables, src/db/summary-tables.ts).
          const cacheSize = Number(raw.pragma('cache_size', { simple: true }));
          raw.pragma(`cache_size = -${INDEX_BUILD_CACHE_KIB}`);
          raw.pragma('threads = 2');
          try {
            let resolved = false;
            for (const ix of firstLoad.indexes) {
              try {
                raw.exec(ix.sql);
              } catch (e) {
                // A unique index over duplicates: resolve them as the incremental path would have, then retry.
                if ((e as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE' || resolved) throw e;
                resolved = true;
                const dups = findDuplicates();
                const fix = await resolve(dups);
                const del = raw.prepare('DELETE FROM payment WHERE id = ?');
                for (const d of dups) del.run(d.id);
                raw.exec('DROP INDEX fg_first_load_key');
                const drop = raw.prepare('DELETE FROM reject WHERE file_id = ? AND code = ?');
                for (const d of fix.dropRejects) drop.run(d.fileId, d.code);
                for (const r of fix.rejects) insertReject.run(r);
                const counts = raw.prepare('UPDATE source_file SET rows_accepted = ?, rows_rejected = ?, rows_repeated = ? WHERE id = ?');
                for (const f of fix.files) counts.run(f.rowsAccepted, f.rowsRejected, f.rowsRepeated, f.id);
                raw.exec(ix.sql);
              }
            }
            raw.exec('COMMIT');
            // When the load went through the WAL as one transaction: give its disk space back (the WAL file
            // keeps its largest size otherwise). Best effort: a reader may keep part of it for now.
            if (journal !== 'delete') raw.pragma('wal_checkpoint(TRUNCATE)');
          } catch (e) {
            if (raw.inTransaction) raw.exec('ROLLBACK');
            throw e;
          } finally {
            firstLoad = null;
            raw.pragma('threads = 0');
            raw.pragma(`cache_size = ${cacheSize}`);
            restore();
          }
        },
        async abort() {
          firstLoad = null;
          if (raw.inTransaction) raw.exec('ROLLBACK');
          restore();
        },
      };
      return handle;
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
      writePaymentKeyStats();
    },
    async endRun() {
      // The lock is the `running` row itself: the caller sets the final status.
    },
    async runInThread(job: ThreadJob) {
      if (file === ':memory:') throw new Error('runInThread: an in-memory database has no other connection');
      const m = await startThread(job);
      return m === null ? null : String(m ?? 'the thread exited without an answer');
    },
    async close() {
      await waitForThreads();
      await db.destroy();
    },
  };
  return store;
}

/**
 * What the file at `file` is, before opening it (which creates and migrates a store):
 * - `absent`: no file, or an empty one;
 * - `folder`: a folder, not a file;
 * - `store`: a fundguard store (its `run` table or its migration table is there);
 * - `empty`: a SQLite database with nothing in it (no table, view, index or trigger; application_id and
 *   user_version 0) — `run` may make it a store, a reading command finds no store there;
 * - `not_sqlite`: not a SQLite file at all;
 * - `foreign`: a SQLite database of another application (schema objects, none of fundguard's, or its own
 *   application_id / user_version), into which opening would write fundguard's schema (fresh-user trials:
 *   `status --db other.db` did, also for a database holding only a view);
 * - `unknown`: it cannot be read now (a first load holds it; no busy wait here): opening then says why.
 * `reason` describes `not_sqlite` and `foreign` in words.
 */
export function sqliteFileKind(file: string): { kind: 'absent' | 'folder' | 'store' | 'empty' | 'not_sqlite' | 'foreign' | 'unknown'; reason?: string } {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st?.isDirectory()) return { kind: 'folder' };
  if (!st || !st.isFile() || st.size === 0) return { kind: 'absent' };
  const head = Buffer.alloc(16);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 16, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.toString('latin1') !== 'SQLite format 3\0') return { kind: 'not_sqlite', reason: 'not a SQLite database file' };
  let objects: { type: string; name: string }[];
  let ids: number[];
  try {
    const raw = new Database(file, { readonly: true, fileMustExist: true });
    try {
      objects = raw.prepare(`SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`).all() as { type: string; name: string }[];
      ids = [Number(raw.pragma('application_id', { simple: true })), Number(raw.pragma('user_version', { simple: true }))];
    } finally {
      raw.close();
    }
  } catch {
    return { kind: 'unknown' };
  }
  const tables = objects.filter((o) => o.type === 'table').map((o) => o.name);
  if (tables.includes('run') || tables.some((t) => t.startsWith('kysely_migration'))) return { kind: 'store' };
  if (objects.length === 0 && ids.every((n) => n === 0)) return { kind: 'empty' };
  const what = objects.length ? `${objects.slice(0, 5).map((o) => `${o.type} ${o.name}`).join(', ')}${objects.length > 5 ? ', …' : ''}` : `application_id ${ids[0]}, user_version ${ids[1]}`;
  return { kind: 'foreign', reason: `a SQLite database of another application (${what}), not a fundguard store` };
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
