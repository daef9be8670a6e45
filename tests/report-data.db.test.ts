/**
 * loadRunData reads the evidence fields the reports show (why, date of death, months paid after death) —
 * on SQLite with the database's JSON functions, on PostgreSQL by parsing the text — with the same result on
 * every engine, including evidence that is not JSON (its text is the why line), JSON that is not an object,
 * and fields that are missing or null. Findings are ordered byte-wise by detector, id_number, first_period.
 */
import { describe, expect, it } from 'vitest';
import { ENGINES, freshStoreEachTest, type TestDb } from './helpers/engines.ts';
import type { Store } from '../src/db/connection.ts';
import type { Kysely } from 'kysely';
import { migrations } from '../src/db/migrations.ts';
import { loadRunData } from '../src/reports/report-data.ts';
import { SETTINGS } from './helpers/run-data.ts';

const EVIDENCE: [label: string, evidence: string, want: { why: string; deathDate: string | null; monthsAfterDeath: number | null }][] = [
  ['full', JSON.stringify({ why: 'ID exact; died 2024-11-16', comparisons: [{ field: 'id_number' }], death: { date: '2024-11-16', month: '2024-11' }, months_paid_after_death: 3 }), { why: 'ID exact; died 2024-11-16', deathDate: '2024-11-16', monthsAfterDeath: 3 }],
  ['no death', JSON.stringify({ why: '同一账户 3 人', accounts: ['6217000010000000011'] }), { why: '同一账户 3 人', deathDate: null, monthsAfterDeath: null }],
  ['nulls', JSON.stringify({ why: null, death: null, months_paid_after_death: null }), { why: '', deathDate: null, monthsAfterDeath: null }],
  ['death not an object', JSON.stringify({ why: 'w', death: '2024-01-01' }), { why: 'w', deathDate: null, monthsAfterDeath: null }],
  ['not JSON', 'paid after death, see file 3 line 7', { why: 'paid after death, see file 3 line 7', deathDate: null, monthsAfterDeath: null }],
  ['JSON array', '[1,2]', { why: '', deathDate: null, monthsAfterDeath: null }],
  ['JSON string', '"just text"', { why: '', deathDate: null, monthsAfterDeath: null }],
  ['escapes', JSON.stringify({ why: 'a "quoted" \\ line\nwith 😀 and \u0001', death: { date: '2025-02-10' }, months_paid_after_death: 0 }), { why: 'a "quoted" \\ line\nwith 😀 and \u0001', deathDate: '2025-02-10', monthsAfterDeath: 0 }],
];

describe.each(ENGINES)('report data: evidence fields (%s)', (engine) => {
  let t: TestDb;
  let store: Store;
  freshStoreEachTest(engine, (db, s) => {
    t = db;
    store = s;
  });

  it('reads why, death date and months after death from findings and open cases alike', async () => {
    const begun = await store.beginRun('2025-06-30', 'host', process.pid, '2025-06-30T16:00:00.000Z');
    if (!('runId' in begun)) throw new Error('locked');
    const runId = begun.runId;
    for (const [i, [label, evidence]] of EVIDENCE.entries()) {
      const id = `36010219480312${String(100 + i)}X`;
      const common = {
        detector: 'deceased_payment', case_key: label, id_number: id, name: label, district_code: '360102', scheme: '110', first_period: '2025-03',
        last_period: '2025-06', months: 4, amount_fen: 1000 + i, confidence: 'confirmed', evidence,
      };
      await store.db.insertInto('finding').values({ run_id: runId, ...common, periods: null, payment_ids: null }).execute();
      await store.db.insertInto('recovery_case').values({
        ...common, follow_up_seq: 0, follow_up_of: null, status: 'new', fingerprint: 'f', assignee: null, created_run_id: runId, updated_run_id: runId,
        created_at: '2025-06-30T16:00:00Z', updated_at: '2025-06-30T16:00:00Z',
      }).execute();
    }
    const d = await loadRunData({ db: store.db, runId, asOf: '2025-06-30', startedAt: '2025-06-30T16:00:00.000Z', settings: SETTINGS, detectors: [] });
    expect(d.findings.map((f) => f.idNumber)).toEqual(EVIDENCE.map((_, i) => `36010219480312${String(100 + i)}X`));
    for (const [i, [label, , want]] of EVIDENCE.entries()) {
      const f = d.findings.find((x) => x.name === label)!;
      expect({ why: f.why, deathDate: f.deathDate, monthsAfterDeath: f.monthsAfterDeath }, label).toEqual(want);
      expect(f.caseId, label).toBe(i + 1);
      const c = d.openCases.find((x) => x.name === label)!;
      expect({ why: c.why, deathDate: c.deathDate }, label).toEqual({ why: want.why, deathDate: want.deathDate });
    }
    expect(d.history.find((h) => h.current)).toMatchObject({ findings: EVIDENCE.length, confirmed: EVIDENCE.length });
  });
});

