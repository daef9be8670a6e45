import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/db/connection.ts';
import { assignCase, recordRepayment, transitionCase } from '../src/cases/actions.ts';
import { recoveredOf } from '../src/cases/ledger.ts';
import { loadSettings } from '../src/config/settings.ts';
import { runNightly } from '../src/jobs/nightly-run.ts';
import { upsertCases, type CarriedFindings } from '../src/cases/upsert.ts';
import type { Finding } from '../src/detectors/types.ts';
import { silentLogger } from '../src/log.ts';
import { ID_A, ID_B, addPayments, caseRow, countRows, ctxAt, eventsOf, findingFor, freshStore, nightly, residentId, tempDir } from './cases-helpers.ts';

let store: Store;
const ctx = ctxAt();
const months = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `2025-${String(from + i).padStart(2, '0')}`);

beforeEach(async () => {
  store = (await freshStore()).store;
});
afterEach(async () => {
  await store.close();
});

async function paymentIdsOf(id: string): Promise<number[]> {
  return (await store.db.selectFrom('payment').select('id').where('id_number', '=', id).orderBy('id').execute()).map((r) => Number(r.id));
}

async function walk(caseId: number, statuses: string[]): Promise<void> {
  for (const to of statuses) await transitionCase(store.db, { caseId, to, by: '王芳', reason: `to ${to}`, approvedBy: to === 'written_off' || to === 'false_positive' ? '李主任' : null }, ctx);
}

