/**
 * loadRunData reads the evidence fields the reports show (why, date of death, months paid after death) —
 * on SQLite with the database's JSON functions, on PostgreSQL by parsing the text — with the same result on
 * every engine, including evidence that is not JSON (its text is the why line), JSON that is not an object,
 * and fields that are missing or null. Findings are ordered byte-wise by detector, id_number, first_period.
 */
import { describe, expect, it } from 'vitest';
import { ENGINES, freshStoreEachTest, type TestDb } from './helpers/engines.ts';
import type { Store } from '../src/db/connection.ts';
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
