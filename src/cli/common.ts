/**
 * Shared pieces of the CLI commands: the database flag, the usage error, the exit codes.
 */
import fs from 'node:fs';
import { foreignSqliteFile, isPostgresUrl } from '../db/connection.ts';

export const DEFAULT_DB = 'data/fundguard.db';

/** Bad usage, flags or values: exit code 2 with a one-line message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * The database to open: `--db`, else `FUNDGUARD_DB`, else the default SQLite file.
 * @throws UsageError when it names a file that is not a fundguard store (not SQLite, or another application's
 *   database), which opening would migrate ({@link foreignSqliteFile})
 */
export function dbTarget(opt: string | undefined): string {
  const target = opt ?? process.env.FUNDGUARD_DB ?? DEFAULT_DB;
  const foreign = isPostgresUrl(target) || target === ':memory:' ? null : foreignSqliteFile(target);
  if (foreign) throw new UsageError(`--db: ${target} is ${foreign}; nothing was changed`);
  return target;
}

/** A non-empty regular file (an empty one is what a mistyped path created by hand looks like). */
const isStoreFile = (file: string): boolean => {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st !== undefined && st.isFile() && st.size > 0;
};

/**
 * The database a reading or case command opens (`status`, `cases …`, `feedback import`): as {@link dbTarget},
 * but a SQLite file that does not exist (or is a directory, or empty) is refused instead of created, so that a
 * mistyped `--db` does not show as an empty store (fresh-user trials). Only `run` and `schedule` create a store.
 * @throws UsageError naming the path and the command that creates it
 */
export function existingDbTarget(opt: string | undefined): string {
  const target = dbTarget(opt);
  if (!isPostgresUrl(target) && target !== ':memory:' && !isStoreFile(target)) {
    throw new UsageError(`no fundguard database at ${target}: \`fundguard run --db ${target} …\` creates it (or give --db or FUNDGUARD_DB)`);
  }
  return target;
}

/** The help text of `--db`. */
export const DB_HELP = `database: SQLite file (default ${DEFAULT_DB}, or FUNDGUARD_DB)`;
