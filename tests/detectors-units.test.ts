/**
 * The detectors' pure cores, table-driven: duplicate counting net of reversals, concurrent months, the
 * shared-account holder rule, robust statistics with the zero-spread guard, and the Benford test.
 */
import { describe, expect, it } from 'vitest';
import { countDuplicates, duplicateFinding } from '../src/detectors/duplicate-payment.ts';
import { concurrentFinding } from '../src/detectors/concurrent-pension.ts';
import { flaggedPeriods, sharedAccountFinding } from '../src/detectors/shared-account.ts';
import { anomalyFinding, ownHistoryOutliers, peerKey, peerOutliers, robustStats, robustZ } from '../src/detectors/amount-anomaly.ts';
import { BENFORD_FIRST_DIGIT, benfordTest, conformityOf, firstDigit } from '../src/detectors/benford.ts';
import { CODE_LABELS, monthRanges, type PaymentRow } from '../src/detectors/shared.ts';
import { DETECTORS, registry } from '../src/detectors/index.ts';
import { DEFAULT_DETECTOR_SETTINGS } from '../src/config/detector-settings.ts';
import { checkCharacter } from '../src/identity/resident-id.ts';
import { benfordDigits } from './helpers/anomaly-patterns.ts';

const ID_A = '36010219500101001' + checkCharacter('36010219500101001');
const ID_B = '36010219600202002' + checkCharacter('36010219600202002');
const ID_C = '36011119550303003' + checkCharacter('36011119550303003');

let nextId = 1;
function pay(over: Partial<PaymentRow>): PaymentRow {
  return {
    id: nextId++, id_number: ID_A, id_valid: 1, name: '王伟', scheme: '110', item: 'pension', period: '2024-05', amount_fen: 300000,
    paid_on: '2024-05-15', account: '6217000000000000001', bank: '江西银行', district_code: '360102', batch: 'B1', file: 'payments/x.csv', line: nextId,
    ...over,
  };
}

describe('countDuplicates (one person, scheme, item, period)', () => {
  it.each([
    ['one payment', [300000], null],
    ['same amount twice', [300000, 300000], 300000],
    ['three times', [300000, 300000, 300000], 600000],
    ['twice, the copy reversed in full', [300000, 300000, -300000], null],
    ['twice, ¥1,000 reversed', [300000, 300000, -100000], 200000],
    ['twice, reversals exceeding the copy', [300000, 300000, -200000, -150000], null],
    ['different amounts are no duplicate', [300000, 15000], null],
    ['twice plus a different supplement', [300000, 300000, 15000], 300000],
    ['supplement reversed, duplicate left', [300000, 300000, 15000, -15000], 300000],
    ['two repeated amounts', [300000, 300000, 15000, 15000], 315000],
  ] as const)('%s', (_name, amounts, want) => {
    const rows = amounts.map((a, i) => pay({ amount_fen: a, batch: `B${i}`, paid_on: `2024-05-${String(10 + i)}` }));
    const got = countDuplicates(rows);
    expect(got?.amountFen ?? null).toBe(want);
  });

  it('keeps the earliest paid copy and counts the later ones', () => {
    const late = pay({ batch: 'B-late', paid_on: '2024-05-28' });
    const early = pay({ batch: 'B-early', paid_on: '2024-05-15' });
    const got = countDuplicates([late, early])!;
    expect(got.kept.map((r) => r.batch)).toEqual(['B-early']);
    expect(got.copies.map((r) => r.batch)).toEqual(['B-late']);
  });

  it('a finding: key, probable, the copies and unmatched reversals as its payments', () => {
    const a = pay({ batch: 'B1' });
    const b = pay({ batch: 'B2', paid_on: '2024-05-28' });
    const r = pay({ batch: 'B3', amount_fen: -100000, paid_on: '2024-06-02' });
    const f = duplicateFinding([a, b, r], CODE_LABELS)!;
    expect(f).toMatchObject({ detector: 'duplicate_payment', caseKey: `${ID_A}|110|pension|2024-05`, amountFen: 200000, confidence: 'probable', periods: ['2024-05'], schemes: ['110'] });
    expect(f.paymentIds).toEqual([b.id, r.id]);
    expect(f.evidence.why).not.toContain(ID_A);
  });
});