describe('open cases follow the extracts, people keep their work', () => {
  it('new overpaid months extend an open case with an event; a re-run changes nothing', async () => {
    await addPayments(store, months(3, 5).map((period) => ({ id: ID_A, period, fen: 300_000 })));
    expect(await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))])).toMatchObject({ opened: 1 });
    await addPayments(store, months(6, 7).map((period) => ({ id: ID_A, period, fen: 300_000 })));
    const f = await findingFor(store, ID_A, await paymentIdsOf(ID_A));
    expect(await nightly(store, [f])).toMatchObject({ opened: 0, updated: 1 });
    const c = await caseRow(store, 1);
    expect([c.first_period, c.last_period, c.months, c.amount_fen]).toEqual(['2025-03', '2025-07', 5, 1_500_000]);
    const ev = (await eventsOf(store, 1)).at(-1)!;
    expect(ev).toMatchObject({ kind: 'updated', actor: 'fundguard' });
    expect(ev.reason).toContain('new overpaid months');
    expect(ev.data).toMatchObject({ months: [3, 5], amount_fen: [900_000, 1_500_000], last_period: ['2025-05', '2025-07'] });
    const events = await countRows(store, 'case_event');
    expect(await nightly(store, [f])).toMatchObject({ opened: 0, updated: 0, unchanged: 1 });
    expect(await countRows(store, 'case_event')).toBe(events);
  });

  it('an update says why: a reversal lowers the amount, another change names the fields', async () => {
    await addPayments(store, months(3, 5).map((period) => ({ id: ID_A, period, fen: 300_000 })));
    await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    await addPayments(store, [{ id: ID_A, period: '2025-05', fen: -300_000 }]);
    expect(await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))])).toMatchObject({ updated: 1 });
    expect((await eventsOf(store, 1)).at(-1)).toMatchObject({
      kind: 'updated',
      reason: 'overpaid lowered from 9000.00 yuan: now 2 month(s) 2025-03..2025-04, 6000.00 yuan (reversal or correction in a later extract)',
      data: { amount_fen: [900_000, 600_000], months: [3, 2], last_period: ['2025-05', '2025-04'] },
    });
    const f = await findingFor(store, ID_A, await paymentIdsOf(ID_A));
    expect(await nightly(store, [{ ...f, confidence: 'probable' }])).toMatchObject({ updated: 1 });
    expect((await eventsOf(store, 1)).at(-1)).toMatchObject({ kind: 'updated', reason: 'finding changed (confidence)', data: { confidence: ['confirmed', 'probable'] } });
    // A higher amount for the same months (a correction) says so; other fields by name, not column (fresh-user
    // trial: "finding changed (amount_fen)").
    expect(await nightly(store, [{ ...f, confidence: 'probable', amountFen: f.amountFen + 100 }])).toMatchObject({ updated: 1 });
    expect((await eventsOf(store, 1)).at(-1)).toMatchObject({
      kind: 'updated',
      reason: 'overpaid raised from 6000.00 yuan: now 2 month(s) 2025-03..2025-04, 6001.00 yuan (correction in a later extract)',
      data: { amount_fen: [600_000, 600_100] },
    });
    expect(await nightly(store, [{ ...f, confidence: 'probable', amountFen: f.amountFen + 100, districtCode: '360103' }])).toMatchObject({ updated: 1 });
    expect((await eventsOf(store, 1)).at(-1)).toMatchObject({ kind: 'updated', reason: 'finding changed (district)', data: { district_code: ['360102', '360103'] } });
  });

  it("a re-run after an investigator's change keeps status, assignee, ledger and history", async () => {
    await addPayments(store, months(3, 5).map((period) => ({ id: ID_A, period, fen: 300_000 })));
    await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    await assignCase(store.db, { caseId: 1, to: '赵强', by: '李主任' }, ctx);
    await walk(1, ['under_review', 'verified', 'notice_sent']);
    await recordRepayment(store.db, { caseId: 1, amountFen: 200_000, channel: 'heir_repayment', date: '2025-08-01', by: '赵强' }, ctx);
    const history = await eventsOf(store, 1);
    // Same extracts: nothing at all.
    await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    expect(await eventsOf(store, 1)).toEqual(history);
    // One more month paid: the amount follows, the investigator's work stays.
    await addPayments(store, [{ id: ID_A, period: '2025-06', fen: 300_000 }]);
    await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    const c = await caseRow(store, 1);
    expect([c.status, c.assignee, c.amount_fen, c.months]).toEqual(['notice_sent', '赵强', 1_200_000, 4]);
    expect(await recoveredOf(store.db, 1)).toBe(200_000);
    const after = await eventsOf(store, 1);
    expect(after.slice(0, history.length)).toEqual(history);
    expect(after.slice(history.length).map((e) => e.kind)).toEqual(['updated']);
  });

  it('an open case whose payments were all reversed gets not_found; with money already repaid it becomes recovered and shows the refund due', async () => {
    await addPayments(store, months(3, 4).map((period) => ({ id: ID_A, period, fen: 300_000 })));
    await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    await walk(1, ['under_review', 'verified', 'notice_sent']);
    await recordRepayment(store.db, { caseId: 1, amountFen: 100_000, channel: 'heir_repayment', date: '2025-08-01', by: '赵强' }, ctx);
    // The bank returned both months; the payment system booked reversals: the detector finds nothing.
    await addPayments(store, months(3, 4).map((period) => ({ id: ID_A, period, fen: -300_000 })));
    expect(await nightly(store, [])).toMatchObject({ notFound: 1, autoRecovered: 1 });
    const c = await caseRow(store, 1);
    expect([c.status, c.amount_fen]).toEqual(['recovered', 0]);
    const kinds = (await eventsOf(store, 1)).slice(-3).map((e) => e.kind);
    expect(kinds).toEqual(['not_found', 'refund_due', 'transition']);
  });
});

