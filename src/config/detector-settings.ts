/**
 * Parameters of the detectors (the `detectors` section of the settings file), validated by zod with
 * defaults (STYLE.md §5). Each detector's docstring in `src/detectors/` says what its parameters mean and
 * where the default comes from; README "Detectors" lists them.
 *
 * ```json
 * { "detectors": {
 *     "concurrent_pension": { "residentScheme": "170", "otherSchemes": ["110", "120"] },
 *     "shared_account": { "minPersons": 3 },
 *     "amount_anomaly": { "threshold": 5, "minHistory": 6, "minPeers": 20, "minRelativeSpread": 0.05, "minSpreadFen": 100,
 *                         "excludeItems": ["back_pay", "adjustment"] },
 *     "benford": { "minRows": 500, "items": ["back_pay", "adjustment"] } } }
 * ```
 * Every key is optional; a missing key keeps its default. Unknown keys are errors (a typo must not silently
 * fall back to a default).
 */
import { z } from 'zod';

/** The validated detector parameters (all present, frozen with the rest of the settings). */
export interface DetectorSettings {
  readonly concurrent_pension: {
    /** Scheme code of the urban-rural residents' pension (DOMAIN.md §2: 170). */
    readonly residentScheme: string;
    /** Scheme codes that may not be drawn in the same month as the residents' pension (110, 120). */
    readonly otherSchemes: readonly string[];
  };
  readonly shared_account: {
    /** Distinct people paid into one account for one period that make a case (default 3; two spouses = 2). */
    readonly minPersons: number;
  };
  readonly amount_anomaly: {
    /** Robust z (modified z-score, Iglewicz & Hoaglin 1993) above which a payment is far outside (default 5). */
    readonly threshold: number;
    /** Other payments of the same person, scheme and item needed to judge against one's own history (default 6). */
    readonly minHistory: number;
    /** Other payments of the same scheme, item, district and period needed to judge against peers (default 20). */
    readonly minPeers: number;
    /** Floor of the spread as a fraction of the median, so a constant history (MAD 0) is not divided by zero (default 0.05). */
    readonly minRelativeSpread: number;
    /** Floor of the spread in fen (default 100 = ¥1). */
    readonly minSpreadFen: number;
    /** Item codes not judged (irregular by nature; back pay and adjustments get the Benford test instead). */
    readonly excludeItems: readonly string[];
  };
  readonly benford: {
    /** Rows of the tested items a batch needs before its first digits are tested (default 500). */
    readonly minRows: number;
    /** Item codes whose first digits are tested (default back pay and adjustments). */
    readonly items: readonly string[];
  };
}

/** Defaults (see {@link DetectorSettings}). */
export const DEFAULT_DETECTOR_SETTINGS: DetectorSettings = {
  concurrent_pension: { residentScheme: '170', otherSchemes: ['110', '120'] },
  shared_account: { minPersons: 3 },
  amount_anomaly: { threshold: 5, minHistory: 6, minPeers: 20, minRelativeSpread: 0.05, minSpreadFen: 100, excludeItems: ['back_pay', 'adjustment'] },
  benford: { minRows: 500, items: ['back_pay', 'adjustment'] },
};

const schemeCode = z.string().regex(/^\d{3}$/, 'a scheme code is 3 digits, e.g. "170"');
const int = (min: number, what: string) => z.number().int(`${what} must be a whole number`).min(min, `${what} must be at least ${min}`);
const itemList = z.array(z.string().min(1, 'an item code is not empty'));

/** The `detectors` section of a settings file (every key optional). */
export const detectorSettingsSchema = z
  .object({
    duplicate_payment: z.object({}).strict().optional(),
    concurrent_pension: z
      .object({ residentScheme: schemeCode.optional(), otherSchemes: z.array(schemeCode).min(1, 'list at least one scheme code').optional() })
      .strict()
      .refine((c) => !(c.otherSchemes ?? DEFAULT_DETECTOR_SETTINGS.concurrent_pension.otherSchemes).includes(c.residentScheme ?? DEFAULT_DETECTOR_SETTINGS.concurrent_pension.residentScheme), {
        message: 'otherSchemes must not contain the residentScheme',
        path: ['otherSchemes'],
      })
      .optional(),
    shared_account: z.object({ minPersons: int(2, 'minPersons').optional() }).strict().optional(),
    amount_anomaly: z
      .object({
        threshold: z.number().gt(0, 'threshold must be greater than 0 (a robust z such as 5)').optional(),
        minHistory: int(3, 'minHistory').optional(),
        minPeers: int(3, 'minPeers').optional(),
        minRelativeSpread: z.number().gt(0, 'minRelativeSpread must be greater than 0').max(1, 'minRelativeSpread is a fraction of the median, at most 1').optional(),
        minSpreadFen: int(1, 'minSpreadFen').optional(),
        excludeItems: itemList.optional(),
      })
      .strict()
      .optional(),
    benford: z.object({ minRows: int(50, 'minRows').optional(), items: itemList.min(1, 'list at least one item code').optional() }).strict().optional(),
  })
  .strict();

/** Merges a validated `detectors` section over the defaults. Pure. */
export function resolveDetectorSettings(user: z.infer<typeof detectorSettingsSchema> | undefined): DetectorSettings {
  const d = DEFAULT_DETECTOR_SETTINGS;
  const c = user?.concurrent_pension ?? {};
  const a = user?.amount_anomaly ?? {};
  const b = user?.benford ?? {};
  return {
    concurrent_pension: { residentScheme: c.residentScheme ?? d.concurrent_pension.residentScheme, otherSchemes: [...(c.otherSchemes ?? d.concurrent_pension.otherSchemes)] },
    shared_account: { minPersons: user?.shared_account?.minPersons ?? d.shared_account.minPersons },
    amount_anomaly: {
      threshold: a.threshold ?? d.amount_anomaly.threshold,
      minHistory: a.minHistory ?? d.amount_anomaly.minHistory,
      minPeers: a.minPeers ?? d.amount_anomaly.minPeers,
      minRelativeSpread: a.minRelativeSpread ?? d.amount_anomaly.minRelativeSpread,
      minSpreadFen: a.minSpreadFen ?? d.amount_anomaly.minSpreadFen,
      excludeItems: [...(a.excludeItems ?? d.amount_anomaly.excludeItems)],
    },
    benford: { minRows: b.minRows ?? d.benford.minRows, items: [...(b.items ?? d.benford.items)] },
  };
}
