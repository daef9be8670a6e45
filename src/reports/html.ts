/** HTML helpers for the self-contained reports: every value goes through {@link esc} (names are data). */

/** Escapes text for HTML element content and attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Formats integer fen as yuan with thousands separators, e.g. 123456789 → `1,234,567.89`. */
export function yuan(fen: number): string {
  const neg = fen < 0;
  const a = Math.abs(fen);
  const int = Math.floor(a / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}${int}.${String(a % 100).padStart(2, '0')}`;
}
