/**
 * Writes the run folder `OUT/<as-of>/` and the run index `OUT/index.html` (ARCHITECTURE.md floor 2).
 * The data is read once ({@link loadRunData}); each output is a sink chosen by id (STYLE.md §10):
 *
 * | sink id | file | reader | personal data |
 * |---|---|---|---|
 * | `summary-html` | `summary.html` | auditors | masked |
 * | `findings-csv` | `findings.csv` | auditors | masked |
 * | `rejects-csv` | `rejects.csv` (written even when empty) | auditors | masked |
 * | `worklists-xlsx` | `worklists/<district_code>.xlsx` | investigators | full |
 * | `stop-requests-csv` | `worklists/stop-requests.csv` | operations (payment system) | full |
 * | `index-html` | `OUT/index.html` | auditors | none |
 *
 * Every sink is tried even when one fails (STYLE.md §8); a failure is reported after all ran. A re-run for
 * the same date rewrites the folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Settings } from '../config/settings.ts';
import type { DB } from '../db/schema.ts';
import { findingsCsv } from './findings-csv.ts';
import { indexHtml } from './index-html.ts';
import { rejectsCsv } from './rejects-csv.ts';
import { loadRunData, type DetectorOutcome } from './report-data.ts';
import type { ReportSink } from './sink.ts';
import { stopRequestsCsv } from './stop-requests-csv.ts';
import { summaryHtml } from './summary-html.ts';
import { worklistsXlsx } from './worklists-xlsx.ts';

export type { DetectorOutcome } from './report-data.ts';

/** The sinks, in the order they run (the index last: it links to the summary). Ids are unique. */
export const SINKS: readonly ReportSink[] = registry([findingsCsv, rejectsCsv, worklistsXlsx, stopRequestsCsv, summaryHtml, indexHtml]);

function registry(sinks: ReportSink[]): readonly ReportSink[] {
  const seen = new Set<string>();
  for (const s of sinks) {
    if (seen.has(s.id)) throw new Error(`duplicate report sink id "${s.id}"`);
    seen.add(s.id);
  }
  return Object.freeze(sinks);
}

export interface RunReportInput {
  db: Kysely<DB>;
  runId: number;
  /** Business date `YYYY-MM-DD`: the run folder's name. */
  asOf: string;
  /** ISO instant the run started. */
  startedAt: string;
  /** The output root `OUT/`. */
  outDir: string;
  settings: Settings;
  detectors: DetectorOutcome[];
  /** Sink ids to write (default: all of {@link SINKS}). */
  sinks?: readonly string[];
  /** When given, filled with the milliseconds spent reading the data (`load`) and in each sink (by id). */
  timings?: Record<string, number>;
}

/** Paths of the files written. */
export interface RunReportFiles {
  /** The run folder `OUT/<as-of>/`. */
  dir: string;
  summary: string;
  findings: string;
  rejects: string;
  /** `worklists/<district_code>.xlsx`, one per district with open cases. */
  worklists: string[];
  stopRequests: string;
  /** `OUT/index.html`. */
  index: string;
  /** Every file written, by sink id. */
  bySink: Record<string, string[]>;
}

/**
 * Writes the reports of a run.
 * @throws Error naming the sinks that failed (after every sink was tried), or an unknown sink id
 */
export async function writeRunReports(input: RunReportInput): Promise<RunReportFiles> {
  const chosen = input.sinks ? input.sinks.map((id) => SINKS.find((s) => s.id === id) ?? unknownSink(id)) : SINKS;
  const runDir = path.join(input.outDir, input.asOf);
  fs.mkdirSync(runDir, { recursive: true });
  let t = Date.now();
  const data = await loadRunData(input);
  if (input.timings) input.timings.load = Date.now() - t;
  const bySink: Record<string, string[]> = {};
  const failures: string[] = [];
  for (const sink of chosen) {
    t = Date.now();
    try {
      bySink[sink.id] = await sink.write(data, { runDir, outDir: input.outDir });
    } catch (e) {
      failures.push(`${sink.id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (input.timings) input.timings[sink.id] = Date.now() - t;
  }
  if (failures.length) throw new Error(`report(s) not written — ${failures.join('; ')}`);
  return {
    dir: runDir,
    summary: path.join(runDir, 'summary.html'),
    findings: path.join(runDir, 'findings.csv'),
    rejects: path.join(runDir, 'rejects.csv'),
    worklists: bySink['worklists-xlsx'] ?? [],
    stopRequests: path.join(runDir, 'worklists', 'stop-requests.csv'),
    index: path.join(input.outDir, 'index.html'),
    bySink,
  };
}

function unknownSink(id: string): never {
  throw new Error(`unknown report sink "${id}"; known: ${SINKS.map((s) => s.id).join(', ')}`);
}
