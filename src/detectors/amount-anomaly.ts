/**
 * Detector `amount_anomaly`: a payment far above both the person's own history and their peers' — a keying
 * error (an extra digit), a wrong rate, a payment meant for someone else. Plus the first-digit (Benford)
 * test of back-pay and adjustment amounts per batch, reported as a table (./benford.ts), not as cases.
 *
 * Rule (the outlier and Benford tests of audit tools such as CaseWare IDEA and ACL; DOMAIN.md §4 "Never stop
 * a payment on a match alone"): a positive payment x is flagged when BOTH
 * - its robust z against the person's own history — their OTHER positive payments of the same scheme and
 *   item, all periods stored, at least `minHistory` of them — and
 * - its robust z against its peers — the positive payments of OTHER people of the same scheme, item,
 *   district (first 6 digits of 经办机构; payments without one form their own group) and period, at least
 *   `minPeers` of them —
 * exceed `threshold`. Only the high side: a payment far BELOW the usual is no overpayment risk.
 *
 * Statistic: the modified z-score (Iglewicz & Hoaglin, "How to Detect and Handle Outliers", 1993):
 * z = (x − median) / (1.4826 · MAD), MAD = median absolute deviation from the median (simple-statistics
 * `median`, `medianAbsoluteDeviation`); 1.4826 · MAD estimates the standard deviation of normal data
 * without being moved by the outliers themselves. Zero spread guard: a constant history has MAD 0, so the
 * scale is max(1.4826 · MAD, `minRelativeSpread` · |median|, `minSpreadFen`) — with the defaults (5 %, ¥1,
 * z 5) a payment must exceed a constant pension by more than 25 % to count as far above it, so the yearly
 * pension adjustment (a few per cent) is never flagged.
 *
 * Items: every item except those paid because of a death (one-off by nature) and `excludeItems` (default
 * back_pay, adjustment — irregular amounts, which get the Benford test instead). A person with fewer than
 * `minHistory` earlier payments (a new recipient) is not judged.
 *
 * Parameters (`detectors.amount_anomaly`): `threshold` 5, `minHistory` 6, `minPeers` 20,
 * `minRelativeSpread` 0.05, `minSpreadFen` 100, `excludeItems` ["back_pay", "adjustment"];
 * (`detectors.benford`): `minRows` 500, `items` ["back_pay", "adjustment"].
 *
 * One payment, one claim: a payment already counted by an earlier detector (`ctx.claimed`) is not flagged
 * again (it is in a case that claims its money); it still belongs to the person's history and to the peers.
 *
 * Case key: `ID|period` — every flagged payment of one person for one period in one case. Confidence
 * `review`; amount 0 until an investigator establishes one; paymentIds empty (the flagged payments, with
 * both z scores, medians and spreads, are in the evidence).
 *
 * Scale: a GROUP BY (person, scheme, item HAVING count > minHistory AND max − min wide enough to hold an
 * outlier at all) keeps only the groups that can hold one; their rows are read back and judged exactly.
 * Peer statistics are then read in one streamed pass over the candidates' periods, keeping only the
 * (scheme, item, district, period) groups the candidates need.
 */
import { median, medianAbsoluteDeviation } from 'simple-statistics';
import type { Kysely } from 'kysely';
import { formatFen } from '../calendar/values.ts';
import type { DetectorSettings } from '../config/detector-settings.ts';
import type { DB } from '../db/schema.ts';
import { fullestName } from '../matching/names.ts';
import { benfordByBatch } from './benford.ts';
import type { Detector, DetectorContext, Finding } from './types.ts';
import { byteCmp, countPayments, CODE_LABELS, labelsOf, latestPayment, payableAfterDeathItems, PAYMENT_COLUMNS, pushTo, sortedDistinct, toPaymentRow, type Labels, type PaymentRow } from './shared.ts';

type Params = DetectorSettings['amount_anomaly'];

/** Consistency constant: 1.4826 · MAD estimates σ for normal data. */
export const MAD_TO_SIGMA = 1.4826;

/** Robust location and spread of a sample (fen). */
export interface RobustStats {
  n: number;
  median: number;
  mad: number;
  /** The scale used: max(1.4826 · MAD, minRelativeSpread · |median|, minSpreadFen). */
  scale: number;
}

/**
 * Median, MAD and guarded scale of a non-empty sample. Pure.
 * @throws RangeError on an empty sample
 */
export function robustStats(values: readonly number[], p: Pick<Params, 'minRelativeSpread' | 'minSpreadFen'>): RobustStats {
  if (values.length === 0) throw new RangeError('robustStats needs at least one value');
  const m = median(values as number[]);
  const mad = medianAbsoluteDeviation(values as number[]);
  return { n: values.length, median: m, mad, scale: Math.max(MAD_TO_SIGMA * mad, p.minRelativeSpread * Math.abs(m), p.minSpreadFen) };
}

