/**
 * The nightly job on generated data (tests/helpers/report-inbox.ts), every file of the run folder checked:
 * bytes of the CSVs (BOM, CRLF, masking, neutralisation), the work lists read back with exceljs, the
 * summary's figures and escaping, the run index. The browser and LibreOffice checks of the same files are
 * in tests/integration/.
 */
import fs from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAD_ROW, expectedCases, people, yuanGrouped, yuanText, type ExpectedCase } from './helpers/report-inbox.ts';
import { runScenario, type Scenario } from './helpers/report-run.ts';

let s: Scenario;
beforeAll(async () => {
  s = await runScenario();
});
afterAll(() => {
  if (s) fs.rmSync(s.root, { recursive: true, force: true });
});

const masked = (id: string): string => `${id.slice(0, 6)}${'*'.repeat(8)}${id.slice(-4)}`;
/** What a spreadsheet-safe CSV cell holds for text that starts like a formula. */
const neutral = (t: string): string => (/^[=+\-@]/.test(t) ? `'${t}` : t);
const csvRows = (file: string): Record<string, string>[] => parse(fs.readFileSync(file), { bom: true, columns: true }) as Record<string, string>[];
const PERSONAL = (): string[] => [...people().flatMap((p) => [p.id, p.account]), BAD_ROW.id, BAD_ROW.account];

function expectCsvBytes(file: string): string {
  const bytes = fs.readFileSync(file);
  expect([...bytes.subarray(0, 3)], `${file}: UTF-8 BOM`).toEqual([0xef, 0xbb, 0xbf]);
  const text = bytes.toString('utf8');
  expect(text.endsWith('\r\n'), `${file}: ends with CRLF`).toBe(true);
  expect(text.replace(/\r\n/g, ''), `${file}: no bare CR or LF outside CRLF`).not.toMatch(/[\r\n]/);
  return text;
}