describe('concurrentFinding', () => {
  const params = { residentScheme: '170', otherSchemes: ['110', '120'], labels: CODE_LABELS };

  it('counts the 170 months that overlap 110, net of reversals, leaving claimed payments out', () => {
    const rows = [
      pay({ scheme: '110', period: '2024-01', amount_fen: 300000 }),
      pay({ scheme: '170', period: '2024-01', amount_fen: 20000 }),
      pay({ scheme: '110', period: '2024-02', amount_fen: 300000 }),
      pay({ scheme: '170', period: '2024-02', amount_fen: 20000 }),
      pay({ scheme: '170', period: '2024-02', amount_fen: 20000, batch: 'B2' }), // a duplicate copy, claimed earlier
      pay({ scheme: '110', period: '2024-03', amount_fen: 300000 }),
      pay({ scheme: '170', period: '2024-03', amount_fen: 20000 }),
      pay({ scheme: '170', period: '2024-03', amount_fen: -20000, batch: 'R' }), // reversed: not drawn
      pay({ scheme: '170', period: '2024-04', amount_fen: 20000 }), // no 110 that month
    ];
    const f = concurrentFinding(rows, new Set([rows[4]!.id]), params)!;
    expect(f).toMatchObject({ caseKey: ID_A, periods: ['2024-01', '2024-02'], amountFen: 40000, schemes: ['110', '170'], confidence: 'confirmed' });
    expect(f.paymentIds).toEqual([rows[1]!.id, rows[3]!.id]);
  });

  it('a 110 month reversed to nothing is no overlap', () => {
    const rows = [pay({ scheme: '110', amount_fen: 300000 }), pay({ scheme: '110', amount_fen: -300000, batch: 'R' }), pay({ scheme: '170', amount_fen: 20000 })];
    expect(concurrentFinding(rows, new Set(), params)).toBeNull();
  });

  it.each([
    ['names agree, valid ID', '王伟', 1, 'confirmed'],
    ['rare-character placeholder', '王?', 1, 'confirmed'],
    ['names differ', '李强', 1, 'review'],
    ['invalid ID', '王伟', 0, 'review'],
  ] as const)('confidence: %s', (_n, name170, valid, want) => {
    const rows = [pay({ scheme: '110', id_valid: valid }), pay({ scheme: '170', amount_fen: 20000, name: name170, id_valid: valid })];
    expect(concurrentFinding(rows, new Set(), params)!.confidence).toBe(want);
  });
});

describe('sharedAccountFinding', () => {
  it('flaggedPeriods: distinct people with a positive payment, per period, at least minPersons', () => {
    const rows = [
      pay({ id_number: ID_A, period: '2024-01' }), pay({ id_number: ID_B, period: '2024-01' }), pay({ id_number: ID_C, period: '2024-01' }),
      pay({ id_number: ID_A, period: '2024-02' }), pay({ id_number: ID_A, period: '2024-02', batch: 'B2' }), pay({ id_number: ID_B, period: '2024-02' }),
      pay({ id_number: ID_A, period: '2024-03' }), pay({ id_number: ID_B, period: '2024-03' }), pay({ id_number: ID_C, period: '2024-03', amount_fen: -300000 }),
    ];
    expect(flaggedPeriods(rows, 3)).toEqual(['2024-01']);
    expect(flaggedPeriods(rows, 2)).toEqual(['2024-01', '2024-02', '2024-03']);
  });

  it('holder: most periods paid into the account, then the smallest ID; amount 0, review, no payments claimed', () => {
    const acct = '6222020000000000017';
    const rows = [
      ...['2024-01', '2024-02', '2024-03'].map((m) => pay({ id_number: ID_C, name: '张三', period: m, account: acct })),
      pay({ id_number: ID_A, name: '王伟', period: '2024-03', account: acct }),
      pay({ id_number: ID_B, name: '李娜', period: '2024-03', account: acct }),
    ];
    const f = sharedAccountFinding(acct, rows, ['2024-03'])!;
    expect(f).toMatchObject({ caseKey: acct, idNumber: ID_C, name: '张三', periods: ['2024-03'], amountFen: 0, confidence: 'review', paymentIds: [] });
    expect(f.evidence.why).toContain('3 people');
    expect(f.evidence.why).not.toContain(acct);
    const tie = sharedAccountFinding(acct, rows.slice(2), ['2024-03'])!;
    expect(tie.idNumber).toBe([ID_A, ID_B, ID_C].sort()[0]);
  });
});

