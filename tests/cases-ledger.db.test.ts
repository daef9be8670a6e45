import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/db/connection.ts';
import { parseYuan, recordRefund, recordRepayment, transitionCase, voidEntry } from '../src/cases/actions.ts';
import { CaseError } from '../src/cases/errors.ts';
import { EXPORT_HEADER, exportCasesCsv } from '../src/cases/export.ts';
import { balanceOf } from '../src/cases/ledger.ts';
import { ID_A, ID_B, addPayments, caseRow, countRows, ctxAt, eventsOf, findingFor, freshStore, nightly, tempDir } from './cases-helpers.ts';

let store: Store;
const ctx = ctxAt();
const A = 1; // ¥12,000.00 overpaid (4 × 3,000.00), periods 2025-03..2025-06
const B = 2; // ¥7,501.50 overpaid (3 × 2,500.50)

beforeEach(async () => {
  store = (await freshStore()).store;
  const a = await addPayments(store, ['2025-03', '2025-04', '2025-05', '2025-06'].map((period) => ({ id: ID_A, period, fen: 300_000 })));
  const b = await addPayments(store, ['2025-04', '2025-05', '2025-06'].map((period) => ({ id: ID_B, period, fen: 250_050 })));
  await nightly(store, [await findingFor(store, ID_A, a), await findingFor(store, ID_B, b)]);
});
afterEach(async () => {
  await store.close();
});

async function walkTo(caseId: number, statuses: string[]): Promise<void> {
  for (const to of statuses) await transitionCase(store.db, { caseId, to, by: '王芳', reason: `to ${to}` }, ctx);
}
const toNotice = ['under_review', 'verified', 'notice_sent'];

async function refused(p: Promise<unknown>): Promise<CaseError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(CaseError);
  return e as CaseError;
}

describe('balance', () => {
  it.each([
    ['new', 1_200_000, 0, { owedFen: 1_200_000, outstandingFen: 1_200_000, refundDueFen: 0 }],
    ['notice_sent', 1_200_000, 500_000, { owedFen: 1_200_000, outstandingFen: 700_000, refundDueFen: 0 }],
    ['recovered', 1_200_000, 1_500_000, { owedFen: 1_200_000, outstandingFen: -300_000, refundDueFen: 300_000 }],
    ['false_positive', 1_200_000, 0, { owedFen: 0, outstandingFen: 0, refundDueFen: 0 }],
    ['false_positive', 1_200_000, 100_000, { owedFen: 0, outstandingFen: -100_000, refundDueFen: 100_000 }],
    ['written_off', 1_200_000, 200_000, { owedFen: 1_200_000, outstandingFen: 1_000_000, refundDueFen: 0 }],
  ])('%s, overpaid %i fen, recovered %i fen', (status, overpaid, recovered, expected) => {
    expect(balanceOf(status, overpaid, recovered)).toEqual({ overpaidFen: overpaid, recoveredFen: recovered, ...expected });
  });
});

