/**
 * Periods, calendar dates and money as found in extracts (DOMAIN.md §2), parsed into the product's
 * canonical forms: a period is `YYYY-MM`, a date `YYYY-MM-DD` (strings: they sort as text and never shift
 * with the time zone — STYLE.md §12), money is an integer number of fen.
 *
 * Every parser is pure and returns a tagged result instead of throwing, so row parsers can turn a failure
 * into a reject with a stable code.
 */
import { isCalendarDate } from '../identity/resident-id.ts';

/** A parse failure: a stable code and a human reason (the reason never contains the full input ID). */
export interface ParseFailure {
  ok: false;
  code: string;
  reason: string;
}
export type Parsed<T> = { ok: true; value: T } | ParseFailure;

const fail = (code: string, reason: string): ParseFailure => ({ ok: false, code, reason });

const FULL_WIDTH = /[\uff01-\uff5e\u3000]/;

/** Folds full-width ASCII (U+FF01–U+FF5E) and the ideographic space to ASCII, then trims. */
export function toHalfWidth(text: string): string {
  if (!FULL_WIDTH.test(text)) return text.trim(); // the common case: nothing to fold
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xff01 && c <= 0xff5e) out += String.fromCharCode(c - 0xfee0);
    else if (c === 0x3000) out += ' ';
    else out += text[i];
  }
  return out.trim();
}

const pad2 = (n: number): string => (n < 10 ? '0' + n : String(n));
const CLEAN_PERIOD_DASH = /^(\d{4})-(\d{2})$/;
const CLEAN_PERIOD = /^(\d{4})(\d{2})$/;
const CLEAN_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const CLEAN_AMOUNT = /^(\d{1,9})\.(\d{2})$/;

/**
 * Parses the period a payment is FOR (待遇所属期 / 发放年月): `202403`, `2024-03`, `2024/3`, `2024.03`,
 * `2024年03月`, `2024年3月`. Returns `YYYY-MM`.
 * Failure codes: `PERIOD_MISSING`, `PERIOD_INVALID`.
 */
export function parsePeriod(raw: string): Parsed<string> {
  // Fast path (issue 10): an already clean `YYYY-MM` or `YYYYMM` (what exports hold) — same result as below.
  const c = raw.length === 7 ? CLEAN_PERIOD_DASH.exec(raw) : raw.length === 6 ? CLEAN_PERIOD.exec(raw) : null;
  if (c) {
    const y = Number(c[1]);
    const mo = Number(c[2]);
    if (y >= 1900 && y <= 2199 && mo >= 1 && mo <= 12) return { ok: true, value: `${c[1]}-${c[2]}` };
  }
  const s = toHalfWidth(raw);
  if (s === '') return fail('PERIOD_MISSING', 'period is empty');
  const m = /^(\d{4})(?:[-/.年]\s*(\d{1,2})\s*月?|(\d{2}))$/.exec(s);
  if (!m) return fail('PERIOD_INVALID', `period "${s}" is not YYYYMM, YYYY-MM or YYYY年MM月`);
  const y = Number(m[1]);
  const mo = Number(m[2] ?? m[3]);
  if (y < 1900 || y > 2199 || mo < 1 || mo > 12) return fail('PERIOD_INVALID', `period "${s}" has no such month`);
  return { ok: true, value: `${m[1]}-${pad2(mo)}` };
}

/**
 * Parses a calendar date: `2024-03-05`, `20240305`, `2024/3/5`, `2024.3.5`, `2024年3月5日`, optionally
 * followed by a time of day (`2024-03-05 00:00:00`, which is dropped). Returns `YYYY-MM-DD`.
 * Failure codes: `DATE_MISSING`, `DATE_INVALID`.
 * @param field name used in the reason (e.g. `death date`)
 */
