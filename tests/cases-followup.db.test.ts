import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/db/connection.ts';
import { flagCase, recordRepayment, transitionCase } from '../src/cases/actions.ts';
import { DISHONESTY_HEADER, dishonestyCandidates, writeDishonestyCsv } from '../src/cases/dishonesty.ts';
import { FOLLOW_UP_HEADER, followUpRows, writeFollowUpCsv } from '../src/cases/follow-up.ts';
import { caseDetail } from '../src/cases/queries.ts';
import { loadHolidayCalendar } from '../src/calendar/working-days.ts';
import { addPayments, ctxAt, findingFor, freshStore, nightly, residentId, tempDir } from './cases-helpers.ts';

const calendar = loadHolidayCalendar();
let store: Store;
const ctx = ctxAt('2025-12-31T02:00:00.000Z', '2025-12-31');

/**
 * Cases by number of months × monthly amount (fen), opened at 2025-01-04T17:00Z = 2025-01-05 in Shanghai.
 * 1: 7 × 1,000.00 (more than 6 months)      2: 6 × 1,666.66 = 9,999.96 (neither)
 * 3: 3 × 3,333.34 = 10,000.02 (more than ¥10,000)   4: 6 × 1,666.67 = 10,000.02 (amount)   5: 12 × 2,000.00 (both)
 */
const SHAPES: [number, number][] = [[7, 100_000], [6, 166_666], [3, 333_334], [6, 166_667], [12, 200_000]];

beforeEach(async () => {
  store = (await freshStore()).store;
  const findings = [];
  for (const [i, [n, fen]] of SHAPES.entries()) {
    const id = residentId(`3601021950${String(i + 1).padStart(2, '0')}0112${i}`);
    const ids = await addPayments(store, Array.from({ length: n }, (_, m) => ({ id, period: `2024-${String(m + 1).padStart(2, '0')}`, fen })));
    findings.push(await findingFor(store, id, ids));
  }
  await nightly(store, findings, '2025-01-04T17:00:00.000Z');
});
afterEach(async () => {
  await store.close();
});

async function walk(caseId: number, steps: [string, string?][]): Promise<void> {
  for (const [to, date] of steps) await transitionCase(store.db, { caseId, to, by: '王芳', reason: `to ${to}`, date, approvedBy: to === 'false_positive' ? '李主任' : null }, ctx);
}

describe('follow-up list', () => {
  it('days open, notice date and the deadline of 30 working days on the holiday calendar', async () => {
    await walk(1, [['under_review'], ['verified'], ['notice_sent', '2025-01-24']]);
    await walk(2, [['under_review']]);
    await walk(3, [['under_review'], ['verified'], ['notice_sent', '2025-01-27']]);
    await walk(5, [['false_positive']]);
    const rows = await followUpRows(store.db, { asOf: '2025-03-10', calendar });
    expect(rows.map((r) => [r.caseId, r.status, r.openedOn, r.daysOpen, r.noticeSentOn, r.noticeDeadline, r.workingDaysLeft, r.overdue])).toEqual([
      [1, 'notice_sent', '2025-01-05', 64, '2025-01-24', '2025-03-13', 3, false],
      [3, 'notice_sent', '2025-01-05', 64, '2025-01-27', '2025-03-17', 5, false],
      [2, 'under_review', '2025-01-05', 64, null, null, null, false],
      [4, 'new', '2025-01-05', 64, null, null, null, false],
    ]);
    const later = await followUpRows(store.db, { asOf: '2025-03-14', calendar });
    expect(later.find((r) => r.caseId === 1)).toMatchObject({ daysOpen: 68, workingDaysLeft: -1, overdue: true, deadlineBasis: 'holiday table' });
  });

  it('is written as CSV with the documented header', async () => {
    await walk(1, [['under_review'], ['verified'], ['notice_sent', '2025-01-24']]);
    const file = path.join(tempDir(), 'followup.csv');
    expect(await writeFollowUpCsv(store.db, file, { asOf: '2025-03-14', calendar })).toBe(5);
    const lines = fs.readFileSync(file, 'utf8').replace(/^\ufeff/, '').split('\r\n');
    expect(lines[0]).toBe(FOLLOW_UP_HEADER.join(','));
    const first = lines[1]!.split(',');
    const col = (name: (typeof FOLLOW_UP_HEADER)[number]) => first[FOLLOW_UP_HEADER.indexOf(name)];
    expect([col('case_id'), col('notice_deadline'), col('working_days_left'), col('overdue'), col('amount'), col('outstanding')]).toEqual(['1', '2025-03-13', '-1', 'yes', '7000.00', '7000.00']);
  });

  it('cases show gives the notice deadline', async () => {
    await walk(1, [['under_review'], ['verified'], ['notice_sent', '2025-09-26']]);
    const d = await caseDetail(store.db, 1, calendar);
    expect(d.notice).toEqual({ sentOn: '2025-09-26', deadline: '2025-11-13', provisional: false });
  });
});

