/**
 * The PostgreSQL engine (kysely's Postgres dialect over `pg`), for deployments that outgrow one SQLite file.
 *
 * - Type conversion in one place: int8 (counts, sums, bigserial ids, amounts in fen) and numeric come back
 *   as JS numbers (an int8 beyond 2^53 throws rather than silently losing digits); DATE / TIMESTAMP columns
 *   come back as their text (dates stay `YYYY-MM-DD`, never a time-zone-shifted JS Date).
 * - Bulk load with COPY (pg-copy-streams) into a temporary staging table, then one set-based
 *   `INSERT … ON CONFLICT DO NOTHING` on the payment natural key, and one join to classify each row as
 *   new, a repeat of a stored payment, or a conflicting amount.
 * - The run lock is a session-level advisory lock held on its own dedicated connection for the whole run,
 *   together with the `run` table: a `running` run while the advisory lock is free means its holder died
 *   (any machine) — it is marked `abandoned`.
 */
import pg from 'pg';
import Cursor from 'pg-cursor';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Kysely, PostgresDialect } from 'kysely';
import type { DB, NewDeathRecord, NewPayment, NewReject } from './schema.ts';
import { migrateToLatest } from './migrations.ts';
import type { FileLoader, PaymentOutcome, RunHolder, Store } from './store.ts';

/** Advisory lock key of "one run at a time" (an arbitrary constant: 'fundguard' in ASCII, truncated). */
const RUN_LOCK_KEY = 0x66756e6467756172n;

const toNumber = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) && Number.isInteger(Math.trunc(n)) && Math.abs(n) > Number.MAX_SAFE_INTEGER) {
    throw new RangeError(`integer ${v} is beyond 2^53 and cannot be represented exactly`);
  }
  return n;
};

/** pg type parsers: int8 (20) and numeric (1700) → number; date (1082), timestamp (1114), timestamptz (1184) → text. */
export const PG_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 || oid === 1700) return toNumber;
    if (oid === 1082 || oid === 1114 || oid === 1184) return (v: string) => v;
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as unknown as pg.CustomTypesConfig;