describe('many cases in one run (written in multi-row statements)', () => {
  it('1,500 new cases: ids in the order of the findings, each with its own payments and its opened event; 300 updated and 50 gone next run', async () => {
    const N = 1500; // opens, events and payments held back exceed the flush limit (4,000 rows) mid-run
    const kept = N - 50;
    const ids = Array.from({ length: N }, (_, i) => residentId(`3601021950010${String(10000 + i).slice(1)}`));
    const pays = await addPayments(store, ids.flatMap((id, i) => months(3, 4).map((period) => ({ id, period, fen: 100_000 + i }))));
    const findings = await Promise.all(ids.map((id, i) => findingFor(store, id, pays.slice(2 * i, 2 * i + 2))));
    expect(await nightly(store, findings)).toMatchObject({ opened: N });
    const cases = await store.db.selectFrom('recovery_case').select(['id', 'case_key', 'amount_fen']).orderBy('id').execute();
    expect(cases.map((c) => c.case_key)).toEqual(ids);
    expect(cases.map((c) => Number(c.amount_fen))).toEqual(ids.map((_, i) => 2 * (100_000 + i)));
    const links = await store.db.selectFrom('case_payment').select(['case_id', 'payment_id']).orderBy('case_id').orderBy('payment_id').execute();
    expect(links.map((l) => [Number(l.case_id), Number(l.payment_id)])).toEqual(cases.flatMap((c, i) => [[Number(c.id), pays[2 * i]!], [Number(c.id), pays[2 * i + 1]!]]));
    const opened = await store.db.selectFrom('case_event').select(['id', 'case_id', 'kind']).orderBy('id').execute();
    expect(opened.map((e) => [Number(e.case_id), e.kind])).toEqual(cases.map((c) => [Number(c.id), 'opened']));
    // Next run: the first 300 have one more month, the last 50 are gone, the rest are the same.
    const more = await addPayments(store, ids.slice(0, 300).map((id) => ({ id, period: '2025-05', fen: 50_000 })));
    const next = await Promise.all(ids.slice(0, kept).map((id, i) => findingFor(store, id, i < 300 ? [pays[2 * i]!, pays[2 * i + 1]!, more[i]!] : pays.slice(2 * i, 2 * i + 2))));
    expect(await nightly(store, next)).toMatchObject({ opened: 0, updated: 300, notFound: 50, unchanged: kept - 300 });
    const after = await store.db.selectFrom('recovery_case').select(['id', 'amount_fen', 'months']).orderBy('id').execute();
    expect(after.map((c) => [Number(c.amount_fen), Number(c.months)])).toEqual(ids.map((_, i) => (i < 300 ? [2 * (100_000 + i) + 50_000, 3] : i < kept ? [2 * (100_000 + i), 2] : [0, 0])));
    expect(await countRows(store, 'case_event')).toBe(N + 300 + 50);
    const counted = await store.db.selectFrom('case_payment').select((eb) => ['case_id', eb.fn.countAll<number>().as('n')]).groupBy('case_id').orderBy('case_id').execute();
    expect(counted.map((r) => [Number(r.case_id), Number(r.n)])).toEqual(after.slice(0, kept).map((c, i) => [Number(c.id), i < 300 ? 3 : 2]));
    const later = await store.db.selectFrom('case_event').select(['case_id', 'kind']).where('kind', '<>', 'opened').orderBy('id').execute();
    expect(later.map((e) => [Number(e.case_id), e.kind])).toEqual([...after.slice(0, 300).map((c) => [Number(c.id), 'updated']), ...after.slice(kept).map((c) => [Number(c.id), 'not_found'])]);
  });
});

