/**
 * The work list as exceljs 4.4 builds it (the implementation before the direct XML writer of
 * src/reports/worklists-xlsx.ts): the reference its parts must equal byte for byte
 * (tests/worklists-xlsx-parity.test.ts).
 */
import ExcelJS from 'exceljs';
import type { OpenCase } from '../../src/reports/report-data.ts';
import { WORKLIST_CHANNELS, WORKLIST_HEADER, WORKLIST_OUTCOMES, WORKLIST_SHEET, worklistRow, type WorklistInfo } from '../../src/reports/worklists-xlsx.ts';

const WIDTHS = [9, 18, 12, 14, 21, 12, 9, 10, 10, 7, 14, 24, 12, 60, 22, 15, 13, 13, 30];
const COL = { id: 5, account: 12, amount: 11, evidence: 14, outcome: 15, repaid: 16, channel: 17, date: 18, note: 19 } as const;
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
const text = (s: string): string => s.replace(XML_INVALID, '\ufffd');

/**
 * Builds one district's workbook. Cases are written in the order given (the caller sorts them).
 * @returns the workbook (not yet written)
 */
export function buildWorklist(cases: readonly OpenCase[], info: WorklistInfo, created: Date): ExcelJS.Workbook {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'fundguard';
  wb.created = created;
  wb.modified = created;
  const ws = wb.addWorksheet(WORKLIST_SHEET, {
    views: [{ state: 'frozen', xSplit: 1, ySplit: 1, activeCell: 'B2' }],
    pageSetup: { orientation: 'landscape', paperSize: 9, fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: '1:1' },
  });
  ws.columns = WORKLIST_HEADER.map((h, i) => ({ header: h, key: `c${i + 1}`, width: WIDTHS[i] }));
  const header = ws.getRow(1);
  header.font = { bold: true };
  header.alignment = { vertical: 'middle', wrapText: true };
  header.height = 30;
  header.eachCell((cell, col) => {
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: col >= COL.outcome ? 'FFFFF2CC' : 'FFE7E6E6' } };
    cell.border = { bottom: { style: 'thin', color: { argb: 'FF999999' } } };
  });
  for (const c of cases) ws.addRow(worklistRow(c));
  const last = cases.length + 1;
  for (let r = 2; r <= last; r++) {
    const row = ws.getRow(r);
    row.alignment = { vertical: 'top' };
    row.getCell(COL.id).numFmt = '@';
    row.getCell(COL.account).numFmt = '@';
    row.getCell(COL.amount).numFmt = '0.00';
    row.getCell(COL.evidence).alignment = { vertical: 'top', wrapText: true };
    row.getCell(COL.repaid).numFmt = '0.00';
    row.getCell(COL.date).numFmt = '@';
    row.getCell(COL.note).alignment = { vertical: 'top', wrapText: true };
  }
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
  // One shared object per column: exceljs merges equal per-cell validations into one range when writing.
  for (let r = 2; r <= last; r++) for (const [col, v] of validations) ws.getCell(r, col).dataValidation = v;

  const help = wb.addWorksheet('说明');
  help.columns = [{ width: 26 }, { width: 70 }];
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
  for (const [a, b] of lines) help.addRow([text(a), text(b)]);
  help.getColumn(2).alignment = { wrapText: true, vertical: 'top' };
  for (const r of [1, 7, 12, 13 + WORKLIST_OUTCOMES.length + 1]) help.getRow(r).font = { bold: true };
  return wb;
}

