/**
 * Test harness for "every test that touches the database runs on both engines" (kysely's own suite loops
 * over dialects the same way). `npm test` runs the database tests on SQLite; `npm run test:integration`
 * runs the same files on PostgreSQL (FUNDGUARD_TEST_ENGINES=postgres), each test in a throwaway database it
 * creates and drops.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach } from 'vitest';
import { openStore, type Engine, type Store } from '../../src/db/connection.ts';

/** Engines to run database tests on: `FUNDGUARD_TEST_ENGINES` (comma-separated), default `sqlite`. */
export const ENGINES: Engine[] = (process.env.FUNDGUARD_TEST_ENGINES ?? 'sqlite').split(',').map((s) => s.trim()).filter(Boolean) as Engine[];

/** Admin URL used to create and drop throwaway PostgreSQL databases. */
export const PG_ADMIN_URL = process.env.FUNDGUARD_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** A fresh, empty database target of the engine: a temp SQLite file or a new PostgreSQL database. */
export interface TestDb {
  engine: Engine;
  /** What to pass as `--db` / to openStore. */
  target: string;
  /** A temp folder for the test's other files (inbox, out). */
  dir: string;
  open(): Promise<Store>;
  /** Drops the database and removes the temp folder. */
  cleanup(): Promise<void>;
}

export async function createTestDb(engine: Engine): Promise<TestDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fg-${engine}-`));
  if (engine === 'sqlite') {
    const target = path.join(dir, 'fundguard.db');
    return { engine, target, dir, open: () => openStore(target), cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `fg_test_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN_URL);
  u.pathname = '/' + name;
  const target = u.toString();
  return {
    engine,
    target,
    dir,
    open: () => openStore(target),
    async cleanup() {
      const a = new pg.Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const targets = new Map<string, Promise<string>>();

/**
 * The database target for a test folder on the engine under test (ENGINES[0]): `dir/name` for SQLite, a
 * throwaway PostgreSQL database for PostgreSQL (dropped by the integration run's global teardown). The same
 * (dir, name) always gives the same target.
 */
export function engineTarget(dir: string, name = 'fundguard.db'): Promise<string> {
  const key = `${dir}\0${name}`;
  let t = targets.get(key);
  if (!t) {
    t = ENGINES[0] === 'postgres' ? createTestDb('postgres').then((d) => d.target) : Promise.resolve(path.join(dir, name));
    targets.set(key, t);
  }
  return t;
}

/**
 * Gives every test of the enclosing `describe` a fresh store of the engine: a beforeEach creates the database
 * and opens it, then hands both to `use` (which keeps them in the suite's variables); an afterEach closes the
 * store and drops the database.
 */
export function freshStoreEachTest(engine: Engine, use: (t: TestDb, store: Store) => void): void {
  let t: TestDb;
  let store: Store;
  beforeEach(async () => {
    t = await createTestDb(engine);
    store = await t.open();
    use(t, store);
  });
  afterEach(async () => {
    await store.close();
    await t.cleanup();
  });
}
