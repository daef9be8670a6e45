/**
 * `worklists/<district_code>.xlsx` — one work list per district for investigators (full IDs and accounts),
 * in the format the feedback import reads back (WORKLIST-FORMAT.md, shared contract — change both sides
 * together). First worksheet `工作清单`: header in row 1 (frozen, with filters), one row per open case of
 * the district ordered by amount descending then case id; columns A–N written by fundguard, O–S filled in by
 * the investigator (drop-down lists and a decimal check). A second worksheet `说明` explains the columns and
 * the outcome → status mapping.
 *
 * Cell types: case_id, months and amounts are numbers (amounts in yuan, format `0.00`, negative stays
 * negative); the resident ID and accounts are TEXT cells (format `@`), so a spreadsheet never turns them into
 * 3.60102E+17. Every text cell is a string cell, never a formula, whatever it starts with (`=HYPERLINK(...)`
 * stays text). Characters XML cannot carry (C0 controls) are replaced with U+FFFD.
 *
 * Districts without open cases get no file; a work list left from an earlier run of the same date for such a
 * district is removed, so the folder always matches the cases.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type ExcelJS from 'exceljs';
import { byteCmp, type OpenCase } from './report-data.ts';
import type { ReportSink } from './sink.ts';

/** Name of the first worksheet (read by the feedback import). */
export const WORKLIST_SHEET = '工作清单';

/** Headers A–S, in order (WORKLIST-FORMAT.md). */
export const WORKLIST_HEADER = [
  'case_id', '检测类型 detector', '可信度 confidence', '状态 status', '公民身份号码', '姓名', '险种', '起始期', '截止期', '月数',
  '金额（元）', '银行账号', '死亡日期', '依据 evidence', '核查结果', '追回金额（元）', '追回渠道', '追回日期', '备注',
] as const;

/** 核查结果 (column O) → case status (WORKLIST-FORMAT.md). */
export const WORKLIST_OUTCOMES: readonly (readonly [label: string, status: string])[] = [
  ['核查中', 'under_review'],
  ['核实属实', 'verified'],
  ['误报（非本人或未死亡）', 'false_positive'],
  ['已暂停发放', 'suspended'],
  ['已发追回通知', 'notice_sent'],
  ['已签还款计划', 'repayment_plan'],
  ['已全额追回', 'recovered'],
  ['移送稽核/司法', 'escalated'],
  ['核销', 'written_off'],
];

/** 追回渠道 (column Q) → ledger channel (WORKLIST-FORMAT.md). */
export const WORKLIST_CHANNELS: readonly (readonly [label: string, channel: string])[] = [
  ['银行退回', 'bank_return'],
  ['继承人退还', 'heir_repayment'],
  ['抵扣', 'offset'],
];

const WIDTHS = [9, 18, 12, 14, 21, 12, 9, 10, 10, 7, 14, 24, 12, 60, 22, 15, 13, 13, 30];
/** 1-based column numbers. */
const COL = { id: 5, account: 12, amount: 11, evidence: 14, outcome: 15, repaid: 16, channel: 17, date: 18, note: 19 } as const;

/**
 * The styles of a case row: top-aligned; IDs, accounts and dates as text (`@`), amounts with two decimals,
 * evidence and note wrapped. One object per column, shared by every row: ExcelJS looks a style object up by
 * identity before it serializes it to find its id, so a shared object costs one lookup a cell instead of a
 * serialization (issue 10: the work lists' 17 styled cells a case). Never changed once built.
 */
const CASE_ROW_STYLE: Partial<ExcelJS.Style> = { alignment: { vertical: 'top' } };
const CASE_CELL_STYLES: ReadonlyMap<number, Partial<ExcelJS.Style>> = new Map([
  [COL.id, { alignment: { vertical: 'top' }, numFmt: '@' }],
  [COL.account, { alignment: { vertical: 'top' }, numFmt: '@' }],
  [COL.amount, { alignment: { vertical: 'top' }, numFmt: '0.00' }],
  [COL.evidence, { alignment: { vertical: 'top', wrapText: true } }],
  [COL.repaid, { alignment: { vertical: 'top' }, numFmt: '0.00' }],
  [COL.date, { alignment: { vertical: 'top' }, numFmt: '@' }],
  [COL.note, { alignment: { vertical: 'top', wrapText: true } }],
]);
const caseCellStyle = (col: number): Partial<ExcelJS.Style> => CASE_CELL_STYLES.get(col) ?? CASE_ROW_STYLE;

// Characters not allowed in XML 1.0 (C0 controls other than tab, LF, CR; lone surrogates are left to the encoder).
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
const text = (s: string): string => s.replace(XML_INVALID, '\ufffd');

/**
 * File name stem of a district's work list: the district code when it is plain (letters and digits), else
 * `district-<hash>` (a code is data and must not steer the path).
 */
