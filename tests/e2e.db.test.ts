/**
 * End to end on generated data (issue 2): the exported cases equal the generator's expected findings,
 * every row is accounted for, a re-run changes nothing. Runs on every engine of tests/helpers/engines.ts.
 * The plain layout (CSV, header and data rows); the messy layout is tests/sample-e2e.db.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, ENGINES, type TestDb } from './helpers/engines.ts';
import { csvRecords, exportText, generate, runJob } from './helpers/pipeline.ts';
import type { GenerateResult } from '../sample-data/lib/generator.ts';
import type { Store } from '../src/db/connection.ts';
import { loadSettings } from '../src/config/settings.ts';
import { runNightly } from '../src/jobs/nightly-run.ts';
import { loadRunData } from '../src/reports/report-data.ts';
import { silentLogger } from '../src/log.ts';

const EXPECTED_COLUMNS = ['detector', 'id_number', 'name', 'district_code', 'scheme', 'first_period', 'last_period', 'months', 'amount', 'confidence'];

describe.each(ENGINES)('pipeline on generated data (%s)', (engine) => {
  let t: TestDb;
  let store: Store;
  let gen: GenerateResult;
  let first: string;

  beforeAll(async () => {
    t = await createTestDb(engine);
    gen = await generate(t.dir, 600, 18, 20240101, '2024-01', 'plain');
    store = await t.open();
    await runJob(store, gen.inboxDir, path.join(t.dir, 'out'));
    first = await exportText(store, t.dir);
  });
  afterAll(async () => {
    await store?.close();
    await t?.cleanup();
  });

  it('exports exactly the expected cases, amounts to the fen', () => {
    const expected = csvRecords(fs.readFileSync(path.join(gen.expectedDir, 'cases.csv'), 'utf8'));
    const got = csvRecords(first);
    expect(expected.length).toBeGreaterThan(5);
    expect(got.map((r) => EXPECTED_COLUMNS.map((c) => r[c]))).toEqual(expected.map((r) => EXPECTED_COLUMNS.map((c) => r[c])));
    expect(new Set(got.map((r) => r.status))).toEqual(new Set(['new']));
  });

  it('writes the export contract: BOM, CRLF, header', () => {
    expect(first.startsWith('\ufeffcase_id,detector,id_number,name,district_code,scheme,first_period,last_period,months,amount,confidence,status,recovered,outstanding\r\n')).toBe(true);
  });

  it('accounts for every row of every file', async () => {
    const files = await store.db.selectFrom('source_file').selectAll().orderBy('path').execute();
    expect(files.map((f) => f.path)).toEqual(gen.summary.files.map((f) => f.file).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const f of files) {
      const exp = gen.summary.files.find((x) => x.file === f.path)!;
      expect({ file: f.path, balanced: f.rows_read === f.rows_accepted + f.rows_rejected + f.rows_skipped }).toEqual({ file: f.path, balanced: true });
      expect({ file: f.path, data: f.rows_accepted + f.rows_rejected, rejected: f.rows_rejected, repeated: f.rows_repeated })
        .toEqual({ file: f.path, data: exp.rows, rejected: exp.rejects, repeated: exp.overlap });
    }
  });

  it('rejects exactly the bad rows, with file, line and code', async () => {
    const rejects = await store.db.selectFrom('reject').innerJoin('source_file', 'source_file.id', 'reject.file_id').select(['source_file.path', 'reject.line', 'reject.code', 'reject.raw']).execute();
    const expected = csvRecords(fs.readFileSync(path.join(gen.expectedDir, 'rejects.csv'), 'utf8'));
    expect(rejects.map((r) => `${r.path}:${r.line}:${r.code}`).sort()).toEqual(expected.map((r) => `${r.file}:${r.line}:${r.code}`).sort());
    expect(rejects.every((r) => r.raw.length > 10)).toBe(true);
  });

  it('a second run on the same inbox is a no-op that leaves the export unchanged', async () => {
    const r = await runJob(store, gen.inboxDir, path.join(t.dir, 'out'));
    expect(r.files.every((f) => f.status === 'known')).toBe(true);
    expect(r.cases.deceased_payment).toMatchObject({ opened: 0, updated: 0 });
    expect(await exportText(store, t.dir)).toBe(first);
    expect(await store.db.selectFrom('recovery_case').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()).toEqual({ n: csvRecords(first).length });
  });

  it('writes masked auditor reports', () => {
    const dir = path.join(t.dir, 'out', '2025-12-31');
    const findings = fs.readFileSync(path.join(dir, 'findings.csv'), 'utf8');
    const summary = fs.readFileSync(path.join(dir, 'summary.html'), 'utf8');
    const rejects = fs.readFileSync(path.join(dir, 'rejects.csv'), 'utf8');
    const ids = csvRecords(first).map((r) => r.id_number!);
    for (const id of ids) {
      expect(findings.includes(id)).toBe(false);
      expect(summary.includes(id)).toBe(false);
    }
    expect(findings.includes(`${ids[0]!.slice(0, 6)}********${ids[0]!.slice(-4)}`)).toBe(true);
    expect(/\d{17}[\dX]/.test(rejects)).toBe(false);
    expect(summary).toContain('<small>By district</small>');
  });
});

describe.each(ENGINES)('a run dated before some deaths loses none of them (%s)', (engine) => {
  // Found by a new user: deaths after the business date were rejected (DEATH_DATE_FUTURE) and their file
  // was never read again, so a later run missed those cases for good.
  it('re-reads a death file once the business date reaches the dates it rejected as future', async () => {
    const early = await createTestDb(engine);
    const fresh = await createTestDb(engine);
    try {
      const gen = await generate(early.dir, 500, 15, 555, '2024-01', 'plain');
      const a = await early.open();
      const b = await fresh.open();
      try {
        const first = await runJob(a, gen.inboxDir, path.join(early.dir, 'out'), '2024-09-30');
        expect(first.files.some((f) => f.kind === 'deaths' && f.rowsRejected > 0)).toBe(true);
        const futureRejects = await a.db.selectFrom('reject').select('code').where('code', '=', 'DEATH_DATE_FUTURE').execute();
        expect(futureRejects.length).toBeGreaterThan(0);
        // The first run's history as it stood: its files and rejected rows (index.html's columns).
        const historyOf = async (view: { runId: number; asOf: string }) => {
          const data = await loadRunData({ db: a.db, runId: view.runId, asOf: view.asOf, startedAt: '', settings: loadSettings(), detectors: [] });
          const h = data.history.find((r) => r.runId === first.runId)!;
          return [h.filesIngested, h.filesRejected, h.rowsRejected];
        };
        const firstHistory = await historyOf({ runId: first.runId, asOf: '2024-09-30' });
        expect(firstHistory[2]).toBeGreaterThanOrEqual(futureRejects.length);
        const firstFiles = await a.db.selectFrom('source_file').select(['id', 'path', 'rows_rejected']).where('run_id', '=', first.runId).orderBy('id').execute();
        const later = await runJob(a, gen.inboxDir, path.join(early.dir, 'out'), '2025-12-31');
        expect(later.files.filter((f) => f.status === 'ingested').every((f) => f.kind === 'deaths')).toBe(true);
        expect(later.files.some((f) => f.status === 'ingested')).toBe(true);
        await runJob(b, gen.inboxDir, path.join(fresh.dir, 'out'), '2025-12-31');
        const cols = (t: string) => csvRecords(t).map((r) => [r.detector, r.id_number, r.first_period, r.last_period, r.months, r.amount, r.confidence].join(','));
        const expected = csvRecords(fs.readFileSync(path.join(gen.expectedDir, 'cases.csv'), 'utf8')).length;
        const all = cols(await exportText(a, early.dir));
        const freshCases = cols(await exportText(b, fresh.dir));
        // Before the death was known, a post-death payment can be another detector's finding (a re-run copy is a
        // duplicate; the sample generator plants one: pattern deceased_with_duplicates). Once deceased_payment
        // claims it, that case is no longer found: it stays, zeroed (months 0, amount 0.00 — README "Recovery
        // cases"), and its person has a deceased_payment case. Every other case equals a fresh run's.
        const zeroed = all.filter((l) => l.split(',')[4] === '0');
        const got = all.filter((l) => !zeroed.includes(l));
        expect(got.length).toBe(expected);
        expect(got).toEqual(freshCases);
        for (const l of zeroed) {
          const [detector, id, , , , amount] = l.split(',');
          expect({ otherDetector: ['duplicate_payment', 'concurrent_pension', 'amount_anomaly'].includes(detector!), amount, deceased: freshCases.some((x) => x.startsWith(`deceased_payment,${id},`)) })
            .toEqual({ otherDetector: true, amount: '0.00', deceased: true });
        }
        // No current reading rejects a future death any more; the first readings' rejected rows stay the first
        // run's history (they were deleted with their file rows, and that run's history changed after the fact).
        const current = a.db.selectFrom('reject').innerJoin('source_file as f', 'f.id', 'reject.file_id').where('reject.code', '=', 'DEATH_DATE_FUTURE');
        expect(await current.where('f.superseded_by', 'is', null).select('reject.code').execute()).toEqual([]);
        expect((await current.where('f.run_id', '=', first.runId).select('reject.code').execute()).length).toBe(futureRejects.length);
        expect(await a.db.selectFrom('source_file').select(['id', 'path', 'rows_rejected']).where('run_id', '=', first.runId).orderBy('id').execute()).toEqual(firstFiles);
        expect(await historyOf({ runId: later.runId, asOf: '2025-12-31' })).toEqual(firstHistory);
        const superseded = await a.db.selectFrom('source_file').select(['id', 'superseded_by']).where('superseded_by', 'is not', null).execute();
        expect(superseded.length).toBeGreaterThan(0);
        for (const f of superseded) {
          const by = await a.db.selectFrom('source_file').select(['path', 'run_id', 'superseded_by']).where('id', '=', Number(f.superseded_by)).executeTakeFirstOrThrow();
          expect([Number(by.run_id), by.superseded_by]).toEqual([later.runId, null]);
        }
        // Every death record is stored once: the first reading was replaced, not added to.
        const count = async (s: Store) => Number((await s.db.selectFrom('death_record').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
        expect(await count(a)).toBe(await count(b));
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await early.cleanup();
      await fresh.cleanup();
    }
  });
});

describe.each(ENGINES)('an incremental run equals a full re-run (%s)', (engine) => {
  // Issue 10: an incremental run scans only what is new, and its findings and cases equal those of a fresh store
  // loaded with the same files in one full run — after a new month, a late death record, a re-read death file,
  // a file adding rows to old periods, and a settings change (which forces the full computation).
  const HEADER = '个人编号,姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,发放日期,银行账号,开户银行,经办机构,发放批次号';
  const cells = (line: string): string[] => {
    const out: string[] = [];
    let cur = '';
    let q = false;
    for (const ch of line) {
      if (ch === '"') q = !q;
      else if (ch === ',' && !q) {
        out.push(cur);
        cur = '';
      } else cur += ch;
    }
    out.push(cur);
    return out;
  };
  const monthRows = (file: string): string[][] => {
    const buf = fs.readFileSync(file);
    const text = new TextDecoder('utf-8', { fatal: false }).decode(buf);
    // The generator writes some months in GB18030 (the bureau's exports): decode those as such.
    const decoded = text.includes('\ufffd') ? new TextDecoder('gb18030').decode(buf) : text;
    return decoded.replace(/^\ufeff/, '').split(/\r?\n/).slice(1).filter(Boolean).map(cells);
  };
  const csvLine = (c: string[]): string => c.map((v) => (v.includes(',') ? `"${v}"` : v)).join(',');
  const yuan = (v: string): number => Math.round(Number(v.replace(/[,￥¥]/g, '')) * 100);

  type Snapshot = { findings: string[]; cases: string[]; zeroed: string[]; mode: string; benford: unknown };
  /** The last run's findings (payment and file ids replaced by natural keys and paths) and the case export. */
  async function snapshot(s: Store, dir: string): Promise<Snapshot & { raw: { detector: string; case_key: string; id_number: string; periods: string[]; evidence: Record<string, unknown> }[] }> {
    const run = await s.db.selectFrom('run').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
    const pay = new Map((await s.db.selectFrom('payment').select(['id', 'batch', 'id_number', 'scheme', 'item', 'period']).execute()).map((p) => [Number(p.id), `${p.batch}|${p.id_number}|${p.scheme}|${p.item}|${p.period}`]));
    const files = new Map((await s.db.selectFrom('source_file').select(['id', 'path']).execute()).map((f) => [Number(f.id), f.path]));
    const norm = (v: unknown, key = ''): unknown => {
      if (Array.isArray(v)) return key === 'payments' && v.every((x) => typeof x === 'number') ? v.map((x) => pay.get(x as number)) : v.map((x) => norm(x));
      if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (o.field === 'amount_fen' && o.level === 'outlier') return { ...o, values: [pay.get(Number((o.values as string[])[0])), (o.values as string[])[1]] };
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, norm(x, k)]));
      }
      if (typeof v === 'number' && key === 'payment') return pay.get(v);
      if (typeof v === 'number' && key === 'file_id') return files.get(v);
      return v;
    };
    const rows = await s.db.selectFrom('finding').selectAll().where('run_id', '=', run.id).execute();
    // The run's headline on its row (the reports' history reads it) is what the run stored.
    expect([run.findings, run.confirmed, Number(run.amount_fen)]).toEqual([rows.length, rows.filter((f) => f.confidence === 'confirmed').length, rows.reduce((sum, f) => sum + Number(f.amount_fen), 0)]);
    const findings = rows
      .map((f) => JSON.stringify({
        detector: f.detector, case_key: f.case_key, id_number: f.id_number, name: f.name, district_code: f.district_code, scheme: f.scheme,
        periods: f.periods, amount_fen: Number(f.amount_fen), confidence: f.confidence, evidence: norm(JSON.parse(f.evidence)),
        payments: (JSON.parse(f.payment_ids!) as number[]).map((id) => pay.get(id)).sort(),
      }))
      .sort();
    const exported = csvRecords(await exportText(s, dir)).map((c) => { const { case_id: _id, ...rest } = c; return rest; });
    const line = (c: Record<string, string>) => JSON.stringify(c);
    return {
      findings,
      cases: exported.filter((c) => !(c.months === '0' && c.amount === '0.00')).map(line).sort(),
      zeroed: exported.filter((c) => c.months === '0' && c.amount === '0.00').map(line).sort(),
      mode: (JSON.parse(run.stats) as { detection?: { mode: string } }).detection?.mode ?? '?',
      benford: (JSON.parse(run.stats) as { detectors: { id: string; benford?: unknown }[] }).detectors.find((d) => d.id === 'amount_anomaly')?.benford,
      raw: rows.map((f) => ({ detector: f.detector, case_key: f.case_key, id_number: f.id_number, periods: JSON.parse(f.periods!) as string[], evidence: JSON.parse(f.evidence) as Record<string, unknown> })),
    };
  }

  it('carries forward exactly what a full computation gives, step by step', async () => {
    const inc = await createTestDb(engine);
    try {
      const gen = await generate(inc.dir, 500, 14, 4711, '2024-01', 'plain');
      const src = gen.inboxDir;
      const inbox = path.join(inc.dir, 'inbox');
      const pay = (f: string) => path.join('payments', f);
      const monthly = fs.readdirSync(path.join(src, 'payments')).filter((f) => /_\d{6}\.csv$/.test(f) && !f.includes('补充')).sort();
      expect(monthly).toHaveLength(14);
      const reexport = fs.readdirSync(path.join(src, 'payments')).find((f) => f.includes('补充'))!;
      fs.cpSync(src, inbox, { recursive: true });
      for (const f of [...monthly.slice(12), reexport]) fs.rmSync(path.join(inbox, pay(f)));
      const settingsFile = path.join(inc.dir, 'settings.json');
      const baseFile = path.join(inc.dir, 'base-settings.json');
      // The monthly pension gets the Benford test too, so that the table has rows to compare.
      fs.writeFileSync(baseFile, JSON.stringify({ detectors: { benford: { minRows: 50, items: ['pension', 'back_pay'] } } }));
      fs.writeFileSync(settingsFile, JSON.stringify({ detectors: { benford: { minRows: 50, items: ['pension', 'back_pay'] }, shared_account: { minPersons: 2 }, amount_anomaly: { threshold: 4 } } }));
      const defaults = loadSettings(baseFile, '/nonexistent');
      const a = await inc.open();
      let step = 0;
      const run = (s: Store, asOf: string, settings = defaults) => runNightly({ store: s, inbox, outDir: path.join(inc.dir, `out-${step}`), asOf, settings, logger: silentLogger });
      /** A fresh store loaded with the current inbox in one full run must give what `a` has now. */
      const sameAsFull = async (asOf: string, settings = defaults) => {
        const got = await snapshot(a, inc.dir);
        const fresh = await createTestDb(engine);
        try {
          const b = await fresh.open();
          try {
            await run(b, asOf, settings);
            const want = await snapshot(b, fresh.dir);
            expect(want.mode).toBe('full');
            expect(got.findings.length).toBeGreaterThan(10);
            expect(got.findings).toEqual(want.findings);
            expect(got.cases).toEqual(want.cases);
            expect(got.benford).toEqual(want.benford);
            expect((want.benford as unknown[]).length).toBeGreaterThan(0);
            // A case found before and not any more is kept, zeroed (README "Recovery cases"): never one of the full run's keys.
            for (const z of got.zeroed) expect(want.cases.some((c) => JSON.parse(c).detector === JSON.parse(z).detector && JSON.parse(c).id_number === JSON.parse(z).id_number && JSON.parse(c).first_period === JSON.parse(z).first_period)).toBe(false);
          } finally {
            await b.close();
          }
        } finally {
          await fresh.cleanup();
        }
        return got;
      };
      const keys = (s: Awaited<ReturnType<typeof snapshot>>, d: string) => new Set(s.findings.filter((f) => JSON.parse(f).detector === d));
      try {
        // 1. Twelve months, runs dated 2024-10-31 (later deaths are rejected as future for now).
        await run(a, '2024-10-31');
        const s1 = await sameAsFull('2024-10-31');
        expect(s1.mode).toBe('full');

        // 2. One more month: new duplicates, concurrent pensions, shared accounts and outliers.
        step++;
        fs.copyFileSync(path.join(src, pay(monthly[12]!)), path.join(inbox, pay(monthly[12]!)));
        await run(a, '2024-10-31');
        const s2 = await sameAsFull('2024-10-31');
        expect(s2.mode).toBe('incremental');
        for (const d of ['deceased_payment', 'duplicate_payment', 'concurrent_pension', 'shared_account', 'amount_anomaly']) {
          const before = keys(s1, d);
          expect({ d, changed: [...keys(s2, d)].some((f) => !before.has(f)) }).toEqual({ d, changed: true });
        }

        // 3. A late death record for a person dead for months: their duplicate copies move to deceased_payment.
        step++;
        const dup = s2.raw.find((f) => f.detector === 'duplicate_payment' && f.periods[0]! >= '2024-03' && f.periods[0]! <= '2024-10' && !s2.raw.some((g) => g.detector === 'deceased_payment' && g.id_number === f.id_number))!;
        expect(dup).toBeDefined();
        const [y, m] = dup.periods[0]!.split('-').map(Number) as [number, number];
        const died = m === 1 ? `${y - 1}/12/15` : `${y}/${m - 1}/15`;
        const id = dup.id_number;
        const name = monthRows(path.join(inbox, pay(monthly[0]!))).concat(...monthly.slice(1, 13).map((f) => monthRows(path.join(inbox, pay(f))))).find((c) => c[2] === id)![1]!;
        const birth = `${id.slice(6, 10)}/${Number(id.slice(10, 12))}/${Number(id.slice(12, 14))}`;
        fs.writeFileSync(path.join(inbox, 'deaths', 'civil-affairs', '火化信息_补报.csv'), `逝者姓名,身份证号,性别,出生日期,死亡日期,火化日期\n${name},${id},${Number(id[16]) % 2 ? '男' : '女'},${birth},${died},${died}\n`);
        await run(a, '2024-10-31');
        const s3 = await sameAsFull('2024-10-31');
        expect(s3.mode).toBe('incremental');
        expect(s3.raw.some((f) => f.detector === 'deceased_payment' && f.case_key === id)).toBe(true);
        expect(s3.raw.some((f) => f.detector === 'duplicate_payment' && f.case_key === dup.case_key)).toBe(false);

        // 4. The last month and a re-export, dated late enough that the death files holding later deaths are re-read.
        step++;
        for (const f of [monthly[13]!, reexport]) fs.copyFileSync(path.join(src, pay(f)), path.join(inbox, pay(f)));
        const r4 = await run(a, '2025-12-31');
        expect(r4.files.filter((f) => f.status === 'ingested' && f.kind === 'deaths').length).toBeGreaterThan(0);
        const s4 = await sameAsFull('2025-12-31');
        expect(s4.mode).toBe('incremental');

        // 5. A file adding rows to old periods: a duplicate, an outlier, a shared account and a concurrent pension;
        // and 100 other people paid three times an earlier outlier's amount in its peer group, so that it is no
        // longer far above its peers although its own person has no new row.
        step++;
        const jun = monthRows(path.join(inbox, pay(monthly[5]!)));
        const may = monthRows(path.join(inbox, pay(monthly[4]!)));
        const jul = monthRows(path.join(inbox, pay(monthly[6]!)));
        const aug = monthRows(path.join(inbox, pay(monthly[7]!)));
        const dupRow = jun.find((c) => c[5] === '基本养老金')!;
        const sizes = new Map<string, number>();
        for (const c of may) if (c[5] === '基本养老金') sizes.set(`${c[4]}|${c[11]!.slice(0, 6)}`, (sizes.get(`${c[4]}|${c[11]!.slice(0, 6)}`) ?? 0) + 1);
        const biggest = [...sizes.entries()].sort((x, z) => z[1] - x[1])[0]![0];
        const outRow = may.find((c) => c[5] === '基本养老金' && `${c[4]}|${c[11]!.slice(0, 6)}` === biggest && c[2] !== dupRow[2])!;
        const trio = [...new Map(jul.filter((c) => c[9] && c[2] !== dupRow[2] && c[2] !== outRow[2]).map((c) => [c[2], c])).values()].slice(0, 3);
        const drawsResident = new Set(aug.filter((c) => c[4] === '城乡居民基本养老保险').map((c) => c[2]));
        const conc = aug.find((c) => c[4] === '企业职工基本养老保险' && c[5] === '基本养老金' && !drawsResident.has(c[2]) && ![dupRow[2], outRow[2], ...trio.map((t) => t[2])].includes(c[2]))!;
        const lines = [
          [...dupRow.slice(0, 12), 'X11020240601'],
          [...outRow.slice(0, 7), (yuan(outRow[7]!) * 10 / 100).toFixed(2), ...outRow.slice(8, 12), 'X11020240501'],
          ...trio.map((c, i) => [...c.slice(0, 5), '补发养老金', c[6]!, `${100 + i}.00`, c[8]!, trio[0]![9]!, trio[0]![10]!, c[11]!, 'X11020240701']),
          [...conc.slice(0, 4), '城乡居民基本养老保险', '基本养老金', conc[6]!, '150.00', conc[8]!, conc[9]!, conc[10]!, conc[11]!, 'X17020240801'],
        ];
        type Flagged = { scheme: string; item: string; period: string; amount_fen: number; district_code: string | null };
        const used = new Set([dupRow[2], outRow[2], conc[2], ...trio.map((t) => t[2])]);
        const outlier = s4.raw.find((f) => f.detector === 'amount_anomaly' && !used.has(f.id_number) && (f.evidence.payments as Flagged[]).every((x) => x.district_code))!;
        expect(outlier).toBeDefined();
        const x = (outlier.evidence.payments as Flagged[])[0]!;
        const others = [...new Map(jun.filter((c) => !used.has(c[2]) && c[2] !== outlier.id_number).map((c) => [c[2], c])).values()].slice(0, 100);
        expect(others).toHaveLength(100);
        for (const c of others) lines.push([c[0]!, c[1]!, c[2]!, c[3]!, x.scheme, x.item, x.period, (x.amount_fen * 3 / 100).toFixed(2), c[8]!, c[9]!, c[10]!, `${x.district_code}001`, 'X99920240101']);
        fs.writeFileSync(path.join(inbox, pay('待遇发放明细_补录_2024.csv')), [HEADER, ...lines.map(csvLine)].join('\n') + '\n');
        await run(a, '2025-12-31');
        const s5 = await sameAsFull('2025-12-31');
        expect(s5.mode).toBe('incremental');
        const has = (d: string, idn: string, period: string) => s5.raw.some((f) => f.detector === d && (f.id_number === idn || f.case_key === idn) && f.periods.includes(period));
        expect({
          duplicate: has('duplicate_payment', dupRow[2]!, '2024-06'),
          outlier: has('amount_anomaly', outRow[2]!, '2024-05'),
          shared: has('shared_account', trio[0]![9]!, '2024-07'),
          concurrent: has('concurrent_pension', conc[2]!, '2024-08'),
          peersMoved: has('amount_anomaly', outlier.id_number, x.period),
        }).toEqual({ duplicate: true, outlier: true, shared: true, concurrent: true, peersMoved: false });

        // 6. Changed settings: the full computation, whatever is new.
        step++;
        const changed = loadSettings(settingsFile, '/nonexistent');
        await run(a, '2025-12-31', changed);
        const s6 = await sameAsFull('2025-12-31', changed);
        expect(s6.mode).toBe('full');
        expect(s6.findings).not.toEqual(s5.findings);
      } finally {
        await a.close();
      }
    } finally {
      await inc.cleanup();
    }
  }, 120_000);
});
