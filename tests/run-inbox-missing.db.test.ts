/**
 * A mistyped --inbox is refused before a run is recorded (fresh-user trial, issue 10): before the fix the
 * refusal was stored as a failed run, so the next night's run computed every detector in full instead of
 * incrementally.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, ENGINES, type TestDb } from './helpers/engines.ts';
import { generate, runJob } from './helpers/pipeline.ts';
import type { Store } from '../src/db/connection.ts';

describe.each(ENGINES)('a missing inbox on %s', (engine) => {
  let t: TestDb;
  let store: Store;
  let inbox: string;
  beforeAll(async () => {
    t = await createTestDb(engine);
    store = await t.open();
    inbox = (await generate(t.dir, 60, 3)).inboxDir;
  });
  afterAll(async () => {
    await store.close();
    await t.cleanup();
  });

  it('is refused without a run record, and the next run is still incremental', async () => {
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