/** Modified z-score of x against {@link RobustStats}. */
export const robustZ = (x: number, s: RobustStats): number => (x - s.median) / s.scale;

/** A payment far above its own history (first stage), with that history's statistics. */
export interface OwnOutlier {
  payment: PaymentRow;
  own: RobustStats;
  ownZ: number;
}

/**
 * The payments of one (person, scheme, item) group that are far above the person's other payments of the
 * group. Pure. Reversals and zero amounts take no part; claimed payments are history but never flagged.
 */
export function ownHistoryOutliers(rows: readonly PaymentRow[], claimed: ReadonlySet<number>, p: Params): OwnOutlier[] {
  const positive = rows.filter((r) => r.amount_fen > 0);
  if (positive.length < p.minHistory + 1) return [];
  const out: OwnOutlier[] = [];
  for (let i = 0; i < positive.length; i++) {
    const r = positive[i]!;
    if (claimed.has(r.id)) continue;
    const others = positive.filter((_, k) => k !== i).map((o) => o.amount_fen);
    const own = robustStats(others, p);
    const z = robustZ(r.amount_fen, own);
    if (z > p.threshold) out.push({ payment: r, own, ownZ: z });
  }
  return out;
}

/** A payment flagged by both stages. */
export interface AmountOutlier extends OwnOutlier {
  peers: RobustStats;
  peerZ: number;
}

/** Key of a peer group: scheme, item, district ('' when unknown), period. */
export const peerKey = (r: { scheme: string; item: string; district_code: string | null; period: string }): string =>
  `${r.scheme}|${r.item}|${r.district_code ?? ''}|${r.period}`;

/**
 * Second stage: keeps the own-history outliers that are also far above their peers. Pure.
 * @param peers amounts of the peer groups, per {@link peerKey}, each with the payer's ID (the person's own
 *   payments are left out)
 */
export function peerOutliers(own: readonly OwnOutlier[], peers: ReadonlyMap<string, { id: string; fen: number }[]>, p: Params): AmountOutlier[] {
  const out: AmountOutlier[] = [];
  for (const o of own) {
    const amounts = (peers.get(peerKey(o.payment)) ?? []).filter((x) => x.id !== o.payment.id_number).map((x) => x.fen);
    if (amounts.length < p.minPeers) continue;
    const s = robustStats(amounts, p);
    const z = robustZ(o.payment.amount_fen, s);
    if (z > p.threshold) out.push({ ...o, peers: s, peerZ: z });
  }
  return out;
}

const r1 = (x: number): number => Math.round(x * 10) / 10;

/** The finding for the flagged payments of one person and one period. Pure. */
export function anomalyFinding(flagged: readonly AmountOutlier[], labels: Labels = CODE_LABELS): Finding {
  const rows = flagged.map((f) => f.payment);
  const first = rows[0]!;
  const latest = latestPayment(rows);
  const parts = flagged.map(
    (f) =>
      `¥${formatFen(f.payment.amount_fen)} ${labels.scheme(f.payment.scheme)} ${labels.item(f.payment.item)} (batch ${f.payment.batch}): ` +
      `robust z ${r1(f.ownZ)} against own history (median ¥${formatFen(Math.round(f.own.median))} over ${f.own.n} payments) and ` +
      `${r1(f.peerZ)} against ${f.peers.n} peers in district ${f.payment.district_code ?? 'unknown'} (median ¥${formatFen(Math.round(f.peers.median))})`,
  );
  return {
    detector: 'amount_anomaly',
    caseKey: `${first.id_number}|${first.period}`,
    idNumber: first.id_number,
    name: fullestName(latest.name, rows.map((r) => r.name)),
    districtCode: latest.district_code ?? latest.id_number.slice(0, 6),
    schemes: sortedDistinct(rows.map((r) => r.scheme)),
    periods: [first.period],
    amountFen: 0,
    confidence: 'review',
    evidence: {
      why: `paid for ${first.period} far above own history and peers: ${parts.join('; ')}`,
      comparisons: flagged.map((f) => ({ field: 'amount_fen', level: 'outlier', values: [String(f.payment.id), String(f.payment.amount_fen)] })),
      statistic: 'modified z-score (x - median) / max(1.4826 * MAD, minRelativeSpread * |median|, minSpreadFen) — Iglewicz & Hoaglin 1993',
      payments: flagged.map((f) => ({
        payment: f.payment.id, scheme: f.payment.scheme, item: f.payment.item, period: f.payment.period, amount_fen: f.payment.amount_fen,
        batch: f.payment.batch, paid_on: f.payment.paid_on, district_code: f.payment.district_code, file: f.payment.file, line: f.payment.line,
        own: { ...f.own, z: r1(f.ownZ) }, peers: { ...f.peers, z: r1(f.peerZ) },
      })),
    },
    paymentIds: [],
  };
}

