import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { findingsCsv, findingsRows } from '../src/reports/findings-csv.ts';
import { rejectsCsv } from '../src/reports/rejects-csv.ts';
import { stopRequests, stopRequestsCsv } from '../src/reports/stop-requests-csv.ts';
import { worklistStem, worklistsXlsx, writeWorklist, WORKLIST_SHEET, type WorklistInfo } from '../src/reports/worklists-xlsx.ts';
import type { OpenCase } from '../src/reports/report-data.ts';

/** A work list written to a temporary file and read back. */
async function worklistBack(cases: OpenCase[], info: WorklistInfo, created: Date): Promise<ExcelJS.Workbook> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fg-wl-')), 'w.xlsx');
  await writeWorklist(file, cases, info, created);
  const back = new ExcelJS.Workbook();
  await back.xlsx.readFile(file);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return back;
}
import { SINKS, writeRunReports } from '../src/reports/run-reports.ts';
import { finding, openCase, runData, SETTINGS } from './helpers/run-data.ts';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'fg-sinks-'));
const target = (dir: string) => ({ runDir: path.join(dir, '2025-06-30'), outDir: dir });

describe('findings.csv', () => {
  it('masks the ID and accounts, neutralises names and keeps negative amounts numbers', async () => {
    const dir = tmp();
    const neg = finding({ caseId: 2, name: '=HYPERLINK("x")', amountFen: -345670, why: 'refund of 36010219480312011X', accounts: ['6217000010000000011', '6222020200000000123'] });
    const [file] = await findingsCsv.write(runData({ findings: [finding(), neg] }), target(dir));
    const text = fs.readFileSync(file!, 'utf8');
    expect(text.startsWith('\ufeff')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const rows = parse(text, { bom: true, columns: true }) as Record<string, string>[];
    expect(rows[1]).toMatchObject({
      case_id: '2', id_number: '360102********011X', name: `'=HYPERLINK("x")`, amount: '-3456.70', account: '****0011;****0123',
      why: 'refund of 360102********011X', district_name: '东湖区',
    });
    expect(Number(rows[1]!.amount)).toBe(-3456.7);
    expect(text).not.toContain('36010219480312011X');
    expect(text).not.toContain('6217000010000000011');
  });

  it('builds the same row from the pure row function', () => {
    const [row] = findingsRows([finding({ amountFen: 5 })], SETTINGS.districts);
    expect(row![12]).toEqual({ numeric: '0.05' });
  });
});

describe('rejects.csv', () => {
  it('is written with its header when there is nothing to report', async () => {
    const dir = tmp();
    const [file] = await rejectsCsv.write(runData({ rejects: [] }), target(dir));
    expect(fs.readFileSync(file!, 'utf8')).toBe('\ufefffile,line,code,reason,raw\r\n');
  });

  it('masks raw text and neutralises a raw line starting with =', async () => {
    const dir = tmp();
    const raw = '=cmd|\' /C calc\'!A0,36010219480312011X,110,12.345,6217000010000000011';
    const [file] = await rejectsCsv.write(runData({ rejects: [{ file: 'payments/a.csv', line: 7, code: 'AMOUNT_TOO_PRECISE', reason: 'amount "12.345" has 3 decimals', raw }, { file: 'payments/b.csv', line: null, code: 'HEADER_NOT_FOUND', reason: 'no header', raw: '' }] }), target(dir));
    const rows = parse(fs.readFileSync(file!), { bom: true }) as string[][];
    expect(rows[1]).toEqual(['payments/a.csv', '7', 'AMOUNT_TOO_PRECISE', 'amount "12.345" has 3 decimals', "'=cmd|' /C calc'!A0,360102********011X,110,12.345,***************0011"]);
    expect(rows[2]).toEqual(['payments/b.csv', '', 'HEADER_NOT_FOUND', 'no header', '']);
  });
});

describe('stop requests (payments still running in the latest period)', () => {
  const latest = new Map([['110', '2025-06'], ['170', '2025-05']]);
  const pay = (scheme: string, period: string, amountFen: number, account = '6217000010000000011') => ({ scheme, item: 'pension', period, amountFen, account });
  it.each([
    ['confirmed, paid in the latest period', openCase(), 1],
    ['review confidence', openCase({ confidence: 'review' }), 0],
    ['probable confidence', openCase({ confidence: 'probable' }), 0],
    ['another detector', openCase({ detector: 'duplicate_payment' }), 0],
    ['payments stopped before the latest period', openCase({ payments: [pay('110', '2025-04', 345670)] }), 0],
    ['latest period reversed to zero is not counted', openCase({ payments: [pay('110', '2025-05', 345670)] }), 0],
    ['scheme with its own latest period', openCase({ payments: [pay('110', '2025-05', 100), pay('170', '2025-05', 200)] }), 1],
    ['two schemes running: one request each', openCase({ payments: [pay('110', '2025-06', 100), pay('170', '2025-05', 200)] }), 2],
    ['scheme unknown to the payment table', openCase({ payments: [pay('999', '2025-06', 100)] }), 0],
  ])('%s', (_l, c, n) => {
    expect(stopRequests([c], latest)).toHaveLength(n);
  });

  it('nets reversals into the amount and lists the accounts paid in the latest period', () => {
    const c = openCase({ payments: [pay('110', '2025-04', 345670, 'A1111111111'), pay('110', '2025-04', -345670, 'A1111111111'), pay('110', '2025-05', 345670, 'A1111111111'), pay('110', '2025-06', 345670, 'B2222222222')] });
    const [r] = stopRequests([c], latest);
    expect(r).toMatchObject({ caseId: 1, scheme: '110', lastPaidPeriod: '2025-06', accounts: ['B2222222222'], amountFen: 691340 });
  });
});

describe('stop-requests.csv', () => {
  it('carries full IDs and accounts, neutralises names and writes a net negative amount as a number', async () => {
    const dir = tmp();
    const c = openCase({
      name: '@SUM(1)',
      payments: [
        { scheme: '110', item: 'pension', period: '2025-05', amountFen: -500000, account: '6217000010000000011' },
        { scheme: '110', item: 'pension', period: '2025-06', amountFen: 345670, account: '6217000010000000011' },
      ],
    });
    const [file] = await stopRequestsCsv.write(runData({ openCases: [c] }), target(dir));
    const text = fs.readFileSync(file!, 'utf8');
    expect(text).toBe(
      '\ufeffcase_id,id_number,name,scheme,district_code,account,last_paid_period,death_date,amount,confidence,case_status\r\n' +
        `1,${c.idNumber},'@SUM(1),110,360102,6217000010000000011,2025-06,2025-02-10,-1543.30,confirmed,new\r\n`,
    );
  });
});

describe('work list XLSX (WORKLIST-FORMAT.md)', () => {
  it('writes typed cells: numbers for amounts (negative too), text for IDs and accounts, strings never formulas', async () => {
    const back = await worklistBack(
      [openCase({ id: 7, name: '=HYPERLINK("x")', amountFen: -12345, accounts: ['6217000010000000011', '0012345678901234567'], why: 'why\u0001line' }), openCase({ id: 9, name: '@SUM(1)' })],
      { districtCode: '360102', districtName: '东湖区', asOf: '2025-06-30', runId: 1 },
      new Date('2025-06-30T16:00:00Z'),
    );
    const ws = back.getWorksheet(WORKLIST_SHEET)!;
    expect(back.worksheets[0]!.name).toBe(WORKLIST_SHEET);
    const r = ws.getRow(2);
    expect(r.getCell(1).value).toBe(7);
    expect(r.getCell(5).type).toBe(ExcelJS.ValueType.String);
    expect(r.getCell(5).value).toBe(openCase().idNumber);
    expect(r.getCell(5).numFmt).toBe('@');
    expect(r.getCell(6).type).toBe(ExcelJS.ValueType.String);
    expect(r.getCell(6).value).toBe('=HYPERLINK("x")');
    expect(ws.getRow(3).getCell(6).value).toBe('@SUM(1)');
    expect(r.getCell(11).type).toBe(ExcelJS.ValueType.Number);
    expect(r.getCell(11).value).toBe(-123.45);
    expect(r.getCell(11).numFmt).toBe('0.00');
    expect(r.getCell(12).value).toBe('6217000010000000011;0012345678901234567');
    expect(r.getCell(14).value).toBe('why\ufffdline');
    for (let c = 15; c <= 19; c++) expect(r.getCell(c).value).toBeNull();
    // Every case row has the same styles: top-aligned; ID, account and 追回日期 as text; amounts with two
    // decimals; evidence and 备注 wrapped.
    for (const row of [r, ws.getRow(3)]) {
      expect([1, 6, 13, 15, 17].map((c) => row.getCell(c).alignment)).toEqual(Array(5).fill({ vertical: 'top' }));
      expect([5, 11, 12, 16, 18].map((c) => row.getCell(c).numFmt)).toEqual(['@', '0.00', '@', '0.00', '@']);
      expect([14, 19].map((c) => row.getCell(c).alignment)).toEqual(Array(2).fill({ vertical: 'top', wrapText: true }));
    }
  });

  it('puts drop-down lists on 核查结果 and 追回渠道, a decimal check on 追回金额, and freezes and filters the header', async () => {
    const back = await worklistBack([openCase({ id: 1 }), openCase({ id: 2 }), openCase({ id: 3 })], { districtCode: '360102', districtName: '东湖区', asOf: '2025-06-30', runId: 1 }, new Date(0));
    const ws = back.getWorksheet(WORKLIST_SHEET)!;
    for (const row of [2, 4]) {
      expect(ws.getCell(`O${row}`).dataValidation).toMatchObject({ type: 'list', formulae: ['"核查中,核实属实,误报（非本人或未死亡）,已暂停发放,已发追回通知,已签还款计划,已全额追回,移送稽核/司法,核销"'] });
      expect(ws.getCell(`Q${row}`).dataValidation).toMatchObject({ type: 'list', formulae: ['"银行退回,继承人退还,抵扣"'] });
      expect(ws.getCell(`P${row}`).dataValidation).toMatchObject({ type: 'decimal', operator: 'greaterThanOrEqual', formulae: [0.01] });
    }
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(ws.autoFilter).toBeTruthy();
    // The header row is printed on every page; row 1 holds the headers, in bold.
    expect(ws.pageSetup.printTitlesRow).toBe('1:1');
    expect(ws.getRow(1).getCell(1).value).toBe('case_id');
    expect(ws.getRow(1).getCell(19).value).toBe('备注');
    expect(ws.getRow(1).font).toMatchObject({ bold: true });
    expect(ws.rowCount).toBe(4);
    // Over the case rows (read after rowCount: getCell makes the row) only: not the header, not below the last case.
    for (const row of [1, 5]) for (const col of ['O', 'P', 'Q', 'R']) expect(ws.getCell(`${col}${row}`).dataValidation).toBeUndefined();
    // A list without cases has no validations (and is still a workbook Excel opens).
    const empty = (await worklistBack([], { districtCode: '360102', districtName: '东湖区', asOf: '2025-06-30', runId: 1 }, new Date(0))).getWorksheet(WORKLIST_SHEET)!;
    expect(empty.getCell('O2').dataValidation).toBeUndefined();
    expect(back.worksheets.map((w) => w.name)).toEqual([WORKLIST_SHEET, '说明']);
    const help = back.getWorksheet('说明')!;
    expect(help.getRow(1).values).toEqual([undefined, '区县', '360102 东湖区']);
    expect(help.getRow(4).values).toEqual([undefined, '未结案件数', '3']);
  });

  it('writes one file per district with open cases, ordered by amount then case id, and removes stale ones', async () => {
    const dir = tmp();
    const t = target(dir);
    fs.mkdirSync(path.join(t.runDir, 'worklists'), { recursive: true });
    fs.writeFileSync(path.join(t.runDir, 'worklists', '360199.xlsx'), 'stale');
    const cases = [openCase({ id: 3, amountFen: 100 }), openCase({ id: 2, amountFen: 500 }), openCase({ id: 1, amountFen: 100 }), openCase({ id: 4, districtCode: '360111' })];
    const files = await worklistsXlsx.write(runData({ openCases: cases }), t);
    expect(files.map((f) => path.basename(f))).toEqual(['360102.xlsx', '360111.xlsx']);
    expect(fs.readdirSync(path.join(t.runDir, 'worklists')).sort()).toEqual(['360102.xlsx', '360111.xlsx']);
    const back = new ExcelJS.Workbook();
    await back.xlsx.readFile(files[0]!);
    const ids = back.getWorksheet(WORKLIST_SHEET)!.getColumn(1).values.slice(2);
    expect(ids).toEqual([2, 1, 3]);
  });

  it.each([['360102', '360102'], ['../x', /^district-[0-9a-f]{12}$/], ['', /^district-/]])('file name of district %j', (code, want) => {
    expect(worklistStem(code)).toMatch(want instanceof RegExp ? want : new RegExp(`^${want}$`));
  });
});

describe('sink registry', () => {
  it('has unique ids and writes only the sinks chosen', async () => {
    expect(new Set(SINKS.map((s) => s.id)).size).toBe(SINKS.length);
    await expect(writeRunReports({ db: undefined as never, runId: 1, asOf: '2025-06-30', startedAt: '', outDir: tmp(), settings: SETTINGS, detectors: [], sinks: ['nope'] })).rejects.toThrow(/unknown report sink "nope"/);
  });
});
