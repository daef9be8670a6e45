/**
 * Fields of a JSON text column read by the database instead of parsing the whole text in JavaScript
 * (issue 10: the reports need three short fields of evidence documents of kilobytes each). SQLite only (its
 * JSON functions, `->>` with a `$.a.b` path); on PostgreSQL the column stays text and the caller parses it.
 */
import { sql, SqliteAdapter, type Kysely, type RawBuilder } from 'kysely';

/** A selection of JSON fields: one expression per field, and the column's text when it is not valid JSON. */
export type JsonFieldSelection<K extends string> = { [F in K]: RawBuilder<string | number | null> } & {
  /** The column's text when it is not valid JSON (the caller's fallback), else null. */
  invalid: RawBuilder<string | null>;
};

/**
 * SQL expressions reading `paths` (`$.why`, `$.death.date`) out of the JSON text column `column` (a plain
 * column name of the queried table): NULL when the document is not valid JSON (RFC 8259, `json_valid`) or the
 * path is missing, the JSON value as SQL (text, integer, real; null for JSON null) otherwise. Returns null when
 * the engine is not SQLite: read the column and parse it then.
 */
export function jsonFields<K extends string>(db: Kysely<any>, column: string, paths: Record<K, string>): JsonFieldSelection<K> | null {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return null;
  const col = sql.ref(column);
  const out: Record<string, RawBuilder<unknown>> = {
    invalid: sql<string | null>`CASE WHEN json_valid(${col}) THEN NULL ELSE ${col} END`,
  };
  for (const [field, path] of Object.entries(paths) as [K, string][]) {
    if (!/^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(path)) throw new RangeError(`JSON path must be $.name(.name)*, got "${path}"`);
    out[field] = sql<string | number | null>`CASE WHEN json_valid(${col}) THEN ${col} ->> ${sql.lit(path)} END`;
  }
  return out as JsonFieldSelection<K>;
}
