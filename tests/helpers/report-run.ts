/**
 * Runs the nightly job on the report scenario (tests/helpers/report-inbox.ts) against a temporary SQLite
 * database: business date 2025-06-30 with payments for 2025-01..2025-06, then 2025-07-31 with a second
 * extract for 2025-07 (so the trend and the run index have two dates).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../../src/config/settings.ts';
import { openStore, type Store } from '../../src/db/connection.ts';
import { engineTarget } from './engines.ts';
import { runNightly, type RunResult } from '../../src/jobs/nightly-run.ts';
import { createLogger } from '../../src/log.ts';
import { periodRange, writeDeaths, writePayments } from './report-inbox.ts';

export interface ScenarioRun {
  asOf: string;
  /** Periods stored after this run. */
  periods: string[];
  result: RunResult;
}

export interface Scenario {
  root: string;
  inbox: string;
  out: string;
  db: string;
  runs: ScenarioRun[];
}

/** Plan of the scenario: business dates and the periods each one's new extract brings. */
export const PLAN = [
  { asOf: '2025-06-30', file: '2025H1.csv', periods: periodRange('2025-01', '2025-06'), badRow: true },
  { asOf: '2025-07-31', file: '2025-07.csv', periods: ['2025-07'], badRow: false },
] as const;

/**
 * Runs the scenario in a fresh temporary folder.
 * @param upTo how many business dates of {@link PLAN} to run (default all)
 * @param beforeStep called with the open store before each business date's run (e.g. to adjudicate cases)
 */
export async function runScenario(upTo = PLAN.length, beforeStep?: (store: Store, step: number) => Promise<void>): Promise<Scenario> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-reports-'));
  const inbox = path.join(root, 'inbox');
  const out = path.join(root, 'out');
  const db = await engineTarget(root);
  writeDeaths(inbox);
  const settings = loadSettings(undefined, root);
  const logger = createLogger('silent');
  const store = await openStore(db);
  const runs: ScenarioRun[] = [];
  const stored: string[] = [];
  try {
    for (const [k, step] of PLAN.slice(0, upTo).entries()) {
      await beforeStep?.(store, k);
      writePayments(inbox, step.file, step.periods, { badRow: step.badRow });
      stored.push(...step.periods);
      const result = await runNightly({ store, inbox, outDir: out, asOf: step.asOf, settings, logger });
      runs.push({ asOf: step.asOf, periods: [...stored], result });
    }
  } finally {
    await store.close();
  }
  return { root, inbox, out, db, runs };
}
