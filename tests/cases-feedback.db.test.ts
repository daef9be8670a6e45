import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/db/connection.ts';
import { importFeedback, readWorklist } from '../src/cases/feedback.ts';
import { recordRepayment, transitionCase } from '../src/cases/actions.ts';
import { recoveredOf } from '../src/cases/ledger.ts';
import { ID_A, ID_B, ID_C, addPayments, caseRow, countRows, ctxAt, eventsOf, findingFor, freshStore, nightly, tempDir, writeWorklist, type WorklistRow } from './cases-helpers.ts';

const ctx = ctxAt();
const opts = { now: ctx.now, today: ctx.today };

let store: Store;
let dir: string;

/** Three cases: 1 (ID_A, ¥9,000.00), 2 (ID_B, ¥7,501.50), 3 (ID_C, ¥3,000.00). */
beforeEach(async () => {
  store = (await freshStore()).store;
  dir = tempDir();
  const a = await addPayments(store, ['2025-03', '2025-04', '2025-05'].map((period) => ({ id: ID_A, period, fen: 300_000 })));
  const b = await addPayments(store, ['2025-04', '2025-05', '2025-06'].map((period) => ({ id: ID_B, period, fen: 250_050 })));
  const c = await addPayments(store, [{ id: ID_C, period: '2025-05', fen: 300_000 }]);
  await nightly(store, [await findingFor(store, ID_A, a), await findingFor(store, ID_B, b), await findingFor(store, ID_C, c)]);
});
afterEach(async () => {
  await store.close();
});

async function worklist(rows: WorklistRow[], name = 'wl.xlsx'): Promise<string> {
  const file = path.join(dir, name);
  await writeWorklist(file, rows);
  return file;
}

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

describe('reading a work list', () => {
  it('parses outcome labels, yuan amounts, channels, text and date cells; ignores rows without feedback', async () => {
    const file = await worklist([
      { caseId: 1, outcome: '已发追回通知' },
      { caseId: 2 },
      { caseId: 3, amount: '1,234.56', channel: '继承人退还', date: new Date(Date.UTC(2025, 6, 9)) },
      { caseId: '4', amount: 0.1, channel: 'offset', date: '2025/7/1' },
    ]);
    const w = await readWorklist(file);
    expect(w.problems).toEqual([]);
    expect([w.sheet, w.rowsRead, w.ignored]).toEqual(['工作清单', 4, 1]);
    expect(w.rows.map((r) => [r.line, r.caseId, r.outcome, r.amountFen, r.channel, r.date])).toEqual([
      [2, 1, 'notice_sent', null, null, null],
      [4, 3, null, 123_456, 'heir_repayment', '2025-07-09'],
      [5, 4, null, 10, 'offset', '2025-07-01'],
    ]);
  });

  it.each([
    [{ caseId: 1, outcome: '已结案' }, '核查结果', 'unknown outcome "已结案"'],
    [{ caseId: 1, amount: 10.005, channel: '抵扣', date: '2025-07-01' }, '追回金额（元）', 'more than two decimals'],
    [{ caseId: 1, amount: -5, channel: '抵扣', date: '2025-07-01' }, '追回金额（元）', 'positive'],
    [{ caseId: 1, amount: 10, channel: '现金', date: '2025-07-01' }, '追回渠道', 'unknown channel "现金"'],
    [{ caseId: 1, amount: 10, channel: '抵扣', date: '2025-07-32' }, '追回日期', 'not a real calendar date'],
    [{ caseId: 1, amount: 10, channel: '抵扣' }, null, '追回日期 missing'],
    [{ caseId: 'abc', outcome: '核查中' }, 'case_id', 'expected a case number'],
  ] as const)('reports %o as a bad row', async (row, column, message) => {
    const w = await readWorklist(await worklist([row as WorklistRow]));
    expect(w.rows).toEqual([]);
    expect(w.problems).toHaveLength(1);
    expect(w.problems[0]).toMatchObject({ line: 2, column });
    expect(w.problems[0]!.message).toContain(message);
  });

  it('refuses a workbook that is not a work list', async () => {
    const file = path.join(dir, 'x.xlsx');
    const ExcelJS = (await import('exceljs')).default;
    const wb = new ExcelJS.Workbook();
    wb.addWorksheet('Sheet1').addRow(['id', 'status']);
    await wb.xlsx.writeFile(file);
    const r = await importFeedback(store.db, { file, by: '王芳', ...opts });
    expect(r.status).toBe('rejected');
    expect(r.problems[0]!.message).toContain('not a work list');
  });
});

