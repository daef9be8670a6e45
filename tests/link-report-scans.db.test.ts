/**
 * Migration 0007 (issue 10: no scan of every payment row in a nightly run), on every engine:
 * - `scheme_period`, updated with new rows only, equals the GROUP BY over every payment it replaces — also
 *   after a late file of an old period, reversals (amount ≤ 0) and a scheme whose only rows are negative — and
 *   the migration backfills it for a store that already holds payments;
 * - the link stage reads the invalid payment IDs through the partial index `payment_invalid_id`, and gives
 *   the same links with it as without it.
 */
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ENGINES, freshStoreEachTest, type TestDb } from './helpers/engines.ts';
import type { Store } from '../src/db/connection.ts';
import { migrations } from '../src/db/migrations.ts';
import { SCHEME_PERIOD_HIGH_WATER } from '../src/db/summary-tables.ts';
import { refreshSchemePeriods } from '../src/reports/report-data.ts';
import { linkDeaths } from '../src/matching/link.ts';
import { checkCharacter } from '../src/identity/resident-id.ts';

let seq = 0;

async function addFile(store: Store, kind: 'payments' | 'deaths'): Promise<number> {
  seq++;
  const f = await store.db
    .insertInto('source_file')
    .values({
      path: `${kind}/t-${seq}.csv`, sha256: `sha-${seq}`, size: 1, mtime_ms: 1, kind, source: kind === 'payments' ? 'payments' : 'health', format: 'csv', encoding: 'utf-8',
      status: 'ingested', error_code: null, error: null, layout_key: 'k', header_line: 1, rows_read: 0, rows_accepted: 0, rows_rejected: 0, rows_skipped: 0, rows_repeated: 0, run_id: 1, ingested_at: '2025-01-01T00:00:00Z',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(f.id);
}

interface Pay { id: string; period: string; fen: number; scheme?: string; name?: string; valid?: 0 | 1 }

async function addPayments(store: Store, rows: Pay[]): Promise<void> {
  const fileId = await addFile(store, 'payments');
  for (const [i, r] of rows.entries()) {
    await store.db.insertInto('payment').values({
      file_id: fileId, line: i + 2, person_no: null, id_number: r.id, id_raw: r.id, id_valid: r.valid ?? 1, name: r.name ?? '张三', sex: null, scheme: r.scheme ?? '110',
      item: 'pension', item_raw: '基本养老金', period: r.period, amount_fen: r.fen, paid_on: null, account: null, bank: null, agency: null, district_code: null, batch: `B${seq}-${i}`,
    }).execute();
  }
}

async function addDeath(store: Store, id: string, name: string, valid: 0 | 1 = 1): Promise<void> {
  const fileId = await addFile(store, 'deaths');
  await store.db.insertInto('death_record').values({
    file_id: fileId, line: 2, source: 'health', id_number: id, id_raw: id, id_valid: valid, name, sex: null, birth_date: null, death_date: '2024-02-10',
    cremation_date: null, cancel_date: null, cancel_reason: null, is_death: 1,
  }).execute();
}

/** A valid ID in area 360102. */
const validId = (birth: string, seq3: string): string => {
  const body = `360102${birth}${seq3}`;
  return body + checkCharacter(body);
};
/** The ID with its check character replaced by a wrong one. */
const badCheck = (id: string): string => id.slice(0, 17) + (id[17] === '0' ? '1' : '0');

const A = '110101194001010011';
const B = '110101194001010038';

describe.each(ENGINES)('migration 0007: no full scans for the link stage and the reports (%s)', (engine) => {
  let t: TestDb;
  let store: Store;
  freshStoreEachTest(engine, (db, s) => {
    t = db;
    store = s;
  });

  /** The query the reports ran before 0007: a scan of every payment. */
  const groupBy = async (): Promise<[string, string][]> =>
    (await store.db.selectFrom('payment').select(['scheme', (eb) => eb.fn.max('period').as('period')]).where('amount_fen', '>', 0).groupBy('scheme').execute())
      .map((r): [string, string] => [r.scheme, String(r.period)]).sort();
  const fromTable = async (): Promise<[string, string][]> =>
    (await store.db.selectFrom('scheme_period').select(['scheme', (eb) => eb.fn.max('period').as('period')]).groupBy('scheme').execute())
      .map((r): [string, string] => [r.scheme, String(r.period)]).sort();
  const pairs = async (): Promise<string[]> => (await store.db.selectFrom('scheme_period').selectAll().execute()).map((r) => `${r.scheme}|${r.period}`).sort();
  const highWater = async (): Promise<number> =>
    Number((await store.db.selectFrom('detector_state').select('value').where('run_id', '=', 0).where('detector', '=', SCHEME_PERIOD_HIGH_WATER.detector).where('key', '=', SCHEME_PERIOD_HIGH_WATER.key).executeTakeFirstOrThrow()).value);
  const maxId = async (): Promise<number> => Number((await store.db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow()).m);

  it('scheme_period, updated with new rows only, gives the latest period per scheme of a GROUP BY over every row', async () => {
    expect(await highWater()).toBe(0); // set by the migration on an empty store
    await addPayments(store, [
      { id: A, period: '2024-01', fen: 300000 }, { id: A, period: '2024-02', fen: 300000 },
      { id: B, period: '2024-03', fen: -5000, scheme: '120' }, // a scheme with a reversal only: no latest period
      { id: B, period: '2024-02', fen: 5000, scheme: '130' },
    ]);
    await refreshSchemePeriods(store.db);
    expect(await fromTable()).toEqual([['110', '2024-02'], ['130', '2024-02']]);
    expect(await fromTable()).toEqual(await groupBy());
    expect(await highWater()).toBe(await maxId());

    // Next month, with reversals (a negative row in a later period moves nothing), then a late file of an old
    // period (it adds a pair, and a new latest period only for a scheme whose periods were all earlier).
    await addPayments(store, [
      { id: A, period: '2024-03', fen: 300000 }, { id: A, period: '2024-04', fen: -300000 }, { id: A, period: '2024-05', fen: 0 },
      { id: B, period: '2024-04', fen: -5000, scheme: '130' },
    ]);
    await refreshSchemePeriods(store.db);
    expect(await fromTable()).toEqual([['110', '2024-03'], ['130', '2024-02']]);
    expect(await fromTable()).toEqual(await groupBy());
    await addPayments(store, [
      { id: B, period: '2023-11', fen: 5000, scheme: '110' }, { id: B, period: '2024-01', fen: 7000, scheme: '120' }, { id: B, period: '2024-03', fen: 5000, scheme: '130' },
    ]);
    await refreshSchemePeriods(store.db);
    expect(await fromTable()).toEqual([['110', '2024-03'], ['120', '2024-01'], ['130', '2024-03']]);
    expect(await fromTable()).toEqual(await groupBy());
    expect(await pairs()).toEqual(['110|2023-11', '110|2024-01', '110|2024-02', '110|2024-03', '120|2024-01', '130|2024-02', '130|2024-03']);
    expect(await highWater()).toBe(await maxId());

    // Nothing new: nothing changes. A lost mark: rebuilt from every row.
    await refreshSchemePeriods(store.db);
    expect(await fromTable()).toEqual(await groupBy());
    await store.db.deleteFrom('detector_state').where('run_id', '=', 0).where('detector', '=', SCHEME_PERIOD_HIGH_WATER.detector).execute();
    await store.db.insertInto('scheme_period').values({ scheme: '999', period: '2030-01' }).execute();
    await refreshSchemePeriods(store.db);
    expect(await fromTable()).toEqual(await groupBy());
    expect(await highWater()).toBe(await maxId());
  });

  it('the migration backfills scheme_period from a store that already holds payments', async () => {
    await addPayments(store, [
      { id: A, period: '2024-01', fen: 300000 }, { id: A, period: '2024-06', fen: -300000 }, { id: B, period: '2024-02', fen: 100, scheme: '120' },
    ]);
    const m = migrations(engine)['0007_link_report_scans']!;
    await m.down!(store.db);
    await m.up(store.db);
    expect(await pairs()).toEqual(['110|2024-01', '120|2024-02']);
    expect(await fromTable()).toEqual(await groupBy());
    expect(await highWater()).toBe(await maxId());
  });

  it('the link stage reads invalid payment IDs through the partial index, with the same links as a full scan', async () => {
    const dead = validId('19500312', '201');
    const payDamaged = validId('19601010', '419');
    const alive = validId('19450505', '305');
    await addPayments(store, [
      { id: dead, period: '2024-03', fen: 300000, name: '陈建国' },
      // The payments carry a damaged form (check character) of a dead person's ID, and of a living one's.
      { id: badCheck(payDamaged), period: '2024-03', fen: 300000, name: '曹立新', valid: 0 },
      { id: payDamaged, period: '2024-02', fen: 300000, name: '曹立新' },
      { id: badCheck(alive), period: '2024-03', fen: 300000, name: '周志强', valid: 0 },
    ]);
    await addDeath(store, dead, '陈建国');
    await addDeath(store, payDamaged, '曹立新');

    const withIndex = await linkDeaths(store.db);
    expect(withIndex.stats.invalidRecipientIds).toBe(2);
    expect(withIndex.deaths.map((d) => [d.idNumber, d.confidence, d.idMethod])).toEqual(
      [[dead, 'confirmed', 'exact'], [payDamaged, 'confirmed', 'exact'], [badCheck(payDamaged), 'probable', 'substitution']].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );
    // The query plan uses the partial index (PostgreSQL: once sequential scans are ruled out, the index must
    // be usable for the query's predicate).
    const q = store.db.selectFrom('payment').select(['id_number', 'id_valid', 'name', 'sex', 'id_raw']).where('id_valid', '=', sql.lit(0)).compile();
    let plan: string;
    if (engine === 'sqlite') {
      plan = JSON.stringify((await sql.raw(`EXPLAIN QUERY PLAN ${q.sql}`).execute(store.db)).rows);
    } else {
      plan = await store.db.connection().execute(async (c) => {
        await sql`SET enable_seqscan = off`.execute(c);
        const rows = (await sql.raw(`EXPLAIN ${q.sql}`).execute(c)).rows;
        await sql`SET enable_seqscan = on`.execute(c);
        return JSON.stringify(rows);
      });
    }
    expect(plan).toContain('payment_invalid_id');

    await store.db.schema.dropIndex('payment_invalid_id').execute();
    const fullScan = await linkDeaths(store.db);
    expect(fullScan).toEqual(withIndex);
  });
});
