/**
 * SQLite store files (src/db/sqlite.ts): a new store is made with 16 KiB pages (issue 10); a store made with
 * another page size (every store before this change: SQLite's 4 KiB) keeps it and is opened and migrated as
 * before. Kysely's queries reuse prepared statements (issue 10). A new store's payment key is a plain rowid;
 * a store that already holds payments keeps AUTOINCREMENT; a large commit's checkpoint and the first build of
 * the person summaries run in threads with connections of their own (issue 10).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { migrations } from '../src/db/migrations.ts';
import { maxPaymentId, PERSON_SUMMARY_MARKS, readHighWater, refreshPersonSummary, refreshSummariesAhead, SCHEME_PERIOD_HIGH_WATER } from '../src/db/summary-tables.ts';
import { refreshSchemePeriods } from '../src/reports/report-data.ts';
import type { Store } from '../src/db/store.ts';
import { cachingStatements, openSqlite, PAGE_SIZE, STATEMENT_CACHE_SIZE } from '../src/db/sqlite.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

describe('SQLite store page size', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-pages-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pragma = async (store: Awaited<ReturnType<typeof openSqlite>>, name: 'page_size' | 'journal_mode'): Promise<unknown> =>
    Object.values((await sql.raw(`PRAGMA ${name}`).execute(store.db)).rows[0] as object)[0];

  it('a new store has 16 KiB pages and stays in WAL mode, also when opened again', async () => {
    expect(PAGE_SIZE).toBe(16384);
    const file = path.join(dir, 'new.db');
    let store = await openSqlite(file);
    expect(await pragma(store, 'page_size')).toBe(16384);
    expect(await pragma(store, 'journal_mode')).toBe('wal');
    await store.close();
    store = await openSqlite(file);
    expect(await pragma(store, 'page_size')).toBe(16384);
    await store.close();
    // The header of the file itself (bytes 16–17, big-endian; SQLite file format §1.3.2).
    expect(fs.readFileSync(file).readUInt16BE(16)).toBe(16384);
  });

  it('a store made with 4 KiB pages keeps them, and is migrated and written as before', async () => {
    const file = path.join(dir, 'old.db');
    const old = new Database(file);
    old.pragma('page_size = 4096');
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE before_fundguard (x INTEGER)');
    old.close();
    const store = await openSqlite(file);
    try {
      expect(await pragma(store, 'page_size')).toBe(4096);
      const tables = (await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('payment', 'recovery_case', 'before_fundguard') ORDER BY name`.execute(store.db)).rows;
      expect(tables.map((t) => t.name)).toEqual(['before_fundguard', 'payment', 'recovery_case']);
      const run = await store.beginRun('2025-01-31', 'host', process.pid, '2025-01-31T00:00:00Z');
      expect(run).toEqual({ runId: 1 });
    } finally {
      await store.close();
    }
  });
});

describe('prepared statements kept for kysely (cachingStatements)', () => {
  /** A connection counting the statements it prepares. */
  const counted = (): { raw: Database.Database; prepared: () => number } => {
    const raw = new Database(':memory:');
    let n = 0;
    const prepare = raw.prepare.bind(raw);
    (raw as { prepare: typeof raw.prepare }).prepare = ((source: string) => {
      n++;
      return prepare(source);
    }) as typeof raw.prepare;
    raw.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)');
    return { raw, prepared: () => n };
  };
  type T = { t: { k: number; v: string } };

  it('prepares a query once however often it runs, with its own parameters each time', async () => {
    const { raw, prepared } = counted();
    const db = new Kysely<T>({ dialect: new SqliteDialect({ database: cachingStatements(raw) }) });
    for (let k = 1; k <= 50; k++) await db.insertInto('t').values({ k, v: `v${k}` }).execute();
    const before = prepared();
    const got: string[] = [];
    for (const k of [3, 17, 50]) got.push((await db.selectFrom('t').select('v').where('k', '=', k).executeTakeFirstOrThrow()).v);
    expect(got).toEqual(['v3', 'v17', 'v50']);
    expect(prepared() - before).toBe(1);
    expect(STATEMENT_CACHE_SIZE).toBeGreaterThanOrEqual(64);
    await db.destroy();
    expect(raw.open).toBe(false);
  });

  it('a statement still being iterated is not handed out again: the caller gets one of its own', () => {
    const { raw, prepared } = counted();
    raw.exec("INSERT INTO t VALUES (1, 'v1'), (2, 'v2'), (3, 'v3')");
    const cache = cachingStatements(raw);
    const q = 'SELECT k, v FROM t WHERE k >= ? ORDER BY k';
    const seen: string[] = [];
    for (const r of cache.prepare(q).iterate([1]) as IterableIterator<{ k: number }>) seen.push(`${r.k}:${cache.prepare(q).all([r.k]).length}`);
    expect(seen).toEqual(['1:3', '2:2', '3:1']);
    expect(prepared()).toBe(4); // the cached one, then one per row while it was busy
    expect(cache.prepare(q).all([2])).toHaveLength(2); // and the cached one serves again once done
    expect(prepared()).toBe(4);
    raw.close();
  });

  it('drops the least recently used statement beyond its size', () => {
    const { raw, prepared } = counted();
    const cache = cachingStatements(raw, 2);
    const a = cache.prepare('SELECT 1');
    cache.prepare('SELECT 2');
    expect(cache.prepare('SELECT 1')).toBe(a); // hit: SELECT 1 is now the most recent
    cache.prepare('SELECT 3'); // evicts SELECT 2
    expect(prepared()).toBe(3);
    expect(cache.prepare('SELECT 1')).toBe(a);
    cache.prepare('SELECT 2');
    expect(prepared()).toBe(4);
    raw.close();
  });
});

