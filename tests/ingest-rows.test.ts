/**
 * Pure pieces of ingest: identifiers that lost digits, row parsers given numeric-cell marks, the summary
 * total check, row classification and header mapping.
 */
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config/settings.ts';
import { SummaryCheck } from '../src/ingest/ingest.ts';
import { classifyRow, headerKey, mapHeader, matchHeader } from '../src/ingest/layout.ts';
import { buildVocabulary, digitsLost, isDeathReason, parseDeathRow, parsePaymentRow } from '../src/ingest/parse-rows.ts';
import { PAY_HEADER, PEOPLE as P } from './fixtures/make-fixtures.ts';

const settings = loadSettings(undefined, '/nonexistent-dir-for-tests');
const vocab = buildVocabulary(settings.schemes, settings.items);
const payColumns = matchHeader(PAY_HEADER, settings.headerAliases.payments, settings.requiredFields.payments)!;

describe('digitsLost', () => {
  it.each([
    ['360102195001011000', true, true],
    ['360102195001011000', false, false],
    ['360102500312123', true, false],
    ['6222021234567890000', true, true],
    ['621700123456', true, false],
    ['3.60102E+17', false, true],
    ['3.60102195001011e+17', false, true],
    ['６.２２E＋１８', false, true],
    ['36010219500101123X', false, false],
    ['B202403', true, false],
  ])('%s (numeric: %s) → %s', (raw, numeric, lost) => {
    expect(digitsLost(raw, numeric)).toBe(lost);
  });
});

describe('parsePaymentRow with numeric cells', () => {
  const base = (): string[] => ['P1', P.p1.name, P.p1.id, '', '110', '基本养老金', '202403', '3456.7', '2024-03-05', '6217000000001', '建行', '360102000001', 'B202403'];
  const col = (f: keyof typeof payColumns): number => payColumns[f]!;

  it.each([
    ['an 18-digit ID stored as a number', 'id_number', '360102195003121000', true, 'ID_PRECISION_LOST'],
    ['an ID in scientific notation (a CSV saved by a spreadsheet)', 'id_number', '3.60102E+17', false, 'ID_PRECISION_LOST'],
    ['a 19-digit account stored as a number', 'account', '6222021234567890000', true, 'ACCOUNT_PRECISION_LOST'],
    ['a 16-digit batch number stored as a number', 'batch', '2024030100000001', true, 'BATCH_PRECISION_LOST'],
    ['a 17-digit person number stored as a number', 'person_no', '36010219500312000', true, 'PERSON_NO_PRECISION_LOST'],
  ] as const)('%s → %s', (_what, field, text, numeric, code) => {
    const cells = base();
    cells[col(field)] = text;
    const r = parsePaymentRow(cells, payColumns, 9, vocab, numeric ? new Set([col(field)]) : undefined);
    expect(r.ok ? 'ok' : r.code).toBe(code);
  });

  it('uses an identifier of at most 15 digits stored as a number: a legacy ID is upgraded', () => {
    const cells = base();
    cells[col('id_number')] = P.p1.id.slice(0, 6) + P.p1.id.slice(8, 17);
    cells[col('account')] = '621700123456';
    const r = parsePaymentRow(cells, payColumns, 9, vocab, new Set([col('id_number'), col('account'), col('amount')]));
    expect(r.ok && [r.row.id_number, r.row.id_valid, r.row.account, r.row.amount_fen]).toEqual([P.p1.id, 1, '621700123456', 345670]);
  });

  it('keeps an 18-digit ID written as text (only a number has lost digits)', () => {
    const r = parsePaymentRow(base(), payColumns, 9, vocab, new Set([col('amount')]));
    expect(r.ok && r.row.id_number).toBe(P.p1.id);
  });

  it('masks the ID in the reason', () => {
    const cells = base();
    cells[col('id_number')] = '360102195003121000';
    const r = parsePaymentRow(cells, payColumns, 9, vocab, new Set([col('id_number')]));
    expect(!r.ok && r.reason).toBe('resident ID "360102********1000" was stored as a number and has lost digits (a spreadsheet keeps 15 significant digits); store the column as text');
  });
});

