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
 *
 * The workbook's XML parts are written as strings (no exceljs workbook model: at city scale that model cost
 * seconds and hundreds of MiB) and are byte for byte the parts exceljs 4.4 writes for the same sheets —
 * tests/worklists-xlsx-parity.test.ts holds the former exceljs builder as the reference. exceljs still reads
 * the files back (feedback import).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { writeFileAtomic } from './files.ts';
import { byteCmp, type OpenCase } from './report-data.ts';
import type { ReportSink } from './sink.ts';
import { zipArchive } from './zip.ts';

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

/** The Office theme part exceljs writes into every workbook (its own copy, so the part stays identical). */
const THEME1: string = createRequire(import.meta.url)('exceljs/lib/xlsx/xml/theme1.js');

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
// Characters exceljs (utils.xmlEncode) escapes, or drops (C0 controls other than tab, LF, CR; DEL).
const XML_SPECIAL = /[<>&'"\x7F\x00-\x08\x0B-\x0C\x0E-\x1F]/g;
const XML_ESCAPES: Record<string, string> = { '"': '&quot;', '&': '&amp;', "'": '&apos;', '<': '&lt;', '>': '&gt;' };
/** Escapes text for XML exactly as exceljs 4.4 does (so the parts stay byte-identical to its output). */
const xmlEncode = (s: string): string => s.replace(XML_SPECIAL, (c) => XML_ESCAPES[c] ?? '');

/** Shared strings in order of first use, deduplicated; `count` counts every use (exceljs's `sst`). */
class SharedStrings {
  private readonly index = new Map<string, number>();
  readonly values: string[] = [];
  count = 0;
  add(s: string): number {
    this.count++;
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.values.length;
      this.index.set(s, i);
      this.values.push(s);
    }
    return i;
  }
  xml(): string {
    const out: string[] = [`${XML_HEAD}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="${this.count}" uniqueCount="${this.values.length}">`];
    for (const v of this.values) out.push(/^\s|\n|\s$/.test(v) ? `<si><t xml:space="preserve">${xmlEncode(v)}</t></si>` : `<si><t>${xmlEncode(v)}</t></si>`);
    out.push('</sst>');
    return out.join('');
  }
}

const COLUMN_LETTERS = 'ABCDEFGHIJKLMNOPQRS';
/** Cell style (index into styles.xml cellXfs) of columns A–S of a work list row. */
const ROW_STYLES = [4, 4, 4, 4, 5, 4, 4, 4, 4, 4, 6, 5, 4, 7, 4, 6, 4, 5, 7];
const MAIN_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"';
const SHEET_OPEN = `${XML_HEAD}<worksheet ${MAIN_NS} xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">`;
const SHEET_FORMAT = '<sheetFormatPr defaultRowHeight="15" outlineLevelRow="0" outlineLevelCol="0" x14ac:dyDescent="55"/>';
const MARGINS = '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>';
const LIST_COLS = '<cols>' + WIDTHS.map((w, i) => (w === 9 ? '' : `<col min="${i + 1}" max="${i + 1}" width="${w}" customWidth="1"/>`)).join('')
  .replace('<col min="8" max="8" width="10" customWidth="1"/><col min="9" max="9" width="10" customWidth="1"/>', '<col min="8" max="9" width="10" customWidth="1"/>')
  .replace('<col min="17" max="17" width="13" customWidth="1"/><col min="18" max="18" width="13" customWidth="1"/>', '<col min="17" max="18" width="13" customWidth="1"/>') + '</cols>';

