/**
 * Opening the database: a SQLite file path (the embedded default) or a PostgreSQL URL
 * (`postgres://` / `postgresql://`). Everything above src/db/ talks to the returned {@link Store}.
 */
import { openSqlite } from './sqlite.ts';
import { openPostgres } from './postgres.ts';
import type { Store } from './store.ts';

export type { Engine, FileLoader, FileMeta, FileResult, PaymentOutcome, RunHolder, Store } from './store.ts';
export { processAlive } from './sqlite.ts';

/** True when `target` names a PostgreSQL database. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/**
 * Opens (creating if needed) and migrates the database at `target`.
 * @throws Error with a one-line reason when the database cannot be opened or migrated
 */
export async function openStore(target: string): Promise<Store> {
  return isPostgresUrl(target) ? openPostgres(target) : openSqlite(target);
}
