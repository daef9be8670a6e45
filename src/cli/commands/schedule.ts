/**
 * `fundguard schedule`: stays running and runs the job every night (settings `schedule.cron`, default
 * `0 2 * * *`, in the settings time zone, default Asia/Shanghai), catching up missed business dates on
 * start, oldest first. SIGTERM finishes the step in progress, records the run `abandoned`, and exits 0.
 * The catch-up, on start and at every fire, runs the missed dates oldest first and stops at the first that
 * does not succeed, so that date can still be redone. With `--once` it exits 1 when a run failed (printing
 * `fundguard: <reason>`; 3 when another run held the lock), so that cron or systemd sees it. A missed date
 * before the latest date whose run already read extracts is not caught up: it can no longer run
 * (EarlierDateError); nor is one beyond `schedule.catchUpDays` (the latest that many only). A warning names
 * each date left out.
 */
import type { Command } from 'commander';
import { loadSettings } from '../../config/settings.ts';
import { openStore } from '../../db/connection.ts';
import { createLogger } from '../../log.ts';
import { DB_HELP, dbTarget } from '../common.ts';
import { checkInbox, checkOutDir, describeRun, runOnce, stopSignal, type JobFlags } from './run.ts';

export function registerSchedule(program: Command): void {
  program
    .command('schedule')
    .description('run the job every night (default 02:00 Asia/Shanghai), catching up missed dates on start; SIGTERM stops cleanly')
    .requiredOption('--inbox <dir>', 'inbox folder with payments/ and deaths/<source>/')
    .option('--db <path>', DB_HELP)
    .option('--out <dir>', 'folder for the run folders', 'out')
    .option('--settings <file>', 'settings file (default fundguard.settings.json in the working directory when present)')
    .option('--once', 'catch up missed dates, then exit instead of waiting for the next fire time')
    .action(async (o: JobFlags & { once?: boolean }) => {
      const { EXIT_LOCKED, EarlierDateError, RunLockedError, RunStoppedError, latestKnownRun } = await import('../../jobs/nightly-run.ts');
      const { createNightlyTask, latestDueDate, missedDates, succeededDates } = await import('../../jobs/schedule.ts');
      const settings = loadSettings(o.settings);
      await checkInbox(o.inbox);
      checkOutDir(o.out);
      const logger = createLogger();
      const signal = stopSignal(logger);
      const store = await openStore(dbTarget(o.db));
      let busy: Promise<void> = Promise.resolve();
      /** The dates whose run failed in this process (with why), and the lock refusals, for `--once`'s exit. */
      const failures: string[] = [];
      let locked = 0;
      /** Runs one business date; says how it ended. */
      const runDate = async (asOf: string): Promise<'succeeded' | 'failed' | 'stopped' | 'locked' | 'refused' | 'skipped'> => {
        if (signal.aborted) return 'stopped';
        const done = await succeededDates(store.db);
        if (done.has(asOf)) {
          logger.info({ asOf }, `business date ${asOf} already succeeded; not rerun by the schedule`);
          return 'skipped';
        }
        try {
          const r = await runOnce(store, o, settings, logger, asOf, signal);
          process.stdout.write(describeRun(r, asOf));
          const broken = r.detectors.filter((d) => d.status === 'failed');
          if (!broken.length) return 'succeeded';
          failures.push(`run for ${asOf} failed: detector(s) ${broken.map((d) => d.id).join(', ')} failed`);
          return 'failed';
        } catch (e) {
          if (e instanceof RunStoppedError) return 'stopped';
          if (e instanceof RunLockedError) {
            locked++;
            logger.warn({ asOf }, e.message);
            return 'locked';
          }
          if (e instanceof EarlierDateError) {
            logger.warn({ asOf }, `business date ${asOf} not run: ${e.message}`);
            return 'refused';
          }
          failures.push(`run for ${asOf} failed: ${(e as Error).message}`);
          logger.error({ asOf, err: e }, `run for ${asOf} failed: ${(e as Error).message}`);
          return 'failed';
        }
      };
      /**
       * Runs the missed business dates up to `due`, oldest first, and stops at the first that does not succeed:
       * a later date's run reads the extracts, after which the earlier one could never be redone (a fresh-user
       * trial lost a failed date that way). On start, and at every fire of the schedule, so a night that failed
       * is tried again before the next one.
       */
      const catchUp = async (due: string | null): Promise<void> => {
        const done = await succeededDates(store.db);
        const last = [...done].sort().at(-1) ?? null;
        let missed = due ? missedDates(last, due, settings.schedule.catchUpDays, done) : [];
        // Dates beyond schedule.catchUpDays are left out: say which (a fresh-user trial saw them dropped unsaid).
        const beyond = due ? missedDates(last, due, Number.MAX_SAFE_INTEGER, done).filter((d) => !missed.includes(d)) : [];
        if (beyond.length) {
          logger.warn({ dates: beyond, catchUpDays: settings.schedule.catchUpDays }, `not catching up ${beyond.length === 1 ? beyond[0] : `${beyond[0]}..${beyond.at(-1)} (${beyond.length} dates)`}: the catch-up takes the latest ${settings.schedule.catchUpDays} missed date(s) only (settings schedule.catchUpDays)`);
        }
        // Dates before the latest one whose run already read extracts can no longer run (EarlierDateError).
        const known = await latestKnownRun(store.db);
        const gone = known ? missed.filter((d) => d < known.asOf) : [];
        if (gone.length) {
          logger.warn({ dates: gone, run: known!.id }, `not catching up ${gone.join(', ')}: run ${known!.id} for ${known!.asOf} already read extracts into this store, so an earlier date can no longer run`);
          missed = missed.filter((d) => !gone.includes(d));
        }
        if (missed.length) logger.info({ dates: missed }, `catching up ${missed.length} missed business date(s)`);
        else if (due) logger.info({ due }, `no missed business date to catch up (latest due ${due})`);
        for (const [i, d] of missed.entries()) {
          const end = await runDate(d);
          if (end === 'succeeded' || end === 'skipped' || end === 'refused') continue;
          const left = missed.slice(i + 1);
          if (left.length && end !== 'stopped') {
            logger.warn({ asOf: d, dates: left }, `catch-up stopped at ${d} (${end}): ${left.join(', ')} not run, so that ${d} can still be redone; the schedule tries again from ${d}`);
          }
          return;
        }
      };
      try {
        await catchUp(latestDueDate(settings.schedule.cron, settings.timeZone, new Date()));
        if (o.once || signal.aborted) {
          if (failures.length) {
            process.stderr.write(`fundguard: ${failures[0]}${failures.length > 1 ? ` (and ${failures.length - 1} more)` : ''}\n`);
            process.exitCode = 1;
          } else if (locked) process.exitCode = EXIT_LOCKED;
          return;
        }
        const task = createNightlyTask(settings.schedule.cron, settings.timeZone, (asOf) => (busy = busy.then(() => catchUp(asOf))));
        await task.start();
        logger.info({ next: task.getNextRun()?.toISOString(), cron: settings.schedule.cron, timeZone: settings.timeZone }, 'schedule started');
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        await task.stop();
        await busy;
      } finally {
        await store.close();
      }
    });
}
