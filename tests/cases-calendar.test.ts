import { describe, expect, it } from 'vitest';
import { addWorkingDays, isWorkingDay, loadHolidayCalendar, parseHolidayCalendar, weekday, workingDaysBetween } from '../src/calendar/working-days.ts';

const cal = loadHolidayCalendar();

describe('the holiday table (seeds/holidays-cn.json)', () => {
  it('covers 2024–2026', () => {
    expect([...cal.years].sort()).toEqual([2024, 2025, 2026]);
  });

  // Make-up working days as announced by the State Council General Office; all are weekends.
  it.each([
    ['2024-02-04', 0], ['2024-02-18', 0], ['2024-04-07', 0], ['2024-04-28', 0], ['2024-05-11', 6], ['2024-09-14', 6], ['2024-09-29', 0], ['2024-10-12', 6],
    ['2025-01-26', 0], ['2025-02-08', 6], ['2025-04-27', 0], ['2025-09-28', 0], ['2025-10-11', 6],
    ['2026-01-04', 0], ['2026-02-14', 6], ['2026-02-28', 6], ['2026-05-09', 6], ['2026-09-20', 0], ['2026-10-10', 6],
  ])('%s (weekday %i) is a make-up working day', (d, w) => {
    expect(weekday(d)).toBe(w);
    expect(isWorkingDay(d, cal)).toBe(true);
  });

  it.each([
    ['2024-02-12', 'Spring Festival 2024 (Mon)'], ['2024-10-07', 'National Day 2024 (Mon)'], ['2025-01-28', '除夕 2025 (Tue)'],
    ['2025-02-04', 'Spring Festival 2025, last day (Tue)'], ['2025-10-08', 'National Day + Mid-Autumn 2025, last day (Wed)'],
    ['2026-02-23', 'Spring Festival 2026, last day (Mon)'], ['2026-01-02', 'New Year 2026 (Fri)'], ['2026-05-05', 'Labour Day 2026 (Tue)'],
  ])('%s is a day off: %s', (d) => {
    expect(weekday(d)).toBeGreaterThan(0);
    expect(weekday(d)).toBeLessThan(6);
    expect(isWorkingDay(d, cal)).toBe(false);
  });

  it.each([
    [{ years: [{ year: 2025, notice: 'n', off: [], workdays: ['2025-01-27'] }] }, 'not a Saturday or Sunday'],
    [{ years: [{ year: 2025, notice: 'n', off: [{ name: 'x', from: '2025-01-26', to: '2025-01-26' }], workdays: ['2025-01-26'] }] }, 'both a day off and a make-up working day'],
    [{ years: [{ year: 2025, notice: 'n', off: [{ name: 'x', from: '2025-02-30', to: '2025-03-01' }], workdays: [] }] }, 'is not a date'],
    [{ years: [{ year: 2025, off: [], workdays: [] }] }, 'notice'],
  ])('a bad table is refused (%#)', (json, message) => {
    expect(() => parseHolidayCalendar(json, 'test table')).toThrow(message);
  });
});

describe('addWorkingDays', () => {
  // Expected dates counted by hand on the published arrangements.
  it.each([
    // Spring Festival 2024: off 02-10..02-17, worked Sun 02-04 and Sun 02-18.
    ['2024-02-02', 1, '2024-02-04'],
    ['2024-02-09', 1, '2024-02-18'],
    ['2024-02-09', 2, '2024-02-19'],
    // Spring Festival 2025: off 01-28..02-04, worked Sun 01-26 and Sat 02-08.
    ['2025-01-24', 1, '2025-01-26'],
    ['2025-01-27', 1, '2025-02-05'],
    ['2025-02-07', 1, '2025-02-08'],
    ['2025-01-24', 30, '2025-03-13'],
    // Spring Festival 2026: off 02-15..02-23 (nine days), worked Sat 02-14 and Sat 02-28.
    ['2026-02-13', 1, '2026-02-14'],
    ['2026-02-14', 1, '2026-02-24'],
    ['2026-02-27', 1, '2026-02-28'],
    // National Day 2024: off 10-01..10-07, worked Sun 09-29 and Sat 10-12.
    ['2024-09-27', 2, '2024-09-30'],
    ['2024-09-30', 1, '2024-10-08'],
    ['2024-10-11', 1, '2024-10-12'],
    // National Day + Mid-Autumn 2025: off 10-01..10-08, worked Sun 09-28 and Sat 10-11.
    ['2025-09-26', 1, '2025-09-28'],
    ['2025-09-30', 1, '2025-10-09'],
    ['2025-10-03', 1, '2025-10-09'],
    ['2025-10-09', 2, '2025-10-11'],
    ['2025-09-30', 30, '2025-11-18'],
    // National Day 2026: off 10-01..10-07, worked Sun 09-20 and Sat 10-10.
    ['2026-09-30', 1, '2026-10-08'],
    ['2026-10-09', 1, '2026-10-10'],
    // n = 0 is the day itself.
    ['2025-10-05', 0, '2025-10-05'],
  ])('%s + %i working day(s) = %s', (from, n, expected) => {
    expect(addWorkingDays(from, n, cal)).toEqual({ date: expected, provisional: false });
  });

  it('beyond the table counts weekdays only and says so; strict refuses', () => {
    expect(addWorkingDays('2026-12-21', 30, cal)).toEqual({ date: '2027-02-01', provisional: true });
    expect(() => addWorkingDays('2026-12-21', 30, cal, { strict: true })).toThrow('no arrangement for 2027');
  });

  it.each([['2025-02-30', 1], ['2025-01-24', -1], ['2025-01-24', 1.5]])('refuses (%s, %d)', (d, n) => {
    expect(() => addWorkingDays(d, n, cal)).toThrow(RangeError);
  });

  it('workingDaysBetween counts the working days of (from, to]', () => {
    expect(workingDaysBetween('2025-01-24', '2025-03-13', cal)).toBe(30);
    expect(workingDaysBetween('2025-03-13', '2025-01-24', cal)).toBe(-30);
    expect(workingDaysBetween('2025-10-01', '2025-10-08', cal)).toBe(0);
    expect(workingDaysBetween('2025-03-10', '2025-03-13', cal)).toBe(3);
  });
});