describe.each([0, 1])('run %i of the scenario', (i) => {
  const run = () => s.runs[i]!;
  const dir = () => path.join(s.out, run().asOf);
  const expected = (): ExpectedCase[] => expectedCases(run().periods);

  it('writes every file of the run folder', () => {
    const r = run().result.reports;
    expect(r.dir).toBe(dir());
    for (const f of [r.summary, r.findings, r.rejects, r.stopRequests, r.index, ...r.worklists]) expect(fs.existsSync(f), f).toBe(true);
    const districts = [...new Set(expected().map((e) => e.person.district))].sort();
    expect(fs.readdirSync(path.join(dir(), 'worklists')).sort()).toEqual([...districts.map((d) => `${d}.xlsx`), 'stop-requests.csv']);
  });

  it('findings.csv: BOM, CRLF, masked IDs and accounts, names inert, amounts numbers', () => {
    const file = path.join(dir(), 'findings.csv');
    const text = expectCsvBytes(file);
    for (const secret of PERSONAL()) expect(text).not.toContain(secret);
    const rows = csvRows(file);
    const exp = expected();
    expect(rows).toHaveLength(exp.length);
    for (const e of exp) {
      const row = rows.find((r) => r.id_number === masked(e.person.id));
      expect(row, e.person.key).toBeDefined();
      expect(row).toMatchObject({
        detector: 'deceased_payment', confidence: e.confidence, status: 'new', name: neutral(e.person.name), district_code: e.person.district,
        first_period: e.periods[0], last_period: e.periods.at(-1), months: String(e.periods.length), amount: yuanText(e.amountFen),
        account: `****${e.person.account.slice(-4)}`, death_date: e.person.death!.date,
      });
    }
    expect(text).toContain(`"'=HYPERLINK(""x"")"`);
    expect(text).toContain(`,'@SUM(1),`);
  });

  it('rejects.csv: the bad row masked and neutralised on the first date, the header alone on the next', () => {
    const file = path.join(dir(), 'rejects.csv');
    const text = expectCsvBytes(file);
    const rows = csvRows(file);
    if (i === 0) {
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ file: 'payments/2025H1.csv', code: BAD_ROW.code });
      expect(rows[0]!.raw!.startsWith(`'${BAD_ROW.name}`)).toBe(true);
      expect(rows[0]!.raw).toContain(masked(BAD_ROW.id));
      expect(text).not.toContain(BAD_ROW.id);
      expect(text).not.toContain(BAD_ROW.account);
    } else {
      expect(text).toBe('\ufefffile,line,code,reason,raw\r\n');
    }
  });

  it('stop-requests.csv: confirmed cases still paid in the latest period, full IDs and accounts', () => {
    const file = path.join(dir(), 'worklists', 'stop-requests.csv');
    expectCsvBytes(file);
    const rows = csvRows(file);
    const latest = [...run().periods].sort().at(-1)!;
    const want = expected().filter((e) => e.confidence === 'confirmed' && e.running);
    expect(rows.map((r) => r.id_number).sort()).toEqual(want.map((e) => e.person.id).sort());
    for (const e of want) {
      expect(rows.find((r) => r.id_number === e.person.id)).toMatchObject({
        name: neutral(e.person.name), scheme: '110', district_code: e.person.district, account: e.person.account, last_paid_period: latest,
        death_date: e.person.death!.date, amount: yuanText(e.amountFen), confidence: 'confirmed', case_status: 'new',
      });
    }
  });

  it('work lists: one per district, contract columns, IDs and accounts as text, amounts as numbers', async () => {
    const exp = expected();
    for (const district of [...new Set(exp.map((e) => e.person.district))]) {
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.readFile(path.join(dir(), 'worklists', `${district}.xlsx`));
      const ws = wb.worksheets[0]!;
      expect(ws.name).toBe('工作清单');
      expect((ws.getRow(1).values as unknown[]).slice(1)).toEqual([
        'case_id', '检测类型 detector', '可信度 confidence', '状态 status', '公民身份号码', '姓名', '险种', '起始期', '截止期', '月数',
        '金额（元）', '银行账号', '死亡日期', '依据 evidence', '核查结果', '追回金额（元）', '追回渠道', '追回日期', '备注',
      ]);
      const mine = exp.filter((e) => e.person.district === district).sort((a, b) => b.amountFen - a.amountFen);
      expect(ws.actualRowCount).toBe(mine.length + 1);
      mine.forEach((e, k) => {
        const row = ws.getRow(k + 2);
        expect(row.getCell(1).type).toBe(ExcelJS.ValueType.Number);
        expect(row.getCell(5).type).toBe(ExcelJS.ValueType.String);
        expect(row.getCell(5).value).toBe(e.person.id);
        expect(row.getCell(6).type).toBe(ExcelJS.ValueType.String);
        expect(row.getCell(6).value).toBe(e.person.name);
        expect(row.getCell(10).value).toBe(e.periods.length);
        expect(row.getCell(11).type).toBe(ExcelJS.ValueType.Number);
        expect(row.getCell(11).value).toBe(e.amountFen / 100);
        expect(row.getCell(12).type).toBe(ExcelJS.ValueType.String);
        expect(row.getCell(12).value).toBe(e.person.account);
        expect(row.getCell(13).value).toBe(e.person.death!.date);
        expect(String(row.getCell(14).value)).toContain(`died ${e.person.death!.date}`);
        expect(row.getCell(15).dataValidation?.type).toBe('list');
      });
    }
  });

  it('summary.html: headline figures, names escaped, nothing personal in full, no script', () => {
    const html = fs.readFileSync(path.join(dir(), 'summary.html'), 'utf8');
    const exp = expected();
    const total = exp.reduce((sum, e) => sum + e.amountFen, 0);
    expect(html).toMatch(new RegExp(`id="total-amount"><span>[^<]*</span><b>${yuanGrouped(total)}</b>`));
    expect(html).toMatch(new RegExp(`id="total-cases"><span>[^<]*</span><b>${exp.length}</b>`));
    const requests = exp.filter((e) => e.confidence === 'confirmed' && e.running).length;
    expect(html).toMatch(new RegExp(`id="stop-requests"[^>]*><span>[^<]*</span><b>${requests}</b>`));
    for (const secret of PERSONAL()) expect(html).not.toContain(secret);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('=HYPERLINK(&quot;x&quot;)');
    expect(html).toContain('@SUM(1)');
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(i === 0 ? 4 : 5);
    const largest = /<section id="largest">[\s\S]*?<\/section>/.exec(html)![0];
    for (const e of exp) {
      const row = [...largest.matchAll(/<tr class="case" data-key="\d+">[\s\S]*?<\/tr>/g)].map((m) => m[0]).find((r) => r.includes(masked(e.person.id)));
      expect(row, e.person.key).toBeDefined();
      expect(row).toContain(`>${yuanGrouped(e.amountFen)}<`);
    }
  });
});

