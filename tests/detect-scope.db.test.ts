/**
 * The pieces of incremental detection (issue 10), on every engine: the death facts report what changed, the
 * per-group payment statistics stay equal to a full GROUP BY as rows are added, and a run detects
 * incrementally only after a succeeded run with the same fingerprint.
 */
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ENGINES, freshStoreEachTest, type TestDb } from './helpers/engines.ts';
import type { Store } from '../src/db/connection.ts';
import { refreshDeathFacts } from '../src/matching/death-facts.ts';
import { refreshGroupStats } from '../src/detectors/amount-anomaly.ts';
import { ACCOUNT_PERSON_HIGH_WATER, refreshAccountPersons, sharedAccount } from '../src/detectors/shared-account.ts';
import { silentLogger } from '../src/log.ts';
import type { DetectorIncremental } from '../src/detectors/scope.ts';
import type { Finding } from '../src/detectors/types.ts';
import { migrations } from '../src/db/migrations.ts';
import { detectionFingerprint, idsWithNewRows, planDetection, saveRunState } from '../src/detectors/scope.ts';
import { loadSettings } from '../src/config/settings.ts';

let seq = 0;

async function addFile(store: Store, kind: 'payments' | 'deaths', runId = 1): Promise<number> {
  seq++;
  const f = await store.db
    .insertInto('source_file')
    .values({
      path: `${kind}/t-${seq}.csv`, sha256: `sha-${seq}`, size: 1, mtime_ms: 1, kind, source: kind === 'payments' ? 'payments' : 'health', format: 'csv', encoding: 'utf-8',
      status: 'ingested', error_code: null, error: null, layout_key: 'k', header_line: 1, rows_read: 0, rows_accepted: 0, rows_rejected: 0, rows_skipped: 0, rows_repeated: 0, run_id: runId, ingested_at: '2025-01-01T00:00:00Z',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(f.id);
}

async function addPayments(store: Store, rows: { id: string; period: string; fen: number; item?: string; batch?: string; account?: string | null }[]): Promise<void> {
  const fileId = await addFile(store, 'payments');
  for (const [i, r] of rows.entries()) {
    await store.db.insertInto('payment').values({
      file_id: fileId, line: i + 2, person_no: null, id_number: r.id, id_raw: r.id, id_valid: 1, name: '张三', sex: null, scheme: '110', item: r.item ?? 'pension', item_raw: '基本养老金',
      period: r.period, amount_fen: r.fen, paid_on: null, account: r.account ?? null, bank: null, agency: null, district_code: null, batch: r.batch ?? `B${r.period}-${seq}-${i}`,
    }).execute();
  }
}

async function addDeath(store: Store, id: string, date: string, source = 'health'): Promise<void> {
  const fileId = await addFile(store, 'deaths');
  await store.db.insertInto('death_record').values({
    file_id: fileId, line: 2, source, id_number: id, id_raw: id, id_valid: 1, name: '李四', sex: null, birth_date: null, death_date: date,
    cremation_date: null, cancel_date: null, cancel_reason: null, is_death: 1,
  }).execute();
}

async function addRun(store: Store, status: string): Promise<number> {
  const r = await store.db.insertInto('run').values({ as_of: '2025-01-31', started_at: 'x', ended_at: null, status, host: 'h', pid: 1, stats: '{}', error: null }).returning('id').executeTakeFirstOrThrow();
  return Number(r.id);
}

const A = '110101194001010011';
const B = '110101194001010038';
const C = '110101194001010054';

describe.each(ENGINES)('incremental detection pieces (%s)', (engine) => {
  let t: TestDb;
  let store: Store;
  freshStoreEachTest(engine, (db, s) => {
    t = db;
    store = s;
  });

  it('death facts report the IDs whose fact was added, changed or removed', async () => {
    await addDeath(store, A, '2024-03-05');
    await addDeath(store, B, '2024-04-06');
    expect(await refreshDeathFacts(store.db)).toEqual({ facts: 2, changed: [A, B] });
    expect(await refreshDeathFacts(store.db)).toEqual({ facts: 2, changed: [] });
    // A more authoritative source is irrelevant here (same source); an added report changes B's sources.
    await addDeath(store, B, '2024-04-07', 'civil-affairs');
    await addDeath(store, C, '2024-05-01');
    expect(await refreshDeathFacts(store.db)).toEqual({ facts: 3, changed: [B, C] });
    await store.db.deleteFrom('death_record').where('id_number', '=', A).execute();
    expect(await refreshDeathFacts(store.db)).toEqual({ facts: 2, changed: [A] });
    expect((await store.db.selectFrom('death_fact').select('id_number').orderBy('id_number').execute()).map((r) => r.id_number)).toEqual([B, C]);
  });

  it('payment_group_stats, updated with new rows only, equals a GROUP BY over every row', async () => {
    const all = async () =>
      (await store.db.selectFrom('payment').select((eb) => ['id_number', 'scheme', 'item', eb.fn.countAll().as('n'), eb.fn.min('amount_fen').as('min_fen'), eb.fn.max('amount_fen').as('max_fen')])
        .where('amount_fen', '>', 0).groupBy(['id_number', 'scheme', 'item']).orderBy('id_number').orderBy('item').execute())
        .map((r) => ({ id_number: r.id_number, scheme: r.scheme, item: r.item, n: Number(r.n), min_fen: Number(r.min_fen), max_fen: Number(r.max_fen) }));
    const stats = async () =>
      (await store.db.selectFrom('payment_group_stats').selectAll().orderBy('id_number').orderBy('item').execute())
        .map((r) => ({ id_number: r.id_number, scheme: r.scheme, item: r.item, n: Number(r.n), min_fen: Number(r.min_fen), max_fen: Number(r.max_fen) }));
    const maxId = async () => Number((await store.db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow()).m);
    await addPayments(store, [{ id: A, period: '2024-01', fen: 300000 }, { id: A, period: '2024-02', fen: 310000 }, { id: B, period: '2024-01', fen: 50000 }, { id: B, period: '2024-01', fen: -50000, batch: 'R1' }]);
    await refreshGroupStats(store.db, await maxId());
    expect(await stats()).toEqual(await all());
    await addPayments(store, [{ id: A, period: '2024-03', fen: 290000 }, { id: A, period: '2024-03', fen: 900000, item: 'back_pay' }, { id: B, period: '2024-02', fen: 70000 }, { id: C, period: '2024-03', fen: 1 }]);
    await refreshGroupStats(store.db, await maxId());
    const got = await stats();
    expect(got).toEqual(await all());
    expect(got.find((r) => r.id_number === A && r.item === 'pension')).toMatchObject({ n: 3, min_fen: 290000, max_fen: 310000 });
  });

  it('account_person, updated with new rows only, equals the distinct (account, ID) pairs of every row', async () => {
    const all = async () =>
      (await store.db.selectFrom('payment').select(['account', 'id_number']).distinct().where('account', 'is not', null).where('account', '<>', '').execute())
        .map((r) => `${r.account}|${r.id_number}`).sort();
    const pairs = async () => (await store.db.selectFrom('account_person').selectAll().execute()).map((r) => `${r.account}|${r.id_number}`).sort();
    const maxId = async () => Number((await store.db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow()).m);
    // A fresh store: the migration recorded the empty table as up to date with id 0.
    expect(await pairs()).toEqual([]);
    await addPayments(store, [
      { id: A, period: '2024-01', fen: 300000, account: 'ACC1' }, { id: B, period: '2024-01', fen: 50000, account: 'ACC1' },
      { id: B, period: '2024-01', fen: -50000, batch: 'R1', account: 'ACC1' }, { id: C, period: '2024-01', fen: 1, account: '' }, { id: C, period: '2024-02', fen: 1 },
    ]);
    await refreshAccountPersons(store.db, await maxId());
    expect(await pairs()).toEqual(['ACC1|' + A, 'ACC1|' + B]);
    expect(await pairs()).toEqual(await all());
    await addPayments(store, [{ id: A, period: '2024-02', fen: 300000, account: 'ACC1' }, { id: C, period: '2024-03', fen: 1, account: 'ACC1' }, { id: A, period: '2024-03', fen: 300000, account: 'ACC2' }]);
    const mid = await maxId();
    await addPayments(store, [{ id: B, period: '2024-04', fen: 7, account: 'ACC2' }]);
    // Only the rows up to the given id are added, and the mark says so.
    await refreshAccountPersons(store.db, mid);
    expect(await pairs()).toEqual(['ACC1|' + A, 'ACC1|' + B, 'ACC1|' + C, 'ACC2|' + A]);
    expect((await store.db.selectFrom('detector_state').select('value').where('run_id', '=', 0).where('key', '=', ACCOUNT_PERSON_HIGH_WATER).executeTakeFirstOrThrow()).value).toBe(String(mid));
    await refreshAccountPersons(store.db, await maxId());
    expect(await pairs()).toEqual(await all());
    expect(await pairs()).toHaveLength(5);
  });

  it('person summaries built from every payment — both in one grouping, or one alone — equal the incremental ones', async () => {
    const groups = async () =>
      (await store.db.selectFrom('payment_group_stats').selectAll().orderBy('id_number').orderBy('scheme').orderBy('item').execute())
        .map((r) => `${r.id_number}|${r.scheme}|${r.item}|${Number(r.n)}|${Number(r.min_fen)}|${Number(r.max_fen)}`);
    const pairs = async () => (await store.db.selectFrom('account_person').selectAll().execute()).map((r) => `${r.account}|${r.id_number}`).sort();
    const marks = async () =>
      (await store.db.selectFrom('detector_state').select(['key', 'value']).where('run_id', '=', 0).where('key', 'in', [ACCOUNT_PERSON_HIGH_WATER, 'group_stats_high_water']).orderBy('key').execute())
        .map((r) => `${r.key}=${r.value}`);
    const maxId = async () => Number((await store.db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow()).m);
    const forget = async (key: string) => {
      await store.db.deleteFrom('detector_state').where('run_id', '=', 0).where('key', '=', key).execute();
    };
    // Reversals, zero amounts, an empty and a missing account, two accounts and two items for one person.
    await addPayments(store, [
      { id: A, period: '2024-01', fen: 300000, account: 'ACC1' }, { id: A, period: '2024-02', fen: 310000, account: 'ACC2' },
      { id: A, period: '2024-02', fen: 900000, item: 'back_pay', account: 'ACC2' }, { id: B, period: '2024-01', fen: 50000, account: 'ACC1' },
      { id: B, period: '2024-01', fen: -50000, batch: 'R1', account: 'ACC1' }, { id: C, period: '2024-01', fen: 0, account: 'ACC3' },
      { id: C, period: '2024-02', fen: 7, account: '' }, { id: C, period: '2024-03', fen: 5 },
    ]);
    const half = await maxId();
    await addPayments(store, [{ id: A, period: '2024-03', fen: 290000, account: 'ACC1' }, { id: B, period: '2024-02', fen: -1, account: 'ACC4' }, { id: C, period: '2024-04', fen: 9, account: 'ACC1' }]);
    // Incrementally: half, then the rest (a fresh store's account_person mark is 0, payment_group_stats has none).
    await refreshAccountPersons(store.db, half);
    expect(await marks()).toEqual([`${ACCOUNT_PERSON_HIGH_WATER}=${half}`, `group_stats_high_water=${half}`]);
    await refreshGroupStats(store.db, await maxId());
    await refreshAccountPersons(store.db, await maxId());
    const wantGroups = await groups();
    const wantPairs = await pairs();
    expect(wantGroups).toEqual([
      `${A}|110|back_pay|1|900000|900000`, `${A}|110|pension|3|290000|310000`, `${B}|110|pension|1|50000|50000`, `${C}|110|pension|3|5|9`,
    ]);
    expect(wantPairs).toEqual(['ACC1|' + A, 'ACC1|' + B, 'ACC1|' + C, 'ACC2|' + A, 'ACC3|' + C, 'ACC4|' + B]);
    // Both marks gone: built together by whichever detector comes first, and both marks set.
    await forget(ACCOUNT_PERSON_HIGH_WATER);
    await forget('group_stats_high_water');
    await refreshGroupStats(store.db, await maxId());
    expect(await marks()).toEqual([`${ACCOUNT_PERSON_HIGH_WATER}=${await maxId()}`, `group_stats_high_water=${await maxId()}`]);
    expect(await groups()).toEqual(wantGroups);
    expect(await pairs()).toEqual(wantPairs);
    // One mark gone: that table alone is built; the other is left as it is.
    for (const [key, refresh] of [[ACCOUNT_PERSON_HIGH_WATER, refreshAccountPersons], ['group_stats_high_water', refreshGroupStats]] as const) {
      await forget(key);
      await refresh(store.db, await maxId());
      expect(await marks()).toEqual([`${ACCOUNT_PERSON_HIGH_WATER}=${await maxId()}`, `group_stats_high_water=${await maxId()}`]);
      expect(await groups()).toEqual(wantGroups);
      expect(await pairs()).toEqual(wantPairs);
    }
  });

  it('shared_account reads every payment of its candidate accounts, and incrementally gives what a full run gives', async () => {
    const D = '110101194001010070';
    const settings = loadSettings(undefined, '/nonexistent');
    const maxId = async () => Number((await store.db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow()).m);
    const detect = async (incremental?: DetectorIncremental): Promise<Finding[]> => {
      const out: Finding[] = [];
      const ctx = { db: store.db, runId: 1, asOf: '2024-12-31', settings, logger: silentLogger, stats: { examined: 0 }, claimed: new Set<number>() };
      for await (const f of sharedAccount.run(incremental ? { ...ctx, incremental } : ctx)) out.push(f);
      return out;
    };
    // ACC1: three people paid in 2024-01, and a fourth whose only payment into it is a reversal (listed too).
    // ACC2: three people, never three in one period — no finding until 2024-03 brings a second and third.
    await addPayments(store, [
      { id: A, period: '2024-01', fen: 100, account: 'ACC1' }, { id: B, period: '2024-01', fen: 100, account: 'ACC1' }, { id: C, period: '2024-01', fen: 100, account: 'ACC1' },
      { id: D, period: '2024-01', fen: -100, account: 'ACC1' }, { id: D, period: '2024-01', fen: 100, account: 'ACC9' },
      { id: A, period: '2024-01', fen: 100, account: 'ACC2' }, { id: B, period: '2024-02', fen: 100, account: 'ACC2' }, { id: C, period: '2024-02', fen: 100, account: 'ACC2' },
    ]);
    const first = await detect();
    expect(first.map((f) => f.caseKey)).toEqual(['ACC1']);
    expect((first[0]!.evidence.comparisons.find((c) => c.field === 'persons')!.values)).toEqual([A, B, C, D].sort());
    const sinceId = await maxId();
    await addPayments(store, [{ id: A, period: '2024-03', fen: 100, account: 'ACC2' }, { id: B, period: '2024-03', fen: 100, account: 'ACC2' }, { id: C, period: '2024-03', fen: 100, account: 'ACC2' }]);
    const untilId = await maxId();
    const incremental = await detect({ prevRunId: 0, sinceId, untilId, freshPeriods: new Set(['2024-03']), oldPeriods: [], deathChanged: new Set(), previous: first, claimChanged: new Set() });
    expect(incremental.map((f) => [f.caseKey, f.periods])).toEqual([['ACC1', ['2024-01']], ['ACC2', ['2024-03']]]);
    expect(incremental).toEqual(await detect());
  });

  it('migration 0006 fills account_person from the payments of a store created before it', async () => {
    const m = migrations(engine)['0006_account_person']!;
    await m.down!(store.db);
    await addPayments(store, [{ id: A, period: '2024-01', fen: 1, account: 'ACC9' }, { id: B, period: '2024-01', fen: 1, account: 'ACC9' }, { id: B, period: '2024-02', fen: 1, account: 'ACC9' }, { id: C, period: '2024-01', fen: 1 }]);
    const maxId = Number((await store.db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow()).m);
    await m.up(store.db);
    expect((await store.db.selectFrom('account_person').selectAll().execute()).map((r) => `${r.account}|${r.id_number}`).sort()).toEqual(['ACC9|' + A, 'ACC9|' + B]);
    expect((await store.db.selectFrom('detector_state').select('value').where('run_id', '=', 0).where('key', '=', ACCOUNT_PERSON_HIGH_WATER).executeTakeFirstOrThrow()).value).toBe(String(maxId));
  });

  it('detects incrementally only after a succeeded run with the same fingerprint', async () => {
    const settings = loadSettings(undefined, '/nonexistent');
    const fp = detectionFingerprint(settings, ['a', 'b']);
    expect(detectionFingerprint(settings, ['a'])).not.toBe(fp);
    expect(detectionFingerprint(loadSettings(undefined, '/nonexistent'), ['a', 'b'])).toBe(fp);
    const r1 = await addRun(store, 'running');
    await addPayments(store, [{ id: A, period: '2024-01', fen: 100 }, { id: A, period: '2024-02', fen: 100 }]);
    const p1 = await planDetection(store.db, r1, fp, new Set());
    expect(p1).toMatchObject({ mode: 'full', reason: 'no previous run' });
    await saveRunState(store.db, r1, fp, p1);
    await store.db.updateTable('run').set({ status: 'succeeded' }).where('id', '=', r1).execute();

    const r2 = await addRun(store, 'running');
    await addPayments(store, [{ id: A, period: '2024-02', fen: 100 }, { id: B, period: '2024-03', fen: 100 }]);
    const p2 = await planDetection(store.db, r2, fp, new Set([C]));
    expect(p2).toMatchObject({ mode: 'incremental', prevRunId: r1, sinceId: p1.untilId, oldPeriods: ['2024-02'], deathChanged: new Set([C]) });
    expect(p2.mode === 'incremental' && [...p2.freshPeriods]).toEqual(['2024-03']);
    expect((await planDetection(store.db, r2, 'another', new Set())).mode).toBe('full');
    await saveRunState(store.db, r2, fp, p2);
    await store.db.updateTable('run').set({ status: 'failed' }).where('id', '=', r2).execute();

    const r3 = await addRun(store, 'running');
    await addPayments(store, [{ id: C, period: '2024-04', fen: 100 }]);
    const p3 = await planDetection(store.db, r3, fp, new Set());
    expect(p3).toMatchObject({ mode: 'full', reason: `the previous run ${r2} failed` });
    // A full run takes the periods recorded before and adds those of the rows stored since.
    await saveRunState(store.db, r3, fp, p3);
    expect(JSON.parse((await store.db.selectFrom('detector_state').select('value').where('run_id', '=', r3).where('key', '=', 'periods').executeTakeFirstOrThrow()).value)).toEqual(['2024-01', '2024-02', '2024-03', '2024-04']);
    await store.db.updateTable('run').set({ status: 'succeeded' }).where('id', '=', r3).execute();
    const r4 = await addRun(store, 'running');
    await addPayments(store, [{ id: C, period: '2024-04', fen: 100 }, { id: C, period: '2024-05', fen: 100 }]);
    const p4 = await planDetection(store.db, r4, fp, new Set());
    expect(p4).toMatchObject({ mode: 'incremental', prevRunId: r3, sinceId: p3.untilId, oldPeriods: ['2024-04'] });
    expect(p4.mode === 'incremental' && [...p4.freshPeriods]).toEqual(['2024-05']);
  });

  it('SQLite keys payments by period first and reads a person with a skip-scan; PostgreSQL keeps the key by person', async () => {
    const periods = ['2024-01', '2024-02', '2024-03', '2024-04'];
    // 20 people: SQLite skip-scans only a leading column with 18 or more rows per value.
    const people = [A, B, C, ...Array.from({ length: 17 }, (_, i) => `1101011950010${String(100 + i)}X`)];
    await addPayments(store, people.flatMap((id) => periods.map((period) => ({ id, period, fen: 100 }))));
    await store.optimize();
    const lookup = sql`SELECT id FROM payment WHERE id_number IN (${A}, ${C}) ORDER BY id`;
    expect((await lookup.execute(store.db)).rows).toHaveLength(8);
    if (engine === 'sqlite') {
      const cols = await sql<{ name: string }>`SELECT name FROM pragma_index_info('payment_natural_key') ORDER BY seqno`.execute(store.db);
      expect(cols.rows.map((c) => c.name)).toEqual(['period', 'id_number', 'scheme', 'item', 'batch']);
      const stat = async (): Promise<string[]> => (await sql<{ stat: string }>`SELECT stat FROM sqlite_stat1 WHERE idx = 'payment_natural_key'`.execute(store.db)).rows.map((r) => r.stat);
      // 80 rows (max id), 4 periods: 20 rows per period.
      expect(await stat()).toEqual(['80 20 1 1 1 1']);
      const plan = await sql<{ detail: string }>`EXPLAIN QUERY PLAN SELECT id FROM payment WHERE id_number IN (${A}, ${C})`.execute(store.db);
      expect(plan.rows.map((r) => r.detail).join(' | ')).toContain('payment_natural_key (ANY(period) AND id_number=?)');
      // A store without the statistics (one made before migration 0009) gets them when it is opened.
      await sql`DELETE FROM sqlite_stat1 WHERE idx = 'payment_natural_key'`.execute(store.db);
      await store.close();
      store = await t.open();
      expect(await stat()).toEqual(['80 20 1 1 1 1']);
    } else {
      const def = await sql<{ indexdef: string }>`SELECT indexdef FROM pg_indexes WHERE indexname = 'payment_natural_key'`.execute(store.db);
      expect(def.rows[0]!.indexdef).toContain('(id_number, period, scheme, item, batch)');
    }
  });

  it('idsWithNewRows finds the IDs with new rows in fresh and in old periods, and only those', async () => {
    await addPayments(store, [{ id: A, period: '2024-01', fen: 100 }, { id: B, period: '2024-01', fen: 100 }, { id: C, period: '2024-01', fen: 100 }]);
    const sinceId = 3;
    await addPayments(store, [{ id: A, period: '2024-02', fen: 100 }, { id: B, period: '2024-01', fen: 50, item: 'back_pay' }]);
    await store.optimize();
    const inc = { prevRunId: 1, sinceId, untilId: 5, freshPeriods: new Set(['2024-02']), oldPeriods: ['2024-01'], deathChanged: new Set<string>() };
    expect([...(await idsWithNewRows(store.db, [A, B, C], inc))].sort()).toEqual([A, B]);
    expect([...(await idsWithNewRows(store.db, [A, B, C], { ...inc, oldPeriods: [] }))]).toEqual([A]);
    expect([...(await idsWithNewRows(store.db, [C], inc))]).toEqual([]);
  });
});
