/**
 * Byte-wise order of text as UTF-8 — the order of every export and report (STYLE.md §12: results never
 * depend on the engine's collation). Equal to `Buffer.compare` of the UTF-8 encodings, without allocating:
 * UTF-8 byte order is code-point order, which differs from JavaScript's UTF-16 `<` only for characters above
 * U+FFFF (surrogates, U+D800–U+DFFF) against U+E000–U+FFFF.
 */

/** Compares two strings in UTF-8 byte order: negative, 0 or positive. */
export function byteCmp(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1; // a code point above U+FFFF sorts after every BMP character
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
