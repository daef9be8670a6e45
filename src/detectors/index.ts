/**
 * The explicit detector registry (STYLE.md §1). Order is the run order; ids must be unique.
 */
import type { Detector } from './types.ts';
import { deceasedPayment } from './deceased-payment.ts';

/** Builds a registry, refusing duplicate ids. @throws Error naming the duplicate id */
export function registry(detectors: readonly Detector[]): readonly Detector[] {
  const seen = new Set<string>();
  for (const d of detectors) {
    if (seen.has(d.id)) throw new Error(`duplicate detector id "${d.id}"`);
    seen.add(d.id);
  }
  return Object.freeze([...detectors]);
}

export const DETECTORS: readonly Detector[] = registry([deceasedPayment]);