describe('run index', () => {
  it('lists both runs with their figures and links', () => {
    const html = fs.readFileSync(path.join(s.out, 'index.html'), 'utf8');
    for (const r of s.runs) {
      const total = expectedCases(r.periods).reduce((sum, e) => sum + e.amountFen, 0);
      const row = new RegExp(`<tr data-key="${r.result.runId}">[\\s\\S]*?</tr>`).exec(html)?.[0] ?? '';
      expect(row).toContain(`>${r.asOf}<`);
      expect(row).toContain(`>${yuanGrouped(total)}<`);
      expect(row).toContain(`<a href="${r.asOf}/summary.html">summary</a>`);
    }
  });

  it('the trend table of the second date shows both dates', () => {
    const html = fs.readFileSync(path.join(s.out, s.runs[1]!.asOf, 'summary.html'), 'utf8');
    const trend = /<section id="trend">[\s\S]*?<\/section>/.exec(html)![0];
    for (const r of s.runs) {
      const total = expectedCases(r.periods).reduce((sum, e) => sum + e.amountFen, 0);
      expect(trend).toMatch(new RegExp(`data-key="${r.asOf}">[\\s\\S]*?${yuanGrouped(total)}`));
    }
  });
});

describe('adjudicated cases', () => {
  let t: Scenario;
  const person = (key: string) => people().find((p) => p.key === key)!;
  beforeAll(async () => {
    // Before the second date: one case closed as a false positive, one suspended.
    t = await runScenario(2, async (store, step) => {
      if (step !== 1) return;
      await store.db.updateTable('recovery_case').set({ status: 'false_positive' }).where('id_number', '=', person('sum').id).execute();
      await store.db.updateTable('recovery_case').set({ status: 'suspended' }).where('id_number', '=', person('hyperlink').id).execute();
    });
  });
  afterAll(() => {
    if (t) fs.rmSync(t.root, { recursive: true, force: true });
  });

  it('leave the work list when closed and stay in the stop requests while suspended but still paid', async () => {
    const dir = path.join(t.out, t.runs[1]!.asOf, 'worklists');
    expect(fs.existsSync(path.join(dir, '360103.xlsx'))).toBe(false);
    const stops = csvRows(path.join(dir, 'stop-requests.csv'));
    expect(stops.map((r) => [r.id_number, r.case_status])).toEqual([[person('hyperlink').id, 'suspended']]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path.join(dir, '360102.xlsx'));
    const statuses = (wb.worksheets[0]!.getColumn(4).values as unknown[]).slice(2);
    expect(statuses.sort()).toEqual(['new', 'suspended']);
  });

  it('count a closed case among what was found but not among what is still open (summary cards)', () => {
    const html = fs.readFileSync(path.join(t.out, t.runs[1]!.asOf, 'summary.html'), 'utf8');
    const card = (id: string) => new RegExp(`id="${id}"[^>]*><span>[^<]*</span><b>([^<]*)</b>`).exec(html)![1]!;
    const fen = (s: string) => Math.round(Number(s.replace(/,/g, '')) * 100);
    const closed = expectedCases(t.runs[1]!.periods).find((e) => e.person.key === 'sum')!;
    expect(closed.amountFen).toBeGreaterThan(0);
    expect(fen(card('total-amount')) - fen(card('open-amount'))).toBe(closed.amountFen);
  });
});