export function worklistStem(districtCode: string): string {
  return /^[0-9A-Za-z]{1,32}$/.test(districtCode) ? districtCode : `district-${crypto.createHash('sha256').update(districtCode).digest('hex').slice(0, 12)}`;
}

/** The evidence cell: the case's "why" line, flagged when the detector no longer finds the overpayment. */
function evidenceText(c: OpenCase): string {
  return c.notFound ? `不再检出（已冲正或更正，金额为 0）— ${c.why}` : c.why;
}

/** The values of columns A–N of one case (O–S are left empty for the investigator). */
export function worklistRow(c: OpenCase): (string | number)[] {
  return [
    c.id, c.detector, c.confidence, c.status, c.idNumber, c.name, c.scheme, c.firstPeriod, c.lastPeriod, c.months,
    c.amountFen / 100, c.accounts.join(';'), c.deathDate ?? '', evidenceText(c),
  ].map((v) => (typeof v === 'string' ? text(v) : v));
}

/** Facts printed on the `说明` sheet. */
export interface WorklistInfo {
  districtCode: string;
  districtName: string;
  asOf: string;
  runId: number;
}

/**
 * ExcelJS's streaming workbook writer, loaded alone: the package entry also loads the streaming reader
 * (unzipper and its polyfills), CPU per run that writing a workbook does not need. The class the entry
 * exports as `ExcelJS.stream.xlsx.WorkbookWriter`.
 */
const WorkbookWriter = createRequire(import.meta.url)('exceljs/lib/stream/xlsx/workbook-writer.js') as typeof ExcelJS.stream.xlsx.WorkbookWriter;

/**
 * Writes one district's work list to `out` (a file path, or a stream the caller ends up owning). Cases are
 * written in the order given (the caller sorts them). Each row is committed as soon as it is written, so
 * memory does not grow with the number of cases (issue 10: ExcelJS's in-memory workbook held ≈ 220 MiB more
 * for the ≈ 16 k open cases of a 1M-recipient first run).
 * @throws Error when the output cannot be written
 */
