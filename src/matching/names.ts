/**
 * Name comparison for record linkage of Chinese names (DOMAIN.md §3). Legacy systems write rare
 * characters (生僻字) as '?', '□', '*', U+FFFD or a private-use code point: such a character is a
 * one-character wildcard. Middle-dot variants in minority names (· • ・ ‧ ･) are the same character.
 * Names are compared by code point (a character outside the BMP is one character).
 */

/** True for a character a legacy system writes in place of a rare character. */
export function isPlaceholder(ch: string): boolean {
  if (ch === '?' || ch === '？' || ch === '□' || ch === '*' || ch === '＊' || ch === '\ufffd' || ch === '■' || ch === '〓') return true;
  const cp = ch.codePointAt(0)!;
  return (cp >= 0xe000 && cp <= 0xf8ff) || cp >= 0xf0000;
}

const MIDDLE_DOTS = /[·•・‧･∙⋅.．]/g;

/** Canonical form for comparison: NFC, spaces removed, every middle-dot variant as U+00B7. */
export function nameKey(name: string): string {
  return name.normalize('NFC').replace(/[\s\u3000]+/g, '').replace(MIDDLE_DOTS, '·');
}

/** True when the name holds at least one placeholder character. */
export function hasPlaceholder(name: string): boolean {
  for (const ch of name) if (isPlaceholder(ch)) return true;
  return false;
}

/** How two names agree: `exact` (after {@link nameKey}), `wildcard` (equal up to placeholders), or `none`. */
export type NameAgreement = 'exact' | 'wildcard' | 'none';

/** Compares two names (DOMAIN.md §3). Empty names never agree. */
export function compareNames(a: string, b: string): NameAgreement {
  const ka = nameKey(a);
  const kb = nameKey(b);
  if (ka === '' || kb === '') return 'none';
  if (ka === kb) return 'exact';
  const ca = Array.from(ka);
  const cb = Array.from(kb);
  if (ca.length !== cb.length) return 'none';
  for (let i = 0; i < ca.length; i++) {
    if (ca[i] !== cb[i] && !isPlaceholder(ca[i]!) && !isPlaceholder(cb[i]!)) return 'none';
  }
  return 'wildcard';
}

/**
 * The fullest form of a name among candidates that agree with `name`: the first candidate without a
 * placeholder that agrees with it, else `name` itself.
 */
export function fullestName(name: string, candidates: readonly (string | null | undefined)[]): string {
  if (!hasPlaceholder(name)) return name;
  for (const c of candidates) if (c && !hasPlaceholder(c) && compareNames(name, c) !== 'none') return c;
  return name;
}
