/** `fundguard status`: recent runs. */
import type { Command } from 'commander';
import os from 'node:os';
import { openStore, processAlive } from '../../db/connection.ts';
import { DEFAULT_DB, UsageError, existingDbTarget } from '../common.ts';

/** Columns of `fundguard status`, one tab-separated line per run, newest first, after this header line. */
export const STATUS_COLUMNS = ['run_id', 'as_of', 'status', 'started_at', 'ended_at', 'detection', 'error'] as const;

/**
 * How a run's detectors computed, from its stats (`detection`, src/jobs/nightly-run.ts): `full (reason)` or
 * `incremental since run N`; empty for a run that did not get that far (running, failed before, abandoned)
 * or that a version without the field recorded.
 */
export function detectionOf(stats: string): string {
  let d: { mode?: unknown; reason?: unknown; since_run?: unknown } | undefined;
  try {
    d = (JSON.parse(stats) as { detection?: typeof d }).detection;
  } catch {
    return '';
  }
  if (d?.mode === 'full') return `full (${String(d.reason)})`;
  if (d?.mode === 'incremental') return `incremental since run ${String(d.since_run)}`;
  return '';
}

/**
 * The `error` column of a run row as printed: a `running` run whose process is gone (same host, pid no longer
 * alive: killed, or the machine restarted) says so; the store still calls it `running` until the next `run`
 * records it `abandoned` (src/db/sqlite.ts beginRun). A run on another host is taken at its word.
 */
export function statusNote(r: { status: string; host: string; pid: number; error: string | null }, host = os.hostname()): string {
  if (r.status === 'running' && r.host === host && !processAlive(Number(r.pid))) {
    return `its process (pid ${r.pid}) is gone: killed or the machine restarted; the next run records it abandoned`;
  }
  return r.error ?? '';
}

export function registerStatus(program: Command): void {
program
  .command('status')
  .description('print the recent runs')
  .option('--db <path>', `database (default ${DEFAULT_DB}, or FUNDGUARD_DB)`)
  .option('--limit <n>', 'how many runs', '10')
  .action(async (o: { db?: string; limit: string }) => {
    const limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: got "${o.limit}", expected a whole number of runs (1 or more)`);
    const store = await openStore(existingDbTarget(o.db));
    try {
      const runs = await store.db.selectFrom('run').selectAll().orderBy('id', 'desc').limit(limit).execute();
      if (runs.length === 0) {
        process.stdout.write('no runs yet\n');
        return;
      }
      process.stdout.write(`${STATUS_COLUMNS.join('\t')}\n`);
      for (const r of runs) {
        process.stdout.write(`${r.id}\t${r.as_of}\t${r.status}\t${r.started_at}\t${r.ended_at ?? ''}\t${detectionOf(r.stats)}\t${statusNote(r)}\n`);
      }
    } finally {
      await store.close();
    }
  });

}