describe('repayments', () => {
  it.each([
    ['0', 'positive'],
    ['-5', 'positive'],
    ['12.345', '3 decimals'],
    ['abc', 'not a number'],
    ['', 'empty'],
  ])('amount %j is refused (%s)', (text, why) => {
    const e = (() => {
      try {
        parseYuan(text, '--amount');
        return null;
      } catch (x) {
        return x as CaseError;
      }
    })();
    expect(e?.code).toBe('BAD_AMOUNT');
    expect(e?.message).toContain(why);
  });

  it.each([['3456.70', 345_670], ['1,234.5', 123_450], ['¥0.01', 1]])('amount %j is %i fen', (text, fen) => {
    expect(parseYuan(text)).toBe(fen);
  });

  it.each([
    [{ channel: 'cash' }, 'BAD_CHANNEL', 'bank_return, heir_repayment, offset'],
    [{ date: '2025-13-01' }, 'BAD_DATE', 'real date'],
    [{ date: '2025/08/01' }, 'BAD_DATE', 'YYYY-MM-DD'],
    [{ date: '2025-09-02' }, 'BAD_DATE', 'future'],
    [{ date: '2025-02-28' }, 'BAD_DATE', 'first overpaid period'],
    [{ caseId: 77 }, 'CASE_NOT_FOUND', 'no case 77'],
    [{ amountFen: 0 }, 'BAD_AMOUNT', 'positive'],
    [{ by: ' ' }, 'BAD_ACTOR', '--by'],
  ] as const)('%o is refused with %s and nothing is recorded', async (patch, code, text) => {
    const e = await refused(recordRepayment(store.db, { caseId: A, amountFen: 100_000, channel: 'heir_repayment', date: '2025-08-01', by: '王芳', ...patch }, ctx));
    expect(e.code).toBe(code);
    expect(e.message).toContain(text);
    expect(await countRows(store, 'ledger_entry')).toBe(0);
  });

  it('outstanding = overpaid − recovered, and a verified case reaching zero becomes recovered by an automatic event', async () => {
    await walkTo(A, toNotice);
    const r1 = await recordRepayment(store.db, { caseId: A, amountFen: 450_000, channel: 'bank_return', date: '2025-07-15', by: '王芳' }, ctx);
    expect(r1.balance).toMatchObject({ recoveredFen: 450_000, outstandingFen: 750_000 });
    expect(r1.status).toBe('notice_sent');
    const r2 = await recordRepayment(store.db, { caseId: A, amountFen: 750_000, channel: 'heir_repayment', date: '2025-08-15', by: '赵强', reason: '继承人一次性退还' }, ctx);
    expect(r2).toMatchObject({ status: 'recovered', automatic: 'recovered', balance: { recoveredFen: 1_200_000, outstandingFen: 0 } });
    const ev = await eventsOf(store, A);
    expect(ev.at(-2)).toMatchObject({ kind: 'repayment', actor: '赵强', reason: '继承人一次性退还' });
    expect(ev.at(-2)!.data).toMatchObject({ amount_fen: 750_000, channel: 'heir_repayment', paid_on: '2025-08-15', recovered_fen: 1_200_000, outstanding_fen: 0 });
    expect(ev.at(-1)).toMatchObject({ kind: 'transition', from_status: 'notice_sent', to_status: 'recovered', actor: 'fundguard' });
  });

  it('a new case repaid in full stays new until it is verified, then becomes recovered automatically', async () => {
    const r = await recordRepayment(store.db, { caseId: B, amountFen: 750_150, channel: 'bank_return', date: '2025-07-01', by: '王芳' }, ctx);
    expect(r).toMatchObject({ status: 'new', automatic: null, balance: { outstandingFen: 0 } });
    await walkTo(B, ['under_review']);
    const t = await transitionCase(store.db, { caseId: B, to: 'verified', by: '王芳', reason: '核实' }, ctx);
    expect(t).toMatchObject({ from: 'under_review', to: 'verified', automatic: 'recovered' });
    expect((await caseRow(store, B)).status).toBe('recovered');
  });

  it('refuses a repayment on a false positive', async () => {
    await transitionCase(store.db, { caseId: A, to: 'false_positive', by: '王芳', approvedBy: '李主任', reason: '非本人' }, ctx);
    const e = await refused(recordRepayment(store.db, { caseId: A, amountFen: 1000, channel: 'offset', date: '2025-08-01', by: '王芳' }, ctx));
    expect(e.code).toBe('NOT_ALLOWED');
  });

  it('refuses the same repayment twice unless --again', async () => {
    const input = { caseId: A, amountFen: 300_000, channel: 'heir_repayment', date: '2025-08-01', by: '王芳' };
    const first = await recordRepayment(store.db, input, ctx);
    const e = await refused(recordRepayment(store.db, { ...input, by: '赵强' }, ctx));
    expect(e.code).toBe('DUPLICATE_REPAYMENT');
    expect(e.message).toContain(`entry ${first.entryId}`);
    const again = await recordRepayment(store.db, { ...input, again: true }, ctx);
    expect(again.balance.recoveredFen).toBe(600_000);
  });
});

