/**
 * The same product on both engines (issue 9): the end-to-end run on generated data gives byte-identical
 * case exports and findings on SQLite and PostgreSQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/engines.ts';
import { cli, csvRecords, generate } from '../helpers/pipeline.ts';

describe('SQLite and PostgreSQL give the same results', () => {
  const dbs: TestDb[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.cleanup();
  });

  it('byte-identical case exports and findings.csv through the CLI', async () => {
    const sqlite = await createTestDb('sqlite');
    const postgres = await createTestDb('postgres');
    dbs.push(sqlite, postgres);
    const gen = await generate(sqlite.dir, 800, 15, 4242);
    const out = (t: TestDb) => {
      const o = path.join(sqlite.dir, `out-${t.engine}`);
      const run = cli(['run', '--inbox', gen.inboxDir, '--db', t.target, '--out', o, '--as-of', '2025-12-31']);
      expect(run.status, run.stderr).toBe(0);
      const file = path.join(sqlite.dir, `cases-${t.engine}.csv`);
      const ex = cli(['cases', 'export', '--db', t.target, '--format', 'csv', '--out', file]);
      expect(ex.status, ex.stderr).toBe(0);
      return [fs.readFileSync(file), fs.readFileSync(path.join(o, '2025-12-31', 'findings.csv')), fs.readFileSync(path.join(o, '2025-12-31', 'rejects.csv'))];
    };
    const a = out(sqlite);
    const b = out(postgres);
    expect(csvRecords(a[0]!.toString('utf8')).length).toBeGreaterThan(10);
    expect(Buffer.compare(a[0]!, b[0]!)).toBe(0);
    expect(Buffer.compare(a[1]!, b[1]!)).toBe(0);
    expect(Buffer.compare(a[2]!, b[2]!)).toBe(0);
  });
});
