/**
 * Resident identity numbers (公民身份号码) — GB 11643-1999.
 *
 * An 18-character ID is: 6-digit administrative area code, 8-digit birth date (YYYYMMDD), 3-digit sequence
 * (odd = male, even = female) and a check character computed with ISO 7064 MOD 11-2. Legacy 15-digit IDs
 * (GB 11643-1989) carry a 2-digit year and no check character; they are upgraded by inserting "19" before
 * the year and appending the check character. DOMAIN.md §3.
 *
 * Everything here is pure and allocation-light: it runs once per ingested row.
 */

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARS = '10X98765432';

/** Outcome of {@link normalizeIdNumber}. */
export type IdNormalization =
  | {
      ok: true;
      /** The normalised 18-character ID (digits and an upper-case X in the last place only). */
      id: string;
      /** True when the check character agrees with the first 17 digits (GB 11643-1999 §6). */
      valid: boolean;
      /** True when the input was a legacy 15-digit ID upgraded to 18 characters. */
      upgraded: boolean;
    }
  | {
      ok: false;
      /** Why the text cannot be an ID at all: `EMPTY`, `BAD_LENGTH` or `BAD_CHARACTERS`. */
      code: 'EMPTY' | 'BAD_LENGTH' | 'BAD_CHARACTERS';
      /** The cleaned text that was examined (full-width folded, spaces removed). */
      cleaned: string;
    };

/**
 * Computes the GB 11643-1999 check character (ISO 7064 MOD 11-2) of the first 17 digits.
 * @param first17 exactly 17 ASCII digits
 * @returns one of `0-9` or `X`
 * @throws RangeError when `first17` is not 17 ASCII digits
 */
export function checkCharacter(first17: string): string {
  if (first17.length !== 17) throw new RangeError(`checkCharacter needs 17 digits, got ${first17.length}`);
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const d = first17.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw new RangeError('checkCharacter needs ASCII digits');
    sum += d * WEIGHTS[i]!;
  }
  return CHECK_CHARS[sum % 11]!;
}

/**
 * Folds full-width digits and letters to ASCII, removes spaces (ASCII, ideographic U+3000, NBSP), tabs,
 * hyphens and apostrophes that spreadsheets prepend, and upper-cases `x`.
 */
export function cleanIdText(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    let c = raw.charCodeAt(i);
    if (c >= 0xff01 && c <= 0xff5e) c -= 0xfee0; // full-width ASCII block
    if (c === 0x20 || c === 0x3000 || c === 0xa0 || c === 0x09 || c === 0x2d || c === 0x27 || c === 0x22) continue;
    if (c === 0x78) c = 0x58; // x -> X
    out += String.fromCharCode(c);
  }
  return out;
}

/**
 * Normalises a resident ID as found in an extract: full-width digits, lower-case x, spaces; legacy 15-digit
 * IDs are upgraded to 18 characters. An ID whose check character fails is returned with `valid: false`
 * (kept and flagged, matching may repair it); only text that cannot be an ID is refused. DOMAIN.md §3.
 *
 * @param raw the cell text as read
 * @returns {@link IdNormalization}; never throws
 */
export function normalizeIdNumber(raw: string): IdNormalization {
  const cleaned = cleanIdText(raw);
  if (cleaned.length === 0) return { ok: false, code: 'EMPTY', cleaned };
  if (cleaned.length === 15) {
    if (!/^\d{15}$/.test(cleaned)) return { ok: false, code: 'BAD_CHARACTERS', cleaned };
    const first17 = cleaned.slice(0, 6) + '19' + cleaned.slice(6);
    return { ok: true, id: first17 + checkCharacter(first17), valid: true, upgraded: true };
  }
  if (cleaned.length !== 18) return { ok: false, code: 'BAD_LENGTH', cleaned };
  if (!/^\d{17}[\dX]$/.test(cleaned)) return { ok: false, code: 'BAD_CHARACTERS', cleaned };
  const valid = checkCharacter(cleaned.slice(0, 17)) === cleaned[17];
  return { ok: true, id: cleaned, valid, upgraded: false };
}