describe('serious-dishonesty candidates', () => {
  it('more than 6 months or more than ¥10,000, and refused to repay or broke an agreement', async () => {
    for (const id of [1, 2, 3, 4, 5]) await walk(id, [['under_review'], ['verified'], ['notice_sent']]);
    await flagCase(store.db, { caseId: 1, flag: 'refused_to_repay', by: '王芳', reason: '继承人拒绝退还', evidenceRef: '谈话笔录 12' }, ctx);
    await flagCase(store.db, { caseId: 2, flag: 'refused_to_repay', by: '王芳', reason: '拒绝' }, ctx);
    await walk(3, [['repayment_plan']]);
    await recordRepayment(store.db, { caseId: 3, amountFen: 100_000, channel: 'heir_repayment', date: '2025-05-01', by: '王芳' }, ctx);
    await flagCase(store.db, { caseId: 3, flag: 'broke_agreement', by: '赵强', reason: '连续三个月未按协议还款', date: '2025-08-15' }, ctx);
    // Cases 4 and 5 are large enough but nobody recorded a refusal; case 2 refused but is too small.
    const rows = await dishonestyCandidates(store.db);
    expect(rows.map((r) => [r.caseId, r.months, r.amountFen, r.grounds, r.conduct, r.recordedBy, r.recoveredFen, r.outstandingFen])).toEqual([
      [3, 3, 1_000_002, ['more than 10000 yuan'], 'broke_agreement', '赵强', 100_000, 900_002],
      [1, 7, 700_000, ['more than 6 months'], 'refused_to_repay', '王芳', 0, 700_000],
    ]);
    expect(rows[0]!.conductOn).toBe('2025-08-15');
  });

  it('broke_agreement needs a repayment plan; a false positive is never a candidate', async () => {
    await expect(flagCase(store.db, { caseId: 5, flag: 'broke_agreement', by: '王芳', reason: 'x' }, ctx)).rejects.toMatchObject({ code: 'NOT_ALLOWED' });
    await flagCase(store.db, { caseId: 5, flag: 'refused_to_repay', by: '王芳', reason: '拒绝' }, ctx);
    expect((await dishonestyCandidates(store.db)).map((r) => [r.caseId, r.grounds])).toEqual([[5, ['more than 6 months', 'more than 10000 yuan']]]);
    await walk(5, [['false_positive']]);
    expect(await dishonestyCandidates(store.db)).toEqual([]);
    await expect(flagCase(store.db, { caseId: 5, flag: 'refused_to_repay', by: '王芳', reason: 'x' }, ctx)).rejects.toMatchObject({ code: 'NOT_ALLOWED' });
  });

  it('is written as CSV with full IDs', async () => {
    await flagCase(store.db, { caseId: 1, flag: 'refused_to_repay', by: '王芳', reason: '拒绝' }, ctx);
    const file = path.join(tempDir(), 'dishonesty.csv');
    expect(await writeDishonestyCsv(store.db, file)).toBe(1);
    const lines = fs.readFileSync(file, 'utf8').replace(/^\ufeff/, '').split('\r\n');
    expect(lines[0]).toBe(DISHONESTY_HEADER.join(','));
    expect(lines[1]!.split(',').slice(0, 3)).toEqual(['1', 'deceased_payment', residentId('36010219500101120')]);
  });
});