export async function writeWorklist(out: string | NodeJS.WritableStream, cases: readonly OpenCase[], info: WorklistInfo, created: Date): Promise<void> {
  const wb = new WorkbookWriter({
    ...(typeof out === 'string' ? { filename: out } : { stream: out }),
    useStyles: true,
    useSharedStrings: true,
    // Deflate level 1: a quarter of the CPU of the default level, files about a fifth larger (issue 10).
    zip: { zlib: { level: 1 } },
  } as ExcelJS.stream.xlsx.WorkbookStreamWriterOptions);
  wb.creator = 'fundguard';
  wb.created = created;
  wb.modified = created;
  const ws = wb.addWorksheet(WORKLIST_SHEET, {
    views: [{ state: 'frozen', xSplit: 1, ySplit: 1, activeCell: 'B2' }],
    // printTitlesRow: the header row on every printed page (a `_xlnm.Print_Titles` name of the sheet).
    pageSetup: { orientation: 'landscape', paperSize: 9, fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: '1:1' },
  });
  ws.columns = WORKLIST_HEADER.map((h, i) => ({ key: `c${i + 1}`, width: WIDTHS[i] }));
  const header = ws.addRow([...WORKLIST_HEADER]);
  header.font = { bold: true };
  header.alignment = { vertical: 'middle', wrapText: true };
  header.height = 30;
  header.eachCell((cell, col) => {
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: col >= COL.outcome ? 'FFFFF2CC' : 'FFE7E6E6' } };
    cell.border = { bottom: { style: 'thin', color: { argb: 'FF999999' } } };
  });
  header.commit();
  const last = cases.length + 1;
  ws.autoFilter = { from: { row: 1, column: 1 }, to: { row: last, column: WORKLIST_HEADER.length } };
  const list = (items: readonly (readonly [string, string])[]) => `"${items.map(([label]) => label).join(',')}"`;
  const validations: [number, ExcelJS.DataValidation][] = [
    [COL.outcome, {
      type: 'list', allowBlank: true, formulae: [list(WORKLIST_OUTCOMES)], showErrorMessage: true, errorStyle: 'stop',
      errorTitle: '核查结果', error: '请从下拉列表中选择核查结果', showInputMessage: true, promptTitle: '核查结果', prompt: '从列表选择；误报与核销需审批人',
    }],
    [COL.repaid, {
      type: 'decimal', operator: 'greaterThanOrEqual', allowBlank: true, formulae: [0.01], showErrorMessage: true, errorStyle: 'stop',
      errorTitle: '追回金额', error: '本次追回金额（元），不小于 0.01', showInputMessage: true, promptTitle: '追回金额（元）', prompt: '本次还款金额，单位元，两位小数',
    }],
    [COL.channel, {
      type: 'list', allowBlank: true, formulae: [list(WORKLIST_CHANNELS)], showErrorMessage: true, errorStyle: 'stop',
      errorTitle: '追回渠道', error: '请从下拉列表中选择追回渠道',
    }],
    [COL.date, {
      type: 'textLength', operator: 'equal', allowBlank: true, formulae: [10], showErrorMessage: true, errorStyle: 'warning',
      errorTitle: '追回日期', error: '日期格式 YYYY-MM-DD，例如 2025-12-31', showInputMessage: true, promptTitle: '追回日期', prompt: 'YYYY-MM-DD',
    }],
  ];
  for (const c of cases) {
    const row = ws.addRow(worklistRow(c));
    row.alignment = CASE_ROW_STYLE.alignment!; // the row's own style, for cells typed in later
    row.eachCell({ includeEmpty: true }, (cell, col) => {
      cell.style = caseCellStyle(col);
    });
    for (const col of [COL.repaid, COL.date, COL.note]) row.getCell(col).style = caseCellStyle(col);
    row.commit();
  }
  // One validation per column over all the case rows (a `sqref` range), as Excel keeps it. Set per cell,
  // ExcelJS compared the ≈ 64 k cells of a 16 k-case list with each other to merge them into these same
  // ranges: 1.8–2.1 s of a 1M-recipient run's reports (issue 10).
  if (cases.length) {
    for (const [col, v] of validations) {
      const letter = ws.getColumn(col).letter;
      // The stream writer's sheet has the collection; ExcelJS's typings leave it out.
      (ws as unknown as { dataValidations: { add: (range: string, v: ExcelJS.DataValidation) => void } }).dataValidations.add(`${letter}2:${letter}${last}`, v);
    }
  }
  await ws.commit();

  const help = wb.addWorksheet('说明');
  help.columns = [{ width: 26, style: { alignment: { vertical: 'top' } } }, { width: 70, style: { alignment: { wrapText: true, vertical: 'top' } } }];
  const total = cases.reduce((s, c) => s + c.amountFen, 0);
  const lines: [string, string][] = [
    ['区县', `${info.districtCode} ${info.districtName}`.trim()],
    ['业务日期', info.asOf],
    ['运行编号', String(info.runId)],
    ['未结案件数', String(cases.length)],
    ['金额合计（元）', (total / 100).toFixed(2)],
    ['', ''],
    ['填写说明', '在“工作清单”的 O–S 列填写核查结果；A–N 列由系统生成，请勿修改（导入时按 case_id 对应案件）。O–S 全空的行不导入。'],
    ['追回金额（元）', '本次还款的金额（元），多次还款请分次导入。'],
    ['追回日期', 'YYYY-MM-DD'],
    ['备注', '填写理由，作为案件事件的原因记录。'],
    ['', ''],
    ['核查结果', '案件状态'],
    ...WORKLIST_OUTCOMES.map(([l, s]) => [l, s] as [string, string]),
    ['', ''],
    ['追回渠道', '台账渠道'],
    ...WORKLIST_CHANNELS.map(([l, s]) => [l, s] as [string, string]),
  ];
  const bold = new Set([1, 7, 12, 13 + WORKLIST_OUTCOMES.length + 1]);
  for (const [i, [a, b]] of lines.entries()) {
    const row = help.addRow([text(a), text(b)]);
    row.getCell(2).alignment = { wrapText: true, vertical: 'top' };
    if (bold.has(i + 1)) row.font = { bold: true };
    row.commit();
  }
  await help.commit();
  await wb.commit();
}

export const worklistsXlsx: ReportSink = {
  id: 'worklists-xlsx',
  audience: 'investigators',
  async write(data, { runDir }) {
    const dir = path.join(runDir, 'worklists');
    fs.mkdirSync(dir, { recursive: true });
    const byDistrict = new Map<string, OpenCase[]>();
    for (const c of data.openCases) {
      const list = byDistrict.get(c.districtCode) ?? [];
      list.push(c);
      byDistrict.set(c.districtCode, list);
    }
    const written: string[] = [];
    const created = new Date(data.startedAt);
    for (const code of [...byDistrict.keys()].sort(byteCmp)) {
      const cases = byDistrict.get(code)!.sort((a, b) => b.amountFen - a.amountFen || a.id - b.id);
      const file = path.join(dir, `${worklistStem(code)}.xlsx`);
      // Written under a temporary name, then renamed: a reader never sees half a work list.
      const tmp = `${file}.tmp-${process.pid}`;
      try {
        await writeWorklist(tmp, cases, { districtCode: code, districtName: data.settings.districts[code] ?? '', asOf: data.asOf, runId: data.runId }, created);
        fs.renameSync(tmp, file);
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw e;
      }
      written.push(file);
    }
    const keep = new Set(written.map((f) => path.basename(f)));
    for (const name of fs.readdirSync(dir)) {
      if (name.endsWith('.xlsx') && !keep.has(name)) fs.rmSync(path.join(dir, name), { force: true });
    }
    return written;
  },
};
