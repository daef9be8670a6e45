/**
 * Global teardown of `npm run test:integration`: drops every throwaway PostgreSQL database the tests
 * created (`fg_test_*`), including those of tests that failed before their own cleanup.
 */
import pg from 'pg';
import { PG_ADMIN_URL } from './engines.ts';

export default function setup(): () => Promise<void> {
  return async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'fg\\_test\\_%'`);
    for (const r of rows) await c.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`);
    await c.end();
  };
}
