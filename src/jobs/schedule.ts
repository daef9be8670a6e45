/**
 * Unattended nightly operation: `fundguard schedule` runs the job with node-cron at `0 2 * * *` in
 * Asia/Shanghai by default (settings `schedule.cron`, `timeZone`), whatever the machine's time zone.
 *
 * - The business date of a scheduled run is the calendar date of the fire time in the settings zone.
 * - A business date that already has a `succeeded` run is not run again by the schedule (a manual
 *   `fundguard run` may redo it).
 * - On start, missed business dates are caught up oldest first: every date after the last succeeded one up
 *   to the latest date whose fire time has passed, at most `schedule.catchUpDays` of them.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { todayIn } from '../calendar/values.ts';

/** The date `n` days after `date` (`YYYY-MM-DD`, pure calendar arithmetic, no time zone). */
export function addDays(date: string, n: number): string {
  const t = Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) + n * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/**
 * The latest business date whose scheduled fire time has passed at `now`: the zone's calendar date of the
 * most recent fire at or before `now` (searched minute by minute over the last 8 days), or null when the
 * expression fires less often than weekly.
 */
export function latestDueDate(expression: string, timeZone: string, now: Date): string | null {
  const task = cron.createTask(expression, () => {}, { timezone: timeZone });
  try {
    let t = Math.floor(now.getTime() / 60_000) * 60_000;
    for (let i = 0; i < 60 * 24 * 8; i++, t -= 60_000) {
      if (task.match(new Date(t))) return todayIn(timeZone, new Date(t));
    }
    return null;
  } finally {
    void task.destroy();
  }
}

/**
 * Business dates to catch up on start, oldest first.
 * @param lastSucceeded the latest business date with a succeeded run, or null when none
 * @param latestDue from {@link latestDueDate}
 * @param maxDays at most this many dates (the most recent ones)
 */
export function missedDates(lastSucceeded: string | null, latestDue: string, maxDays: number, succeeded: ReadonlySet<string> = new Set()): string[] {
  if (maxDays <= 0) return [];
  const out: string[] = [];
  let d = lastSucceeded === null ? latestDue : addDays(lastSucceeded, 1);
  while (d <= latestDue) {
    if (!succeeded.has(d)) out.push(d);
    d = addDays(d, 1);
  }
  return out.slice(-maxDays);
}

/** Business dates that already have a succeeded run. */
export async function succeededDates(db: Kysely<DB>): Promise<Set<string>> {
  const rows = await db.selectFrom('run').select('as_of').where('status', '=', 'succeeded').execute();
  return new Set(rows.map((r) => r.as_of));
}

/**
 * Creates the (stopped) cron task that calls `job(asOf)` at each fire time with the business date.
 * @returns the task (call `start()`); `getNextRun()` tells the next fire time
 */
export function createNightlyTask(expression: string, timeZone: string, job: (asOf: string) => Promise<void>): ScheduledTask {
  if (!cron.validate(expression)) throw new Error(`schedule: got "${expression}", not a valid cron expression`);
  return cron.createTask(expression, async (ctx) => job(todayIn(timeZone, ctx.date)), { timezone: timeZone, noOverlap: true, name: 'fundguard-nightly' });
}