describe('parseDeathRow', () => {
  const columns = matchHeader(['逝者姓名', '身份证号', '出生日期', '死亡日期'], settings.headerAliases.deaths, settings.requiredFields.deaths)!;

  it('refuses an ID stored as a number with 18 digits', () => {
    const r = parseDeathRow([P.p6.name, '360102194002030000', '1940-02-03', '2024-01-15'], columns, 2, 'civil-affairs', '2025-12-31', new Set([1]));
    expect(r.ok ? 'ok' : r.code).toBe('ID_PRECISION_LOST');
  });

  it.each([
    ['死亡', true],
    ['因死亡注销', true],
    [' 死亡 ', true],
    ['迁出', false],
    ['出国（境）定居', false],
    ['重复登记', false],
    ['', false],
  ])('cancellation reason %j is a death: %s', (reason, death) => {
    expect(isDeathReason(reason)).toBe(death);
  });
});

describe('SummaryCheck', () => {
  it('matches a section total or a grand total; reports anything else with the rejected amounts', () => {
    const s = new SummaryCheck(2);
    s.accepted(100000);
    s.accepted(200000);
    expect(s.check('3,000.00', 4)).toBeNull();
    s.startSection(5);
    s.accepted(50000);
    s.rejected(25000);
    expect(s.check('750.00', 7)).toBe(
      'summary row total 750.00 on line 7 matches neither 500.00, the sum of the 1 accepted row(s) from line 5, nor 3500.00, the sum of all 3 accepted above it; 1 rejected row(s) since line 5 carry 250.00; the summary row is not ingested',
    );
    s.startSection(8);
    expect(s.check('3500.00', 8)).toBeNull();
    expect(s.check('共3人', 8)).toBeNull();
    expect(s.check('', 8)).toBeNull();
  });

  it('uses one sum when the file has one section', () => {
    const s = new SummaryCheck(2);
    s.accepted(345670);
    s.accepted(-10000);
    expect(s.check('3356.70', 4)).toBeNull();
    expect(s.check('3456.70', 4)).toBe('summary row total 3456.70 on line 4 does not match 3356.70, the sum of the 2 accepted row(s) above it; the summary row is not ingested');
  });
});

describe('layout', () => {
  const keys = PAY_HEADER.map(headerKey);

  it.each([
    [['合计', '', '', '5456.70'], 'summary'],
    [['', '总 计', '', '5456.70'], 'summary'],
    [['小计：', '', '12.00'], 'summary'],
    [['共计 3 人'], 'summary'],
    [['本页合计'], 'summary'],
    [['Total', '100'], 'summary'],
    [['注：金额单位为元。'], 'note'],
    [['制表人：王芳', '审核：李明'], 'note'],
    [['', '', ''], 'blank'],
    [[], 'blank'],
    [PAY_HEADER, 'repeated_header'],
    [['P1', '合计', '360102195003121231'], null],
    [['P1', '张三', '360102195003121231', '', '110'], null],
  ])('%j → %s', (cells, kind) => {
    expect(classifyRow(cells, keys)).toBe(kind);
  });

  it('maps aliases in any order, full-width and with units; a missing required field is no header', () => {
    const cells = ['发放批次号', '实发金额（元）', '待遇所属期', '待遇项目', '险种', '身份证号码', '姓 名', 'ｘ'];
    expect(mapHeader(cells, settings.headerAliases.payments)).toEqual({ batch: 0, amount: 1, period: 2, item: 3, scheme: 4, id_number: 5, name: 6 });
    expect(matchHeader(cells, settings.headerAliases.payments, settings.requiredFields.payments)).not.toBeNull();
    expect(matchHeader(cells.slice(1), settings.headerAliases.payments, settings.requiredFields.payments)).toBeNull();
  });
});
