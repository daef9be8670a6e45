/**
 * SQLite store files (src/db/sqlite.ts): a new store is made with 16 KiB pages (issue 10); a store made with
 * another page size (every store before this change: SQLite's 4 KiB) keeps it and is opened and migrated as
 * before. Kysely's queries reuse prepared statements (issue 10).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { cachingStatements, openSqlite, PAGE_SIZE, STATEMENT_CACHE_SIZE } from '../src/db/sqlite.ts';

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
