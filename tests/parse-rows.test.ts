import { describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config/settings.ts';
import { matchHeader, classifyRow, headerKey } from '../src/ingest/layout.ts';
import { buildVocabulary, parseDeathRow, parsePaymentRow } from '../src/ingest/parse-rows.ts';

const settings = loadSettings(undefined, '/nonexistent-dir');
const vocab = buildVocabulary(settings.schemes, settings.items);
const HEADER = '个人编号,姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,发放日期,银行账号,开户银行,经办机构,发放批次号'.split(',');
const columns = matchHeader(HEADER, settings.headerAliases.payments, settings.requiredFields.payments)!;
const row = (over: Partial<Record<string, string>> = {}): string[] => {
  const base: Record<string, string> = {
    个人编号: '3601000001', 姓名: '张三', 公民身份号码: '36010219500101001X', 性别: '男', 险种类型: '110', 待遇项目: '基本养老金', 待遇所属期: '2024-03',
    实发金额: '3,456.70', 发放日期: '2024/3/5', 银行账号: '6217 0000 1111 2222 333', 开户银行: '工行', 经办机构: '360102001', 发放批次号: 'P11020240301',
  };
  return HEADER.map((h) => over[h] ?? base[h]!);
};

describe('payment rows', () => {
  it('parses a full row into canonical forms', () => {
    expect(parsePaymentRow(row(), columns, 7, vocab)).toEqual({
      ok: true,
      row: {
        line: 7, person_no: '3601000001', id_number: '36010219500101001X', id_raw: '36010219500101001X', id_valid: 1, name: '张三', sex: 'M', scheme: '110',
        item: 'pension', item_raw: '基本养老金', period: '2024-03', amount_fen: 345670, paid_on: '2024-03-05', account: '6217000011112222333', bank: '工行',
        agency: '360102001', district_code: '360102', batch: 'P11020240301',
      },
    });
  });

  it.each([
    [{ 险种类型: '企业职工基本养老保险' }, 'scheme', '110'],
    [{ 险种类型: '城乡居民基本养老保险' }, 'scheme', '170'],
    [{ 待遇项目: '丧葬补助金' }, 'item', 'funeral_grant'],
    [{ 待遇项目: '护理补贴' }, 'item', '护理补贴'],
    [{ 实发金额: '-3456.70' }, 'amount_fen', -345670],
    [{ 公民身份号码: '360102500101001' }, 'id_number', '36010219500101001X'],
    [{ 公民身份号码: '360102195001010011' }, 'id_valid', 0],
    [{ 姓名: ' 阿依古丽 · 买买提 ' }, 'name', '阿依古丽·买买提'],
  ])('%j gives %s = %j', (over, field, value) => {
    const r = parsePaymentRow(row(over), columns, 2, vocab);
    expect(r.ok && (r.row as Record<string, unknown>)[field]).toBe(value);
  });

  it.each([
    [{ 公民身份号码: '' }, 'ID_MISSING'],
    [{ 公民身份号码: '3601021950010100' }, 'ID_BAD_LENGTH'],
    [{ 公民身份号码: '36010219500101A01X' }, 'ID_BAD_CHARACTERS'],
    [{ 姓名: '' }, 'NAME_MISSING'],
    [{ 险种类型: '999' }, 'SCHEME_UNKNOWN'],
    [{ 险种类型: '' }, 'SCHEME_MISSING'],
    [{ 待遇项目: '' }, 'ITEM_MISSING'],
    [{ 待遇所属期: '2024-13' }, 'PERIOD_INVALID'],
    [{ 实发金额: '1234.567' }, 'AMOUNT_TOO_PRECISE'],
    [{ 实发金额: 'abc' }, 'AMOUNT_INVALID'],
    [{ 发放日期: '2024-02-30' }, 'PAID_ON_INVALID'],
    [{ 发放批次号: '' }, 'BATCH_MISSING'],
  ])('%j is rejected with %s', (over, code) => {
    expect(parsePaymentRow(row(over), columns, 2, vocab)).toMatchObject({ ok: false, code });
  });
});

describe('death rows', () => {
  const ps = ['姓名', '公民身份号码', '性别', '注销原因', '死亡日期', '注销日期'];
  const psCols = matchHeader(ps, settings.headerAliases.deaths, settings.requiredFields.deaths)!;
  it.each([
    ['死亡', 1, '2024-03-05'],
    ['迁出', 0, null],
    ['出国（境）定居', 0, null],
    ['重复登记', 0, null],
  ])('public-security cancellation "%s" is_death=%d', (reason, isDeath, death) => {
    const r = parseDeathRow(['张三', '36010219500101001X', '男', reason, reason === '死亡' ? '2024-03-05' : '', '2024-04-20'], psCols, 2, 'public-security', '2024-12-31');
    expect(r).toMatchObject({ ok: true, row: { is_death: isDeath, death_date: death, cancel_date: '2024-04-20' } });
  });
  it('never takes the registration date as the date of death', () => {
    const r = parseDeathRow(['张三', '36010219500101001X', '男', '死亡', '', '2024-04-20'], psCols, 2, 'public-security', '2024-12-31');
    expect(r).toMatchObject({ ok: false, code: 'DEATH_DATE_MISSING' });
  });
  const ca = ['逝者姓名', '身份证号', '性别', '出生日期', '死亡日期', '火化日期'];
  const caCols = matchHeader(ca, settings.headerAliases.deaths, settings.requiredFields.deaths)!;
  it.each([
    [['张三', '36010219500101001X', '男', '1950-01-01', '2025-01-01', ''], 'DEATH_DATE_FUTURE'],
    [['张三', '36010219500101001X', '男', '1950-01-01', '1949-12-01', ''], 'DEATH_BEFORE_BIRTH'],
    [['张三', '36010219500101001X', '男', '', '1949-12-01', ''], 'DEATH_BEFORE_BIRTH'],
    [['张三', '36010219500101001X', '男', '1950-01-01', '2024年2月30日', ''], 'DEATH_DATE_INVALID'],
  ])('%j is rejected with %s', (cells, code) => {
    expect(parseDeathRow(cells, caCols, 3, 'civil-affairs', '2024-12-31')).toMatchObject({ ok: false, code });
  });
});

describe('layout', () => {
  it('finds columns by alias in any order, ignoring width, case, spaces and units', () => {
    const cols = matchHeader(['发放批次号', ' 实发金额（元）', 'ＩＤ Number', 'Name', '险种', '待遇项目', '发放年月'], settings.headerAliases.payments, settings.requiredFields.payments);
    expect(cols).toMatchObject({ batch: 0, amount: 1, id_number: 2, name: 3, scheme: 4, item: 5, period: 6 });
  });
  it('is not a header when a required field is missing', () => {
    expect(matchHeader(['姓名', '公民身份号码'], settings.headerAliases.payments, settings.requiredFields.payments)).toBeNull();
  });
  it.each([
    [['', ' ', ''], 'blank'],
    [HEADER, 'repeated_header'],
    [['合计', '', '', '', '', '', '', '99999.00'], 'summary'],
    [['总 计：', '12'], 'summary'],
    [['小计'], 'summary'],
    [['注：本表由系统导出'], 'note'],
    [['制表人：李四', ''], 'note'],
    [row(), null],
  ])('%j is %s', (cells, kind) => {
    expect(classifyRow(cells, HEADER.map(headerKey))).toBe(kind);
  });
});