describe('payment rowid without AUTOINCREMENT (migration 0010)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-rowid-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const objects = (raw: Database.Database): { type: string; name: string; sql: string }[] =>
    raw.prepare(`SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'payment' AND sql IS NOT NULL ORDER BY type, name`).all() as { type: string; name: string; sql: string }[];
  const row = (line: number, id: string): string =>
    `INSERT INTO payment (file_id, line, id_number, id_raw, id_valid, name, scheme, item, item_raw, period, amount_fen, batch)
     VALUES (1, ${line}, '${id}', '${id}', 1, '张三', '110', 'pension', '基本养老金', '2025-01', 100000, 'B1')`;
  /** A store migrated up to 0009 (the migrations of every store before this change). */
  const storeAt0009 = async (file: string): Promise<void> => {
    const raw = new Database(file);
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
    const all = migrations('sqlite');
    const provider = { getMigrations: async () => Object.fromEntries(Object.entries(all).filter(([name]) => name < '0010')) };
    const { error } = await new Migrator({ db, provider }).migrateToLatest();
    expect(error).toBeUndefined();
    await db.destroy();
  };

  it('a new store: plain rowid, the same columns and indexes; ids still count up from 1', async () => {
    const file = path.join(dir, 'new.db');
    await storeAt0009(file);
    let raw = new Database(file);
    const before = objects(raw);
    raw.close();
    expect(before.find((o) => o.type === 'table')!.sql).toMatch(/"id" integer primary key autoincrement,/);
    await (await openSqlite(file)).close();
    raw = new Database(file);
    try {
      const after = objects(raw);
      expect(after.find((o) => o.type === 'table')!.sql).toBe(before.find((o) => o.type === 'table')!.sql.replace(' autoincrement', ''));
      expect(after.filter((o) => o.type === 'index')).toEqual(before.filter((o) => o.type === 'index'));
      expect(after.map((o) => o.name)).toEqual(['payment_invalid_id', 'payment_natural_key', 'payment']);
      raw.exec(row(2, '110101194001010016'));
      raw.exec(row(3, '110101194001010024'));
      expect(raw.prepare('SELECT id FROM payment ORDER BY id').pluck().all()).toEqual([1, 2]);
      expect(raw.prepare(`SELECT count(*) FROM sqlite_sequence WHERE name = 'payment'`).pluck().get()).toBe(0);
    } finally {
      raw.close();
    }
  });

  it('a store that already holds payments keeps AUTOINCREMENT and its rows', async () => {
    const file = path.join(dir, 'loaded.db');
    await storeAt0009(file);
    let raw = new Database(file);
    raw.exec(row(2, '110101194001010016'));
    raw.close();
    const store = await openSqlite(file);
    await store.close();
    raw = new Database(file);
    try {
      expect(objects(raw).find((o) => o.type === 'table')!.sql).toMatch(/"id" integer primary key autoincrement,/);
      expect(raw.prepare('SELECT id_number FROM payment').pluck().all()).toEqual(['110101194001010016']);
      // AUTOINCREMENT's own rule holds there: the id of a deleted last row is not given again.
      raw.exec('DELETE FROM payment');
      raw.exec(row(3, '110101194001010024'));
      expect(raw.prepare('SELECT id FROM payment').pluck().all()).toEqual([2]);
    } finally {
      raw.close();
    }
  });
});

