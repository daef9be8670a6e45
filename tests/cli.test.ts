/**
 * Through the CLI, as the bureau runs it (issue 2): results do not depend on the machine's time zone, and a
 * second run on the same inbox is a no-op.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from './helpers/engines.ts';
import { cli, csvRecords, generate } from './helpers/pipeline.ts';
import type { GenerateResult } from '../sample-data/lib/generator.ts';
import { describeRun } from '../src/cli/commands/run.ts';
import type { RunResult } from '../src/jobs/nightly-run.ts';

describe('time zone independence (CLI)', () => {
  let t: TestDb;
  let gen: GenerateResult;
  beforeAll(async () => {
    t = await createTestDb('sqlite');
    gen = await generate(t.dir, 300, 14, 99, '2024-01', 'messy'); // CSV in three encodings and XLSX with date cells
  });
  afterAll(async () => t?.cleanup());

  it('gives byte-identical exports and findings under Asia/Shanghai and America/New_York', () => {
    const outputs = ['Asia/Shanghai', 'America/New_York'].map((tz) => {
      const db = path.join(t.dir, `${tz.replace('/', '_')}.db`);
      const out = path.join(t.dir, `out-${tz.replace('/', '_')}`);
      const run = cli(['run', '--inbox', gen.inboxDir, '--db', db, '--out', out, '--as-of', '2025-06-30'], { TZ: tz });
      expect(run.status, run.stderr).toBe(0);
      const exp = path.join(t.dir, `cases-${tz.replace('/', '_')}.csv`);
      const ex = cli(['cases', 'export', '--db', db, '--format', 'csv', '--out', exp], { TZ: tz });
      expect(ex.status, ex.stderr).toBe(0);
      return [fs.readFileSync(exp, 'utf8'), fs.readFileSync(path.join(out, '2025-06-30', 'findings.csv'), 'utf8'), fs.readFileSync(path.join(out, '2025-06-30', 'rejects.csv'), 'utf8')];
    });
    expect(csvRecords(outputs[0]![0]!).length).toBeGreaterThan(0);
    expect(gen.summary.files.some((f) => f.file.endsWith('.xlsx'))).toBe(true);
    expect(outputs[0]![2]).toContain('ID_PRECISION_LOST');
    expect(outputs[1]).toEqual(outputs[0]);
  });

  it('runs twice from the CLI: the second exits 0 and changes nothing', () => {
    const db = path.join(t.dir, 'twice.db');
    const args = ['run', '--inbox', gen.inboxDir, '--db', db, '--out', path.join(t.dir, 'o2'), '--as-of', '2025-06-30'];
    const first = cli(args);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^detectors: full computation \(no previous run\)$/m);
    const a = cli(['cases', 'export', '--db', db, '--out', path.join(t.dir, 'a.csv')]);
    const second = cli(args);
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/0 new file\(s\) ingested/);
    expect(second.stdout).toMatch(/^detectors: incremental \(what is new since run 1; the other findings carried forward\)$/m);
    const b = cli(['cases', 'export', '--db', db, '--out', path.join(t.dir, 'b.csv')]);
    expect([a.status, b.status]).toEqual([0, 0]);
    expect(fs.readFileSync(path.join(t.dir, 'b.csv'), 'utf8')).toBe(fs.readFileSync(path.join(t.dir, 'a.csv'), 'utf8'));
    // `status` names its columns and says how each run's detectors computed (fresh-user trials).
    const status = cli(['status', '--db', db]);
    expect(status.status, status.stderr).toBe(0);
    const [head, ...rows] = status.stdout.replace(/\n$/, '').split('\n').map((l) => l.split('\t'));
    expect(head).toEqual(['run_id', 'as_of', 'status', 'started_at', 'ended_at', 'detection', 'error']);
    expect(rows.map((r) => [r[0], r[1], r[2], r[5], r[6]])).toEqual([
      ['2', '2025-06-30', 'succeeded', 'incremental since run 1', ''],
      ['1', '2025-06-30', 'succeeded', 'full (no previous run)', ''],
    ]);
  });

  it('status, cases and feedback refuse a database file that does not exist instead of creating it', () => {
    // Found by a new user: a mistyped --db made an empty store and printed "no runs yet".
    const missing = path.join(t.dir, 'no-such-dir', 'typo.db');
    fs.writeFileSync(path.join(t.dir, 'x.xlsx'), ''); // the work list exists: the database is what is missing
    for (const args of [['status'], ['cases', 'list'], ['cases', 'export', '--out', path.join(t.dir, 'x.csv')], ['feedback', 'import', path.join(t.dir, 'x.xlsx'), '--by', '王芳']]) {
      const r = cli([...args, '--db', missing]);
      expect([args[0], r.status, r.stdout]).toEqual([args[0], 2, '']);
      expect(r.stderr).toContain(`no fundguard database at ${missing}: \`fundguard run --db ${missing} …\` creates it`);
    }
    expect(fs.existsSync(path.dirname(missing))).toBe(false);
    // A directory or an empty file is no store either (the empty file is left as it was).
    const empty = path.join(t.dir, 'empty.db');
    fs.writeFileSync(empty, '');
    for (const target of [t.dir, empty]) {
      const r = cli(['status', '--db', target]);
      expect([r.status, r.stdout]).toEqual([2, '']);
      expect(r.stderr).toContain(`no fundguard database at ${target}:`);
    }
    expect(fs.statSync(empty).size).toBe(0);
  });

  it('run and schedule refuse a mistyped --inbox before creating the store; run refuses a date that does not exist or is in the future', () => {
    // Found by new users: `run` and `schedule` with `--inbox typo --db new.db` left a new store behind; a
    // business date in the future was accepted, and then no earlier night could run until that date.
    const db = path.join(t.dir, 'never.db');
    const typo = path.join(t.dir, 'no-such-inbox');
    for (const cmd of [['run', '--as-of', '2025-06-30'], ['schedule', '--once']]) {
      const r = cli([...cmd, '--inbox', typo, '--db', db, '--out', path.join(t.dir, 'o5')]);
      expect([cmd[0], r.status, r.stderr.trim()]).toEqual([cmd[0], 2, `fundguard: --inbox: inbox ${typo} is not a directory`]);
    }
    expect(fs.existsSync(db)).toBe(false);
    const d = cli(['run', '--inbox', gen.inboxDir, '--db', db, '--out', path.join(t.dir, 'o5'), '--as-of', '2025-02-30']);
    expect([d.status, d.stderr.trim()]).toEqual([2, 'fundguard: --as-of: got "2025-02-30", expected a real date YYYY-MM-DD']);
    const future = cli(['run', '--inbox', gen.inboxDir, '--db', db, '--out', path.join(t.dir, 'o5'), '--as-of', '2099-12-31']);
    expect([future.status, future.stderr.trim()]).toEqual([2, expect.stringMatching(/^fundguard: --as-of: 2099-12-31 is after today \(\d{4}-\d{2}-\d{2} in Asia\/Shanghai\); a business date cannot be in the future$/)]);
    expect(fs.existsSync(db)).toBe(false);
  });

  it('refuses another application\'s SQLite file, a file that is not SQLite, and an --out that is a file, changing nothing', () => {
    // Found by a new user: `status --db other.db` wrote fundguard's schema into another application's database;
    // a run with a bad --out read the extracts and ran the detectors before failing at the reports.
    const other = path.join(t.dir, 'other.db');
    const raw = new Database(other);
    raw.exec('CREATE TABLE foo (x INTEGER); INSERT INTO foo VALUES (1)');
    raw.close();
    const text = path.join(t.dir, 'notes.db');
    fs.writeFileSync(text, 'not a database');
    // Another application's database holding only a view (no table), and one marked only by its user_version.
    const view = path.join(t.dir, 'view.db');
    const v = new Database(view);
    v.exec('CREATE VIEW v AS SELECT 1 AS x');
    v.close();
    const marked = path.join(t.dir, 'marked.db');
    const m = new Database(marked);
    m.exec('CREATE TABLE x (y); DROP TABLE x; PRAGMA user_version = 7');
    m.close();
    const bytes = (f: string) => fs.readFileSync(f).toString('base64');
    const files = [other, text, view, marked];
    const before = files.map(bytes);
    for (const [file, why] of [
      [other, 'is a SQLite database of another application (table foo), not a fundguard store'],
      [text, 'is not a SQLite database file'],
      [view, 'is a SQLite database of another application (view v), not a fundguard store'],
      [marked, 'is a SQLite database of another application (application_id 0, user_version 7), not a fundguard store'],
    ] as const) {
      for (const args of [['status'], ['cases', 'list'], ['run', '--inbox', gen.inboxDir, '--out', path.join(t.dir, 'o6'), '--as-of', '2025-06-30']]) {
        const r = cli([...args, '--db', file]);
        expect([args[0], r.status, r.stderr.trim()]).toEqual([args[0], 2, `fundguard: --db: ${file} ${why}; nothing was changed`]);
      }
    }
    expect(files.map(bytes)).toEqual(before);
    // A SQLite database with nothing in it is no store for a reading command; `run` may make it one.
    const blank = path.join(t.dir, 'blank.db');
    const b = new Database(blank);
    b.exec('CREATE TABLE x (y); DROP TABLE x');
    b.close();
    const st = cli(['status', '--db', blank]);
    expect([st.status, st.stderr]).toEqual([2, expect.stringContaining(`no fundguard database at ${blank}:`)]);
    expect(cli(['run', '--inbox', gen.inboxDir, '--db', blank, '--out', path.join(t.dir, 'o7'), '--as-of', '2025-06-30']).status).toBe(0);
    expect(cli(['status', '--db', blank]).status).toBe(0);
    const folder = cli(['run', '--inbox', gen.inboxDir, '--db', t.dir, '--out', path.join(t.dir, 'o6'), '--as-of', '2025-06-30']);
    expect([folder.status, folder.stderr.trim()]).toEqual([2, `fundguard: --db: ${t.dir} is a folder, not a database file; nothing was changed`]);
    const outFile = path.join(t.dir, 'out-is-a-file');
    fs.writeFileSync(outFile, '');
    const db = path.join(t.dir, 'out-check.db');
    const r = cli(['run', '--inbox', gen.inboxDir, '--db', db, '--out', outFile, '--as-of', '2025-06-30']);
    expect([r.status, r.stderr.trim()]).toEqual([2, `fundguard: --out: ${outFile} is not a folder this process can write (not a folder); not started`]);
    const under = cli(['run', '--inbox', gen.inboxDir, '--db', db, '--out', path.join(outFile, 'reports'), '--as-of', '2025-06-30']);
    expect([under.status, under.stderr.trim()]).toEqual([2, `fundguard: --out: ${path.join(outFile, 'reports')} is not a folder this process can write (${outFile} is not a folder); not started`]);
    expect(fs.existsSync(db)).toBe(false);
  });

  it('dates a case by the business date of the run that opened it, not the machine clock', () => {
    // Found by a new user: a run for an earlier business date showed negative days open.
    const db = path.join(t.dir, 'opened.db');
    expect(cli(['run', '--inbox', gen.inboxDir, '--db', db, '--out', path.join(t.dir, 'o4'), '--as-of', '2025-06-30']).status).toBe(0);
    const list = cli(['cases', 'list', '--db', db, '--as-of', '2025-07-10']);
    expect(list.status, list.stderr).toBe(0);
    const [head, ...rows] = list.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.length).toBeGreaterThan(0);
    const days = head!.indexOf('days_open');
    expect(new Set(rows.map((r) => r[days]))).toEqual(new Set(['10']));
  });
});

describe('the run summary on stdout', () => {
  it('counts the cases no longer found (they went to 0.00 unsaid)', () => {
    const r = {
      runId: 4, files: [], deathFacts: 0, detection: { mode: 'incremental', sinceRun: 3 },
      detectors: [{ id: 'deceased_payment', title: 'x', status: 'succeeded', examined: 1, findings: 2, amountFen: 1000, ms: 1 }],
      cases: { deceased_payment: { opened: 0, updated: 1, unchanged: 1, followUps: 0, notFound: 3, amountChanged: 0, autoRecovered: 0 } },
      reports: { dir: '/o/2025-06-30' },
    } as unknown as RunResult;
    expect(describeRun(r, '2025-06-30').split('\n')[2]).toBe('  deceased_payment: 2 finding(s), 10.00 yuan; cases opened 0, updated 1, unchanged 1, follow-ups 0, no longer found 3');
  });
});