/** Masks the password of a connection URL for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgresql://…';
  }
}

/** Escapes one value for COPY … FROM STDIN in text format. */
function copyValue(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  const s = String(v);
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

async function copyRows(client: pg.PoolClient, table: string, columns: readonly string[], rows: readonly Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  async function* lines() {
    let buf = '';
    for (const r of rows) {
      buf += columns.map((c) => copyValue(r[c])).join('\t') + '\n';
      if (buf.length > 1 << 16) {
        yield buf;
        buf = '';
      }
    }
    if (buf) yield buf;
  }
  await pipeline(Readable.from(lines()), stream);
}

const PAYMENT_COLUMNS = [
  'line', 'person_no', 'id_number', 'id_raw', 'id_valid', 'name', 'sex', 'scheme', 'item', 'item_raw', 'period', 'amount_fen', 'paid_on',
  'account', 'bank', 'agency', 'district_code', 'batch',
] as const;
const DEATH_COLUMNS = [
  'file_id', 'line', 'source', 'id_number', 'id_raw', 'id_valid', 'name', 'sex', 'birth_date', 'death_date', 'cremation_date', 'cancel_date', 'cancel_reason', 'is_death',
] as const;

/**
 * Opens (and migrates) a PostgreSQL database.
 * @param url `postgresql://user@host:port/db`
 * @throws Error naming the (password-redacted) URL when the server cannot be reached
 */
export async function openPostgres(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 4, types: PG_TYPES });
  // An idle pooled connection closed by the server (a restart, pg_terminate_backend, DROP DATABASE … FORCE)
  // is an 'error' event on the pool; unhandled, it would kill the process between queries. The pool drops
  // that client by itself and the next query opens a new one (or fails with its own error).
  pool.on('error', () => {});
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => {});
    throw new Error(`cannot connect to ${redactUrl(url)}: ${(e as Error).message}`);
  }
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool, cursor: Cursor }) });
  await migrateToLatest(db, 'postgres');
  let lockClient: pg.PoolClient | null = null;
  let lockRun: number | null = null;

  const store: Store = {
    engine: 'postgres',
    db,
    location: redactUrl(url),
    async loadFile(meta, body) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // A death file read again replaces its death records; its first reading stays the history of the run
        // that read it, marked superseded (below; migration 0012).
        if (meta.replaces !== undefined) await client.query('DELETE FROM death_record WHERE file_id = $1', [meta.replaces]);
        const ins = await client.query(
          `INSERT INTO source_file (path, sha256, size, mtime_ms, kind, source, format, encoding, status, error_code, error, layout_key,
             header_line, rows_read, rows_accepted, rows_rejected, rows_skipped, rows_repeated, run_id, ingested_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 'loading', NULL, NULL, $8, NULL, 0, 0, 0, 0, 0, $9, $10) RETURNING id`,
          [meta.path, meta.sha256, meta.size, meta.mtimeMs, meta.kind, meta.source, meta.format, meta.layoutKey, meta.runId, new Date().toISOString()],
        );
        const fileId = Number(ins.rows[0].id);
        if (meta.replaces !== undefined) await client.query('UPDATE source_file SET superseded_by = $1 WHERE id = $2', [fileId, meta.replaces]);
        let staged = false;
        const loader: FileLoader = {
          fileId,
          async addPayments(rows: NewPayment[]): Promise<PaymentOutcome[]> {
            if (rows.length === 0) return [];
            if (!staged) {
              await client.query(
                `CREATE TEMP TABLE payment_stage (seq integer, ${PAYMENT_COLUMNS.map((c) => `${c} ${c === 'line' || c === 'id_valid' ? 'integer' : c === 'amount_fen' ? 'bigint' : 'text'}`).join(', ')}) ON COMMIT DROP`,
              );
              staged = true;
            } else await client.query('TRUNCATE payment_stage');
            await copyRows(client, 'payment_stage', ['seq', ...PAYMENT_COLUMNS], rows.map((r, i) => ({ seq: i, ...r })));
            await client.query(
              `INSERT INTO payment (file_id, ${PAYMENT_COLUMNS.join(', ')})
               SELECT $1, ${PAYMENT_COLUMNS.join(', ')} FROM payment_stage ORDER BY seq
               ON CONFLICT (batch, id_number, scheme, item, period) DO NOTHING`,
              [fileId],
            );
            const res = await client.query(
              `SELECT s.seq, s.line AS s_line, s.amount_fen AS s_amount, p.file_id, p.line, p.amount_fen, f.path
                 FROM payment_stage s
                 JOIN payment p ON p.batch = s.batch AND p.id_number = s.id_number AND p.scheme = s.scheme AND p.item = s.item AND p.period = s.period
                 JOIN source_file f ON f.id = p.file_id
                ORDER BY s.seq`,
            );
            const out: PaymentOutcome[] = new Array(rows.length);
            for (const r of res.rows as { seq: number; s_line: number; s_amount: number; file_id: number; line: number; amount_fen: number; path: string }[]) {
              if (Number(r.file_id) === fileId && r.line === r.s_line) out[r.seq] = { status: 'new' };
              else if (r.amount_fen === r.s_amount) out[r.seq] = { status: 'repeat', file: r.path, line: r.line };
              else out[r.seq] = { status: 'conflict', file: r.path, line: r.line, amountFen: r.amount_fen };
            }
            return out;
          },
          async addDeathRecords(rows: NewDeathRecord[]) {
            await copyRows(client, 'death_record', DEATH_COLUMNS, rows.map((r) => ({ ...r, file_id: fileId })));
          },
          async addRejects(rows: NewReject[]) {
            await copyRows(client, 'reject', ['file_id', 'line', 'code', 'reason', 'raw'], rows.map((r) => ({ ...r, file_id: fileId })));
          },
        };
        const result = await body(loader);
        await client.query(
          `UPDATE source_file SET status = $1, encoding = $2, error_code = $3, error = $4, header_line = $5, rows_read = $6, rows_accepted = $7,
             rows_rejected = $8, rows_skipped = $9, rows_repeated = $10, recheck_from = $12 WHERE id = $11`,
          [result.status, result.encoding, result.errorCode, result.error, result.headerLine, result.rowsRead, result.rowsAccepted, result.rowsRejected, result.rowsSkipped, result.rowsRepeated, fileId, result.recheckFrom ?? null],
        );
        await client.query('COMMIT');
        return { fileId, result };
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        client.release();
      }
    },
    async beginRun(asOf, host, pid, startedAt) {
      const client = await pool.connect();
      let keep = false;
      try {
        const got = await client.query('SELECT pg_try_advisory_lock($1) AS ok', [RUN_LOCK_KEY.toString()]);
        if (!got.rows[0].ok) {
          const held = await db.selectFrom('run').select(['id', 'host', 'pid', 'started_at']).where('status', '=', 'running').orderBy('id', 'desc').executeTakeFirst();
          return { heldBy: (held as RunHolder | undefined) ?? { id: 0, host: 'unknown', pid: 0, started_at: 'unknown' } };
        }
        // We hold the lock: any run still marked running lost its holder.
        await client.query(`UPDATE run SET status = 'abandoned', ended_at = $1, error = 'the process holding this run is gone' WHERE status = 'running'`, [new Date().toISOString()]);
        const ins = await client.query(
          `INSERT INTO run (as_of, started_at, ended_at, status, host, pid, stats, error) VALUES ($1, $2, NULL, 'running', $3, $4, '{}', NULL) RETURNING id`,
          [asOf, startedAt, host, pid],
        );
        keep = true;
        lockClient = client;
        lockRun = Number(ins.rows[0].id);
        return { runId: lockRun };
      } finally {
        if (!keep) client.release();
      }
    },
    async optimize() {
      await pool.query('ANALYZE payment, death_record, reject, source_file');
    },
    async endRun(runId) {
      if (lockClient && lockRun === runId) {
        await lockClient.query('SELECT pg_advisory_unlock($1)', [RUN_LOCK_KEY.toString()]).catch(() => {});
        lockClient.release();
        lockClient = null;
        lockRun = null;
      }
    },
    async close() {
      if (lockClient) {
        lockClient.release();
        lockClient = null;
      }
      await db.destroy();
    },
  };
  return store;
}
