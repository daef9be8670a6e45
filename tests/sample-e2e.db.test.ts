/**
 * End to end on the messy sample layout (issues 3 and 5): a generated inbox with title rows, repeated
 * headers, blank lines, summary rows (one with a wrong total), notes, XLSX workbooks (IDs stored as numbers,
 * date cells, numeric amounts), overlapping re-exports in CSV and XLSX, and every anomaly pattern and decoy
 * of sample-data/lib/patterns.ts — run through the real nightly job. The outcome must equal what the
 * generator expects (sample-data/expected/): the exported cases of every detector, each file's accounting,
 * the rejected rows, and the summary-total mismatch. Runs on every engine of tests/helpers/engines.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, ENGINES, type TestDb } from './helpers/engines.ts';
import { csvRecords, exportText, generate, runJob } from './helpers/pipeline.ts';
import { fenToYuan, type GenerateResult } from '../sample-data/lib/generator.ts';
import type { Store } from '../src/db/connection.ts';

const COLUMNS = ['detector', 'id_number', 'name', 'district_code', 'scheme', 'first_period', 'last_period', 'months', 'amount', 'confidence'];
const DETECTORS = ['amount_anomaly', 'concurrent_pension', 'deceased_payment', 'duplicate_payment', 'shared_account'];
const byteCmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe.each(ENGINES)('pipeline on the messy sample layout (%s)', (engine) => {
  let t: TestDb;
  let store: Store;
  let gen: GenerateResult;
  let exported: string;

  beforeAll(async () => {
    t = await createTestDb(engine);
    gen = await generate(t.dir, 400, 15, 20240101, '2024-01', 'messy');
    store = await t.open();
    await runJob(store, gen.inboxDir, path.join(t.dir, 'out'));
    exported = await exportText(store, t.dir);
  });
  afterAll(async () => {
    await store?.close();
    await t?.cleanup();
  });

  const sourceFiles = async () => store.db.selectFrom('source_file').selectAll().execute();
  const accounting = (f: { path: string; status: string; rows_read: number; rows_accepted: number; rows_rejected: number; rows_skipped: number; rows_repeated: number } | undefined, file: string) =>
    f
      ? { file, status: f.status, read: Number(f.rows_read), accepted: Number(f.rows_accepted), rejected: Number(f.rows_rejected), skipped: Number(f.rows_skipped), repeated: Number(f.rows_repeated) }
      : { file, status: 'missing' };

  it('the generated inbox holds every quirk and every detector (the test cannot pass vacuously)', () => {
    const s = gen.summary;
    const pay = s.files.filter((f) => f.kind === 'payments');
    const sum = (k: keyof (typeof pay)[number]['skippedRows']) => pay.reduce((n, f) => n + f.skippedRows[k], 0);
    expect(pay.filter((f) => f.format === 'xlsx').length).toBe(3);
    for (const k of ['title', 'blank', 'repeatedHeader', 'summary', 'note'] as const) expect(sum(k), k).toBeGreaterThan(0);
    expect(s.summaryMismatches).toHaveLength(1);
    expect(Object.entries(s.totals.cases).filter(([, n]) => n > 0).map(([d]) => d).sort()).toEqual(DETECTORS);
    const codes = new Set(csvRecords(fs.readFileSync(path.join(gen.expectedDir, 'rejects.csv'), 'utf8')).map((r) => r.code));
    expect(codes.has('ID_PRECISION_LOST')).toBe(true);
  });

  it('exports exactly the expected cases of every detector, amounts to the fen', () => {
    const expected = csvRecords(fs.readFileSync(path.join(gen.expectedDir, 'cases.csv'), 'utf8'));
    const got = csvRecords(exported);
    expect(got.map((r) => COLUMNS.map((c) => r[c]).join(','))).toEqual(expected.map((r) => COLUMNS.map((c) => r[c]).join(',')));
  });

  it('accounts for every row of every CSV file as expected (rows read, accepted, rejected, skipped, repeated)', async () => {
    const files = await sourceFiles();
    const expected = gen.summary.files.filter((f) => f.format === 'csv');
    expect(expected.length).toBeGreaterThan(20);
    const got = expected.map((e) => accounting(files.find((f) => f.path === e.file), e.file));
    expect(got).toEqual(expected.map((e) => ({ file: e.file, status: 'ingested', read: e.rowsRead, accepted: e.accepted, rejected: e.rejected, skipped: e.skipped, repeated: e.repeated })));
  });

  it('accounts for every row of every XLSX file as expected (line = sheet row; every row of the sheet is read)', async () => {
    const files = await sourceFiles();
    const expected = gen.summary.files.filter((f) => f.format === 'xlsx');
    const got = expected.map((e) => accounting(files.find((f) => f.path === e.file), e.file));
    expect(got).toEqual(expected.map((e) => ({ file: e.file, status: 'ingested', read: e.rowsRead, accepted: e.accepted, rejected: e.rejected, skipped: e.skipped, repeated: e.repeated })));
  });

  it('ingests every file of the inbox, in byte-wise path order', async () => {
    const files = await sourceFiles();
    expect(files.map((f) => f.path).sort(byteCmp)).toEqual(gen.summary.files.map((f) => f.file).sort(byteCmp));
  });

  it('rejects exactly the expected rows, with file, line and code', async () => {
    const rejects = await store.db
      .selectFrom('reject')
      .innerJoin('source_file', 'source_file.id', 'reject.file_id')
      .select(['source_file.path', 'reject.line', 'reject.code'])
      .where('reject.code', '<>', 'SUMMARY_MISMATCH')
      .execute();
    const expected = csvRecords(fs.readFileSync(path.join(gen.expectedDir, 'rejects.csv'), 'utf8'));
    expect(rejects.map((r) => `${r.path}:${r.line}:${r.code}`).sort()).toEqual(expected.map((r) => `${r.file}:${r.line}:${r.code}`).sort());
  });

  it('reports the one summary row whose total is wrong (SUMMARY_MISMATCH, counted as skipped), with both totals', async () => {
    const got = await store.db
      .selectFrom('reject')
      .innerJoin('source_file', 'source_file.id', 'reject.file_id')
      .select(['source_file.path', 'reject.line', 'reject.reason'])
      .where('reject.code', '=', 'SUMMARY_MISMATCH')
      .execute();
    const expected = gen.summary.summaryMismatches;
    expect(got.map((r) => `${r.path}:${r.line}`)).toEqual(expected.map((m) => `${m.file}:${m.line}`));
    for (const [k, m] of expected.entries()) {
      expect(got[k]!.reason).toContain(fenToYuan(m.statedTotal));
      expect(got[k]!.reason).toContain(fenToYuan(m.expectedTotal));
    }
  });
});