describe('the checkpoint after a large file commit runs in a thread of its own', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-ckpt-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const meta = (name: string, kind: 'payments' | 'deaths', runId: number) => ({
    path: name, sha256: name, size: 1, mtimeMs: 1, kind, source: kind === 'deaths' ? 'health' : 'bureau', format: 'csv' as const, layoutKey: 'k', runId,
  });
  const done = (n: number) => ({ status: 'ingested' as const, encoding: 'utf-8', errorCode: null, error: null, headerLine: 1, rowsRead: n, rowsAccepted: n, rowsRejected: 0, rowsSkipped: 0, rowsRepeated: 0 });
  const payments = (n: number) => Array.from({ length: n }, (_, i) => ({
    line: i + 2, person_no: null, id_number: `36010219500312${String(i).padStart(4, '0')}`, id_raw: `36010219500312${String(i).padStart(4, '0')}`, id_valid: 0,
    name: '张三', sex: 'M', scheme: '110', item: 'pension', item_raw: '基本养老金', period: '2025-01', amount_fen: 100000 + i, paid_on: '2025-01-05',
    account: null, bank: null, agency: null, district_code: '360102', batch: 'B1',
  }));
  const grows = async (file: string, from: number, ms: number): Promise<boolean> => {
    for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) if (fs.statSync(file).size > from) return true;
    return false;
  };

  it('copies the committed pages into the database file with no further commit; the rows are all there after close', async () => {
    const file = path.join(dir, 'bg.db');
    const store = await openSqlite(file, { backgroundCheckpointBytes: 1 });
    const run = await store.beginRun('2025-01-31', 'host', process.pid, '2025-01-31T00:00:00Z');
    const runId = (run as { runId: number }).runId;
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store.db);
    const before = fs.statSync(file).size;
    await store.loadFile(meta('a.csv', 'payments', runId), async (loader) => {
      await loader.addPayments(payments(3000));
      return done(3000);
    });
    // In WAL mode the database file changes only when a checkpoint copies pages into it: here, the thread's.
    expect(await grows(file, before, 10_000)).toBe(true);
    await store.close();
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.prepare('SELECT count(*) AS n, sum(amount_fen) AS fen FROM payment').get()).toEqual({ n: 3000, fen: 3000 * 100000 + (2999 * 3000) / 2 });
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      raw.close();
    }
  });

  it('below the threshold the commit leaves the checkpoint to SQLite as before (no thread)', async () => {
    const file = path.join(dir, 'small.db');
    const store = await openSqlite(file);
    const runId = ((await store.beginRun('2025-01-31', 'host', process.pid, '2025-01-31T00:00:00Z')) as { runId: number }).runId;
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store.db);
    const before = fs.statSync(file).size;
    await store.loadFile(meta('a.csv', 'payments', runId), async (loader) => {
      await loader.addPayments(payments(300));
      return done(300);
    });
    expect(await grows(file, before, 300)).toBe(false);
    await store.close();
  });

  it('a first load right after a file checkpointed in the background writes through the rollback journal as usual', async () => {
    const file = path.join(dir, 'first.db');
    const store = await openSqlite(file, { backgroundCheckpointBytes: 1 });
    try {
      const runId = ((await store.beginRun('2025-01-31', 'host', process.pid, '2025-01-31T00:00:00Z')) as { runId: number }).runId;
      // A death file: the payment table stays empty, so the next load of payments is a first load.
      await store.loadFile(meta('d.csv', 'deaths', runId), async (loader) => {
        await loader.addDeathRecords(Array.from({ length: 2000 }, (_, i) => ({
          line: i + 2, source: 'health', id_number: `36010219400101${String(i).padStart(4, '0')}`, id_raw: `36010219400101${String(i).padStart(4, '0')}`, id_valid: 0,
          name: '李四', sex: 'F', birth_date: '1940-01-01', death_date: '2024-06-01', cremation_date: null, cancel_date: null, cancel_reason: null, is_death: 1,
        })));
        return done(2000);
      });
      const load = await store.beginFirstLoad!();
      expect(load).not.toBeNull();
      // Had the thread's connection still been open, the store would have stayed in WAL mode.
      expect(Object.values((await sql.raw('PRAGMA journal_mode').execute(store.db)).rows[0] as object)[0]).toBe('delete');
      await load!.abort();
    } finally {
      await store.close();
    }
  });
});