/** True when `id` is an 18-character ID whose check character passes. */
export function isValidIdNumber(id: string): boolean {
  return /^\d{17}[\dX]$/.test(id) && checkCharacter(id.slice(0, 17)) === id[17];
}

/**
 * Birth date encoded in a normalised 18-character ID, as `YYYY-MM-DD`, or null when the 8 digits are not
 * a real calendar date.
 */
export function birthDateFromId(id: string): string | null {
  if (id.length !== 18) return null;
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  if (!isCalendarDate(y, m, d)) return null;
  return `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`;
}

/** Sex encoded in a normalised ID: the 17th digit (sequence), odd = male `M`, even = female `F`. */
export function sexFromId(id: string): 'M' | 'F' | null {
  if (id.length !== 18) return null;
  const d = id.charCodeAt(16) - 48;
  if (d < 0 || d > 9) return null;
  return d % 2 === 1 ? 'M' : 'F';
}

/** District (area) code of an ID: its first 6 digits. */
export function areaCodeFromId(id: string): string {
  return id.slice(0, 6);
}

/**
 * Masks an ID for auditor-facing files and logs: first 6 and last 4 characters kept, the rest `*`
 * (DOMAIN.md §6). Text shorter than 11 characters is masked entirely but for its last 2.
 */
export function maskIdNumber(id: string): string {
  if (id.length <= 10) return id.length <= 2 ? '*'.repeat(id.length) : '*'.repeat(id.length - 2) + id.slice(-2);
  return id.slice(0, 6) + '*'.repeat(id.length - 10) + id.slice(-4);
}

/** Masks a bank account number: last 4 digits kept (DOMAIN.md §6). */
export function maskAccount(account: string): string {
  if (account.length <= 4) return '*'.repeat(account.length);
  return '*'.repeat(account.length - 4) + account.slice(-4);
}

/**
 * Masks every ID-shaped run of characters (15 or 18 digits, the last possibly X/x, full-width included)
 * inside free text — for log messages, reject raw text and error messages (DOMAIN.md §6). Runs of 16 to
 * 19 digits that look like bank accounts are masked to their last 4 as well.
 */
export function maskIdsInText(text: string): string {
  return text.replace(/(?<![0-9０-９])[0-9０-９]{14,18}[0-9０-９XxＸｘ](?![0-9０-９])/g, (m) => {
    const clean = cleanIdText(m);
    if (clean.length === 15 || clean.length === 18) return maskIdNumber(clean);
    return maskAccount(clean);
  });
}

