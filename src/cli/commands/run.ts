/** `fundguard run`: the nightly job once (ingest → match → detect → cases → reports). */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { loadSettings, type Settings } from '../../config/settings.ts';
import { isIsoDate, todayIn, formatFen } from '../../calendar/values.ts';
import { openStore, type Store } from '../../db/connection.ts';
import { createLogger, type Logger } from '../../log.ts';
import type { RunResult } from '../../jobs/nightly-run.ts';
import { DB_HELP, UsageError, dbTarget } from '../common.ts';

/** Options shared by `run` and `schedule`. */
export interface JobFlags {
  inbox: string;
  db?: string;
  out: string;
  settings?: string;
}

/** One-paragraph human summary of a run, for stdout. */
export function describeRun(r: RunResult, asOf: string): string {
  const ingested = r.files.filter((f) => f.status === 'ingested');
  const rejected = r.files.filter((f) => f.status === 'rejected');
  const rows = ingested.reduce((s, f) => s + f.rowsRead, 0);
  const rej = ingested.reduce((s, f) => s + f.rowsRejected, 0);
  const out: string[] = [];
  out.push(`fundguard run ${r.runId} for ${asOf}: ${ingested.length} new file(s) ingested (${rows} rows read, ${rej} rejected), ${r.files.length - ingested.length - rejected.length} already known, ${rejected.length} rejected whole`);
  for (const f of rejected) out.push(`  rejected file ${f.path}: ${f.error}`);
  out.push(
    r.detection.mode === 'incremental'
      ? `detectors: incremental (what is new since run ${r.detection.sinceRun}; the other findings carried forward)`
      : `detectors: full computation (${r.detection.reason})`,
  );
  for (const d of r.detectors) {
    const c = r.cases[d.id];
    out.push(`  ${d.id}: ${d.status === 'failed' ? `FAILED (${d.error})` : `${d.findings} finding(s), ${formatFen(d.amountFen)} yuan${c ? `; cases opened ${c.opened}, updated ${c.updated}, unchanged ${c.unchanged}, follow-ups ${c.followUps}${c.notFound ? `, no longer found ${c.notFound}` : ''}` : ''}`}`);
  }
  out.push(`reports: ${r.reports.dir}${path.sep} (summary.html, findings.csv, rejects.csv; worklists/ for investigators) — all runs: ${path.join(path.dirname(r.reports.dir), "index.html")}`);
  return out.join('\n') + '\n';
}

/**
 * Refuses an `--out` that is not a folder this process can write (a file, a read-only folder) before the run
 * starts: the run would read the extracts and run the detectors, then fail at the reports — and a date whose
 * run read extracts makes every earlier date unable to run (fresh-user trial). A folder that does not exist
 * yet is checked through its nearest existing parent, and not created here (the reports create it).
 * @throws UsageError (exit 2)
 */
export function checkOutDir(out: string): void {
  const abs = path.resolve(out);
  let dir = abs;
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const problem = !fs.statSync(dir).isDirectory() ? (dir === abs ? 'not a folder' : `${dir} is not a folder`) : writable(dir) ? null : `${dir === abs ? 'it' : dir} cannot be written`;
  if (problem) throw new UsageError(`--out: ${abs} is not a folder this process can write (${problem}); not started`);
}

const writable = (dir: string): boolean => {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * Refuses a mistyped `--inbox` before the store is opened, which would create a new one (fresh-user trials:
 * `run` and `schedule` left an empty store behind, which `status` then took for a real one).
 * @throws UsageError (exit 2) when the inbox is not a directory
 */
export async function checkInbox(inbox: string): Promise<void> {
  const { listInbox } = await import('../../ingest/ingest.ts'); // loaded by the commands that run the job only
  try {
    listInbox(path.resolve(inbox));
  } catch (e) {
    throw new UsageError(`--inbox: ${(e as Error).message}`);
  }
}

/**
 * Runs the job once for `asOf` with a progress bar on a terminal (quiet otherwise).
 * @throws RunLockedError, RunStoppedError, or the run's failure
 */
export async function runOnce(store: Store, flags: JobFlags, settings: Settings, logger: Logger, asOf: string, signal?: AbortSignal): Promise<RunResult> {
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'ingest [{bar}] {value}/{total} files  {file}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : null;
  let started = false;
  const { runNightly } = await import('../../jobs/nightly-run.ts'); // loaded by the commands that run the job only
  try {
    return await runNightly({
      store, inbox: path.resolve(flags.inbox), outDir: path.resolve(flags.out), asOf, settings, logger, signal,
      onFile: bar
        ? (f, i, total) => {
            if (!started) {
              bar.start(total, 0, { file: '' });
              started = true;
            }
            bar.update(i, { file: f.path });
          }
        : undefined,
    });
  } finally {
    if (started) bar!.stop();
  }
}

/** An AbortSignal that fires on SIGTERM / SIGINT (the step in progress finishes, then the run stops). */
export function stopSignal(logger: Logger): AbortSignal {
  const ac = new AbortController();
  const stop = (sig: string) => () => {
    logger.warn({ signal: sig }, `${sig} received: finishing the step in progress, then stopping`);
    ac.abort();
  };
  process.once('SIGTERM', stop('SIGTERM'));
  process.once('SIGINT', stop('SIGINT'));
  return ac.signal;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('ingest new extracts from the inbox, run the detectors, update the cases and write the reports to OUT/<as-of>/')
    .requiredOption('--inbox <dir>', 'inbox folder with payments/ and deaths/<source>/')
    .option('--db <path>', DB_HELP)
    .option('--out <dir>', 'folder for the run folders', 'out')
    .option('--as-of <date>', 'business date YYYY-MM-DD (default: today in the settings time zone, Asia/Shanghai)')
    .option('--settings <file>', 'settings file (default fundguard.settings.json in the working directory when present)')
    .action(async (o: JobFlags & { asOf?: string }) => {
      const settings = loadSettings(o.settings);
      const asOf = o.asOf ?? todayIn(settings.timeZone);
      if (!isIsoDate(asOf)) throw new UsageError(`--as-of: got "${asOf}", expected a real date YYYY-MM-DD`);
      // A business date in the future would block every later night until that date (no earlier date may run
      // after it: EarlierDateError); it is a typo (fresh-user trial).
      const today = todayIn(settings.timeZone);
      if (asOf > today) throw new UsageError(`--as-of: ${asOf} is after today (${today} in ${settings.timeZone}); a business date cannot be in the future`);
      await checkInbox(o.inbox);
      checkOutDir(o.out);
      const logger = createLogger();
      const signal = stopSignal(logger);
      const store = await openStore(dbTarget(o.db));
      try {
        const r = await runOnce(store, o, settings, logger, asOf, signal);
        process.stdout.write(describeRun(r, asOf));
        if (r.detectors.some((d) => d.status === 'failed')) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}