describe('double recovery', () => {
  it('heirs repay in full, then the bank returns the deposits too: refund due, never hidden', async () => {
    await walkTo(A, toNotice);
    await recordRepayment(store.db, { caseId: A, amountFen: 1_200_000, channel: 'heir_repayment', date: '2025-07-10', by: '王芳' }, ctx);
    expect((await caseRow(store, A)).status).toBe('recovered');
    const r = await recordRepayment(store.db, { caseId: A, amountFen: 900_000, channel: 'bank_return', date: '2025-07-20', by: '赵强' }, ctx);
    expect(r.balance).toEqual({ overpaidFen: 1_200_000, owedFen: 1_200_000, recoveredFen: 2_100_000, outstandingFen: -900_000, refundDueFen: 900_000 });
    const due = (await eventsOf(store, A)).filter((e) => e.kind === 'refund_due');
    expect(due).toHaveLength(1);
    expect(due[0]!.reason).toContain('refund due 9000.00 yuan');
    expect(due[0]!.data).toMatchObject({ refund_due_fen: 900_000, recovered_fen: 2_100_000, owed_fen: 1_200_000 });

    const tooMuch = await refused(recordRefund(store.db, { caseId: A, amountFen: 900_001, date: '2025-08-01', by: '王芳', reason: '退还继承人' }, ctx));
    expect(tooMuch.code).toBe('BAD_AMOUNT');
    const refund = await recordRefund(store.db, { caseId: A, amountFen: 900_000, date: '2025-08-01', by: '王芳', reason: '退还继承人多缴款项' }, ctx);
    expect(refund.balance).toMatchObject({ recoveredFen: 1_200_000, outstandingFen: 0, refundDueFen: 0 });
    expect((await caseRow(store, A)).status).toBe('recovered');
  });

  it('an entry recorded in error is voided (once), the original stays in the ledger', async () => {
    const r = await recordRepayment(store.db, { caseId: A, amountFen: 200_000, channel: 'bank_return', date: '2025-07-20', by: '赵强' }, ctx);
    const v = await voidEntry(store.db, { caseId: A, entryId: r.entryId, by: '王芳', reason: '银行退回已由发放系统冲销，重复登记' }, ctx);
    expect(v.balance.recoveredFen).toBe(0);
    const entries = await store.db.selectFrom('ledger_entry').selectAll().orderBy('id').execute();
    expect(entries.map((e) => [e.kind, Number(e.amount_fen), e.voids_entry_id === null ? null : Number(e.voids_entry_id)])).toEqual([['repayment', 200_000, null], ['void', -200_000, r.entryId]]);
    expect((await refused(voidEntry(store.db, { caseId: A, entryId: r.entryId, by: '王芳', reason: 'again' }, ctx))).code).toBe('NOT_ALLOWED');
    expect((await refused(voidEntry(store.db, { caseId: B, entryId: r.entryId, by: '王芳', reason: 'wrong case' }, ctx))).message).toContain('has no ledger entry');
    // After a void the same repayment may be recorded again (it is no longer in the ledger).
    const again = await recordRepayment(store.db, { caseId: A, amountFen: 200_000, channel: 'bank_return', date: '2025-07-20', by: '赵强' }, ctx);
    expect(again.balance.recoveredFen).toBe(200_000);
  });
});

describe('export', () => {
  it('appends recovered and outstanding (yuan) after status', async () => {
    await walkTo(A, toNotice);
    await recordRepayment(store.db, { caseId: A, amountFen: 1_200_000, channel: 'heir_repayment', date: '2025-07-10', by: '王芳' }, ctx);
    await recordRepayment(store.db, { caseId: A, amountFen: 50_050, channel: 'bank_return', date: '2025-07-11', by: '王芳' }, ctx);
    await recordRepayment(store.db, { caseId: B, amountFen: 100_000, channel: 'offset', date: '2025-07-11', by: '王芳' }, ctx);
    const file = path.join(tempDir(), 'cases.csv');
    expect(await exportCasesCsv(store.db, file)).toBe(2);
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.replace(/^\ufeff/, '').split('\r\n');
    expect(lines[0]).toBe('case_id,detector,id_number,name,district_code,scheme,first_period,last_period,months,amount,confidence,status,recovered,outstanding');
    expect(EXPORT_HEADER.slice(0, 12).join(',')).toBe('case_id,detector,id_number,name,district_code,scheme,first_period,last_period,months,amount,confidence,status');
    const rows = lines.slice(1, 3).map((l) => l.split(','));
    const byId = new Map(rows.map((r) => [r[0], r]));
    expect(byId.get('1')!.slice(9)).toEqual(['12000.00', 'confirmed', 'recovered', '12500.50', '-500.50']);
    expect(byId.get('2')!.slice(9)).toEqual(['7501.50', 'confirmed', 'new', '1000.00', '6501.50']);
  });
});