describe('final cases: follow-ups and money that came back twice', () => {
  it('overpayments after recovered open a linked follow-up that counts only the new payments', async () => {
    await addPayments(store, months(3, 5).map((period) => ({ id: ID_A, period, fen: 300_000 })));
    await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    await walk(1, ['under_review', 'verified', 'notice_sent']);
    await recordRepayment(store.db, { caseId: 1, amountFen: 900_000, channel: 'heir_repayment', date: '2025-08-01', by: '赵强' }, ctx);
    expect((await caseRow(store, 1)).status).toBe('recovered');
    await addPayments(store, months(6, 7).map((period) => ({ id: ID_A, period, fen: 310_000 })));
    const f = await findingFor(store, ID_A, await paymentIdsOf(ID_A));
    expect(f.amountFen).toBe(1_520_000);
    expect(await nightly(store, [f])).toMatchObject({ followUps: 1, opened: 0 });
    const [c1, c2] = [await caseRow(store, 1), await caseRow(store, 2)];
    expect([c1.status, c1.amount_fen, c1.first_period, c1.last_period]).toEqual(['recovered', 900_000, '2025-03', '2025-05']);
    expect([c2.status, c2.amount_fen, c2.first_period, c2.last_period, c2.months, c2.follow_up_of, c2.follow_up_seq]).toEqual(['new', 620_000, '2025-06', '2025-07', 2, 1, 1]);
    expect(c1.amount_fen + c2.amount_fen).toBe(f.amountFen); // never counted twice
    const followUpEvent = (await eventsOf(store, 1)).at(-1)!;
    expect(followUpEvent).toMatchObject({ kind: 'follow_up_opened', from_status: 'recovered', to_status: 'recovered', data: { follow_up: 2 } });
    expect(followUpEvent.reason).toBe('follow-up case 2 opened for new overpayments');
    // A re-run: nothing new. A later month: the open follow-up grows; the final case does not.
    expect(await nightly(store, [f])).toMatchObject({ followUps: 0, updated: 0, unchanged: 1 });
    await addPayments(store, [{ id: ID_A, period: '2025-08', fen: 310_000 }]);
    await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    expect((await caseRow(store, 2)).amount_fen).toBe(930_000);
    expect((await caseRow(store, 1)).amount_fen).toBe(900_000);
    expect(await countRows(store, 'recovery_case')).toBe(2);
  });

  it.each([
    ['the whole May payment', -300_000, 600_000],
    ['part of the May payment', -100_000, 800_000],
  ])('a reversal booked after the case was recovered (%s) lowers its overpaid amount: repaid by the heirs and returned by the bank — refund due', async (_, reversalFen, overpaidFen) => {
    await addPayments(store, months(3, 5).map((period) => ({ id: ID_A, period, fen: 300_000 })));
    await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    await walk(1, ['under_review', 'verified', 'notice_sent']);
    await recordRepayment(store.db, { caseId: 1, amountFen: 900_000, channel: 'heir_repayment', date: '2025-08-01', by: '赵强' }, ctx);
    // The bank returns (part of) the May deposit: a negative row for 2025-05 arrives in a later extract.
    await addPayments(store, [{ id: ID_A, period: '2025-05', fen: reversalFen }]);
    const changes = await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    expect(changes).toMatchObject({ amountChanged: 1, followUps: 0, opened: 0 });
    const c = await caseRow(store, 1);
    expect([c.status, c.amount_fen]).toEqual(['recovered', overpaidFen]);
    const ev = (await eventsOf(store, 1)).slice(-2);
    expect(ev.map((e) => e.kind)).toEqual(['overpaid_changed', 'refund_due']);
    expect(ev[1]!.data).toMatchObject({ refund_due_fen: 900_000 - overpaidFen, recovered_fen: 900_000, owed_fen: overpaidFen });
    // A re-run changes nothing more.
    const n = await countRows(store, 'case_event');
    await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    expect(await countRows(store, 'case_event')).toBe(n);
    expect(await countRows(store, 'recovery_case')).toBe(1);
  });

  it('written_off stays written off; new months open a follow-up', async () => {
    await addPayments(store, months(3, 4).map((period) => ({ id: ID_B, period, fen: 250_050 })));
    await nightly(store, [await findingFor(store, ID_B, await paymentIdsOf(ID_B))]);
    await walk(1, ['under_review', 'verified', 'notice_sent', 'written_off']);
    await addPayments(store, [{ id: ID_B, period: '2025-05', fen: 250_050 }]);
    await nightly(store, [await findingFor(store, ID_B, await paymentIdsOf(ID_B))]);
    expect((await caseRow(store, 1)).status).toBe('written_off');
    expect(await caseRow(store, 2)).toMatchObject({ status: 'new', amount_fen: 250_050, follow_up_of: 1 });
  });
});