/** The data validations of columns O–R (the attributes exceljs writes for the rules of the sheet), `{}` = sqref. */
const VALIDATIONS: readonly [col: string, xml: string][] = [
  ['O', `<dataValidation type="list" allowBlank="1" showInputMessage="1" promptTitle="核查结果" prompt="从列表选择；误报与核销需审批人" showErrorMessage="1" errorStyle="stop" errorTitle="核查结果" error="请从下拉列表中选择核查结果" sqref="{}"><formula1>${xmlEncode(`"${WORKLIST_OUTCOMES.map(([l]) => l).join(',')}"`)}</formula1></dataValidation>`],
  ['P', '<dataValidation type="decimal" operator="greaterThanOrEqual" allowBlank="1" showInputMessage="1" promptTitle="追回金额（元）" prompt="本次还款金额，单位元，两位小数" showErrorMessage="1" errorStyle="stop" errorTitle="追回金额" error="本次追回金额（元），不小于 0.01" sqref="{}"><formula1>0.01</formula1></dataValidation>'],
  ['Q', `<dataValidation type="list" allowBlank="1" showErrorMessage="1" errorStyle="stop" errorTitle="追回渠道" error="请从下拉列表中选择追回渠道" sqref="{}"><formula1>${xmlEncode(`"${WORKLIST_CHANNELS.map(([l]) => l).join(',')}"`)}</formula1></dataValidation>`],
  ['R', '<dataValidation type="textLength" operator="equal" allowBlank="1" showInputMessage="1" promptTitle="追回日期" prompt="YYYY-MM-DD" showErrorMessage="1" errorStyle="warning" errorTitle="追回日期" error="日期格式 YYYY-MM-DD，例如 2025-12-31" sqref="{}"><formula1>10</formula1></dataValidation>'],
];

/**
 * The `sqref` ranges exceljs 4.4 writes for one rule set on every cell of a column from row 2 to `last`: its
 * optimiser walks the cell addresses in string order (`O10` before `O2`) and opens a range down to `last` at
 * each address not yet covered — so rows 2–9 start ranges of their own. Kept as is: the files stay
 * byte-identical to the exceljs-built ones, and overlapping ranges of one rule are valid.
 */
export function validationRanges(col: string, last: number): string[] {
  const rows: number[] = [];
  for (let r = 2; r <= last; r++) rows.push(r);
  rows.sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
  const out: string[] = [];
  let covered = Infinity;
  for (const r of rows) {
    if (r >= covered) continue;
    out.push(r < last ? `${col}${r}:${col}${last}` : `${col}${r}`);
    covered = r;
  }
  return out;
}

const STATIC_PARTS = {
  contentTypes: `${XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/theme/theme1.xml" ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Default Extension="vml" ContentType="application/vnd.openxmlformats-officedocument.vmlDrawing"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>`,
  rels: `${XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/></Relationships>`,
  app: `${XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop><HeadingPairs><vt:vector size="2" baseType="variant"><vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant><vt:variant><vt:i4>2</vt:i4></vt:variant></vt:vector></HeadingPairs><TitlesOfParts><vt:vector size="2" baseType="lpstr"><vt:lpstr>${WORKLIST_SHEET}</vt:lpstr><vt:lpstr>说明</vt:lpstr></vt:vector></TitlesOfParts><Company></Company><Manager></Manager><LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged><AppVersion>16.0300</AppVersion></Properties>`,
  workbookRels: `${XML_HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/theme" Target="theme/theme1.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/></Relationships>`,
  workbook: `${XML_HEAD}<workbook ${MAIN_NS} xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x15" xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main"><fileVersion appName="xl" lastEdited="5" lowestEdited="5" rupBuild="9303"/><workbookPr defaultThemeVersion="164011" filterPrivacy="1"/><sheets><sheet sheetId="1" name="${WORKLIST_SHEET}" state="visible" r:id="rId4"/><sheet sheetId="2" name="说明" state="visible" r:id="rId5"/></sheets><definedNames><definedName name="_xlnm.Print_Titles" localSheetId="0">&apos;${WORKLIST_SHEET}&apos;!$1:$1</definedName></definedNames><calcPr calcId="171027"/></workbook>`,
  styles: `${XML_HEAD}<styleSheet ${MAIN_NS} xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac x16r2" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" xmlns:x16r2="http://schemas.microsoft.com/office/spreadsheetml/2015/02/main"><fonts count="2" x14ac:knownFonts="1"><font><color theme="1"/><family val="2"/><scheme val="minor"/><sz val="11"/><name val="Calibri"/></font><font><b/></font></fonts><fills count="4"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="FFE7E6E6"/></patternFill></fill><fill><patternFill patternType="solid"><fgColor rgb="FFFFF2CC"/></patternFill></fill></fills><borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border><border><left/><right/><top/><bottom style="thin"><color rgb="FF999999"/></bottom><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="10"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf><xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf><xf numFmtId="0" fontId="1" fillId="3" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1"><alignment vertical="top"/></xf><xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyAlignment="1"><alignment vertical="top"/></xf><xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyAlignment="1"><alignment vertical="top"/></xf><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles><dxfs count="0"/><tableStyles count="0" defaultTableStyle="TableStyleMedium2" defaultPivotStyle="PivotStyleLight16"/><extLst><ext uri="{EB79DEF2-80B8-43e5-95BD-54CBDDF9020C}" xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"><x14:slicerStyles defaultSlicerStyle="SlicerStyleLight1"/></ext><ext uri="{9260A510-F301-46a8-8635-F512D64BE5F5}" xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main"><x15:timelineStyles defaultTimelineStyle="TimeSlicerStyleLight1"/></ext></extLst></styleSheet>`,
};

