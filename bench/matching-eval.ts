/**
 * Runs the matching evaluation end to end, as users get it: a labelled scenario (src/matching/eval/
 * scenario.ts) is written as CSV extracts into a temporary inbox, the nightly job (ingest → link → detectors
 * → cases → reports) runs on a temporary SQLite database, and the `deceased_payment` cases are scored
 * against the truth (src/matching/eval/score.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../src/config/settings.ts';
import { openStore } from '../src/db/connection.ts';
import { runNightly } from '../src/jobs/nightly-run.ts';
import { silentLogger } from '../src/log.ts';
import { linkDeaths, type LinkStats } from '../src/matching/link.ts';
import { generateScenario, writeScenario, type ScenarioOptions } from '../src/matching/eval/scenario.ts';
import { scoreCases, type EvalScore } from '../src/matching/eval/score.ts';

export interface EvalResult {
  score: EvalScore;
  link: LinkStats;
  rows: { payments: number; deathRecords: number };
  ms: { generate: number; run: number; link: number };
}

/**
 * Generates, runs and scores one scenario. Works in a fresh temporary folder, removed afterwards unless
 * `keep` names a folder to keep it in.
 */
export async function evaluateMatching(opts: ScenarioOptions & { keep?: string }): Promise<EvalResult> {
  const t0 = Date.now();
  const scenario = generateScenario(opts);
  const dir = opts.keep ? path.resolve(opts.keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-eval-'));
  fs.mkdirSync(dir, { recursive: true });
  const inbox = path.join(dir, 'inbox');
  writeScenario(scenario, inbox);
  const t1 = Date.now();
  const store = await openStore(path.join(dir, 'eval.db'));
  try {
    const settings = loadSettings(undefined, dir);
    await runNightly({ store, inbox, outDir: path.join(dir, 'out'), asOf: scenario.asOf, settings, logger: silentLogger });
    const t2 = Date.now();
    const link = await linkDeaths(store.db);
    const t3 = Date.now();
    const cases = await store.db.selectFrom('recovery_case').select(['id_number', 'confidence', 'evidence']).where('detector', '=', 'deceased_payment').execute();
    const scored = cases.map((c) => ({
      id_number: c.id_number, confidence: c.confidence,
      deathMonth: (JSON.parse(c.evidence) as { death?: { month?: string } }).death?.month ?? null,
    }));
    const payments = await store.db.selectFrom('payment').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const deaths = await store.db.selectFrom('death_record').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return {
      score: scoreCases(scenario.truth, scored),
      link: link.stats,
      rows: { payments: Number(payments.n), deathRecords: Number(deaths.n) },
      ms: { generate: t1 - t0, run: t2 - t1, link: t3 - t2 },
    };
  } finally {
    await store.close();
    if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
