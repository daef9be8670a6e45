/**
 * PostgreSQL: an idle pooled connection closed by the server (a restart, pg_terminate_backend, a database
 * dropped WITH (FORCE)) must not kill the process. Without the pool's error listener, pg emits an unhandled
 * 'error' event — seen as "terminating connection due to administrator command" (57P01) failing the
 * integration run after every test had passed.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDb, PG_ADMIN_URL, type TestDb } from '../helpers/engines.ts';

describe('PostgreSQL store and a server-side disconnect', () => {
  let t: TestDb | undefined;
  afterAll(async () => {
    await t?.cleanup();
  });

  it('survives its idle connections being terminated, and the next query works', async () => {
    t = await createTestDb('postgres');
    const store = await t.open();
    const unhandled: unknown[] = [];
    const onUncaught = (e: unknown): void => void unhandled.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      expect(Number((await store.db.selectFrom('run').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(0);
      const dbName = new URL(t.target).pathname.slice(1);
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      const killed = await admin.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
      await admin.end();
      expect(killed.rowCount).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(unhandled).toEqual([]);
      // The pool dropped the dead client: the next query opens a new connection.
      expect(Number((await store.db.selectFrom('run').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(0);
    } finally {
      process.off('uncaughtException', onUncaught);
      await store.close();
    }
  });
});
