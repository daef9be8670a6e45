/**
 * The detector plug-in interface (STYLE.md §1, §2): a detector is one file exporting
 * `{ id, title, run(ctx) }` that yields findings; it reads the store through the query builder only.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings.ts';
import type { DB } from '../db/schema.ts';
import type { BenfordBatch } from './benford.ts';
import type { DetectorIncremental } from './scope.ts';

/** Confidence of a match — distinct from the status of a case (DOMAIN.md §5). */
export type Confidence = 'confirmed' | 'probable' | 'review';

/** One comparison that decided a finding (field, how it agreed, the values compared, where they came from). */
export interface Comparison {
  field: string;
  level: string;
  values: string[];
  sources?: string[];
}

/** Why a finding was made: comparisons, the facts used, and a one-line summary for people. */
export interface Evidence {
  why: string;
  comparisons: Comparison[];
  [key: string]: unknown;
}

/**
 * What a detector found about one case key in this run.
 * Amounts are integer fen; periods `YYYY-MM`, sorted and distinct.
 */
export interface Finding {
  detector: string;
  /**
   * Case key (ARCHITECTURE.md "recovery_case"): deceased_payment and concurrent_pension: the resident ID;
   * duplicate_payment: `ID|scheme|item|period`; shared_account: the bank account; amount_anomaly: `ID|period`.
   */
  caseKey: string;
  idNumber: string;
  name: string;
  districtCode: string;
  /** Scheme codes involved, ascending. */
  schemes: string[];
  periods: string[];
  amountFen: number;
  confidence: Confidence;
  evidence: Evidence;
  /**
   * The payment rows the amount counts (payment.id). One payment, one claim (DOMAIN.md §4): no payment is in
   * two findings of one run. A finding of amount 0 (a `review` lead: shared_account, amount_anomaly) counts
   * no payment; the payments it is about are listed in its evidence.
   */
  paymentIds: number[];
}

/** What every detector run receives. */
export interface DetectorContext {
  db: Kysely<DB>;
  runId: number;
  /** Business date `YYYY-MM-DD`. */
  asOf: string;
  settings: Settings;
  logger: Logger;
  /** What the detector reports for the run record: rows examined, and tables that are not cases. */
  stats: DetectorStats;
  /**
   * Payment ids already counted by a detector that ran earlier in this run (one payment, one claim —
   * DOMAIN.md §4): a detector must not count them again. Detectors run in registry order.
   */
  claimed: ReadonlySet<number>;
  /**
   * Set when the run detects incrementally (./scope.ts): what is new since the previous succeeded run and this
   * detector's findings of that run. A detector that uses it returns exactly the findings a full computation
   * would (recomputing what can have changed, carrying the rest forward); one that ignores it computes in full.
   */
  incremental?: DetectorIncremental;
}

/** Per-run figures a detector reports besides its findings (recorded in the run's stats). */
export interface DetectorStats {
  /** Payment rows in the detector's scope (what its queries looked at). */
  examined: number;
  /** amount_anomaly: the first-digit (Benford) test per batch — a table for the summary, not cases. */
  benford?: BenfordBatch[];
}

export interface Detector {
  /** Stable id, used in cases and exports: e.g. `deceased_payment`. */
  readonly id: string;
  readonly title: string;
  /**
   * True when the detector reads the person summaries (`payment_group_stats`, `account_person`;
   * src/db/summary-tables.ts): the run brings them up to date in a thread while the first detectors run
   * (refreshSummariesAhead).
   */
  readonly personSummaries?: boolean;
  run(ctx: DetectorContext): AsyncIterable<Finding>;
}