/** The `说明` sheet's lines (column A, column B). */
function helpLines(cases: readonly OpenCase[], info: WorklistInfo): [string, string][] {
  const total = cases.reduce((s, c) => s + c.amountFen, 0);
  return [
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
}

/**
 * Builds one district's workbook as XLSX bytes. Cases are written in the order given (the caller sorts them).
 * The XML parts are written directly (no workbook model in memory): they are byte for byte the parts exceljs
 * 4.4 writes for the same sheets (styles, shared strings in order of first use, data validations, the
 * `说明` sheet) — tests/worklists-xlsx-parity.test.ts compares them with an exceljs-built reference — only the
 * ZIP container differs (Node's zlib; entries dated `created`).
 * @param created the workbook's creation and modification time (docProps/core.xml), the run's start
 * @throws RangeError when `created` is not a valid instant
 */
export function worklistXlsx(cases: readonly OpenCase[], info: WorklistInfo, created: Date): Buffer<ArrayBuffer> {
  const sst = new SharedStrings();
  const last = cases.length + 1;
  const cell = (ref: string, style: number, v: string | number): string =>
    typeof v === 'number' ? `<c r="${ref}" s="${style}"><v>${String(v)}</v></c>` : `<c r="${ref}" s="${style}" t="s"><v>${sst.add(v)}</v></c>`;

  const sheet: string[] = [
    `${SHEET_OPEN}<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr><dimension ref="A1:S${last}"/><sheetViews><sheetView workbookViewId="0"><pane xSplit="1" ySplit="1" topLeftCell="B2" activePane="bottomRight" state="frozen"/><selection pane="bottomRight" activeCell="B2" sqref="B2"/></sheetView></sheetViews>${SHEET_FORMAT}${LIST_COLS}<sheetData>`,
    `<row r="1" ht="30" customHeight="1" spans="1:19" s="1" customFormat="1" x14ac:dyDescent="0.25">${WORKLIST_HEADER.map((h, i) => cell(`${COLUMN_LETTERS[i]}1`, i + 1 >= COL.outcome ? 3 : 2, text(h))).join('')}</row>`,
  ];
  let r = 1;
  for (const c of cases) {
    r++;
    const values = worklistRow(c);
    let row = `<row r="${r}" spans="1:19" s="4" customFormat="1" x14ac:dyDescent="0.25">`;
    for (let i = 0; i < 19; i++) {
      const ref = `${COLUMN_LETTERS[i]}${r}`;
      row += i < values.length ? cell(ref, ROW_STYLES[i]!, values[i]!) : `<c r="${ref}" s="${ROW_STYLES[i]}"/>`;
    }
    sheet.push(row + '</row>');
  }
  const validations = VALIDATIONS.flatMap(([col, xml]) => validationRanges(col, last).map((ref) => xml.replace('{}', ref)));
  sheet.push(`</sheetData><autoFilter ref="A1:S${last}"/>`);
  if (validations.length) sheet.push(`<dataValidations count="${validations.length}">${validations.join('')}</dataValidations>`);
  sheet.push(`${MARGINS}<pageSetup paperSize="9" orientation="landscape" horizontalDpi="4294967295" verticalDpi="4294967295" scale="100" fitToWidth="1" fitToHeight="0"/></worksheet>`);

  const lines = helpLines(cases, info);
  const bold = new Set([1, 7, 12, 13 + WORKLIST_OUTCOMES.length + 1]);
  const help: string[] = [`${SHEET_OPEN}<dimension ref="A1:B${lines.length}"/>${SHEET_FORMAT}<cols><col min="1" max="1" width="26" customWidth="1"/><col min="2" max="2" width="70" style="7" customWidth="1"/></cols><sheetData>`];
  lines.forEach(([a, b], i) => {
    const n = i + 1;
    help.push(bold.has(n)
      ? `<row r="${n}" spans="1:2" s="8" customFormat="1" x14ac:dyDescent="0.25"><c r="A${n}" s="8" t="s"><v>${sst.add(text(a))}</v></c><c r="B${n}" s="9" t="s"><v>${sst.add(text(b))}</v></c></row>`
      : `<row r="${n}" spans="1:2" x14ac:dyDescent="0.25"><c r="A${n}" t="s"><v>${sst.add(text(a))}</v></c><c r="B${n}" s="7" t="s"><v>${sst.add(text(b))}</v></c></row>`);
  });
  help.push(`</sheetData>${MARGINS}<pageSetup orientation="portrait" horizontalDpi="4294967295" verticalDpi="4294967295" scale="100" fitToWidth="1" fitToHeight="1"/></worksheet>`);

  const at = created.toISOString().replace(/[.]\d{3}/, '');
  const core = `${XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>fundguard</dc:creator><dc:title></dc:title><dc:subject></dc:subject><dc:description></dc:description><cp:keywords></cp:keywords><cp:category></cp:category><cp:lastModifiedBy>Unknown</cp:lastModifiedBy><dcterms:created xsi:type="dcterms:W3CDTF">${at}</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">${at}</dcterms:modified></cp:coreProperties>`;
  return zipArchive([
    { name: '[Content_Types].xml', data: STATIC_PARTS.contentTypes },
    { name: '_rels/.rels', data: STATIC_PARTS.rels },
    { name: 'xl/_rels/workbook.xml.rels', data: STATIC_PARTS.workbookRels },
    { name: 'xl/worksheets/sheet1.xml', data: sheet.join('') },
    { name: 'xl/worksheets/sheet2.xml', data: help.join('') },
    { name: 'xl/sharedStrings.xml', data: sst.xml() },
    { name: 'xl/theme/theme1.xml', data: THEME1 },
    { name: 'xl/styles.xml', data: STATIC_PARTS.styles },
    { name: 'docProps/app.xml', data: STATIC_PARTS.app },
    { name: 'docProps/core.xml', data: core },
    { name: 'xl/workbook.xml', data: STATIC_PARTS.workbook },
  ], created);
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
      const bytes = worklistXlsx(cases, { districtCode: code, districtName: data.settings.districts[code] ?? '', asOf: data.asOf, runId: data.runId }, created);
      const file = path.join(dir, `${worklistStem(code)}.xlsx`);
      writeFileAtomic(file, bytes);
      written.push(file);
    }
    const keep = new Set(written.map((f) => path.basename(f)));
    for (const name of fs.readdirSync(dir)) {
      if (name.endsWith('.xlsx') && !keep.has(name)) fs.rmSync(path.join(dir, name), { force: true });
    }
    return written;
  },
};