describe('robust statistics', () => {
  const p = DEFAULT_DETECTOR_SETTINGS.amount_anomaly;
  it.each([
    ['spread from the MAD', [100000, 110000, 120000, 130000, 140000], 120000, 10000, 14826],
    ['constant history: relative floor (5 % of the median)', [300000, 300000, 300000], 300000, 0, 15000],
    ['tiny amounts: absolute floor (¥1)', [500, 500, 500], 500, 0, 100],
  ])('%s', (_n, values, median, mad, scale) => {
    const s = robustStats(values, p);
    expect(s).toEqual({ n: values.length, median, mad, scale });
  });

  it('z of a tenfold payment on a constant history', () => {
    expect(robustZ(3_000_000, robustStats([300000, 300000], p))).toBe(180);
  });

  it('own history: a +3 % adjustment is no outlier, a tenfold payment is; short histories are not judged', () => {
    const year = (last: number) => Array.from({ length: 12 }, (_, i) => pay({ period: `2024-${String(i + 1).padStart(2, '0')}`, amount_fen: i === 11 ? last : i >= 6 ? 309000 : 300000 }));
    expect(ownHistoryOutliers(year(309000), new Set(), p)).toEqual([]);
    const spike = year(3_000_000);
    expect(ownHistoryOutliers(spike, new Set(), p).map((o) => o.payment.period)).toEqual(['2024-12']);
    expect(ownHistoryOutliers(spike, new Set([spike[11]!.id]), p)).toEqual([]); // claimed: not flagged again
    expect(ownHistoryOutliers(spike.slice(6), new Set(), p)).toEqual([]); // 5 earlier payments < minHistory 6
  });

  it('peers: far above own history but not above peers is not flagged', () => {
    const x = pay({ amount_fen: 900000 });
    const own = [{ payment: x, own: robustStats([300000], p), ownZ: 40 }];
    const similar = new Map([[peerKey(x), Array.from({ length: 30 }, (_, i) => ({ id: `P${i}`, fen: 850000 + i * 5000 }))]]);
    expect(peerOutliers(own, similar, p)).toEqual([]);
    const low = new Map([[peerKey(x), Array.from({ length: 30 }, (_, i) => ({ id: `P${i}`, fen: 300000 + i * 1000 }))]]);
    const flagged = peerOutliers(own, low, p);
    expect(flagged).toHaveLength(1);
    const f = anomalyFinding(flagged);
    expect(f).toMatchObject({ caseKey: `${ID_A}|2024-05`, amountFen: 0, confidence: 'review', paymentIds: [] });
    const few = new Map([[peerKey(x), low.get(peerKey(x))!.slice(0, p.minPeers - 1)]]);
    expect(peerOutliers(own, few, p)).toEqual([]);
  });
});

describe('Benford first-digit test', () => {
  it('expected proportions sum to 1 and start at log10(2)', () => {
    expect(BENFORD_FIRST_DIGIT.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(BENFORD_FIRST_DIGIT[0]).toBeCloseTo(0.30103, 5);
  });

  it.each([
    [0, 'close'], [0.006, 'close'], [0.0061, 'acceptable'], [0.012, 'acceptable'], [0.0121, 'marginal'], [0.015, 'marginal'], [0.0151, 'nonconformity'],
  ] as const)('MAD %s → %s (Nigrini)', (mad, want) => {
    expect(conformityOf(mad)).toBe(want);
  });

  it('counts in Benford proportions conform closely; digits 5-9 only do not', () => {
    const digits = benfordDigits(1000);
    const counts = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => digits.filter((x) => x === d).length);
    const ok = benfordTest(counts);
    expect(ok.n).toBe(1000);
    expect(ok.conformity).toBe('close');
    expect(ok.chiSquareRejects).toBe(false);
    const bad = benfordTest([0, 0, 0, 0, 200, 200, 200, 200, 200]);
    expect(bad.conformity).toBe('nonconformity');
    expect(bad.chiSquareRejects).toBe(true);
    // MAD of the uniform 5-9 case, by hand: mean |p - e| over the nine digits
    const e = BENFORD_FIRST_DIGIT;
    const mad = (e[0]! + e[1]! + e[2]! + e[3]! + [4, 5, 6, 7, 8].reduce((s, i) => s + Math.abs(0.2 - e[i]!), 0)) / 9;
    expect(bad.mad).toBeCloseTo(mad, 5);
  });

  it.each([[1, 1], [9, 9], [12345, 1], [-98765, 9], [500, 5]])('firstDigit(%s) = %s', (fen, d) => {
    expect(firstDigit(fen)).toBe(d);
  });

  it('refuses malformed counts', () => {
    expect(() => benfordTest([1, 2, 3])).toThrow(/9 counts/);
    expect(() => benfordTest(new Array(9).fill(0))).toThrow(/at least one row/);
  });
});

describe('registry and helpers', () => {
  it('runs the money detectors first, the review leads last', () => {
    expect(DETECTORS.map((d) => d.id)).toEqual(['deceased_payment', 'duplicate_payment', 'concurrent_pension', 'shared_account', 'amount_anomaly']);
  });

  it('refuses duplicate ids', () => {
    expect(() => registry([DETECTORS[1]!, DETECTORS[1]!])).toThrow('duplicate detector id "duplicate_payment"');
  });

  it.each([
    [['2024-01'], '2024-01'],
    [['2024-01', '2024-02', '2024-03'], '2024-01..2024-03'],
    [['2024-11', '2024-12', '2025-01', '2025-03'], '2024-11..2025-01, 2025-03'],
  ])('monthRanges(%j) = %s', (periods, want) => {
    expect(monthRanges(periods)).toBe(want);
  });
});
