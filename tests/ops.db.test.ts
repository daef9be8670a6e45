/**
 * Unattended operation (issue 7): one run at a time across processes, crash safety under SIGKILL, run
 * history. Runs on every engine of tests/helpers/engines.ts (SQLite under `npm test`, PostgreSQL under
 * `npm run test:integration`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, ENGINES, type TestDb } from './helpers/engines.ts';
import { cli, cliUntil, generate } from './helpers/pipeline.ts';
import type { GenerateResult } from '../sample-data/lib/generator.ts';

describe.each(ENGINES)('one run at a time and crash safety (%s)', (engine) => {
  const dbs: TestDb[] = [];
  let gen: GenerateResult;
  let clean: string;
  let base: TestDb;
  const fresh = async () => {
    const t = await createTestDb(engine);
    dbs.push(t);
    return t;
  };
  const runArgs = (t: TestDb) => ['run', '--inbox', gen.inboxDir, '--db', t.target, '--out', path.join(t.dir, 'out'), '--as-of', '2025-06-30'];
  const exportOf = (t: TestDb): string => {
    const file = path.join(t.dir, `cases-${Date.now()}.csv`);
    const r = cli(['cases', 'export', '--db', t.target, '--out', file]);
    expect(r.status, r.stderr).toBe(0);
    return fs.readFileSync(file, 'utf8');
  };
  const statuses = (t: TestDb): string[] => cli(['status', '--db', t.target]).stdout.trim().split('\n').slice(1).map((l) => l.split('\t')[2]!).reverse();

  beforeAll(async () => {
    base = await fresh();
    gen = await generate(base.dir, 300, 14, 777);
    const r = cli(runArgs(base));
    expect(r.status, r.stderr).toBe(0);
    clean = exportOf(base);
    expect(clean.split('\r\n').length).toBeGreaterThan(3);
  });
  afterAll(async () => {
    for (const t of dbs) await t.cleanup();
  });

  it('a second run while one is running refuses cleanly with exit code 3; the cases equal a single run', async () => {
    const t = await fresh();
    const first = cliUntil(runArgs(t), 'PAUSED detect', { FUNDGUARD_TEST_PAUSE_AT: 'detect', FUNDGUARD_TEST_PAUSE_MS: '4000' });
    expect(await first.reached).toBe(true);
    const second = cli(runArgs(t));
    expect(second.status).toBe(3);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toMatch(/^fundguard: another run \(id 1, pid \d+ on .+\) is running on this database; not started/);
    expect(await first.exited).toBe(0);
    expect(exportOf(t)).toBe(clean);
    expect(statuses(t)).toEqual(['succeeded']);
  });

  it.each(['ingest', 'detect'])('after SIGKILL in the middle of %s the next run marks it abandoned and equals a clean run', async (point) => {
    const t = await fresh();
    const victim = cliUntil(runArgs(t), `PAUSED ${point}`, { FUNDGUARD_TEST_PAUSE_AT: point, FUNDGUARD_TEST_PAUSE_MS: '60000' });
    expect(await victim.reached).toBe(true);
    victim.child.kill('SIGKILL');
    await victim.exited;
    // Until the next run, the store still says running; status says its process is gone.
    const shown = cli(['status', '--db', t.target]).stdout.trim().split('\n')[1]!.split('\t');
    expect([shown[2], shown[6]]).toEqual(['running', `its process (pid ${victim.child.pid}) is gone: killed or the machine restarted; the next run records it abandoned`]);
    const next = cli(runArgs(t));
    expect(next.status, next.stderr).toBe(0);
    expect(statuses(t)).toEqual(['abandoned', 'succeeded']);
    expect(exportOf(t)).toBe(clean);
    // Every file is stored exactly once.
    const again = cli(runArgs(t));
    expect(again.stdout).toMatch(/ 0 new file\(s\) ingested/);
    expect(exportOf(t)).toBe(clean);
  });
});
