/**
 * Opening the database: a SQLite file path (the embedded default) or a PostgreSQL URL
 * (`postgres://` / `postgresql://`). Everything above src/db/ talks to the returned {@link Store}.
 */
import { openSqlite } from './sqlite.ts';
import type { Store } from './store.ts';

export type { Engine, FileLoader, FileMeta, FileResult, PaymentOutcome, RunHolder, Store } from './store.ts';
export { processAlive, sqliteFileKind } from './sqlite.ts';

/** True when `target` names a PostgreSQL database. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/**
 * Opens (creating if needed) and migrates the database at `target`.
 * @throws Error with a one-line reason when the database cannot be opened or migrated
 */
export async function openStore(target: string): Promise<Store> {
  if (isPostgresUrl(target)) {
    const { openPostgres } = await import('./postgres.ts'); // pg is loaded only when used
    return openPostgres(target);
  }
  return openSqlite(target);
}
