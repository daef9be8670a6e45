import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/db/connection.ts';
import { importFeedback } from '../src/cases/feedback.ts';
import { recordRepayment, transitionCase } from '../src/cases/actions.ts';
import { ID_A, ID_B, ID_C, addPayments, caseRow, countRows, ctxAt, findingFor, freshStore, nightly, writeWorklist, type WorklistRow } from './cases-helpers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

let store: Store;
let dbFile: string;
let dir: string;

/** Three cases on disk: 1 (ID_A, ¥9,000.00), 2 (ID_B, ¥7,501.50), 3 (ID_C, ¥3,000.00). */
beforeEach(async () => {
  const s = await freshStore(true);
  store = s.store;
  dbFile = s.file;
  dir = s.dir;
  const a = await addPayments(store, ['2025-03', '2025-04', '2025-05'].map((period) => ({ id: ID_A, period, fen: 300_000 })));
  const b = await addPayments(store, ['2025-04', '2025-05', '2025-06'].map((period) => ({ id: ID_B, period, fen: 250_050 })));
  const c = await addPayments(store, [{ id: ID_C, period: '2025-05', fen: 300_000 }]);
  await nightly(store, [await findingFor(store, ID_A, a), await findingFor(store, ID_B, b), await findingFor(store, ID_C, c)]);
  await store.close();
});
afterEach(async () => {
  await store.close();
});

function cli(args: string[], env: Record<string, string> = {}) {
  return spawn(process.execPath, [path.join(root, 'bin', 'fundguard.js'), ...args, '--db', dbFile], { cwd: dir, env: { ...process.env, FUNDGUARD_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}
function finish(child: ReturnType<typeof cli>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}
const run = (...args: string[]) => finish(cli(args));

async function snapshot() {
  return {
    events: await store.db.selectFrom('case_event').selectAll().orderBy('id').execute(),
    ledger: await store.db.selectFrom('ledger_entry').selectAll().orderBy('id').execute(),
    cases: await store.db.selectFrom('recovery_case').selectAll().orderBy('id').execute(),
    imports: await countRows(store, 'feedback_import'),
    rows: await countRows(store, 'feedback_row'),
  };
}

const good: WorklistRow[] = [
  { caseId: 1, outcome: '核查中', note: '已调取火化记录' },
  { caseId: 2, outcome: '误报（非本人或未死亡）', note: '本人到场认证，健在' },
  { caseId: 3, amount: 1000.5, channel: '银行退回', date: '2025-07-03', note: '银行退回部分款项' },
];

describe('feedback import killed with SIGKILL', () => {
  it('leaves the case history intact; a re-run applies the file exactly once', async () => {
    const file = path.join(dir, 'wl.xlsx');
    await writeWorklist(file, good);
    store = await openStore(dbFile);
    const before = await snapshot();
    await store.close();

    const child = cli(['feedback', 'import', file, '--by', '王芳', '--approved-by', '李主任'], { FUNDGUARD_TEST_PAUSE_AFTER_ROWS: '2' });
    const done = finish(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the import never paused')), 30_000);
      child.stderr!.on('data', (d: Buffer) => {
        if (String(d).includes('paused after 2')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');

    store = await openStore(dbFile);
    expect(await snapshot()).toEqual(before);
    await store.close();

    const rerun = await run('feedback', 'import', file, '--by', '王芳', '--approved-by', '李主任');
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('3 applied');
    store = await openStore(dbFile);
    const third = await importFeedback(store.db, { file, by: '王芳', approvedBy: '李主任', ...ctxAt() });
    expect(third).toMatchObject({ status: 'nothing_new', skipped: 3 });
    const after = await snapshot();
    expect(after.events.slice(0, before.events.length)).toEqual(before.events);
    expect(after.events.length - before.events.length).toBe(3);
    expect(after.ledger).toHaveLength(1);
    expect([after.imports, after.rows]).toEqual([1, 3]);
    expect((await caseRow(store, 2)).status).toBe('false_positive');
  });

  it('lists bad rows on stderr and exits 1', async () => {
    const file = path.join(dir, 'bad.xlsx');
    await writeWorklist(file, [{ caseId: 1, outcome: '已暂停发放' }]);
    const r = await run('feedback', 'import', file, '--by', '王芳');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('line 2 (case 1): case 1: new → suspended is not allowed');
    expect(r.stderr).toContain('nothing was applied');
  });
});

describe('cases commands', () => {
  const refusals: [string[], number, string][] = [
    [['cases', 'transition', '1', '--to', 'verified', '--by', '王芳', '--reason', 'x'], 1, 'fundguard: case 1: new → verified is not allowed; from new the case can go to under_review or false_positive'],
    [['cases', 'transition', '9', '--to', 'under_review', '--by', '王芳', '--reason', 'x'], 1, 'fundguard: no case 9'],
    [['cases', 'transition', '1', '--to', 'done', '--by', '王芳', '--reason', 'x'], 2, 'fundguard: --to: unknown status "done"'],
    [['cases', 'repay', '1', '--amount', '12.345', '--channel', 'offset', '--date', '2025-07-01', '--by', '王芳'], 2, 'has 3 decimals; at most 2 (fen)'],
  ];

  it('refuse with a one-line reason: exit 1 for a refused change, 2 for a bad flag value', async () => {
    const results = await Promise.all(refusals.map(([args]) => run(...args)));
    expect(results.map((r) => r.code)).toEqual(refusals.map(([, code]) => code));
    results.forEach((r, i) => expect(r.stderr).toContain(refusals[i]![2]));
    store = await openStore(dbFile);
    expect((await caseRow(store, 1)).status).toBe('new');
    expect(await countRows(store, 'ledger_entry')).toBe(0);
  });

  it('list filters and shows the balance; show prints the person, the ledger and the history', async () => {
    store = await openStore(dbFile);
    await transitionCase(store.db, { caseId: 3, to: 'under_review', by: '王芳', reason: '核查' }, ctxAt());
    await recordRepayment(store.db, { caseId: 3, amountFen: 300_000, channel: 'bank_return', date: '2025-07-01', by: '王芳' }, ctxAt());
    // An extract without a pay-date column: the payment line says so (it printed "paid ?").
    await store.db.updateTable('payment').set({ paid_on: null }).where('id_number', '=', ID_C).execute();
    await store.close();
    const [list, show] = await Promise.all([run('cases', 'list', '--min-amount', '3000', '--status', 'new,under_review', '--as-of', '2025-09-10'), run('cases', 'show', '3')]);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]!.split('\t').slice(0, 3)).toEqual(['case_id', 'detector', 'status']);
    expect(lines.slice(1).map((l) => l.split('\t')).map((c) => [c[0], c[2], c[9], c[10], c[11]])).toEqual([
      ['1', 'new', '9000.00', '0.00', '9000.00'],
      ['2', 'new', '7501.50', '0.00', '7501.50'],
      ['3', 'under_review', '3000.00', '3000.00', '0.00'],
    ]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(ID_C);
    expect(show.stdout).toMatch(/#1 {2}2025-07-01 {2}repayment +3000\.00 {2}bank_return {2}by 王芳/);
    expect(show.stdout).toMatch(/transition {2}new → under_review {2}by 王芳 {2}— 核查/);
    expect(show.stdout).toMatch(/ {2}2025-05 {2}\S+ {2}\S+ +3000\.00 {2}paid \(no pay date in the extract\) {2}batch /);
  });
});
