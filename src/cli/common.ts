/**
 * Shared pieces of the CLI commands: the database flag, the usage error, the exit codes.
 */
export const DEFAULT_DB = 'data/fundguard.db';

/** Bad usage, flags or values: exit code 2 with a one-line message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The database to open: `--db`, else `FUNDGUARD_DB`, else the default SQLite file. */
export function dbTarget(opt: string | undefined): string {
  return opt ?? process.env.FUNDGUARD_DB ?? DEFAULT_DB;
}

/** The help text of `--db`. */
export const DB_HELP = `database: SQLite file (default ${DEFAULT_DB}, or FUNDGUARD_DB)`;
