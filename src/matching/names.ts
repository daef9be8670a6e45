/**
 * Name comparison for record linkage of Chinese names (DOMAIN.md §3). Legacy systems write rare
 * characters (生僻字) as '?', '□', '*', U+FFFD or a private-use code point: such a character is a
 * one-character wildcard. Middle-dot variants in minority names (· • ・ ‧ ･, or the dot left out) are the
 * same name; traditional and simplified forms (張/张) are the same name (OpenCC, opencc-js); homophones
 * (晓/小) agree only phonetically (pinyin-pro readings). Names are compared by code point (a character
 * outside the BMP is one character).
 *
 * Never match on a name alone: namesakes with the same birth date exist in a city of millions. A name only
 * confirms or contradicts a link made on the resident ID (see link.ts).
 */
import { Converter } from 'opencc-js/t2cn';
import { pinyin } from 'pinyin-pro';

/** True for a character a legacy system writes in place of a rare character. */
export function isPlaceholder(ch: string): boolean {
  if (ch === '?' || ch === '？' || ch === '□' || ch === '*' || ch === '＊' || ch === '\ufffd' || ch === '■' || ch === '〓') return true;
  const cp = ch.codePointAt(0)!;
  return (cp >= 0xe000 && cp <= 0xf8ff) || cp >= 0xf0000;
}

const MIDDLE_DOTS = /[·•・‧･∙⋅.．]/g;

/** Canonical form for display and grouping: NFC, spaces removed, every middle-dot variant as U+00B7. */
export function nameKey(name: string): string {
  return cleanNameText(name).replace(MIDDLE_DOTS, '·');
}

function cleanNameText(name: string): string {
  return name.normalize('NFC').replace(/[\s\u3000]+/g, '');
}

/** True when the name holds at least one placeholder character. */
export function hasPlaceholder(name: string): boolean {
  for (const ch of name) if (isPlaceholder(ch)) return true;
  return false;
}

const toCn = Converter({ from: 't', to: 'cn' });

/** The simplified form of a name (OpenCC traditional → mainland simplified); other characters unchanged. */
export function toSimplified(name: string): string {
  return toCn(name);
}

const readingCache = new Map<string, readonly string[]>();

/**
 * Every toneless pinyin reading of one character (heteronyms included: 曾 → ceng, zeng), or the character
 * itself when it has none (letters, rare characters outside pinyin-pro's dictionary).
 */
export function readingsOf(ch: string): readonly string[] {
  let r = readingCache.get(ch);
  if (!r) {
    const got = pinyin(ch, { toneType: 'none', type: 'array', multiple: true }).filter((s) => s !== '');
    r = got.length ? got : [ch];
    readingCache.set(ch, r);
  }
  return r;
}

/**
 * How two names agree, from strongest to weakest:
 * - `exact` — equal after NFC and removing spaces;
 * - `middle_dot` — equal once middle-dot variants are unified or the dot is left out (买买提·艾力 / 买买提•艾力);
 * - `script` — equal once both are in simplified characters (張曉龍 / 张晓龙);
 * - `wildcard` — equal up to rare-character placeholders, each standing for one character (王?明 / 王𠀋明);
 *   at least one real character must agree;
 * - `homophone` — same length and every pair of characters shares a pinyin reading (张晓龙 / 张小龙);
 * - `none` — anything else, and whenever a name is empty.
 */
export type NameAgreement = 'exact' | 'middle_dot' | 'script' | 'wildcard' | 'homophone' | 'none';

/** Order of {@link NameAgreement} levels, higher is stronger. */
export const NAME_LEVEL_RANK: Readonly<Record<NameAgreement, number>> = { exact: 5, middle_dot: 4, script: 3, wildcard: 2, homophone: 1, none: 0 };

/**
 * True for the levels that let a match on equal valid IDs be `confirmed` (exact, middle-dot variant,
 * script variant, placeholder wildcard); a homophone only makes it `probable`.
 */
export function isStrongNameAgreement(level: NameAgreement | 'missing'): boolean {
  return level === 'exact' || level === 'middle_dot' || level === 'script' || level === 'wildcard';
}

/** Compares two names (DOMAIN.md §3); see {@link NameAgreement}. Pure (caches readings). */
export function compareNames(a: string, b: string): NameAgreement {
  const ca = cleanNameText(a);
  const cb = cleanNameText(b);
  if (ca === '' || cb === '') return 'none';
  if (ca === cb) return 'exact';
  const da = ca.replace(MIDDLE_DOTS, '');
  const db = cb.replace(MIDDLE_DOTS, '');
  if (da === '' || db === '') return 'none';
  if (da === db) return 'middle_dot';
  const sa = Array.from(toSimplified(da));
  const sb = Array.from(toSimplified(db));
  if (sa.length !== sb.length) return 'none';
  let equalReal = 0;
  let wildcard = true;
  for (let i = 0; i < sa.length; i++) {
    const x = sa[i]!;
    const y = sb[i]!;
    if (isPlaceholder(x) || isPlaceholder(y)) continue;
    if (x === y) equalReal++;
    else wildcard = false;
  }
  if (wildcard) {
    if (equalReal === sa.length) return 'script';
    return equalReal > 0 ? 'wildcard' : 'none';
  }
  let realPairs = 0;
  for (let i = 0; i < sa.length; i++) {
    const x = sa[i]!;
    const y = sb[i]!;
    if (isPlaceholder(x) || isPlaceholder(y)) continue;
    realPairs++;
    if (x === y) continue;
    const rx = readingsOf(x);
    const ry = readingsOf(y);
    if (!rx.some((r) => ry.includes(r))) return 'none';
  }
  return realPairs > 0 ? 'homophone' : 'none';
}

/** The strongest agreement between any name of `as` and any name of `bs` (`none` when either is empty). */
export function bestNameAgreement(as: readonly string[], bs: readonly string[]): NameAgreement {
  let best: NameAgreement = 'none';
  for (const a of as) {
    for (const b of bs) {
      const l = compareNames(a, b);
      if (NAME_LEVEL_RANK[l] > NAME_LEVEL_RANK[best]) best = l;
      if (best === 'exact') return best;
    }
  }
  return best;
}

/**
 * The fullest form of a name among candidates that agree with `name` (up to placeholders, middle dots or
 * script — never a mere homophone): the first candidate without a placeholder that agrees, else `name`.
 */
export function fullestName(name: string, candidates: readonly (string | null | undefined)[]): string {
  if (!hasPlaceholder(name)) return name;
  for (const c of candidates) if (c && !hasPlaceholder(c) && isStrongNameAgreement(compareNames(name, c))) return c;
  return name;
}
