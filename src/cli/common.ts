/**
 * Shared pieces of the CLI commands: the database flag, the usage error, the exit codes.
 */
import { isPostgresUrl, sqliteFileKind } from '../db/connection.ts';

export const DEFAULT_DB = 'data/fundguard.db';

/** Bad usage, flags or values: exit code 2 with a one-line message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The target named by `--db` / `FUNDGUARD_DB` / the default, and what its file is (null: not a SQLite file path). */
function checkedTarget(opt: string | undefined): { target: string; file: ReturnType<typeof sqliteFileKind> | null } {
  const target = opt ?? process.env.FUNDGUARD_DB ?? DEFAULT_DB;
  const file = isPostgresUrl(target) || target === ':memory:' ? null : sqliteFileKind(target);
  if (file?.reason) throw new UsageError(`--db: ${target} is ${file.reason}; nothing was changed`);
  return { target, file };
}

/**
 * The database to open: `--db`, else `FUNDGUARD_DB`, else the default SQLite file.
 * @throws UsageError when it names a file that is not a fundguard store (not SQLite, or another application's
 *   database), which opening would migrate ({@link sqliteFileKind})
 */
export function dbTarget(opt: string | undefined): string {
  const { target, file } = checkedTarget(opt);
  // A folder is no database file (opening it failed with a bare "unable to open database file", exit 1).
  if (file?.kind === 'folder') {
    throw new UsageError(`--db: ${target} is a folder, not a database file; nothing was changed`);
  }
  return target;
}

/**
 * The database a reading or case command opens (`status`, `cases …`, `feedback import`): as {@link dbTarget},
 * but a SQLite file that does not exist (or is a directory, an empty file, or a database with nothing in it)
 * is refused instead of made a store, so that a mistyped `--db` does not show as an empty store (fresh-user
 * trials). Only `run` and `schedule` create a store.
 * @throws UsageError naming the path and the command that creates it
 */
export function existingDbTarget(opt: string | undefined): string {
  const { target, file } = checkedTarget(opt);
  if (file && (file.kind === 'absent' || file.kind === 'folder' || file.kind === 'empty')) {
    throw new UsageError(`no fundguard database at ${target}: \`fundguard run --db ${target} …\` creates it (or give --db or FUNDGUARD_DB)`);
  }
  return target;
}

/** The help text of `--db`. */
export const DB_HELP = `database: SQLite file (default ${DEFAULT_DB}, or FUNDGUARD_DB)`;
