/**
 * SQLite store files (src/db/sqlite.ts): a new store is made with 16 KiB pages (issue 10); a store made with
 * another page size (every store before this change: SQLite's 4 KiB) keeps it and is opened and migrated as
 * before.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openSqlite, PAGE_SIZE } from '../src/db/sqlite.ts';

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
