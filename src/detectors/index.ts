/**
 * The explicit detector registry (STYLE.md §1). Order is the run order; ids must be unique.
 *
 * Order matters for "one payment, one claim" (DOMAIN.md §4): the job passes each detector the payments the
 * earlier ones counted (`ctx.claimed`), so the detectors that count money come first, most specific first —
 * paid after death, then duplicate copies, then residents' pension drawn with another pension — and the
 * `review` leads that count no money (shared account, amount anomaly) last.
 */
import type { Detector } from './types.ts';
import { deceasedPayment } from './deceased-payment.ts';
import { duplicatePayment } from './duplicate-payment.ts';
import { concurrentPension } from './concurrent-pension.ts';
import { sharedAccount } from './shared-account.ts';
import { amountAnomaly } from './amount-anomaly.ts';

/** Builds a registry, refusing duplicate ids. @throws Error naming the duplicate id */
export function registry(detectors: readonly Detector[]): readonly Detector[] {
  const seen = new Set<string>();
  for (const d of detectors) {
    if (seen.has(d.id)) throw new Error(`duplicate detector id "${d.id}"`);
    seen.add(d.id);
  }
  return Object.freeze([...detectors]);
}

export const DETECTORS: readonly Detector[] = registry([deceasedPayment, duplicatePayment, concurrentPension, sharedAccount, amountAnomaly]);