describe('kysely transactions begin IMMEDIATE', () => {
  it('a transaction holds the write lock from its first statement, even a read', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-begin-'));
    const file = path.join(dir, 'b.db');
    const store = await openSqlite(file);
    const other = new Database(file);
    other.pragma('busy_timeout = 0');
    try {
      await store.db.transaction().execute(async (trx) => {
        await trx.selectFrom('run').select('id').execute();
        // A deferred BEGIN would hold no lock yet: the other connection could take the write lock and commit,
        // and this transaction's first write would then fail (SQLITE_BUSY_SNAPSHOT).
        expect(() => other.exec('BEGIN IMMEDIATE')).toThrow(/locked|busy/i);
      });
      other.exec('BEGIN IMMEDIATE');
      other.exec('COMMIT');
    } finally {
      other.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('summary tables brought up to date ahead in a thread (refreshSummariesAhead)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-ahead-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  /** Payment rows; `month` 13 is a later month (2025-01) with new people, accounts and one new scheme. */
  const rows = (n: number, month?: number) => Array.from({ length: n }, (_, i) => ({
    line: i + 2, person_no: null, id_number: `36010219500312${String(i % (month ? 131 : 97)).padStart(4, '0')}`, id_raw: `36010219500312${String(i % (month ? 131 : 97)).padStart(4, '0')}`, id_valid: 0,
    name: '张三', sex: 'M', scheme: month ? (i % 4 ? '110' : '120') : i % 3 ? '110' : '170', item: 'pension', item_raw: '基本养老金',
    period: month ? '2025-01' : `2024-${String((i % 12) + 1).padStart(2, '0')}`,
    amount_fen: i % 11 === 0 ? -5000 : (month ? 300000 : 100000) + i, paid_on: null, account: i % 5 === 0 ? '' : `62170000000000${i % (month ? 37 : 31)}`, bank: null, agency: null, district_code: '360102',
    batch: `${month ? 'C' : 'B'}${i}`,
  }));
  const load = async (store: Store, name: string, payments: ReturnType<typeof rows>) => {
    const runId = ((await store.beginRun('2025-01-31', 'host', process.pid, '2025-01-31T00:00:00Z')) as { runId: number }).runId;
    await store.loadFile({ path: name, sha256: name, size: 1, mtimeMs: 1, kind: 'payments', source: 'bureau', format: 'csv', layoutKey: 'k', runId }, async (loader) => {
      await loader.addPayments(payments);
      return { status: 'ingested', encoding: 'utf-8', errorCode: null, error: null, headerLine: 1, rowsRead: payments.length, rowsAccepted: payments.length, rowsRejected: 0, rowsSkipped: 0, rowsRepeated: 0 };
    });
    await store.db.updateTable('run').set({ status: 'succeeded' }).where('id', '=', runId).execute();
  };
  /** A store with the same payments, its summaries not built yet. */
  const loaded = async (name: string) => {
    const store = await openSqlite(path.join(dir, name));
    await load(store, 'a.csv', rows(1500));
    // Migrations 0005–0007 left marks at 0 on the empty store: every summary is "to build".
    return store;
  };
  const contents = async (store: Store) => ({
    stats: (await store.db.selectFrom('payment_group_stats').selectAll().orderBy('id_number').orderBy('scheme').orderBy('item').execute()).map((r) => ({ ...r })),
    pairs: (await store.db.selectFrom('account_person').selectAll().orderBy('account').orderBy('id_number').execute()).map((r) => ({ ...r })),
    schemePeriods: (await store.db.selectFrom('scheme_period').selectAll().orderBy('scheme').orderBy('period').execute()).map((r) => ({ ...r })),
    marks: (await store.db.selectFrom('detector_state').select(['detector', 'key', 'value']).where('run_id', '=', 0).where('key', 'in', Object.values(PERSON_SUMMARY_MARKS).map((m) => m.key)).orderBy('detector').orderBy('key').execute()).map((r) => ({ ...r })),
    schemeMark: await readHighWater(store.db, SCHEME_PERIOD_HIGH_WATER),
  });
  /** Wraps the store's runInThread to record each job's outcome (null: committed). */
  const recorded = (store: Store): (string | null)[] => {
    const jobs: (string | null)[] = [];
    const run = store.runInThread!.bind(store);
    (store as { runInThread: Store['runInThread'] }).runInThread = async (job) => {
      const r = await run(job);
      jobs.push(r);
      return r;
    };
    return jobs;
  };
  /** Everything brought up to date on the main connection, as the detectors and the reports do. */
  const refreshAll = async (store: Store, until: number) => {
    await refreshPersonSummary(store.db, 'account_person', until);
    await refreshPersonSummary(store.db, 'payment_group_stats', until);
    await refreshSchemePeriods(store.db);
  };

  it('a new month: the thread adds its rows to every summary; the same tables and marks as on the main connection', async () => {
    const main = await loaded('inc-main.db');
    const ahead = await loaded('inc-ahead.db');
    try {
      for (const st of [main, ahead]) {
        await refreshAll(st, await maxPaymentId(st.db));
        await load(st, 'b.csv', rows(800, 13));
      }
      const until = await maxPaymentId(main.db);
      await refreshAll(main, until);
      const jobs = recorded(ahead);
      await refreshSummariesAhead(ahead, until, { person: true });
      await refreshPersonSummary(ahead.db, 'account_person', until); // waits for the thread
      expect(jobs).toEqual([null]);
      // The thread moved every mark: the refreshes on the main connection have nothing left to do.
      expect(await readHighWater(ahead.db, SCHEME_PERIOD_HIGH_WATER)).toBe(until);
      expect(await readHighWater(ahead.db, PERSON_SUMMARY_MARKS.payment_group_stats)).toBe(until);
      await refreshAll(ahead, until);
      const want = await contents(main);
      expect(want.schemePeriods).toContainEqual({ scheme: '120', period: '2025-01' });
      expect(want.pairs.some((p) => p.account === '6217000000000036')).toBe(true);
      expect(want.schemeMark).toBe(until);
      expect(await contents(ahead)).toEqual(want);
    } finally {
      await main.close();
      await ahead.close();
    }
  });

  it('the thread builds both tables and their marks; refreshPersonSummary then has nothing to do; same tables as built on the main connection', async () => {
    const main = await loaded('main.db');
    const ahead = await loaded('ahead.db');
    try {
      const until = await maxPaymentId(main.db);
      await refreshPersonSummary(main.db, 'account_person', until);
      await refreshSchemePeriods(main.db);
      const jobs = recorded(ahead);
      await refreshSummariesAhead(ahead, until, { person: true });
      expect(jobs).toEqual([]); // started, not finished: refreshPersonSummary waits for it
      await refreshPersonSummary(ahead.db, 'account_person', until);
      expect(jobs).toEqual([null]);
      await refreshSchemePeriods(ahead.db);
      const want = await contents(main);
      expect(want.stats.length).toBeGreaterThan(50);
      expect(want.pairs.length).toBeGreaterThan(20);
      expect(want.marks.map((m) => m.value)).toEqual([String(until), String(until)]);
      expect(await contents(ahead)).toEqual(want);
      // Built already: nothing is started again.
      await refreshSummariesAhead(ahead, until, { person: true });
      expect(jobs).toEqual([null]);
      expect(want.schemePeriods.length).toBeGreaterThan(10);
    } finally {
      await main.close();
      await ahead.close();
    }
  });

  it('when the thread fails, refreshPersonSummary builds the tables itself', async () => {
    const main = await loaded('main2.db');
    const failing = await loaded('failing.db');
    try {
      const until = await maxPaymentId(main.db);
      await refreshPersonSummary(main.db, 'payment_group_stats', until);
      const run = failing.runInThread!.bind(failing);
      // The thread's write step meets a statement that fails: its transaction rolls back.
      (failing as { runInThread: Store['runInThread'] }).runInThread = (job) => run({ ...job, write: [...job.write, { sql: 'INSERT INTO no_such_table VALUES (1)', parameters: [] }] });
      await refreshSummariesAhead(failing, until, { person: true });
      await refreshPersonSummary(failing.db, 'payment_group_stats', until);
      await refreshSchemePeriods(main.db);
      await refreshSchemePeriods(failing.db);
      expect(await contents(failing)).toEqual(await contents(main));
    } finally {
      await main.close();
      await failing.close();
    }
  });
});

describe('stores opened by several processes at once', () => {
  it('migrations run one process at a time: four processes opening a new store together all get the whole schema', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-race-'));
    const file = path.join(dir, 'race.db');
    try {
      // Each process migrates the store it opens: without a lock their DDL interleaved (a fresh-user trial left
      // a store without its unique payment key, every later command failing on migration 0009).
      const at = Date.now() + 4000; // all four start loading first, then open within a few ms of each other
      const exits = await Promise.all(Array.from({ length: 4 }, () => new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run-ts.js'), path.join(ROOT, 'tests', 'fixtures', 'scripts', 'open-store.ts'), file, String(at)], { cwd: ROOT });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => resolve({ code, err }));
      })));
      expect(exits).toEqual(Array.from({ length: 4 }, () => ({ code: 0, err: '' })));
      const raw = new Database(file, { readonly: true });
      try {
        expect(raw.prepare('SELECT name FROM kysely_migration ORDER BY name').pluck().all()).toEqual(Object.keys(migrations('sqlite')).sort());
        expect(raw.prepare(`SELECT sql FROM sqlite_master WHERE name = 'payment_natural_key'`).pluck().get()).toMatch(/UNIQUE INDEX "payment_natural_key" on "payment" \("period", "id_number"/);
        expect(raw.prepare(`SELECT sql FROM sqlite_master WHERE name = 'payment'`).pluck().get()).not.toMatch(/autoincrement/i);
      } finally {
        raw.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('a store held by a first load in another process', () => {
  it('a command opening it waits for the lock instead of failing at once with "database is locked"', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-held-'));
    const file = path.join(dir, 'held.db');
    try {
      await (await openSqlite(file)).close();
      // As a first load holds it: a rollback journal and the write lock (RESERVED) for the whole load. A reader
      // then gets its shared lock, but SQLite refuses it the switch to WAL at once, without waiting.
      const holder = new Database(file);
      holder.pragma('journal_mode = DELETE');
      holder.exec('BEGIN IMMEDIATE');
      holder.exec('CREATE TABLE held_marker (x INTEGER)');
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'fundguard.js'), 'status', '--db', file], { cwd: ROOT, env: { ...process.env, FUNDGUARD_LOG_LEVEL: 'warn' } });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await new Promise((r) => setTimeout(r, 2500)); // the command has started and is waiting
      holder.exec('COMMIT');
      holder.pragma('journal_mode = WAL');
      holder.close();
      expect({ code: await exited, err }).toEqual({ code: 0, err: '' });
      expect(out).toContain('no runs yet');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