describe('false positives', () => {
  beforeEach(async () => {
    await addPayments(store, months(3, 5).map((period) => ({ id: ID_A, period, fen: 300_000 })));
    await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))]);
    await walk(1, ['false_positive']);
  });

  it('are not recreated from the same evidence, even when payments continue', async () => {
    await addPayments(store, months(6, 8).map((period) => ({ id: ID_A, period, fen: 300_000 })));
    const before = await countRows(store, 'case_event');
    expect(await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))])).toMatchObject({ unchanged: 1, followUps: 0, updated: 0 });
    expect(await countRows(store, 'recovery_case')).toBe(1);
    expect(await countRows(store, 'case_event')).toBe(before);
    expect(await caseRow(store, 1)).toMatchObject({ status: 'false_positive', amount_fen: 900_000 });
  });

  it('new evidence opens a linked case; the false positive stays as decided', async () => {
    const f = await findingFor(store, ID_A, await paymentIdsOf(ID_A), ['health:2025-02-15', 'civil-affairs:2025-02-14']);
    expect(await nightly(store, [f])).toMatchObject({ followUps: 1 });
    expect(await caseRow(store, 1)).toMatchObject({ status: 'false_positive' });
    expect(await caseRow(store, 2)).toMatchObject({ status: 'new', follow_up_of: 1, amount_fen: 900_000 });
    expect((await eventsOf(store, 2))[0]!.reason).toContain('new evidence after case 1 was closed as a false positive');
    // The same (new) evidence again: nothing.
    expect(await nightly(store, [f])).toMatchObject({ followUps: 0, unchanged: 1 });
    // The new case closed as false positive too, then the first evidence comes back: still nothing new.
    await walk(2, ['false_positive']);
    expect(await nightly(store, [await findingFor(store, ID_A, await paymentIdsOf(ID_A))])).toMatchObject({ followUps: 0, unchanged: 1 });
    expect(await countRows(store, 'recovery_case')).toBe(2);
  });
});

describe('end to end with the real pipeline', () => {
  const idA = ID_A;
  function writeInbox(dir: string, paymentRows: string[], file = 'p1.csv'): void {
    fs.mkdirSync(path.join(dir, 'payments'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'deaths', 'health'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'payments', file), ['姓名,公民身份号码,险种类型,待遇项目,待遇所属期,实发金额,发放批次号,经办机构,银行账号,发放日期', ...paymentRows].join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'deaths', 'health', 'd1.csv'), ['死者姓名,证件号码,死亡日期', `张三,${idA},2025-02-15`].join('\n') + '\n');
  }
  const row = (period: string, amount: string, batch = `B${period.replace('-', '')}`) => `张三,${idA},110,基本养老金,${period},${amount},${batch},360102001,6222000011112222,${period}-10`;

  it('a re-run after the investigator worked the case never undoes it; a bank return in a later extract shows as a refund due', async () => {
    const dir = tempDir();
    const inbox = path.join(dir, 'inbox');
    writeInbox(inbox, ['2025-01', '2025-02', '2025-03', '2025-04', '2025-05'].map((p) => row(p, '3000.00')));
    const settings = loadSettings(undefined, dir);
    const run = (asOf: string) => runNightly({ store, inbox, outDir: path.join(dir, 'out'), asOf, settings, logger: silentLogger });
    const r1 = await run('2025-06-30');
    expect(r1.cases.deceased_payment).toMatchObject({ opened: 1 });
    expect(await caseRow(store, 1)).toMatchObject({ status: 'new', amount_fen: 900_000, first_period: '2025-03', last_period: '2025-05' });

    await walk(1, ['under_review', 'verified', 'notice_sent']);
    await assignCase(store.db, { caseId: 1, to: '赵强', by: '李主任' }, ctx);
    await recordRepayment(store.db, { caseId: 1, amountFen: 900_000, channel: 'heir_repayment', date: '2025-08-20', by: '赵强' }, ctx);
    expect((await caseRow(store, 1)).status).toBe('recovered');
    const history = await eventsOf(store, 1);

    const r2 = await run('2025-08-31');
    expect(r2.cases.deceased_payment).toMatchObject({ opened: 0, updated: 0, followUps: 0, amountChanged: 0 });
    expect(await eventsOf(store, 1)).toEqual(history);

    // The bank returned the April deposit (reversal row) and June was still paid: refund due on case 1, follow-up for June.
    fs.writeFileSync(path.join(inbox, 'payments', 'p2.csv'), ['姓名,公民身份号码,险种类型,待遇项目,待遇所属期,实发金额,发放批次号,经办机构,银行账号,发放日期', row('2025-04', '-3000.00', 'R202509'), row('2025-06', '3000.00')].join('\n') + '\n');
    const r3 = await run('2025-09-30');
    expect(r3.cases.deceased_payment).toMatchObject({ followUps: 1, amountChanged: 1 });
    const c1 = await caseRow(store, 1);
    expect([c1.status, c1.assignee, c1.amount_fen]).toEqual(['recovered', '赵强', 600_000]);
    expect(await caseRow(store, 2)).toMatchObject({ status: 'new', amount_fen: 300_000, first_period: '2025-06', last_period: '2025-06', follow_up_of: 1 });
    const after = await eventsOf(store, 1);
    expect(after.slice(0, history.length)).toEqual(history);
    expect(after.slice(history.length).map((e) => e.kind).sort()).toEqual(['follow_up_opened', 'overpaid_changed', 'refund_due']);
  });
});

