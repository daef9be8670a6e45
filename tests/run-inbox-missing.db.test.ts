/**
 * Runs refused before a run is recorded (fresh-user trials):
 * - a mistyped --inbox (issue 10): before the fix the refusal was stored as a failed run, so the next night's
 *   run computed every detector in full instead of incrementally;
 * - a business date earlier than that of a run which already read extracts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, ENGINES, type TestDb } from './helpers/engines.ts';
import { cli, generate, runJob } from './helpers/pipeline.ts';
import type { Engine, Store } from '../src/db/connection.ts';

/** A fresh store of the engine and a small generated inbox for the enclosing describe (set in beforeAll). */
function storeWithInbox(engine: Engine): { t: TestDb; store: Store; inbox: string } {
  const ctx = {} as { t: TestDb; store: Store; inbox: string };
  beforeAll(async () => {
    ctx.t = await createTestDb(engine);
    ctx.store = await ctx.t.open();
    ctx.inbox = (await generate(ctx.t.dir, 60, 3)).inboxDir;
  });
  afterAll(async () => {
    await ctx.store.close();
    await ctx.t.cleanup();
  });
  return ctx;
}

describe.each(ENGINES)('a missing inbox on %s', (engine) => {
  const ctx = storeWithInbox(engine);

  it('is refused without a run record, and the next run is still incremental', async () => {
    const { t, store, inbox } = ctx;
    const first = await runJob(store, inbox, path.join(t.dir, 'out'), '2024-03-31');
    const missing = path.join(t.dir, 'no-such-inbox');
    expect(fs.existsSync(missing)).toBe(false);
    await expect(runJob(store, missing, path.join(t.dir, 'out'), '2024-04-01')).rejects.toThrow(`inbox ${missing} is not a directory`);
    const runs = await store.db.selectFrom('run').select(['id', 'status']).orderBy('id').execute();
    expect(runs.map((r) => [Number(r.id), r.status])).toEqual([[first.runId, 'succeeded']]);

    const next = await runJob(store, inbox, path.join(t.dir, 'out'), '2024-04-01');
    const run = await store.db.selectFrom('run').select(['status', 'stats']).where('id', '=', next.runId).executeTakeFirstOrThrow();
    expect(run.status).toBe('succeeded');
    expect(JSON.parse(run.stats).detection).toEqual({ mode: 'incremental', since_run: first.runId });
  });
});

describe.each(ENGINES)('a business date earlier than a run that read extracts, on %s', (engine) => {
  const ctx = storeWithInbox(engine);

  // Found by a fresh-user trial: a re-run for an earlier date counted a death after that date and the
  // payments after it, and rewrote that date's report folder with them.
  it('is refused without a run record and leaves that date\'s reports alone; the same date and later ones still run', async () => {
    const { t, store, inbox } = ctx;
    const out = path.join(t.dir, 'out');
    const first = await runJob(store, inbox, out, '2024-03-31');
    const summary = path.join(out, '2024-03-31', 'summary.html');
    const before = fs.readFileSync(summary, 'utf8');
    // Refused because run 1 read the extracts, even when it did not succeed.
    await store.db.updateTable('run').set({ status: 'failed' }).where('id', '=', first.runId).execute();
    await expect(runJob(store, inbox, out, '2024-03-30')).rejects.toThrow(
      `business date 2024-03-30 is before 2024-03-31: run ${first.runId} for 2024-03-31 already read extracts into this store, so a run for 2024-03-30 now would count what was known only later; not started, nothing changed. To redo 2024-03-30, run it on a copy of the store saved before run ${first.runId}`,
    );
    await store.db.updateTable('run').set({ status: 'succeeded' }).where('id', '=', first.runId).execute();
    expect(fs.existsSync(path.join(out, '2024-03-30'))).toBe(false);
    expect(fs.readFileSync(summary, 'utf8')).toBe(before);
    expect((await store.db.selectFrom('run').select('id').execute()).map((r) => Number(r.id))).toEqual([first.runId]);
    // A later run that stopped before reading anything does not count: it knew nothing more.
    await store.db.insertInto('run').values({ as_of: '2024-05-31', started_at: '2024-06-01T00:00:00.000Z', ended_at: '2024-06-01T00:00:01.000Z', status: 'abandoned', host: 'h', pid: 1, stats: '{}', error: 'stopped' }).execute();
    const again = await runJob(store, inbox, out, '2024-03-31');
    expect(again.files.every((f) => f.status !== 'ingested')).toBe(true);
    // A later run that succeeded counts, even with nothing new to read.
    const later = await runJob(store, inbox, out, '2024-04-30');
    await expect(runJob(store, inbox, out, '2024-04-01')).rejects.toThrow(`run ${later.runId} for 2024-04-30 succeeded on this store, so a run for 2024-04-01`);
    const cmd = cli(['run', '--inbox', inbox, '--db', t.target, '--out', path.join(t.dir, 'never'), '--as-of', '2024-04-01']);
    expect(fs.existsSync(path.join(t.dir, 'never'))).toBe(false); // refused before anything is written
    expect([cmd.status, cmd.stderr.trim()]).toEqual([2, expect.stringMatching(/^fundguard: business date 2024-04-01 is before 2024-04-30: .*; not started, nothing changed\. To redo 2024-04-01, run it on a copy of the store saved before run \d+$/)]);
  });
});