export function parseDate(raw: string, field = 'date'): Parsed<string> {
  // Fast path (issue 10): an already clean `YYYY-MM-DD` — same result as below.
  const c = raw.length === 10 ? CLEAN_DATE.exec(raw) : null;
  if (c) {
    if (isCalendarDate(Number(c[1]), Number(c[2]), Number(c[3]))) return { ok: true, value: raw };
  }
  const s = toHalfWidth(raw);
  if (s === '') return fail('DATE_MISSING', `${field} is empty`);
  let m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (!m) m = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/.exec(s);
  if (!m) return fail('DATE_INVALID', `${field} "${s}" is not a date (YYYY-MM-DD, YYYYMMDD, YYYY/M/D, YYYY年M月D日)`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (!isCalendarDate(y, mo, d)) return fail('DATE_INVALID', `${field} "${s}" is not a real calendar date`);
  return { ok: true, value: `${m[1]}-${pad2(mo)}-${pad2(d)}` };
}

/**
 * Parses an amount in yuan into integer fen: `3456.70`, `3,456.70`, `￥3456.70`, `¥-12.5`, `-3456.7`,
 * `(3456.70)` (accounting negative), `3456.70元`. A negative amount is a reversal and is kept negative.
 * More than two decimals is an error, never rounded (DOMAIN.md §2).
 * Failure codes: `AMOUNT_MISSING`, `AMOUNT_INVALID`, `AMOUNT_TOO_PRECISE`, `AMOUNT_OUT_OF_RANGE`
 * (more than 10^11 fen in magnitude).
 */
export function parseAmountFen(raw: string): Parsed<number> {
  // Fast path (issue 10): an already clean `1234.56` (up to 9 digits of yuan) — same result as below.
  const c = CLEAN_AMOUNT.exec(raw);
  if (c) return { ok: true, value: Number(c[1]) * 100 + Number(c[2]) };
  let s = toHalfWidth(raw).replace(/[¥￥元\s]/g, '');
  if (s === '') return fail('AMOUNT_MISSING', 'amount is empty');
  let negative = false;
  if (s.startsWith('(') && s.endsWith(')')) {
    negative = true;
    s = s.slice(1, -1);
  }
  if (s.startsWith('-') || s.startsWith('−')) {
    negative = !negative;
    s = s.slice(1);
  } else if (s.startsWith('+')) s = s.slice(1);
  const m = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d*))?$/.exec(s);
  if (!m) return fail('AMOUNT_INVALID', `amount "${raw.trim()}" is not a number of yuan`);
  const decimals = m[2] ?? '';
  if (decimals.length > 2) {
    return fail('AMOUNT_TOO_PRECISE', `amount "${raw.trim()}" has ${decimals.length} decimals; at most 2 (fen) — not rounded`);
  }
  const yuan = m[1]!.replace(/,/g, '');
  if (yuan.length > 9) return fail('AMOUNT_OUT_OF_RANGE', `amount "${raw.trim()}" is out of range`);
  const fen = Number(yuan) * 100 + Number((decimals + '00').slice(0, 2));
  return { ok: true, value: negative ? -fen : fen };
}

/** Formats integer fen as yuan with exactly two decimals, e.g. 345670 → `3456.70`, -5 → `-0.05`. */
export function formatFen(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError(`amount must be an integer number of fen, got ${fen}`);
  const neg = fen < 0;
  const a = Math.abs(fen);
  const s = `${Math.floor(a / 100)}.${pad2(a % 100)}`;
  return neg ? '-' + s : s;
}

/** Month of a `YYYY-MM-DD` date, as `YYYY-MM`. */
export function monthOf(date: string): string {
  return date.slice(0, 7);
}

/** Number of months from period `a` to period `b` (`YYYY-MM`); positive when b is later. */
export function monthsBetween(a: string, b: string): number {
  return (Number(b.slice(0, 4)) - Number(a.slice(0, 4))) * 12 + (Number(b.slice(5, 7)) - Number(a.slice(5, 7)));
}

/** The period `n` months after `period` (`YYYY-MM`; n may be negative). */
export function addMonths(period: string, n: number): string {
  const idx = Number(period.slice(0, 4)) * 12 + Number(period.slice(5, 7)) - 1 + n;
  return `${Math.floor(idx / 12)}-${pad2((idx % 12) + 1)}`;
}

/**
 * Today's calendar date in a named IANA time zone, as `YYYY-MM-DD` — the business date of a run
 * (default `Asia/Shanghai`, whatever the machine's own zone).
 * @param now the instant (defaults to the current time)
 */
export function todayIn(timeZone = 'Asia/Shanghai', now: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  const get = (t: string): string => parts.find((p) => p.type === t)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** True when `s` is a real date written `YYYY-MM-DD`. */
export function isIsoDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  return !!m && isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]));
}