describe('an incremental run looks only at the chains whose finding or case changed', () => {
  const upsert = (runId: number, findings: Finding[], since?: CarriedFindings) => upsertCases(store.db, runId, 'deceased_payment', findings, '2025-09-02T18:00:00.000Z', since);
  const maxEvent = async () => Number((await store.db.selectFrom('case_event').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0);

  it('a carried finding of an unchanged chain is not looked at; one whose case people changed since is, like a full run', async () => {
    await addPayments(store, months(3, 5).map((period) => ({ id: ID_A, period, fen: 300_000 })));
    await addPayments(store, months(3, 4).map((period) => ({ id: ID_B, period, fen: 200_000 })));
    await upsert(201, [await findingFor(store, ID_A, await paymentIdsOf(ID_A)), await findingFor(store, ID_B, await paymentIdsOf(ID_B))]);
    // A is closed as a false positive; a new month leaves its evidence as it was (stays a false positive).
    await walk(1, ['false_positive']);
    await addPayments(store, [{ id: ID_A, period: '2025-06', fen: 300_000 }]);
    const a = await findingFor(store, ID_A, await paymentIdsOf(ID_A));
    const b = await findingFor(store, ID_B, await paymentIdsOf(ID_B));
    const mark = await maxEvent();
    expect(await upsert(202, [a, b])).toMatchObject({ opened: 0, updated: 0, unchanged: 2 });
    expect((await caseRow(store, 1)).months).toBe(3);
    // Run 203 carries both findings forward. Nobody touched B: not looked at, counted unchanged.
    const since = (m: number): CarriedFindings => ({ prevRunId: 202, carried: new Set([a, b]), previousKeys: [ID_A, ID_B], eventsSince: m });
    const eventsBefore = await countRows(store, 'case_event');
    // A is reopened after run 202 began: its open case follows the (carried) finding, as a full run does.
    await walk(1, ['under_review']);
    expect(await upsert(203, [a, b], since(mark))).toMatchObject({ opened: 0, updated: 1, unchanged: 1, notFound: 0 });
    const c = await caseRow(store, 1);
    expect([c.status, c.months, c.last_period, c.amount_fen]).toEqual(['under_review', 4, '2025-06', 1_200_000]);
    expect(await countRows(store, 'case_event')).toBe(eventsBefore + 2);
    // A finding gone since the previous run: its open case gets not_found.
    const mark2 = await maxEvent();
    expect(await upsert(204, [a], { prevRunId: 203, carried: new Set([a]), previousKeys: [ID_A, ID_B], eventsSince: mark2 })).toMatchObject({ unchanged: 1, notFound: 1 });
    expect((await caseRow(store, 2)).amount_fen).toBe(0);
  });
});
