/**
 * The detectors end to end on a generated scenario (tests/helpers/anomaly-patterns.ts): CSV extracts in a
 * temporary inbox → runNightly on a temporary SQLite file → the finding table, the cases and the export.
 * Each detector must find exactly the scenario's expected cases, with exact amounts, and nothing on the decoys.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../src/config/settings.ts';
import { sql } from 'kysely';
import { ENGINES, engineTarget } from './helpers/engines.ts';
import { openStore, type Store } from '../src/db/connection.ts';
import { runNightly, type RunResult } from '../src/jobs/nightly-run.ts';
import { silentLogger } from '../src/log.ts';
import { exportRows } from '../src/cases/export.ts';
import { formatFen } from '../src/calendar/values.ts';
import { benfordByBatch } from '../src/detectors/benford.ts';
import { amountAnomaly } from '../src/detectors/amount-anomaly.ts';
import { duplicatePayment } from '../src/detectors/duplicate-payment.ts';
import { DETECTORS } from '../src/detectors/index.ts';
import type { Detector, DetectorStats } from '../src/detectors/types.ts';
import { AS_OF, buildScenario, writeInbox, type ExpectedFinding, type Scenario } from './helpers/anomaly-patterns.ts';

const repo = path.resolve(import.meta.dirname, '..');
const MINE = ['duplicate_payment', 'concurrent_pension', 'shared_account', 'amount_anomaly'] as const;

interface Got {
  detector: string;
  caseKey: string;
  idNumber: string;
  name: string;
  schemes: string;
  first: string;
  last: string;
  months: number;
  amountFen: number;
  confidence: string;
  evidence: { why: string; comparisons: { field: string; values: string[] }[] };
}

const view = (e: ExpectedFinding) => ({
  detector: e.detector, caseKey: e.caseKey, idNumber: e.idNumber, name: e.name, schemes: e.schemes.join('+'),
  first: e.periods[0], last: e.periods.at(-1), months: e.periods.length, amountFen: e.amountFen, confidence: e.confidence,
});
const byKey = (a: { detector: string; caseKey: string }, b: { detector: string; caseKey: string }) =>
  a.detector < b.detector ? -1 : a.detector > b.detector ? 1 : a.caseKey < b.caseKey ? -1 : a.caseKey > b.caseKey ? 1 : 0;

let dir: string;
let scenario: Scenario;
let store: Store;
let settings: Settings;
let run: RunResult;
let found: Got[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-detectors-'));
  scenario = buildScenario();
  writeInbox(scenario, path.join(dir, 'inbox'));
  settings = loadSettings(undefined, dir);
  store = await openStore(await engineTarget(dir));
  run = await runNightly({ store, inbox: path.join(dir, 'inbox'), outDir: path.join(dir, 'out'), asOf: AS_OF, settings, logger: silentLogger });
  found = (await store.db.selectFrom('finding').selectAll().where('run_id', '=', run.runId).execute()).map((f) => ({
    detector: f.detector, caseKey: f.case_key, idNumber: f.id_number, name: f.name, schemes: f.scheme, first: f.first_period, last: f.last_period,
    months: f.months, amountFen: Number(f.amount_fen), confidence: f.confidence, evidence: JSON.parse(f.evidence) as Got['evidence'],
  }));
});

afterAll(async () => {
  await store?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the scenario', () => {
  it('is ingested whole: every row accepted, the overlapping re-export counted as repeats', () => {
    const ingested = run.files.filter((f) => f.status === 'ingested');
    expect(ingested.length).toBe(run.files.length);
    expect(ingested.reduce((s, f) => s + f.rowsRejected, 0)).toBe(0);
    expect(ingested.reduce((s, f) => s + f.rowsAccepted, 0)).toBe(scenario.payments.length + scenario.deaths.length);
    expect(run.files.reduce((s, f) => s + f.rowsRepeated, 0)).toBe(scenario.payments.filter((l) => l.file === 'payments/2024-05_2024-06-reexport.csv').length);
  });

  it('has truth for every detector and decoys for each', () => {
    for (const d of MINE) {
      expect(scenario.expected.filter((e) => e.detector === d).length, d).toBeGreaterThan(0);
      expect(scenario.decoys.filter((e) => e.detector === d).length, d).toBeGreaterThan(0);
    }
  });
});

describe('each detector finds exactly the expected cases', () => {
  it.each(MINE)('%s', (detector) => {
    const got = found.filter((f) => f.detector === detector).map(({ evidence: _e, ...rest }) => rest).sort(byKey);
    const want = scenario.expected.filter((e) => e.detector === detector).map(view).sort(byKey);
    expect(got).toEqual(want);
  });

  it('duplicate_payment: exact amounts, spot-checked against the pattern amounts', () => {
    const amounts = Object.fromEntries(found.filter((f) => f.detector === 'duplicate_payment').map((f) => [f.caseKey.split('|').slice(1).join('|'), formatFen(f.amountFen)]));
    expect(amounts).toEqual({
      '110|pension|2024-05': '3210.50', // paid twice
      '120|pension|2024-09': '12246.00', // paid three times at 6123.00: two copies
      '110|pension|2024-10': '2456.70', // 3456.70 twice, 1000.00 reversed
      '170|pension|2024-02': '188.00', // the residents' pension copy (the months are concurrent_pension's)
      '110|pension|2024-03': '3333.00', // while alive; the post-death copy is deceased_payment's
    });
  });

  it('concurrent_pension: names both schemes and every month counted', () => {
    for (const e of scenario.expected.filter((x) => x.detector === 'concurrent_pension')) {
      const f = found.find((x) => x.detector === 'concurrent_pension' && x.caseKey === e.caseKey)!;
      expect(f.evidence.comparisons.find((c) => c.field === 'months')!.values).toEqual(e.periods);
      expect(f.evidence.why).toContain('170 城乡居民基本养老保险');
      expect(f.evidence.why).toContain(e.schemes[0] === '110' ? '110 企业职工基本养老保险' : '120 机关事业单位养老保险');
    }
  });

  it('shared_account: lists every person paid into the account and the flagged periods', () => {
    const f = found.find((x) => x.detector === 'shared_account' && x.months === 3)!;
    expect(f.evidence.comparisons.find((c) => c.field === 'persons')!.values).toHaveLength(4);
    expect(f.evidence.comparisons.find((c) => c.field === 'periods')!.values).toEqual(['2024-03', '2024-04', '2024-05']);
  });

  it('no "why" line carries a full ID or account number', () => {
    for (const f of found) {
      expect(f.evidence.why, f.detector).not.toContain(f.idNumber);
      expect(f.evidence.why).not.toMatch(/\d{15,}/);
    }
  });
});

describe('decoys find nothing', () => {
  it.each(scenario0().decoys.map((d) => [d.pattern, d.detector, d] as const))('%s (%s)', (_p, detector, d) => {
    const keys = new Set(d.caseKeys);
    expect(keys.size).toBeGreaterThan(0);
    expect(found.filter((f) => f.detector === detector && keys.has(f.caseKey)).map((f) => f.caseKey)).toEqual([]);
  });
});

describe('one payment, one claim', () => {
  it('no payment is counted by two cases', async () => {
    const twice = await store.db.selectFrom('case_payment').select('payment_id').groupBy('payment_id').having((eb) => eb.fn.countAll(), '>', 1).execute();
    expect(twice).toEqual([]);
  });

  it('the recovery total is the sum of the distinct payments counted', async () => {
    const cases = await store.db.selectFrom('recovery_case').select((eb) => eb.fn.sum<number>('amount_fen').as('fen')).executeTakeFirstOrThrow();
    const paid = await store.db
      .selectFrom('payment')
      .select((eb) => eb.fn.sum<number>('amount_fen').as('fen'))
      .where('id', 'in', (qb) => qb.selectFrom('case_payment').select('payment_id'))
      .executeTakeFirstOrThrow();
    expect(Number(cases.fen)).toBe(Number(paid.fen));
    const expected = scenario.expected.reduce((s, e) => s + e.amountFen, 0);
    expect(Number(cases.fen)).toBe(expected);
  });

  it('a duplicated residents\' pension month of a concurrent pensioner is counted once in all', () => {
    const e = scenario.expected.filter((x) => x.pattern === 'concurrent-120-170-with-duplicate');
    const total = e.reduce((s, x) => s + x.amountFen, 0);
    const got = found.filter((f) => f.idNumber === e[0]!.idNumber).reduce((s, f) => s + f.amountFen, 0);
    // four 170 payments (three months, one of them twice): each counted exactly once
    expect(got).toBe(total);
    expect(total).toBe(4 * 18800);
  });
});

describe('run record', () => {
  it('every detector succeeded and reported rows examined and findings', () => {
    expect(run.detectors.map((d) => d.id)).toEqual(DETECTORS.map((d) => d.id));
    for (const d of run.detectors) {
      expect(d.status, d.id).toBe('succeeded');
      expect(d.examined, d.id).toBeGreaterThan(0);
      expect(d.findings, d.id).toBe(found.filter((f) => f.detector === d.id).length);
    }
  });

  it('`cases export` rows carry the four detector ids with the expected amounts', async () => {
    const rows = await exportRows(store.db);
    const mine = rows.filter((r) => (MINE as readonly string[]).includes(r[1] as string));
    const got = mine.map((r) => [r[1], r[2], (r[9] as { numeric: string }).numeric, r[8], r[10], r[11]].join(' ')).sort();
    const want = scenario.expected.filter((e) => (MINE as readonly string[]).includes(e.detector)).map((e) => [e.detector, e.idNumber, formatFen(e.amountFen), e.periods.length, e.confidence, 'new'].join(' ')).sort();
    expect(got).toEqual(want);
    expect([...new Set(mine.map((r) => r[1]))].sort()).toEqual([...MINE].sort());
  });

  it('a second run with nothing new opens and changes no case', async () => {
    const again = await runNightly({ store, inbox: path.join(dir, 'inbox'), outDir: path.join(dir, 'out'), asOf: AS_OF, settings, logger: silentLogger });
    for (const d of MINE) expect(again.cases[d], d).toEqual({ opened: 0, updated: 0, unchanged: scenario.expected.filter((e) => e.detector === d).length, followUps: 0, notFound: 0, amountChanged: 0, autoRecovered: 0 });
  });
});

describe('Benford table', () => {
  it('tests the batches with at least minRows back-pay/adjustment rows and grades them', async () => {
    const rows = await benfordByBatch(store.db, settings.detectors.benford);
    const want = scenario.benford.filter((b) => b.conformity !== 'absent');
    expect(rows.map((r) => [r.batch, r.n, r.conformity])).toEqual(want.map((b) => [b.batch, b.rows, b.conformity]));
    for (const b of scenario.benford.filter((x) => x.conformity === 'absent')) expect(rows.map((r) => r.batch)).not.toContain(b.batch);
  });

  it('is what amount_anomaly reports in its stats (not as cases)', async () => {
    const stats: DetectorStats = { examined: 0 };
    const findings = [];
    for await (const f of amountAnomaly.run({ db: store.db, runId: run.runId, asOf: AS_OF, settings, logger: silentLogger, stats, claimed: new Set() })) findings.push(f);
    expect(stats.benford).toEqual(await benfordByBatch(store.db, settings.detectors.benford));
    expect(findings.every((f) => f.detector === 'amount_anomaly' && f.amountFen === 0)).toBe(true);
  });

  it('appears in summary.html as a table, one row per tested batch', () => {
    const html = fs.readFileSync(path.join(dir, 'out', AS_OF, 'summary.html'), 'utf8');
    const want = scenario.benford.filter((b) => b.conformity !== 'absent');
    expect(html).toContain('<section id="benford">');
    const section = html.slice(html.indexOf('<section id="benford">'), html.indexOf('</section>', html.indexOf('<section id="benford">')));
    for (const b of want) expect(section).toContain(`data-key="${b.batch}"`);
    for (const b of want) expect(section).toContain(b.conformity);
    for (const b of scenario.benford.filter((x) => x.conformity === 'absent')) expect(section).not.toContain(b.batch);
  });
});

describe('a failing detector', () => {
  /** Runs `detectors` on a store holding the `dup-rerun-batch` scenario (one duplicate_payment finding). */
  const runOnScenario = async (prefix: string, detectors: Detector[], check: (st: Store, r: RunResult) => Promise<void>, prepare?: (st: Store) => Promise<void>) => {
    const d2 = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    try {
      writeInbox(buildScenario({ only: ['dup-rerun-batch'] }), path.join(d2, 'inbox'));
      const st = await openStore(await engineTarget(d2));
      try {
        await prepare?.(st);
        await check(st, await runNightly({ store: st, inbox: path.join(d2, 'inbox'), outDir: path.join(d2, 'out'), asOf: AS_OF, settings, logger: silentLogger, detectors }));
      } finally {
        await st.close();
      }
    } finally {
      fs.rmSync(d2, { recursive: true, force: true });
    }
  };

  it('is recorded as failed; the others and the reports still run', async () => {
    const broken: Detector = {
      id: 'broken',
      title: 'Always fails',
      async *run(ctx) {
        ctx.stats.examined = 7;
        throw new Error('boom');
      },
    };
    await runOnScenario('fg-detectors-fail-', [broken, duplicatePayment], async (st, r) => {
      expect(r.detectors.map((d) => [d.id, d.status, d.error ?? null, d.findings])).toEqual([
        ['broken', 'failed', 'boom', 0],
        ['duplicate_payment', 'succeeded', null, 1],
      ]);
      expect(r.detectors[0]!.examined).toBe(7);
      expect(fs.existsSync(r.reports.summary)).toBe(true);
      const runRow = await st.db.selectFrom('run').selectAll().where('id', '=', r.runId).executeTakeFirstOrThrow();
      expect(runRow.status).toBe('failed');
    });
  });

  it('whose findings were stored but whose case step failed is still counted on the run row, as in the finding table', async () => {
    // The case store refuses new cases: duplicate_payment's findings are stored, then its case step throws.
    const refuseCases = async (st: Store) => {
      if (ENGINES[0] === 'postgres') {
        await sql`CREATE FUNCTION refuse_case() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'case store refused'; END $$ LANGUAGE plpgsql`.execute(st.db);
        await sql`CREATE TRIGGER refuse_case BEFORE INSERT ON recovery_case FOR EACH ROW EXECUTE FUNCTION refuse_case()`.execute(st.db);
      } else {
        await sql`CREATE TRIGGER refuse_case BEFORE INSERT ON recovery_case BEGIN SELECT RAISE(ABORT, 'case store refused'); END`.execute(st.db);
      }
    };
    await runOnScenario('fg-detectors-casefail-', [duplicatePayment], async (st, r) => {
      expect(r.detectors.map((d) => [d.id, d.status])).toEqual([['duplicate_payment', 'failed']]);
      expect(r.detectors[0]!.error).toContain('case store refused');
      const stored = await st.db.selectFrom('finding').select(['amount_fen', 'confidence']).where('run_id', '=', r.runId).execute();
      expect(stored.length).toBe(1);
      expect(Number(stored[0]!.amount_fen)).toBeGreaterThan(0);
      const row = await st.db.selectFrom('run').select(['status', 'findings', 'confirmed', 'amount_fen']).where('id', '=', r.runId).executeTakeFirstOrThrow();
      expect([row.status, Number(row.findings), Number(row.confirmed), Number(row.amount_fen)]).toEqual([
        'failed',
        1,
        stored.filter((f) => f.confidence === 'confirmed').length,
        Number(stored[0]!.amount_fen),
      ]);
    }, refuseCases);
  });
});

describe('CLI', () => {
  it('`fundguard cases export` writes the cases with the detector ids', async () => {
    const out = path.join(dir, 'cases.csv');
    execFileSync(process.execPath, [path.join(repo, 'bin/fundguard.js'), 'cases', 'export', '--db', await engineTarget(dir), '--format', 'csv', '--out', out], { stdio: 'pipe' });
    const lines = fs.readFileSync(out, 'utf8').replace(/^\ufeff/, '').split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('case_id,detector,id_number,name,district_code,scheme,first_period,last_period,months,amount,confidence,status,recovered,outstanding');
    const detectors = new Set(lines.slice(1).map((l) => l.split(',')[1]));
    for (const d of MINE) expect(detectors.has(d), d).toBe(true);
    const dup = scenario.expected.find((e) => e.pattern === 'dup-rerun-batch')!;
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\d+,duplicate_payment,${dup.idNumber},${dup.name},360102,110,2024-05,2024-05,1,3210\\.50,probable,new,0\\.00,3210\\.50$`)));
  });
});

/** The scenario at collection time (it.each needs the decoys before beforeAll runs); built the same way. */
function scenario0(): Scenario {
  return buildScenario();
}
