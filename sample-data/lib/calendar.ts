/**
 * Integer calendar arithmetic for the generator: days since 1970-01-01 ↔ (y, m, d), absolute month numbers
 * (year·12 + month − 1) and the text forms found in extracts. No `Date`, so nothing depends on the time zone.
 */

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Inverse of {@link daysFromCivil}: [year, month, day]. */
export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/** Number of days in a month. */
export function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Absolute month number: year·12 + (month − 1). */
export function absMonth(y: number, m: number): number {
  return y * 12 + (m - 1);
}

export function yearOf(abs: number): number {
  return Math.floor(abs / 12);
}

export function monthOf(abs: number): number {
  return (abs % 12) + 1;
}

/** First day (days since epoch) of an absolute month. */
export function firstDayOfMonth(abs: number): number {
  return daysFromCivil(yearOf(abs), monthOf(abs), 1);
}

/** Last day (days since epoch) of an absolute month. */
export function lastDayOfMonth(abs: number): number {
  return firstDayOfMonth(abs + 1) - 1;
}

/** Absolute month of a day number. */
export function monthOfDay(day: number): number {
  const [y, m] = civilFromDays(day);
  return absMonth(y, m);
}

export function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** `YYYY-MM` of an absolute month. */
export function periodIso(abs: number): string {
  return `${yearOf(abs)}-${pad2(monthOf(abs))}`;
}

/** `YYYYMM` of an absolute month. */
export function periodCompact(abs: number): string {
  return `${yearOf(abs)}${pad2(monthOf(abs))}`;
}

/** Parses `YYYY-MM` into an absolute month, or throws. */
export function parseYearMonth(text: string): number {
  const m = /^(\d{4})-(\d{2})$/.exec(text);
  if (!m) throw new RangeError(`expected YYYY-MM, got "${text}"`);
  const month = Number(m[2]);
  if (month < 1 || month > 12) throw new RangeError(`expected YYYY-MM, got "${text}"`);
  return absMonth(Number(m[1]), month);
}

/** `YYYY-MM-DD` of a day number. */
export function dayIso(day: number): string {
  const [y, m, d] = civilFromDays(day);
  return `${y}-${pad2(m)}-${pad2(d)}`;
}

/** Date text forms seen in extracts (DOMAIN.md §2). */
export type DateFormat = 'iso' | 'compact' | 'slash' | 'cjk';
export const DATE_FORMATS: readonly DateFormat[] = ['iso', 'compact', 'slash', 'cjk'];

/** Formats a day number: 2024-03-05 | 20240305 | 2024/3/5 | 2024年3月5日. */
export function formatDay(day: number, fmt: DateFormat): string {
  const [y, m, d] = civilFromDays(day);
  switch (fmt) {
    case 'iso':
      return `${y}-${pad2(m)}-${pad2(d)}`;
    case 'compact':
      return `${y}${pad2(m)}${pad2(d)}`;
    case 'slash':
      return `${y}/${m}/${d}`;
    case 'cjk':
      return `${y}年${m}月${d}日`;
  }
}

/** Period text forms: 202403 | 2024-03 | 2024年03月. */
export type PeriodFormat = 'compact' | 'iso' | 'cjk';
export const PERIOD_FORMATS: readonly PeriodFormat[] = ['compact', 'iso', 'cjk'];

/** Formats a year and a month number (month may be out of range, for deliberately bad rows). */
export function formatPeriodParts(y: number, m: number, fmt: PeriodFormat): string {
  switch (fmt) {
    case 'compact':
      return `${y}${pad2(m)}`;
    case 'iso':
      return `${y}-${pad2(m)}`;
    case 'cjk':
      return `${y}年${pad2(m)}月`;
  }
}

export function formatPeriod(abs: number, fmt: PeriodFormat): string {
  return formatPeriodParts(yearOf(abs), monthOf(abs), fmt);
}