describe('importing feedback', () => {
  it('applies every row as events and ledger entries, with who, approver, file and line', async () => {
    const file = await worklist(good);
    const r = await importFeedback(store.db, { file, by: '王芳', approvedBy: '李主任', ...opts });
    expect(r).toMatchObject({ status: 'applied', applied: 3, unchanged: 0, skipped: 0, problems: [] });
    expect((await caseRow(store, 1)).status).toBe('under_review');
    expect((await caseRow(store, 2)).status).toBe('false_positive');
    expect(await recoveredOf(store.db, 3)).toBe(100_050);
    const fp = (await eventsOf(store, 2)).at(-1)!;
    expect(fp).toMatchObject({ kind: 'transition', actor: '王芳', approved_by: '李主任', reason: '本人到场认证，健在' });
    expect(fp.data).toMatchObject({ source: 'feedback', import_id: r.importId, file: 'wl.xlsx', line: 3 });
    const entry = await store.db.selectFrom('ledger_entry').selectAll().executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ kind: 'repayment', channel: 'bank_return', paid_on: '2025-07-03', actor: '王芳', source: 'feedback' });
    expect(Number(entry.import_id)).toBe(r.importId);
  });

  it('a file with one bad row applies nothing and reports that row', async () => {
    const before = await snapshot();
    const file = await worklist([...good, { caseId: 1, outcome: '核销' }]); // written_off is illegal for case 1
    const r = await importFeedback(store.db, { file, by: '王芳', approvedBy: '李主任', ...opts });
    expect(r.status).toBe('rejected');
    // Rows apply in order inside the transaction: row 2 made case 1 under_review before row 5 was checked.
    expect(r.problems).toEqual([{ line: 5, caseId: 1, column: null, message: expect.stringContaining('under_review → written_off is not allowed') }]);
    expect(await snapshot()).toEqual(before);
  });

  it('reports every bad row, format and lifecycle alike, and applies nothing', async () => {
    const before = await snapshot();
    const file = await worklist([
      { caseId: 1, outcome: '已发追回通知' }, // new → notice_sent: illegal
      { caseId: 2, outcome: '误报（非本人或未死亡）' }, // no approver given
      { caseId: 3, amount: 50, channel: '抵扣', date: '2099-01-01' }, // future
      { caseId: 99, outcome: '核查中' }, // unknown case
      { caseId: 3, amount: 'x', channel: '抵扣', date: '2025-07-01' }, // not a number
      { caseId: 3, outcome: '核查中' }, // fine on its own
    ]);
    const r = await importFeedback(store.db, { file, by: '王芳', ...opts });
    expect(r.status).toBe('rejected');
    expect(r.problems.map((p) => [p.line, p.caseId])).toEqual([[2, 1], [3, 2], [4, 3], [5, 99], [6, 3]]);
    expect(r.problems.map((p) => p.message)).toEqual([
      expect.stringContaining('new → notice_sent is not allowed'),
      expect.stringContaining('--approved-by'),
      expect.stringContaining('in the future'),
      expect.stringContaining('no case 99'),
      expect.stringContaining('not a number'),
    ]);
    expect(await snapshot()).toEqual(before);
  });

  it('核实属实 on a new case records the review it implies, then the verification: two events by the importer', async () => {
    const file = await worklist([{ caseId: 1, outcome: '核实属实', note: '火化记录与身份证一致' }, { caseId: 2, outcome: '已暂停发放' }]);
    const rejected = await importFeedback(store.db, { file, by: '王芳', ...opts });
    // Only the review is implied: new → suspended still needs the case verified first.
    expect(rejected.problems).toEqual([{ line: 3, caseId: 2, column: null, message: expect.stringContaining('new → suspended is not allowed') }]);
    const r = await importFeedback(store.db, { file: await worklist([{ caseId: 1, outcome: '核实属实', note: '火化记录与身份证一致' }], 'wl2.xlsx'), by: '王芳', ...opts });
    expect(r).toMatchObject({ status: 'applied', applied: 1, problems: [] });
    expect((await caseRow(store, 1)).status).toBe('verified');
    const events = (await eventsOf(store, 1)).filter((e) => e.kind === 'transition');
    expect(events.map((e) => [e.from_status, e.to_status, e.actor, e.reason])).toEqual([
      ['new', 'under_review', '王芳', '火化记录与身份证一致 (review implied by 核实属实)'],
      ['under_review', 'verified', '王芳', '火化记录与身份证一致'],
    ]);
    expect(events.map((e) => e.data)).toEqual([expect.objectContaining({ source: 'feedback', file: 'wl2.xlsx', line: 2 }), expect.objectContaining({ source: 'feedback', file: 'wl2.xlsx', line: 2 })]);
    // The same file again: nothing new.
    const again = await importFeedback(store.db, { file: path.join(dir, 'wl2.xlsx'), by: '王芳', ...opts });
    expect(again.status).toBe('nothing_new');
    // Without a note, each reason names the file and line once.
    await importFeedback(store.db, { file: await worklist([{ caseId: 3, outcome: '核实属实' }], 'wl3.xlsx'), by: '王芳', ...opts });
    expect((await eventsOf(store, 3)).filter((e) => e.kind === 'transition').map((e) => e.reason)).toEqual([
      'work list wl3.xlsx line 2: review implied by 核实属实',
      'work list wl3.xlsx line 2: 核实属实',
    ]);
  });

  it('importing the same file again changes nothing; a copy with one more row applies only that row', async () => {
    const file = await worklist(good);
    await importFeedback(store.db, { file, by: '王芳', approvedBy: '李主任', ...opts });
    const after = await snapshot();
    const again = await importFeedback(store.db, { file, by: '王芳', approvedBy: '李主任', ...opts });
    expect(again).toMatchObject({ status: 'nothing_new', applied: 0, skipped: 3, importId: null, problems: [] });
    expect(await snapshot()).toEqual(after);
    // Meanwhile case 1 moved on by the CLI; the old row "核查中" is not re-applied (and not an error).
    await transitionCase(store.db, { caseId: 1, to: 'verified', by: '赵强', reason: '核实' }, ctx);
    const copy = await worklist([...good, { caseId: 1, note: '已联系家属' }], 'wl-copy.xlsx');
    const r = await importFeedback(store.db, { file: copy, by: '赵强', ...opts });
    expect(r).toMatchObject({ status: 'applied', applied: 1, skipped: 3 });
    expect((await eventsOf(store, 1)).at(-1)).toMatchObject({ kind: 'note', reason: '已联系家属', actor: '赵强' });
    expect(await recoveredOf(store.db, 3)).toBe(100_050);
  });

  it('a notice with a repayment that settles the case ends recovered; 已全额追回 with the last repayment too', async () => {
    for (const id of [1, 2]) for (const to of ['under_review', 'verified']) await transitionCase(store.db, { caseId: id, to, by: '王芳', reason: 'r' }, ctx);
    await transitionCase(store.db, { caseId: 2, to: 'notice_sent', by: '王芳', reason: 'r' }, ctx);
    await recordRepayment(store.db, { caseId: 2, amountFen: 500_000, channel: 'heir_repayment', date: '2025-07-01', by: '王芳' }, ctx);
    const file = await worklist([
      { caseId: 1, outcome: '已发追回通知', amount: 9000, channel: '继承人退还', date: '2025-08-01' },
      { caseId: 2, outcome: '已全额追回', amount: 2501.5, channel: '银行退回', date: '2025-08-02' },
    ]);
    const r = await importFeedback(store.db, { file, by: '王芳', ...opts });
    expect(r).toMatchObject({ status: 'applied', applied: 2, problems: [] });
    expect((await caseRow(store, 1)).status).toBe('recovered');
    expect((await caseRow(store, 2)).status).toBe('recovered');
    expect((await eventsOf(store, 1)).slice(-3).map((e) => `${e.kind}:${e.to_status}:${e.actor}`)).toEqual(['transition:notice_sent:王芳', 'repayment:notice_sent:王芳', 'transition:recovered:fundguard']);
  });

  it('refuses an approver who is the importer', async () => {
    const file = await worklist(good);
    await expect(importFeedback(store.db, { file, by: '王芳', approvedBy: '王芳', ...opts })).rejects.toMatchObject({ code: 'SAME_APPROVER' });
  });
});
