/**
 * The nightly schedule (issue 7): 02:00 Asia/Shanghai whatever the machine's zone, catch-up of missed
 * business dates oldest first, no rerun of a succeeded date, SIGTERM stops cleanly with exit 0.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, createNightlyTask, latestDueDate, missedDates } from '../src/jobs/schedule.ts';
import { createTestDb, type TestDb } from './helpers/engines.ts';
import { cli, cliUntil, generate } from './helpers/pipeline.ts';
import type { GenerateResult } from '../sample-data/lib/generator.ts';

describe('schedule arithmetic', () => {
  it('fires next at 02:00 Asia/Shanghai on a machine running in UTC', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'UTC';
    try {
      expect(new Date(Date.UTC(2024, 0, 1)).getTimezoneOffset()).toBe(0);
      const task = createNightlyTask('0 2 * * *', 'Asia/Shanghai', async () => {});
      const next = task.getNextRuns(2);
      void task.destroy();
      const shanghai = (d: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
      expect(next.map(shanghai)).toEqual(['02:00', '02:00']);
      expect(next.map((d) => d.getUTCHours())).toEqual([18, 18]);
      expect(next[1]!.getTime() - next[0]!.getTime()).toBe(86_400_000);
      expect(next[0]!.getTime()).toBeGreaterThan(Date.now());
      expect(next[0]!.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it.each([
    ['2026-11-29T17:59:00Z', '2026-11-29'],
    ['2026-11-29T18:00:00Z', '2026-11-30'],
    ['2026-11-30T03:00:00Z', '2026-11-30'],
  ])('at %s the latest due business date is %s', (now, date) => {
    expect(latestDueDate('0 2 * * *', 'Asia/Shanghai', new Date(now))).toBe(date);
  });

  it.each([
    [null, '2026-11-30', 7, [], ['2026-11-30']],
    ['2026-11-26', '2026-11-30', 7, [], ['2026-11-27', '2026-11-28', '2026-11-29', '2026-11-30']],
    ['2026-11-26', '2026-11-30', 2, [], ['2026-11-29', '2026-11-30']],
    ['2026-11-30', '2026-11-30', 7, [], []],
    ['2026-11-26', '2026-11-30', 7, ['2026-11-28'], ['2026-11-27', '2026-11-29', '2026-11-30']],
    ['2024-02-27', '2024-03-01', 7, [], ['2024-02-28', '2024-02-29', '2024-03-01']],
  ] as const)('after %s with %s due (max %d, done %j) catches up %j', (last, due, max, done, want) => {
    expect(missedDates(last, due, max, new Set(done))).toEqual(want);
  });

  it('adds days across month and year ends', () => {
    expect([addDays('2024-12-31', 1), addDays('2024-03-01', -1), addDays('2023-03-01', -1)]).toEqual(['2025-01-01', '2024-02-29', '2023-02-28']);
  });
});

describe('fundguard schedule and SIGTERM (CLI, SQLite)', () => {
  let t: TestDb;
  let gen: GenerateResult;
  beforeAll(async () => {
    t = await createTestDb('sqlite');
    gen = await generate(t.dir, 200, 12, 31);
  });
  afterAll(async () => t?.cleanup());
  const runs = () => cli(['status', '--db', t.target, '--limit', '50']).stdout.trim().split('\n').slice(1).map((l) => l.split('\t')).reverse();

  it('catches up missed business dates oldest first and never reruns a succeeded date', () => {
    const due = latestDueDate('0 2 * * *', 'Asia/Shanghai', new Date())!;
    const lastDone = addDays(due, -3);
    const first = cli(['run', '--inbox', gen.inboxDir, '--db', t.target, '--out', path.join(t.dir, 'out'), '--as-of', lastDone]);
    expect(first.status, first.stderr).toBe(0);
    const s = cli(['schedule', '--once', '--inbox', gen.inboxDir, '--db', t.target, '--out', path.join(t.dir, 'out')]);
    expect(s.status, s.stderr).toBe(0);
    expect(runs().map((r) => [r[1], r[2]])).toEqual([
      [lastDone, 'succeeded'], [addDays(due, -2), 'succeeded'], [addDays(due, -1), 'succeeded'], [due, 'succeeded'],
    ]);
    const again = cli(['schedule', '--once', '--inbox', gen.inboxDir, '--db', t.target, '--out', path.join(t.dir, 'out')], { FUNDGUARD_LOG_LEVEL: 'info' });
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`no missed business date to catch up (latest due ${due})`); // it said nothing
    expect(runs()).toHaveLength(4);
    expect(fs.existsSync(path.join(t.dir, 'out', due, 'summary.html'))).toBe(true);
  });

  // Found by a fresh-user trial: catch-up tried dates that could no longer run (an earlier date than a failed run
  // that had read extracts) and logged them as failures; `--once` exited 0 even when its runs failed.
  it('does not catch up a date before a run that read extracts (it says so); --once exits 1 when a run failed', () => {
    const due = latestDueDate('0 2 * * *', 'Asia/Shanghai', new Date())!;
    const db = path.join(t.dir, 'gaps.db');
    const out = path.join(t.dir, 'out-gaps');
    // The first run reads every file but the last month's; a failed run three days later reads that one.
    const inbox = path.join(t.dir, 'inbox-gaps');
    fs.cpSync(gen.inboxDir, inbox, { recursive: true });
    const months = fs.readdirSync(path.join(inbox, 'payments')).sort();
    const held = path.join(t.dir, months.at(-1)!);
    fs.renameSync(path.join(inbox, 'payments', months.at(-1)!), held);
    expect(cli(['run', '--inbox', inbox, '--db', db, '--out', out, '--as-of', addDays(due, -4)]).status).toBe(0);
    fs.renameSync(held, path.join(inbox, 'payments', months.at(-1)!));
    // The run fails at its reports: its date's folder is taken by a plain file.
    const broken = path.join(t.dir, 'out-broken');
    fs.mkdirSync(broken);
    for (const d of [addDays(due, -1), due]) fs.writeFileSync(path.join(broken, d), '');
    const failed = cli(['run', '--inbox', inbox, '--db', db, '--out', broken, '--as-of', addDays(due, -1)]);
    expect(failed.status).toBe(1);
    const s = cli(['schedule', '--once', '--inbox', inbox, '--db', db, '--out', out]);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).toContain(`not catching up ${addDays(due, -3)}, ${addDays(due, -2)}: run 2 for ${addDays(due, -1)} already read extracts into this store`);
    expect(s.stderr).not.toMatch(/failed/);
    const rows = cli(['status', '--db', db]).stdout.trim().split('\n').slice(1).map((l) => l.split('\t')).reverse();
    // The failed run reached the detectors: status says how they computed (it was empty for a failed run).
    expect(rows.map((r) => [r[1], r[2], r[5]])).toEqual([
      [addDays(due, -4), 'succeeded', 'full (no previous run)'], [addDays(due, -1), 'failed', 'incremental since run 1'],
      [addDays(due, -1), 'succeeded', 'full (the previous run 2 failed)'], [due, 'succeeded', 'incremental since run 3'],
    ]);
    // A store whose run fails: --once exits 1.
    const bad = cli(['schedule', '--once', '--inbox', inbox, '--db', path.join(t.dir, 'fails.db'), '--out', broken]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`run for ${due} failed`);
    expect(bad.stderr).toMatch(new RegExp(`^fundguard: run for ${due} failed: `, 'm')); // the README's one line for exit 1
    // Dates beyond schedule.catchUpDays are named, not dropped unsaid.
    const settingsFile = path.join(t.dir, 'two-days.json');
    fs.writeFileSync(settingsFile, JSON.stringify({ schedule: { catchUpDays: 2 } }));
    const few = path.join(t.dir, 'few.db');
    expect(cli(['run', '--inbox', inbox, '--db', few, '--out', out, '--as-of', addDays(due, -5)]).status).toBe(0);
    const f = cli(['schedule', '--once', '--inbox', inbox, '--db', few, '--out', out, '--settings', settingsFile]);
    expect(f.status, f.stderr).toBe(0);
    expect(f.stderr).toContain(`not catching up ${addDays(due, -4)}..${addDays(due, -2)} (3 dates): the catch-up takes the latest 2 missed date(s) only (settings schedule.catchUpDays)`);
    expect(cli(['status', '--db', few]).stdout.trim().split('\n').slice(1).map((l) => l.split('\t')[1]).reverse()).toEqual([addDays(due, -5), addDays(due, -1), due]);
  });

  // Found by a fresh-user trial: a date that failed in the middle of a catch-up was lost — the later dates ran,
  // read the extracts, and the failed one could never be redone.
  it('stops the catch-up at a date that fails, so that date is redone by the next catch-up before the later ones', () => {
    const due = latestDueDate('0 2 * * *', 'Asia/Shanghai', new Date())!;
    const db = path.join(t.dir, 'stop-at-failure.db');
    const out = path.join(t.dir, 'out-stop');
    expect(cli(['run', '--inbox', gen.inboxDir, '--db', db, '--out', out, '--as-of', addDays(due, -3)]).status).toBe(0);
    const blocker = path.join(out, addDays(due, -2));
    fs.writeFileSync(blocker, ''); // that date's report folder cannot be made: its run fails at the reports
    const first = cli(['schedule', '--once', '--inbox', gen.inboxDir, '--db', db, '--out', out]);
    expect(first.status).toBe(1);
    expect(first.stderr).toMatch(new RegExp(`^fundguard: run for ${addDays(due, -2)} failed: `, 'm'));
    expect(first.stderr).toContain(`catch-up stopped at ${addDays(due, -2)} (failed): ${addDays(due, -1)}, ${due} not run, so that ${addDays(due, -2)} can still be redone`);
    const statuses = () => cli(['status', '--db', db]).stdout.trim().split('\n').slice(1).map((l) => l.split('\t')).reverse().map((r) => [r[1], r[2]]);
    expect(statuses()).toEqual([[addDays(due, -3), 'succeeded'], [addDays(due, -2), 'failed']]);
    fs.rmSync(blocker);
    const second = cli(['schedule', '--once', '--inbox', gen.inboxDir, '--db', db, '--out', out]);
    expect(second.status, second.stderr).toBe(0);
    expect(statuses()).toEqual([
      [addDays(due, -3), 'succeeded'], [addDays(due, -2), 'failed'], [addDays(due, -2), 'succeeded'], [addDays(due, -1), 'succeeded'], [due, 'succeeded'],
    ]);
  });

  /** A run on a new store `db`, sent SIGTERM while paused at `point` (test hook); it must exit 0 saying it stopped. Returns its stderr. */
  async function runStoppedAt(point: string, db: string, out: string): Promise<string> {
    const p = cliUntil(['run', '--inbox', gen.inboxDir, '--db', db, '--out', path.join(t.dir, out), '--as-of', '2025-01-31'], `PAUSED ${point}`, {
      FUNDGUARD_TEST_PAUSE_AT: point, FUNDGUARD_TEST_PAUSE_MS: '1500',
    });
    expect(await p.reached).toBe(true);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const stderr = p.output().stderr;
    expect(stderr).toMatch(/stopped by a signal/);
    return stderr;
  }

  it('SIGTERM during the detectors finishes the detector in progress, then stops: abandoned, exit 0', async () => {
    const db = path.join(t.dir, 'term-detect.db');
    const stderr = await runStoppedAt('detect', db, 'o4');
    expect(stderr.match(/PAUSED detect/g)).toHaveLength(1); // the next detector never started
    expect(cli(['status', '--db', db]).stdout.trim().split('\n')[1]!.split('\t')[2]).toBe('abandoned');
  });

  it('SIGTERM finishes the step in progress, records the run abandoned and exits 0', async () => {
    const db = path.join(t.dir, 'term.db');
    await runStoppedAt('ingest', db, 'o2');
    const st = cli(['status', '--db', db]).stdout.trim().split('\n')[1]!.split('\t');
    expect(st[2]).toBe('abandoned');
    expect(st[5]).toBe(''); // stopped while ingesting: the detectors never ran
    const next = cli(['run', '--inbox', gen.inboxDir, '--db', db, '--out', path.join(t.dir, 'o2'), '--as-of', '2025-01-31']);
    expect(next.status, next.stderr).toBe(0);
    // The file in progress was committed (the step finished); the rest is ingested by the next run.
    const m = / (\d+) new file\(s\) ingested .*, (\d+) already known/.exec(next.stdout)!;
    expect(Number(m[2])).toBeGreaterThanOrEqual(1);
    expect(Number(m[1]) + Number(m[2])).toBe(gen.summary.files.length);
    const clean = path.join(t.dir, 'clean.db');
    expect(cli(['run', '--inbox', gen.inboxDir, '--db', clean, '--out', path.join(t.dir, 'o3'), '--as-of', '2025-01-31']).status).toBe(0);
    const exp = (d: string) => {
      const f = path.join(t.dir, `${path.basename(d)}.csv`);
      expect(cli(['cases', 'export', '--db', d, '--out', f]).status).toBe(0);
      return fs.readFileSync(f, 'utf8');
    };
    expect(exp(db)).toBe(exp(clean));
  });
});
