/**
 * Working days on the State Council holiday calendar (国务院办公厅 annual holiday arrangements): a day is a
 * working day when it is a Monday–Friday that is not a day off, or a make-up working day (调休上班, a
 * Saturday or Sunday that is worked). Used for the heirs' 30 working days after a recovery notice
 * (DOMAIN.md §5). Dates are `YYYY-MM-DD` strings, computed in UTC arithmetic so the machine's time zone
 * never matters (STYLE.md §12). The table is `seeds/holidays-cn.json` (one entry per year, citing its notice).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { isIsoDate } from './values.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The shipped holiday table. */
export const HOLIDAYS_FILE = path.resolve(here, '../../seeds/holidays-cn.json');

/** A holiday calendar: days off and make-up working days of the years it covers. */
export interface HolidayCalendar {
  /** Years the table covers (a date outside them has no known arrangement). */
  readonly years: ReadonlySet<number>;
  /** Days off (`YYYY-MM-DD`), weekends inside a break included. */
  readonly off: ReadonlySet<string>;
  /** Make-up working days: weekend days that are worked. */
  readonly workdays: ReadonlySet<string>;
}

const isoDate = z.string().refine(isIsoDate, { message: 'is not a date YYYY-MM-DD' });
const fileSchema = z.object({
  years: z.array(
    z.object({
      year: z.number().int(),
      notice: z.string().min(1),
      off: z.array(z.object({ name: z.string(), from: isoDate, to: isoDate })),
      workdays: z.array(isoDate),
    }),
  ),
});

/** Day of the week of a date: 0 = Sunday … 6 = Saturday. */
export function weekday(date: string): number {
  return new Date(Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)))).getUTCDay();
}

/** The date `n` calendar days after `date` (n may be negative). */
export function addDays(date: string, n: number): string {
  const t = Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) + n * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/** Calendar days from `a` to `b` (positive when b is later). */
export function daysBetween(a: string, b: string): number {
  const t = (d: string) => Date.UTC(Number(d.slice(0, 4)), Number(d.slice(5, 7)) - 1, Number(d.slice(8, 10)));
  return Math.round((t(b) - t(a)) / 86_400_000);
}

/**
 * Builds a calendar from the table's JSON content, checking it: real dates, within a year of the year they
 * are listed under (a break may span New Year), make-up days on weekends only and never also a day off.
 * @throws Error naming the bad entry
 */
export function parseHolidayCalendar(json: unknown, source = 'holiday table'): HolidayCalendar {
  const r = fileSchema.safeParse(json);
  if (!r.success) throw new Error(`${source}: ${r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  const years = new Set<number>();
  const off = new Set<string>();
  const workdays = new Set<string>();
  for (const y of r.data.years) {
    years.add(y.year);
    for (const b of y.off) {
      if (b.from > b.to) throw new Error(`${source}: ${y.year} ${b.name}: ${b.from} is after ${b.to}`);
      for (let d = b.from; d <= b.to; d = addDays(d, 1)) off.add(d);
    }
    for (const d of y.workdays) {
      if (weekday(d) !== 0 && weekday(d) !== 6) throw new Error(`${source}: make-up working day ${d} is not a Saturday or Sunday`);
      workdays.add(d);
    }
    const inYear = (d: string) => Math.abs(Number(d.slice(0, 4)) - y.year) <= 1;
    for (const d of [...y.off.flatMap((b) => [b.from, b.to]), ...y.workdays]) {
      if (!inYear(d)) throw new Error(`${source}: ${d} is listed under ${y.year}`);
    }
  }
  for (const d of workdays) if (off.has(d)) throw new Error(`${source}: ${d} is both a day off and a make-up working day`);
  return { years, off, workdays };
}

/**
 * Reads the holiday table (default: the shipped `seeds/holidays-cn.json`).
 * @throws Error when the file is missing or invalid
 */
export function loadHolidayCalendar(file = HOLIDAYS_FILE): HolidayCalendar {
  return parseHolidayCalendar(JSON.parse(fs.readFileSync(file, 'utf8')), file);
}

/** True when the calendar covers the year of `date`. */
export function covers(calendar: HolidayCalendar, date: string): boolean {
  return calendar.years.has(Number(date.slice(0, 4)));
}

/** True when `date` is a working day (for a year the table does not cover: Monday–Friday). */
export function isWorkingDay(date: string, calendar: HolidayCalendar): boolean {
  if (calendar.workdays.has(date)) return true;
  if (calendar.off.has(date)) return false;
  const w = weekday(date);
  return w !== 0 && w !== 6;
}

/** Result of {@link addWorkingDays}. */
export interface WorkingDayResult {
  date: string;
  /** True when a day counted lies in a year the holiday table does not cover (weekdays only were used). */
  provisional: boolean;
}

/**
 * The date `n` working days after `date` (`date` itself is not counted; n ≥ 0; n = 0 returns `date`):
 * e.g. a notice served on 2025-01-24 with 30 working days runs to 2025-03-13 (Spring Festival break and
 * make-up days 2025-01-26 and 2025-02-08 included).
 * @throws RangeError for a bad date or n, or — with `strict` — when a year outside the table is reached
 */
export function addWorkingDays(date: string, n: number, calendar: HolidayCalendar, opts: { strict?: boolean } = {}): WorkingDayResult {
  if (!isIsoDate(date)) throw new RangeError(`not a date YYYY-MM-DD: "${date}"`);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`number of working days must be a whole number ≥ 0, got ${n}`);
  let d = date;
  let left = n;
  let provisional = false;
  while (left > 0) {
    d = addDays(d, 1);
    if (!covers(calendar, d)) {
      if (opts.strict) throw new RangeError(`the holiday table has no arrangement for ${d.slice(0, 4)} (seeds/holidays-cn.json)`);
      provisional = true;
    }
    if (isWorkingDay(d, calendar)) left--;
  }
  return { date: d, provisional };
}

/** Working days in (from, to]: positive when `to` is later, negative when earlier, 0 when equal. */
export function workingDaysBetween(from: string, to: string, calendar: HolidayCalendar): number {
  if (from === to) return 0;
  const [a, b, sign] = from < to ? [from, to, 1] : [to, from, -1];
  let count = 0;
  for (let d = addDays(a, 1); d <= b; d = addDays(d, 1)) if (isWorkingDay(d, calendar)) count++;
  return sign * count;
}