describe.each(ENGINES)('report data: the history of runs (%s)', (engine) => {
  let store: Store;
  freshStoreEachTest(engine, (_db, s) => {
    store = s;
  });

  const finding = (runId: number, key: string, confidence: string, amountFen: number) => ({
    run_id: runId, detector: 'deceased_payment', case_key: key, id_number: key, name: '张三', district_code: '360102', scheme: '110', first_period: '2025-03',
    last_period: '2025-03', months: 1, amount_fen: amountFen, confidence, evidence: '{}', periods: null, payment_ids: null,
  });
  const openCase = (runId: number, key: string) => ({
    detector: 'deceased_payment', case_key: key, id_number: key, name: '张三', district_code: '360102', scheme: '110', first_period: '2025-03', last_period: '2025-03',
    months: 1, amount_fen: 100, confidence: 'confirmed', evidence: '{}', follow_up_seq: 0, follow_up_of: null, status: 'new', fingerprint: 'f', assignee: null,
    created_run_id: runId, updated_run_id: runId, created_at: '2025-06-30T16:00:00Z', updated_at: '2025-06-30T16:00:00Z',
  });
  /** Cases opened by a run, as the case upsert leaves them: the case and its `opened` event. */
  const open = async (runId: number, keys: string[]): Promise<void> => {
    for (const key of keys) {
      const c = await store.db.insertInto('recovery_case').values(openCase(runId, key)).returning('id').executeTakeFirstOrThrow();
      await store.db.insertInto('case_event').values({ case_id: Number(c.id), at: '2025-06-30T16:00:00Z', actor: 'fundguard', kind: 'opened', from_status: null, to_status: 'new', reason: 'why', data: null, run_id: runId }).execute();
      await store.db.insertInto('case_event').values({ case_id: Number(c.id), at: '2025-06-30T16:00:00Z', actor: 'fundguard', kind: 'updated', from_status: 'new', to_status: 'new', reason: 'why', data: null, run_id: runId }).execute();
    }
  };
  const begin = async (asOf: string): Promise<number> => {
    const begun = await store.beginRun(asOf, 'host', process.pid, `${asOf}T16:00:00.000Z`);
    if (!('runId' in begun)) throw new Error('locked');
    return begun.runId;
  };

  it("an ended run's headline comes from its row, never from the finding table; a run that stopped on an error is counted from its findings; cases opened are the run's opened events", async () => {
    const r1 = await begin('2025-06-28');
    await store.db.insertInto('finding').values([finding(r1, 'A', 'confirmed', 100), finding(r1, 'B', 'confirmed', 200), finding(r1, 'C', 'probable', 300)]).execute();
    await open(r1, ['A', 'B']);
    await store.db.updateTable('run').set({ status: 'succeeded', ended_at: '2025-06-28T16:05:00.000Z', findings: 3, confirmed: 2, amount_fen: 600 }).where('id', '=', r1).execute();
    await store.endRun(r1);
    // Had the history grouped the finding table, run 1 would now show nothing.
    await store.db.deleteFrom('finding').where('run_id', '=', r1).execute();
    const r2 = await begin('2025-06-29');
    await store.db.insertInto('finding').values([finding(r2, 'A', 'confirmed', 50), finding(r2, 'D', 'possible', 70)]).execute();
    await store.db.updateTable('run').set({ status: 'failed', ended_at: '2025-06-29T16:05:00.000Z', error: 'disk full' }).where('id', '=', r2).execute();
    await store.endRun(r2);
    const r3 = await begin('2025-06-30');
    await store.db.insertInto('finding').values([finding(r3, 'A', 'confirmed', 10)]).execute();
    await open(r3, ['E']);
    const d = await loadRunData({ db: store.db, runId: r3, asOf: '2025-06-30', startedAt: '2025-06-30T16:00:00.000Z', settings: SETTINGS, detectors: [] });
    expect(d.history.map((h) => [h.runId, h.status, h.findings, h.confirmed, h.amountFen, h.casesOpened, h.current])).toEqual([
      [r1, 'succeeded', 3, 2, 600, 2, false],
      [r2, 'failed', 2, 1, 120, 0, false],
      [r3, 'succeeded', 1, 1, 10, 1, true],
    ]);
    expect(d.casesOpened).toBe(1);
  });

  it('migration 0011 fills in the headline of every run that ended, from its findings; a running run is left to its own end', async () => {
    const r1 = await begin('2025-06-28');
    await store.db.insertInto('finding').values([finding(r1, 'A', 'confirmed', 100), finding(r1, 'B', 'probable', 250)]).execute();
    await store.db.updateTable('run').set({ status: 'succeeded', ended_at: '2025-06-28T16:05:00.000Z' }).where('id', '=', r1).execute();
    await store.endRun(r1);
    const r2 = await begin('2025-06-29');
    await store.db.updateTable('run').set({ status: 'abandoned', ended_at: '2025-06-29T16:05:00.000Z' }).where('id', '=', r2).execute();
    await store.endRun(r2);
    const r3 = await begin('2025-06-30');
    await store.db.insertInto('finding').values([finding(r3, 'A', 'confirmed', 7)]).execute();
    const m = migrations(engine)['0011_run_headline']!;
    await m.down!(store.db as unknown as Kysely<any>);
    await m.up(store.db as unknown as Kysely<any>);
    const rows = await store.db.selectFrom('run').select(['id', 'findings', 'confirmed', 'amount_fen']).orderBy('id').execute();
    expect(rows.map((r) => [Number(r.id), r.findings === null ? null : Number(r.findings), r.confirmed === null ? null : Number(r.confirmed), r.amount_fen === null ? null : Number(r.amount_fen)])).toEqual([
      [r1, 2, 1, 350],
      [r2, 0, 0, 0],
      [r3, null, null, null],
    ]);
  });
});