/** True when y-m-d is a real Gregorian date (years 1800–2199). */
export function isCalendarDate(y: number, m: number, d: number): boolean {
  if (!Number.isInteger(y) || !Number.isInteger(m) || !Number.isInteger(d)) return false;
  if (y < 1800 || y > 2199 || m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const dim = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  return d <= dim;
}

/**
 * Upgrades a legacy 15-digit ID (GB 11643-1989) to 18 characters: "19" inserted before the 2-digit year,
 * check character appended. DOMAIN.md §3.
 * @throws RangeError when `id15` is not 15 ASCII digits
 */
export function upgradeLegacyId(id15: string): string {
  if (!/^\d{15}$/.test(id15)) throw new RangeError('upgradeLegacyId needs 15 digits');
  const first17 = id15.slice(0, 6) + '19' + id15.slice(6);
  return first17 + checkCharacter(first17);
}

/**
 * The legacy 15-digit form of an 18-character ID of someone born in the 1900s (century digits and check
 * character dropped), or null when the ID has no legacy form. Inverse of {@link upgradeLegacyId}.
 */
export function legacyIdOf(id18: string): string | null {
  if (!/^\d{17}[\dX]$/.test(id18) || id18.slice(6, 8) !== '19') return null;
  return id18.slice(0, 6) + id18.slice(8, 17);
}

/**
 * True when `raw` (as found in an extract) was a legacy 15-digit ID whose upgrade is `id18`
 * (legacy 15 ↔ 18 agreement, DOMAIN.md §3).
 */
export function isLegacyFormOf(raw: string, id18: string): boolean {
  const c = cleanIdText(raw);
  return c.length === 15 && /^\d{15}$/.test(c) && upgradeLegacyId(c) === id18;
}

/** How two normalised 18-character IDs differ: by nothing, one substitution, one adjacent transposition. */
export type IdEdit =
  | { kind: 'equal' }
  /** One character differs, at `position` (0-based). */
  | { kind: 'substitution'; position: number }
  /** Characters `position` and `position + 1` are swapped (and differ). */
  | { kind: 'transposition'; position: number };

/**
 * The single edit that turns ID `a` into ID `b` — the errors a check character always detects
 * (GB 11643-1999, ISO 7064 MOD 11-2: any single substitution or adjacent transposition) — or null when the
 * two differ by more (or are not both 18 characters). Pure.
 */
export function idEdit(a: string, b: string): IdEdit | null {
  if (a.length !== 18 || b.length !== 18) return null;
  if (a === b) return { kind: 'equal' };
  let first = -1;
  let count = 0;
  for (let i = 0; i < 18; i++) {
    if (a[i] !== b[i]) {
      if (count === 0) first = i;
      count++;
      if (count > 2) return null;
    }
  }
  if (count === 1) return { kind: 'substitution', position: first };
  if (first < 17 && a[first] === b[first + 1] && a[first + 1] === b[first] && a[first + 1] !== b[first + 1]) {
    return { kind: 'transposition', position: first };
  }
  return null;
}

/** A valid ID one edit away from a damaged one (see {@link validNeighbours}). */
export interface IdRepair {
  id: string;
  edit: Exclude<IdEdit, { kind: 'equal' }>;
}

/**
 * Every VALID 18-character ID one substitution (any of the 18 places, digits 0-9 and X in the last) or one
 * adjacent transposition away from `id` — the candidate repairs of an ID whose check character fails. At
 * most 17 × 9 + 10 + 17 strings are examined, each verified by its check character; typically about 16
 * pass. Ordered by position, then candidate. Pure.
 *
 * For a valid `id` the result is empty: MOD 11-2 detects every single substitution and adjacent
 * transposition, so no valid ID is one edit from another (DOMAIN.md §3).
 * @param id a normalised 18-character ID (`\d{17}[\dX]`); anything else gives []
 */
export function validNeighbours(id: string): IdRepair[] {
  if (!/^\d{17}[\dX]$/.test(id)) return [];
  const out: IdRepair[] = [];
  const body = id.slice(0, 17);
  // Substitutions in the 17 digits: the check character must then agree.
  for (let p = 0; p < 17; p++) {
    for (let d = 0; d <= 9; d++) {
      const c = String.fromCharCode(48 + d);
      if (c === body[p]) continue;
      const cand = body.slice(0, p) + c + body.slice(p + 1);
      if (checkCharacter(cand) === id[17]) out.push({ id: cand + id[17], edit: { kind: 'substitution', position: p } });
    }
  }
  // Substitution of the check character itself: exactly one candidate.
  const check = checkCharacter(body);
  if (check !== id[17]) out.push({ id: body + check, edit: { kind: 'substitution', position: 17 } });
  // Adjacent transpositions (the last one swaps the check character with the 17th digit).
  for (let p = 0; p < 17; p++) {
    const a = id[p]!;
    const b = id[p + 1]!;
    if (a === b) continue;
    const cand = id.slice(0, p) + b + a + id.slice(p + 2);
    if (/^\d{17}[\dX]$/.test(cand) && isValidIdNumber(cand)) out.push({ id: cand, edit: { kind: 'transposition', position: p } });
  }
  return out;
}

/** Positions (0-based) an edit touches: one for a substitution, two for a transposition, none when equal. */
export function editPositions(edit: IdEdit): number[] {
  return edit.kind === 'equal' ? [] : edit.kind === 'substitution' ? [edit.position] : [edit.position, edit.position + 1];
}
