import { describe, expect, it } from 'vitest';
import { addMonths, formatFen, monthsBetween, parseAmountFen, parseDate, parsePeriod, todayIn } from '../src/calendar/values.ts';

describe('periods, dates and money (DOMAIN.md §2)', () => {
  it.each([
    ['202403', '2024-03'], ['2024-03', '2024-03'], ['2024/3', '2024-03'], ['2024年03月', '2024-03'], ['2024年3月', '2024-03'], ['２０２４-０３', '2024-03'], ['2024.12', '2024-12'],
  ])('period %j → %s', (raw, p) => expect(parsePeriod(raw)).toEqual({ ok: true, value: p }));

  it.each([['2024-13', 'PERIOD_INVALID'], ['202400', 'PERIOD_INVALID'], ['24-03', 'PERIOD_INVALID'], ['', 'PERIOD_MISSING'], ['2024-03-05', 'PERIOD_INVALID']])(
    'period %j refused with %s', (raw, code) => expect(parsePeriod(raw)).toMatchObject({ ok: false, code }),
  );

  it.each([
    ['2024-03-05', '2024-03-05'], ['20240305', '2024-03-05'], ['2024/3/5', '2024-03-05'], ['2024年3月5日', '2024-03-05'], ['2024-03-05 00:00:00', '2024-03-05'], ['2024.3.5', '2024-03-05'],
  ])('date %j → %s', (raw, d) => expect(parseDate(raw)).toEqual({ ok: true, value: d }));

  it.each([['2023-02-29'], ['2024-02-30'], ['20241301'], ['March 5']])('date %j refused', (raw) => expect(parseDate(raw)).toMatchObject({ ok: false, code: 'DATE_INVALID' }));

  it.each([
    ['3456.70', 345670], ['3,456.70', 345670], ['￥3456.70', 345670], ['¥3456.7', 345670], ['-3456.70', -345670], ['(12.50)', -1250], ['3456', 345600], ['0.05', 5], ['1,234,567.89', 123456789], ['３４５６．７０', 345670], ['12.30元', 1230],
  ])('amount %j → %d fen', (raw, fen) => expect(parseAmountFen(raw)).toEqual({ ok: true, value: fen }));

  it.each([['1234.567', 'AMOUNT_TOO_PRECISE'], ['0.001', 'AMOUNT_TOO_PRECISE'], ['abc', 'AMOUNT_INVALID'], ['12,34.5', 'AMOUNT_INVALID'], ['', 'AMOUNT_MISSING'], ['1e5', 'AMOUNT_INVALID'], ['99999999999', 'AMOUNT_OUT_OF_RANGE']])(
    'amount %j refused with %s (never rounded)', (raw, code) => expect(parseAmountFen(raw)).toMatchObject({ ok: false, code }),
  );

  it('formats fen as yuan', () => {
    expect([formatFen(345670), formatFen(-5), formatFen(0), formatFen(100)]).toEqual(['3456.70', '-0.05', '0.00', '1.00']);
  });

  it('does month arithmetic on YYYY-MM', () => {
    expect(addMonths('2024-11', 3)).toBe('2025-02');
    expect(addMonths('2024-01', -1)).toBe('2023-12');
    expect(monthsBetween('2024-03', '2025-01')).toBe(10);
  });

  it('takes the business date in Asia/Shanghai whatever the machine zone', () => {
    // 2024-03-05 17:30 UTC is already 2024-03-06 in Shanghai, still 2024-03-05 in New York.
    const instant = new Date(Date.UTC(2024, 2, 5, 17, 30));
    expect(todayIn('Asia/Shanghai', instant)).toBe('2024-03-06');
    expect(todayIn('America/New_York', instant)).toBe('2024-03-05');
  });
});
