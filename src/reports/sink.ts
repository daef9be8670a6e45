/**
 * A report sink (STYLE.md §10): one small module per output file, chosen by id. Each sink renders the run's
 * {@link RunData} for one reader and decides what that reader may see (DOMAIN.md §6).
 */
import type { RunData } from './report-data.ts';

/** Where a sink writes. */
export interface SinkTarget {
  /** The run folder `OUT/<as-of>/`. */
  runDir: string;
  /** The output root `OUT/` (the run index lives there). */
  outDir: string;
}

export interface ReportSink {
  /** Stable id, e.g. `summary-html`. */
  readonly id: string;
  /** Who reads it: auditors get masked IDs and accounts; investigators and operations get them in full. */
  readonly audience: 'auditors' | 'investigators' | 'operations';
  /**
   * Writes the sink's file(s), each atomically.
   * @returns the paths written
   * @throws Error when a file cannot be written
   */
  write(data: RunData, target: SinkTarget): Promise<string[]>;
}
