/**
 * The investigators' work lists as a spreadsheet program reads them: LibreOffice Calc (headless) converts
 * each `worklists/<district>.xlsx` to CSV; IDs and accounts must come back as the same digit strings (not
 * 3.60102E+17), amounts as numbers with two decimals, and names that look like formulas as plain text (a
 * formula cell would come back as its computed value).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertToCsv } from '../helpers/libreoffice.ts';
import { expectedCases } from '../helpers/report-inbox.ts';
import { openCase } from '../helpers/run-data.ts';
import { writeWorklist } from '../../src/reports/worklists-xlsx.ts';
import { runScenario, type Scenario } from '../helpers/report-run.ts';

let s: Scenario;
beforeAll(async () => {
  s = await runScenario();
});
afterAll(() => {
  if (s) fs.rmSync(s.root, { recursive: true, force: true });
});

describe.each([0, 1])('work lists of run %i through LibreOffice', (i) => {
  it('keep IDs, accounts, amounts and names intact', async () => {
    const run = s.runs[i]!;
    const files = run.result.reports.worklists;
    const exp = expectedCases(run.periods);
    expect(files.map((f) => path.basename(f)).sort()).toEqual([...new Set(exp.map((e) => `${e.person.district}.xlsx`))].sort());
    const outDir = fs.mkdtempSync(path.join(s.root, 'lo-out-'));
    const csvs = await convertToCsv(files, outDir);
    let seen = 0;
    for (const csv of csvs) {
      const rows = parse(fs.readFileSync(csv), { bom: true, relax_column_count: true }) as string[][];
      expect(rows[0]!.slice(0, 19)).toEqual([
        'case_id', '检测类型 detector', '可信度 confidence', '状态 status', '公民身份号码', '姓名', '险种', '起始期', '截止期', '月数',
        '金额（元）', '银行账号', '死亡日期', '依据 evidence', '核查结果', '追回金额（元）', '追回渠道', '追回日期', '备注',
      ]);
      const district = path.basename(csv, '.csv');
      const mine = exp.filter((e) => e.person.district === district).sort((a, b) => b.amountFen - a.amountFen);
      expect(rows.length - 1).toBe(mine.length);
      mine.forEach((e, k) => {
        const r = rows[k + 1]!;
        expect(r[0]).toMatch(/^\d+$/);
        expect(r[4]).toBe(e.person.id);
        expect(r[5]).toBe(e.person.name);
        expect(r[6]).toBe('110');
        expect(r[7]).toBe(e.periods[0]);
        expect(r[8]).toBe(e.periods.at(-1));
        expect(r[9]).toBe(String(e.periods.length));
        expect(r[10]).toBe((e.amountFen / 100).toFixed(2));
        expect(r[11]).toBe(e.person.account);
        expect(r[12]).toBe(e.person.death!.date);
        expect(r.slice(14, 19).every((c) => c === '')).toBe(true);
        seen++;
      });
    }
    expect(seen).toBe(exp.length);
  });
});

describe('a work list with a negative amount through LibreOffice', () => {
  it('keeps the amount a negative number and the formula-like names text', async () => {
    const cases = [
      openCase({ id: 5, name: '=HYPERLINK("x")', amountFen: -345670 }),
      openCase({ id: 6, name: '@SUM(1)', amountFen: 5 }),
      openCase({ id: 7, name: '+1+1', amountFen: 0, notFound: true }),
    ];
    const file = path.join(fs.mkdtempSync(path.join(s.root, 'neg-')), 'neg.xlsx');
    await writeWorklist(file, cases, { districtCode: '360102', districtName: '东湖区', asOf: '2025-06-30', runId: 1 }, new Date(0));
    const [csv] = await convertToCsv([file], path.dirname(file));
    const rows = (parse(fs.readFileSync(csv!), { bom: true, relax_column_count: true }) as string[][]).slice(1);
    expect(rows.map((r) => [r[0], r[5], r[10]])).toEqual([
      ['5', '=HYPERLINK("x")', '-3456.70'],
      ['6', '@SUM(1)', '0.05'],
      ['7', '+1+1', '0.00'],
    ]);
  });
});
