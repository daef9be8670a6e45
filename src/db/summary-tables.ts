/**
 * Summary tables kept up to date from the payment rows stored since their high-water mark (issue 10: no scan
 * of every payment on a nightly run). Payment ids only grow, so "the rows above the mark" are exactly the rows
 * stored since the table was last brought up to date. The mark is a `detector_state` row of run 0. Used by
 * `payment_group_stats` (amount_anomaly), `account_person` (shared_account) and `scheme_period` (reports);
 * their migrations (0005–0007) fill them and set the mark with {@link setHighWater}.
 */
import { sql, SqliteAdapter, type CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { DB } from './schema.ts';
import type { Store } from './store.ts';

/** A summary table that is only ever added to from new payment rows. */
export type SummaryTable = 'payment_group_stats' | 'account_person' | 'scheme_period';

/** Where a summary table's mark is kept: `detector_state` (run 0, detector, key). */
export interface HighWaterMark {
  readonly detector: string;
  readonly key: string;
}

/** The highest payment id a summary table includes, or null when the mark is missing (the table is rebuilt). */
export async function readHighWater(db: Kysely<DB>, mark: HighWaterMark): Promise<number | null> {
  const r = await db.selectFrom('detector_state').select('value').where('run_id', '=', 0).where('detector', '=', mark.detector).where('key', '=', mark.key).executeTakeFirst();
  return r ? Number(r.value) : null;
}

/** Records that a summary table includes every payment with `id <= id` (replacing the previous mark). */
export async function setHighWater(db: Kysely<DB>, mark: HighWaterMark, id: number): Promise<void> {
  for (const q of highWaterStatements(db, mark, id)) await db.executeQuery(q);
}

/** The statements of {@link setHighWater}, compiled. */
function highWaterStatements(db: Kysely<DB>, mark: HighWaterMark, id: number): CompiledQuery[] {
  return [
    db.deleteFrom('detector_state').where('run_id', '=', 0).where('detector', '=', mark.detector).where('key', '=', mark.key).compile(),
    db.insertInto('detector_state').values({ run_id: 0, detector: mark.detector, key: mark.key, value: String(id) }).compile(),
  ];
}

/** True when a mark says the table holds no payment yet: missing (the table is emptied first) or 0. */
const isBuild = (since: number | null): boolean => since === null || since === 0;

/** The highest stored payment id, 0 when there is none. */
export async function maxPaymentId(db: Kysely<DB>): Promise<number> {
  const top = await db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
  return top?.m == null ? 0 : Number(top.m);
}

/**
 * SQLite's sorter works in memory in runs ("PMAs") as large as the page cache (`cache_size`, 128 MiB here),
 * sorted as linked lists: at that size nearly every comparison is a cache miss. A GROUP BY over every payment
 * (a summary table built from scratch) sorts with 2 MiB runs instead — the size of the L2 cache — merged from
 * temporary files: measured on the 250,000-recipient bench store (2.9 M rows, one GROUP BY of 4 columns),
 * 5.4 s of CPU with 128 MiB runs, 4.0 s with 32 MiB, 3.2 s with 8 MiB, 2.6 s with 2 MiB (issue 10). The page
 * cache is set back afterwards. The sort also gets a helper thread (`PRAGMA threads = 2`): nothing else runs
 * on the second core while the detectors work; measured on the 1M-recipient bench store (11.5 M rows, the
 * build's GROUP BY), 12.7 s → 9.9 s wall for 12.7 → 17.5 s of CPU, the same 67 MiB. Other engines are left
 * alone (PostgreSQL groups by hashing and plans its own parallel workers). SQLite never makes a run smaller
 * than 250 pages (SQLITE_SORTER_PMASZ, a compile-time setting): 1 MiB with 4 KiB pages, 4 MiB with 16 KiB
 * pages (every new store since issue 10's fourth round, src/db/sqlite.ts), so there the runs are 4 MiB.
 */
export const BUILD_SORTER_CACHE_KIB = 2048;

/**
 * Runs `f` with SQLite's sorter runs at {@link BUILD_SORTER_CACHE_KIB} and, with `helperThread`, one sorter
 * helper thread (see there); just runs it elsewhere.
 */
async function withBuildSorter<T>(trx: Transaction<DB>, f: () => Promise<T>, helperThread = true): Promise<T> {
  if (!(trx.getExecutor().adapter instanceof SqliteAdapter)) return f();
  const before = (await sql<{ cache_size: number }>`PRAGMA cache_size`.execute(trx)).rows[0]?.cache_size;
  const threads = (await sql<{ threads: number }>`PRAGMA threads`.execute(trx)).rows[0]?.threads;
  await sql.raw(`PRAGMA cache_size = -${BUILD_SORTER_CACHE_KIB}`).execute(trx);
  if (helperThread) await sql.raw('PRAGMA threads = 2').execute(trx);
  try {
    return await f();
  } finally {
    if (threads !== undefined) await sql.raw(`PRAGMA threads = ${Number(threads)}`).execute(trx);
    if (before !== undefined) await sql.raw(`PRAGMA cache_size = ${Number(before)}`).execute(trx);
  }
}

/**
 * Brings a summary table up to the payments with `id <= untilId` (default: the highest stored id), in one
 * transaction: `fill(trx, since, until)` adds the rows with `since < id <= until` — every row up to `until`
 * when `since` is null, after the table was emptied because its mark was missing — and the mark moves to
 * `until`. Nothing is done when the mark is already there. When the table holds no payment yet (mark missing
 * or 0) the fill runs with small sorter runs on SQLite ({@link BUILD_SORTER_CACHE_KIB}).
 */
export async function refreshFromNewPayments(
  db: Kysely<DB>,
  table: SummaryTable,
  mark: HighWaterMark,
  fill: (trx: Transaction<DB>, since: number | null, until: number) => Promise<void>,
  untilId?: number,
): Promise<void> {
  await aheadDone(db);
  await db.transaction().execute(async (trx) => {
    const since = await readHighWater(trx, mark);
    const until = untilId ?? (await maxPaymentId(trx));
    if (since !== null && since >= until) return;
    if (since === null) await trx.deleteFrom(table).execute();
    if (isBuild(since)) await withBuildSorter(trx, () => fill(trx, since, until));
    else await fill(trx, since, until);
    await setHighWater(trx, mark, until);
  });
}

/** The two per-person summary tables of the detectors, which {@link refreshPersonSummary} can build together. */
export type PersonSummary = 'account_person' | 'payment_group_stats';

/** Marks of the person summaries (`detector_state`, run 0); migration 0006 writes the account_person one too. */
export const PERSON_SUMMARY_MARKS: Readonly<Record<PersonSummary, HighWaterMark>> = {
  account_person: { detector: 'shared_account', key: 'account_person_high_water' },
  payment_group_stats: { detector: 'amount_anomaly', key: 'group_stats_high_water' },
};

/**
 * Adds to `account_person` the (account, ID) pairs of the payments with `since < id <= until` (every id up to
 * `until` when `since` is null), non-empty accounts only. Incrementally, the primary key drops the repeats
 * (measured on the 250,000-recipient bench store, 3.1 M rows into 250,036 pairs: 2.7 s of CPU against 3.8 s
 * for SELECT DISTINCT with 128 MiB sorter runs), and the new pairs come sorted (small sorter runs). Built
 * from scratch, the pairs are grouped first, so the table is filled in key order without a lookup per payment.
 */
async function fillAccountPersons(trx: Transaction<DB>, since: number | null, until: number): Promise<void> {
  const q = accountPersonsQuery(trx, since, until);
  if (isBuild(since)) await trx.executeQuery(q);
  else await withBuildSorter(trx, () => trx.executeQuery(q), false);
}

/** The statement of {@link fillAccountPersons}, compiled. */
function accountPersonsQuery(db: Kysely<DB>, since: number | null, until: number): CompiledQuery {
  const pairs = db
    .selectFrom('payment')
    .select(['account', 'id_number'])
    .where('account', 'is not', null)
    .where('account', '<>', '')
    .where('id', '<=', until)
    .$if(since !== null, (q) => q.where('id', '>', since!));
  if (isBuild(since)) return db.insertInto('account_person').columns(['account', 'id_number']).expression(pairs.groupBy(['account', 'id_number'])).compile();
  // In key order: each pair's lookup lands next to the previous one instead of anywhere in the table
  // (1M-recipient bench store, 853 k new rows: 1.7–1.8 s unordered, 0.6–0.7 s sorted with small sorter runs).
  return db
    .insertInto('account_person')
    .columns(['account', 'id_number'])
    .expression(pairs.orderBy('account').orderBy('id_number'))
    .onConflict((oc) => oc.columns(['account', 'id_number']).doNothing())
    .compile();
}

/**
 * Adds to `payment_group_stats` the positive payments with `since < id <= until` (every id up to `until` when
 * `since` is null): count, min and max per (person, scheme, item), summed and widened into the groups there.
 */
async function fillGroupStats(trx: Transaction<DB>, since: number | null, until: number): Promise<void> {
  const q = groupStatsQuery(trx, since, until);
  // A new month's GROUP BY sorts its rows too: small sorter runs there as well (1M-recipient bench store,
  // 989 k new rows: 2.5–3.1 s of CPU with the 128 MiB cache's runs, 1.8–1.9 s with 2 MiB; a helper thread
  // gained nothing at this size). A build (since null) is already inside withBuildSorter.
  if (since === null) await trx.executeQuery(q);
  else await withBuildSorter(trx, () => trx.executeQuery(q), false);
}

/** The statement of {@link fillGroupStats}, compiled. */
function groupStatsQuery(db: Kysely<DB>, since: number | null, until: number): CompiledQuery {
  const agg = db
    .selectFrom('payment')
    .select((eb) => ['id_number', 'scheme', 'item', eb.fn.countAll<number>().as('n'), eb.fn.min('amount_fen').as('min_fen'), eb.fn.max('amount_fen').as('max_fen')])
    .where('amount_fen', '>', 0)
    .where('id', '<=', until)
    .$if(since !== null, (q) => q.where('id', '>', since!))
    .groupBy(['id_number', 'scheme', 'item']);
  return db
    .insertInto('payment_group_stats')
    .columns(['id_number', 'scheme', 'item', 'n', 'min_fen', 'max_fen'])
    .expression(agg)
    .onConflict((oc) =>
      oc.columns(['id_number', 'scheme', 'item']).doUpdateSet((eb) => ({
        n: eb(eb.ref('payment_group_stats.n'), '+', eb.ref('excluded.n')),
        min_fen: eb.case().when('excluded.min_fen', '<', eb.ref('payment_group_stats.min_fen')).then(eb.ref('excluded.min_fen')).else(eb.ref('payment_group_stats.min_fen')).end(),
        max_fen: eb.case().when('excluded.max_fen', '>', eb.ref('payment_group_stats.max_fen')).then(eb.ref('excluded.max_fen')).else(eb.ref('payment_group_stats.max_fen')).end(),
      })),
    )
    .compile();
}

const FILL: Readonly<Record<PersonSummary, typeof fillGroupStats>> = { account_person: fillAccountPersons, payment_group_stats: fillGroupStats };

/** Scratch table of {@link buildPersonSummaries}: one row per (person, scheme, item, account) of the payments. */
interface PersonGroupsTable {
  id_number: string;
  scheme: string;
  item: string;
  account: string | null;
  n: number;
  min_fen: number | null;
  max_fen: number | null;
}

/**
 * Fills both person summaries, emptied, from ONE grouping of every payment with `id <= until`: per (person,
 * scheme, item, account) the count, min and max of the positive amounts, into a temporary table (about one
 * row per recipient); `payment_group_stats` and `account_person` are then grouped from that small table in
 * their key order. The payment rows are scanned and sorted once instead of twice: measured on the
 * 250,000-recipient bench store (2.9 M rows), 3.2 s of CPU with both tables, against 4.7 s for the two
 * separate builds (both with 2 MiB sorter runs) and 10.4 s for the two with 128 MiB runs.
 */
async function buildPersonSummaries(trx: Transaction<DB>, until: number): Promise<void> {
  const q = personSummaryStatements(trx, until);
  await trx.executeQuery(q.group);
  try {
    for (const f of q.fill) await trx.executeQuery(f);
  } finally {
    await trx.executeQuery(q.drop);
  }
}

/**
 * The statements of {@link buildPersonSummaries}, compiled: `group` makes the scratch table, `fill` fills the
 * (emptied) summaries from it, `drop` drops it.
 */
function personSummaryStatements(db: Kysely<DB>, until: number): { group: CompiledQuery; fill: CompiledQuery[]; drop: CompiledQuery } {
  const t = db.withTables<{ fg_person_groups: PersonGroupsTable }>();
  const positive = (e: 'amount_fen' | '1') =>
    sql<number | null>`case when ${sql.ref('amount_fen')} > 0 then ${e === '1' ? sql.lit(1) : sql.ref('amount_fen')} end`;
  const group = t.schema
    .createTable('fg_person_groups')
    .temporary()
    .as(
      db
        .selectFrom('payment')
        .select((eb) => [
          'id_number', 'scheme', 'item', 'account',
          eb.fn.count(positive('1')).as('n'), eb.fn.min(positive('amount_fen')).as('min_fen'), eb.fn.max(positive('amount_fen')).as('max_fen'),
        ])
        .where('id', '<=', until)
        .groupBy(['id_number', 'scheme', 'item', 'account']),
    )
    .compile();
  const fill = [
    t
      .insertInto('payment_group_stats')
      .columns(['id_number', 'scheme', 'item', 'n', 'min_fen', 'max_fen'])
      .expression(
        t
          .selectFrom('fg_person_groups')
          .select((eb) => ['id_number', 'scheme', 'item', eb.fn.sum<number>('n').as('n'), eb.fn.min<number>('min_fen').as('min_fen'), eb.fn.max<number>('max_fen').as('max_fen')])
          .where('n', '>', 0)
          .groupBy(['id_number', 'scheme', 'item'])
          .orderBy('id_number').orderBy('scheme').orderBy('item'),
      )
      .compile(),
    t
      .insertInto('account_person')
      .columns(['account', 'id_number'])
      .expression(
        t
          .selectFrom('fg_person_groups')
          .select(['account', 'id_number'])
          .where('account', 'is not', null)
          .where('account', '<>', '')
          .$narrowType<{ account: string }>()
          .groupBy(['account', 'id_number'])
          .orderBy('account').orderBy('id_number'),
      )
      .compile(),
  ];
  return { group, fill, drop: t.schema.dropTable('fg_person_groups').compile() };
}

/** Refreshes running in a thread, by store (see {@link refreshSummariesAhead}); the refresh functions here wait for them. */
const refreshesAhead = new WeakMap<Kysely<DB>, Promise<void>>();

/** Waits for a refresh started ahead on `db`'s store: it needs the write lock the caller's transaction is about to take. */
async function aheadDone(db: Kysely<DB>): Promise<void> {
  await refreshesAhead.get(db);
}

/** Key (detector `reports`, run 0) of `scheme_period`'s payment high-water mark in `detector_state`. */
export const SCHEME_PERIOD_HIGH_WATER: HighWaterMark = { detector: 'reports', key: 'scheme_period_high_water' };

/**
 * The (scheme, period) pairs `scheme_period` adds: those of the positive payments with `since < id <= until`
 * (every id up to `until` when `since` is null), as a query (src/reports/report-data.ts refreshSchemePeriods
 * inserts it; {@link refreshSummariesAhead} makes a TEMP table of it first). DISTINCT, not GROUP BY: SQLite
 * keeps the few distinct pairs in a small temporary index, where a GROUP BY sorts every row first (11.5 M rows
 * of a 1M-recipient first load: 2.8 s against 7.2 s).
 */
export function schemePeriodPairs(db: Kysely<DB>, since: number | null, until: number) {
  return db
    .selectFrom('payment')
    .select(['scheme', 'period'])
    .distinct()
    .where('amount_fen', '>', 0)
    .where('id', '<=', until)
    .$if(since !== null, (q) => q.where('id', '>', since!));
}

/**
 * Starts bringing the summary tables up to the payments with `id <= untilId` in a thread of the store's own
 * (SQLite: Store.runInThread), and returns at once; the refresh functions here ({@link refreshPersonSummary},
 * {@link refreshFromNewPayments}) wait for it, then find their marks at `untilId` and do nothing. Nothing is
 * started on other stores, or when everything is up to date already. `person`: the two person summaries
 * (when the run's detectors read them); `scheme_period` always (the reports read it).
 *
 * The same statements as on the main connection, in one job: the long reads (the first build's grouping of
 * every payment: ≈ 8 s at 1M recipients, 11.7 M rows; `scheme_period`'s distinct pairs: ≈ 1.8 s) write TEMP
 * tables only, so they take no write lock and run while the first detectors run, on the core they leave
 * idle; then the tables and their marks are written in one transaction (≈ 2 s for a first build or a new
 * month's rows), during which a write of the main connection waits its turn (transactions begin IMMEDIATE,
 * src/db/sqlite.ts). If the thread fails, its transaction rolls back and the refresh functions do the work
 * on the main connection as before.
 */
export async function refreshSummariesAhead(store: Store, untilId: number, which: { person: boolean }): Promise<void> {
  const db = store.db;
  if (!store.runInThread || refreshesAhead.has(db) || untilId <= 0) return;
  const read: CompiledQuery[] = [];
  const write: CompiledQuery[] = [];
  const after: CompiledQuery[] = [];
  if (which.person) {
    const tables = Object.keys(PERSON_SUMMARY_MARKS) as PersonSummary[];
    const marks = await Promise.all(tables.map((t) => readHighWater(db, PERSON_SUMMARY_MARKS[t])));
    if (marks.every(isBuild)) {
      const q = personSummaryStatements(db, untilId);
      read.push(q.group);
      write.push(...tables.map((t) => db.deleteFrom(t).compile()), ...q.fill);
      after.push(q.drop);
      for (const t of tables) write.push(...highWaterStatements(db, PERSON_SUMMARY_MARKS[t], untilId));
    } else if (!marks.some(isBuild)) {
      tables.forEach((t, i) => {
        if (marks[i]! >= untilId) return;
        write.push(t === 'account_person' ? accountPersonsQuery(db, marks[i]!, untilId) : groupStatsQuery(db, marks[i]!, untilId));
        write.push(...highWaterStatements(db, PERSON_SUMMARY_MARKS[t], untilId));
      });
    } // else one is built and the other not: left to refreshPersonSummary
  }
  const since = await readHighWater(db, SCHEME_PERIOD_HIGH_WATER);
  if (since === null || since < untilId) {
    const t = db.withTables<{ fg_scheme_periods: { scheme: string; period: string } }>();
    read.push(t.schema.createTable('fg_scheme_periods').temporary().as(schemePeriodPairs(db, since, untilId)).compile());
    if (since === null) write.push(db.deleteFrom('scheme_period').compile());
    write.push(
      t.insertInto('scheme_period').columns(['scheme', 'period'])
        .expression(t.selectFrom('fg_scheme_periods').select(['scheme', 'period']).where('scheme', 'is not', null))
        .onConflict((oc) => oc.columns(['scheme', 'period']).doNothing())
        .compile(),
      ...highWaterStatements(db, SCHEME_PERIOD_HIGH_WATER, untilId),
    );
    after.push(t.schema.dropTable('fg_scheme_periods').compile());
  }
  if (write.length === 0) return;
  const data = (c: CompiledQuery) => ({ sql: c.sql, parameters: [...c.parameters] });
  const done = store
    .runInThread({
      // Small sorter runs, as withBuildSorter, but no sorter helper thread: the main thread is running the
      // first detectors on the other core (1M bench full run: 84.3 s without the helper, 88.1 s with it,
      // 93.9 s for the build on the main thread). The files the sorts spill go to disk.
      pragmas: [`cache_size = -${BUILD_SORTER_CACHE_KIB}`, 'temp_store = FILE'],
      read: read.map(data),
      write: write.map(data),
      after: after.map(data),
    })
    .then(() => undefined, () => undefined)
    .finally(() => refreshesAhead.delete(db));
  refreshesAhead.set(db, done);
}

/**
 * Brings the person summary `table` up to the payments with `id <= untilId`, in one transaction with its mark.
 * Incrementally (mark above 0) only the rows above the mark are added, as {@link refreshFromNewPayments} does.
 * When the table holds no payment yet (mark missing or 0: the first run of a store) and the other person
 * summary holds none either, both are built from one grouping of every payment ({@link buildPersonSummaries})
 * and both marks move — so the detector that runs second finds its table up to date. Builds use small sorter
 * runs on SQLite ({@link BUILD_SORTER_CACHE_KIB}).
 */
export async function refreshPersonSummary(db: Kysely<DB>, table: PersonSummary, untilId: number): Promise<void> {
  await aheadDone(db);
  await db.transaction().execute(async (trx) => {
    const since = await readHighWater(trx, PERSON_SUMMARY_MARKS[table]);
    if (since !== null && since >= untilId) return;
    if (!isBuild(since)) {
      await FILL[table](trx, since, untilId);
      await setHighWater(trx, PERSON_SUMMARY_MARKS[table], untilId);
      return;
    }
    const other: PersonSummary = table === 'account_person' ? 'payment_group_stats' : 'account_person';
    const together = isBuild(await readHighWater(trx, PERSON_SUMMARY_MARKS[other]));
    const tables = together ? [table, other] : [table];
    for (const t of tables) await trx.deleteFrom(t).execute();
    await withBuildSorter(trx, () => (together ? buildPersonSummaries(trx, untilId) : FILL[table](trx, null, untilId)));
    for (const t of tables) await setHighWater(trx, PERSON_SUMMARY_MARKS[t], untilId);
  });
}