async function candidateGroups(db: Kysely<DB>, excluded: readonly string[], p: Params): Promise<PaymentRow[]> {
  // Necessary condition for any outlier in a group (all amounts > 0): max > min + threshold · scale, and the
  // scale is at least minRelativeSpread · min and minSpreadFen. Integer arithmetic so that every engine
  // compares the same way: (max − min) · 10^6 > min · floor(threshold · minRelativeSpread · 10^6).
  const relK = Math.floor(p.threshold * p.minRelativeSpread * 1_000_000);
  const absK = Math.floor(p.threshold * p.minSpreadFen);
  const groups = db
    .selectFrom('payment')
    .select(['id_number', 'scheme', 'item'])
    .where('amount_fen', '>', 0)
    .$if(excluded.length > 0, (q) => q.where('item', 'not in', excluded))
    .groupBy(['id_number', 'scheme', 'item'])
    .having((eb) => eb.fn.countAll(), '>=', p.minHistory + 1)
    .having((eb) => eb(eb.parens(eb.fn.max('amount_fen'), '-', eb.fn.min('amount_fen')), '>', absK))
    .having((eb) => eb(eb(eb.parens(eb.fn.max('amount_fen'), '-', eb.fn.min('amount_fen')), '*', 1_000_000), '>', eb(eb.fn.min('amount_fen'), '*', relK)));
  const rows = await db
    .selectFrom('payment as p')
    .innerJoin(groups.as('g'), (j) => j.onRef('g.id_number', '=', 'p.id_number').onRef('g.scheme', '=', 'p.scheme').onRef('g.item', '=', 'p.item'))
    .innerJoin('source_file as f', 'f.id', 'p.file_id')
    .select([...PAYMENT_COLUMNS])
    .orderBy('p.id_number').orderBy('p.scheme').orderBy('p.item').orderBy('p.period').orderBy('p.id')
    .execute();
  return rows.map(toPaymentRow);
}

async function peerAmounts(db: Kysely<DB>, wanted: ReadonlySet<string>, periods: string[], schemes: string[], items: string[]): Promise<Map<string, { id: string; fen: number }[]>> {
  const out = new Map<string, { id: string; fen: number }[]>();
  const stream = db
    .selectFrom('payment')
    .select(['id_number', 'scheme', 'item', 'district_code', 'period', 'amount_fen'])
    .where('amount_fen', '>', 0)
    .where('period', 'in', periods)
    .where('scheme', 'in', schemes)
    .where('item', 'in', items)
    .stream(1000);
  for await (const r of stream) {
    const key = peerKey(r);
    if (wanted.has(key)) pushTo(out, key, { id: r.id_number, fen: Number(r.amount_fen) });
  }
  return out;
}

export const amountAnomaly: Detector = {
  id: 'amount_anomaly',
  title: 'Amounts far outside own history and peers',
  async *run(ctx: DetectorContext) {
    const { db, settings } = ctx;
    const p = settings.detectors.amount_anomaly;
    const excluded = sortedDistinct([...p.excludeItems, ...payableAfterDeathItems(settings)]);
    ctx.stats.examined = await countPayments(db);

    // Benford table first: it is wanted even when no payment is an outlier.
    ctx.stats.benford = await benfordByBatch(db, settings.detectors.benford);
    for (const b of ctx.stats.benford) {
      if (b.conformity === 'nonconformity') ctx.logger.warn({ batch: b.batch, n: b.n, mad: b.mad }, `batch ${b.batch}: first digits of ${b.n} back-pay/adjustment amounts do not conform to Benford's law (MAD ${b.mad})`);
    }

    const rows = await candidateGroups(db, excluded, p);
    const own: OwnOutlier[] = [];
    let i = 0;
    while (i < rows.length) {
      const a = rows[i]!;
      let j = i;
      while (j < rows.length && rows[j]!.id_number === a.id_number && rows[j]!.scheme === a.scheme && rows[j]!.item === a.item) j++;
      own.push(...ownHistoryOutliers(rows.slice(i, j), ctx.claimed, p));
      i = j;
    }
    if (own.length === 0) return;
    const peers = await peerAmounts(
      db,
      new Set(own.map((o) => peerKey(o.payment))),
      sortedDistinct(own.map((o) => o.payment.period)),
      sortedDistinct(own.map((o) => o.payment.scheme)),
      sortedDistinct(own.map((o) => o.payment.item)),
    );
    const flagged = peerOutliers(own, peers, p);
    const byCase = new Map<string, AmountOutlier[]>();
    for (const f of flagged) pushTo(byCase, `${f.payment.id_number}|${f.payment.period}`, f);
    const labels = labelsOf(settings);
    for (const key of [...byCase.keys()].sort(byteCmp)) yield anomalyFinding(byCase.get(key)!, labels);
  },
};
