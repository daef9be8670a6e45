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
 * Scale: the table `payment_group_stats` keeps count, min and max of the positive payments per (person,
 * scheme, item), updated set-based with the new rows each run (built in full once); the groups with count >
 * minHistory and max − min wide enough to hold an outlier at all are read from it, their rows read back and
 * judged exactly. Peer statistics are then read in one streamed pass over the candidates' periods, schemes,
 * items and districts, keeping only the amounts of the (scheme, item, district, period) groups the
 * candidates need (the person's own payments, which are among the candidate rows, are taken out of them).
 *
 * Incremental (./scope.ts): a person's history is all their periods, so a new month moves the median of every
 * group it touches and old payments can flip. The persons recomputed (every candidate group of theirs, all
 * periods) are those with a candidate group or a previous finding who have a new row, a payment whose claim
 * changed, or a positive candidate payment in a peer group of an older period that gained new rows. Peer
 * statistics of an own-history outlier are reused from the previous run when its peer group has no new rows
 * (they are kept per payment with the run), else read again. Every other previous finding is carried forward.
 * The Benford counts per batch and digit are kept with the run; the new rows' counts are added to them.
 */
import { median, medianAbsoluteDeviation } from 'simple-statistics';
import type { Kysely } from 'kysely';
import { formatFen } from '../calendar/values.ts';
import type { DetectorSettings } from '../config/detector-settings.ts';
import type { DB } from '../db/schema.ts';
import { refreshPersonSummary } from '../db/summary-tables.ts';
import { fullestName } from '../matching/names.ts';
import { benfordCounts, benfordTable } from './benford.ts';
import { chunksOf, idsWithNewRows, oldPeriodRows, ownersOf, readState, readStates, writeStates, type DetectorIncremental } from './scope.ts';
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

/**
 * Brings `payment_group_stats` up to the payments with `id <= untilId`: only the rows stored since its
 * high-water mark are added (count summed, min and max widened), set-based. On the first run of a store it
 * is built from every payment together with `account_person` when that is not built yet either (one scan
 * and sort of the payments for both: src/db/summary-tables.ts {@link refreshPersonSummary}).
 */
export async function refreshGroupStats(db: Kysely<DB>, untilId: number): Promise<void> {
  await refreshPersonSummary(db, 'payment_group_stats', untilId);
}

/** The (person, scheme, item) groups that can hold an outlier at all, from `payment_group_stats`. */
function candidateGroupQuery(db: Kysely<DB>, excluded: readonly string[], p: Params) {
  // Necessary condition for any outlier in a group (all amounts > 0): max > min + threshold · scale, and the
  // scale is at least minRelativeSpread · min and minSpreadFen. Integer arithmetic so that every engine
  // compares the same way: (max − min) · 10^6 > min · floor(threshold · minRelativeSpread · 10^6).
  const relK = Math.floor(p.threshold * p.minRelativeSpread * 1_000_000);
  const absK = Math.floor(p.threshold * p.minSpreadFen);
  return db
    .selectFrom('payment_group_stats')
    .select(['id_number', 'scheme', 'item'])
    .$if(excluded.length > 0, (q) => q.where('item', 'not in', excluded))
    .where('n', '>=', p.minHistory + 1)
    .where((eb) => eb(eb.parens(eb.ref('max_fen'), '-', eb.ref('min_fen')), '>', absK))
    .where((eb) => eb(eb(eb.parens(eb.ref('max_fen'), '-', eb.ref('min_fen')), '*', 1_000_000), '>', eb(eb.ref('min_fen'), '*', relK)));
}

/**
 * Rows of the candidate groups (of some persons only, when given), ordered by person, scheme, item, period, id.
 * The groups are read first and their persons' rows looked up by ID (the `payment_natural_key` index; a skip-scan on SQLite, migration 0009): a join
 * left to the planner was seen to scan every payment instead.
 */
async function candidateGroups(db: Kysely<DB>, excluded: readonly string[], p: Params, persons?: readonly string[]): Promise<PaymentRow[]> {
  const groups = new Set<string>();
  const ids = new Set<string>();
  for (const c of persons ? chunksOf(persons) : [null]) {
    for (const g of await candidateGroupQuery(db, excluded, p).$if(c !== null, (q) => q.where('id_number', 'in', c!)).execute()) {
      groups.add(`${g.id_number}|${g.scheme}|${g.item}`);
      ids.add(g.id_number);
    }
  }
  const out: PaymentRow[] = [];
  for (const c of chunksOf([...ids].sort(byteCmp))) {
    const rows = await db
      .selectFrom('payment as p')
      .innerJoin('source_file as f', 'f.id', 'p.file_id')
      .select([...PAYMENT_COLUMNS])
      .where('p.id_number', 'in', c)
      .orderBy('p.id_number').orderBy('p.scheme').orderBy('p.item').orderBy('p.period').orderBy('p.id')
      .execute();
    for (const r of rows) if (groups.has(`${r.id_number}|${r.scheme}|${r.item}`)) out.push(toPaymentRow(r));
  }
  return out;
}

/** Payment ids read per query by {@link peerAmounts}: at most about this many rows are held at a time. */
const PEER_ID_RANGE = 1_000_000;

/**
 * Positive amounts of the wanted peer groups, per {@link peerKey} (payer IDs are not kept: the caller takes
 * the person's own payments out, which it has). One pass over the payments (with `id > sinceId` when given),
 * filtered by period, scheme, item and district, read in ranges of {@link PEER_ID_RANGE} ids: each range one
 * query whose rows are read at once, instead of a stream of single rows (measured on the 250,000-recipient bench
 * store, 146,583 rows kept of 2.9 M: 1.16–1.19 s of CPU streamed, 0.92–1.08 s in ranges; the filtered scan alone,
 * counted in SQL, takes 0.61 s).
 */
async function peerAmounts(
  db: Kysely<DB>, wanted: ReadonlySet<string>, periods: string[], schemes: string[], items: string[], districts: (string | null)[], out: Map<string, number[]>, sinceId?: number,
): Promise<void> {
  if (periods.length === 0) return;
  const named = districts.filter((d): d is string => d !== null);
  const query = db
    .selectFrom('payment')
    .select(['scheme', 'item', 'district_code', 'period', 'amount_fen'])
    .where('amount_fen', '>', 0)
    .where('period', 'in', periods)
    .where('scheme', 'in', schemes)
    .where('item', 'in', items)
    .where((eb) => {
      const parts = [];
      if (named.length > 0) parts.push(eb('district_code', 'in', named));
      if (named.length < districts.length) parts.push(eb('district_code', 'is', null));
      return eb.or(parts);
    });
  const top = Number((await db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0);
  for (let lo = sinceId ?? 0; lo < top; lo += PEER_ID_RANGE) {
    for (const r of await query.where('id', '>', lo).where('id', '<=', lo + PEER_ID_RANGE).execute()) {
      const key = peerKey(r);
      if (wanted.has(key)) pushTo(out, key, Number(r.amount_fen));
    }
  }
}

/** Peer statistics of one own-history outlier as kept with the run: null when it has fewer than minPeers peers. */
type PeerState = { id: string; peers: RobustStats | null };

/** Own-history outliers of rows ordered by (person, scheme, item). */
function ownOutliersOf(rows: readonly PaymentRow[], claimed: ReadonlySet<number>, p: Params): OwnOutlier[] {
  const own: OwnOutlier[] = [];
  let i = 0;
  while (i < rows.length) {
    const a = rows[i]!;
    let j = i;
    while (j < rows.length && rows[j]!.id_number === a.id_number && rows[j]!.scheme === a.scheme && rows[j]!.item === a.item) j++;
    own.push(...ownHistoryOutliers(rows.slice(i, j), claimed, p));
    i = j;
  }
  return own;
}

/**
 * Judges own-history outliers against their peers. `known` holds reusable peer statistics per payment id;
 * the others' peer groups are read (fresh periods only among the rows with id > sinceId, every row of one
 * being new). Returns the flagged outliers and the peer statistics of every outlier judged.
 */
async function judgePeers(
  db: Kysely<DB>, own: readonly OwnOutlier[], rows: readonly PaymentRow[], known: ReadonlyMap<number, PeerState>, p: Params, fresh?: { sinceId: number; periods: ReadonlySet<string> },
) {
  const need = own.filter((o) => !known.has(o.payment.id));
  const peers = new Map<string, number[]>();
  // The person's own positive payments per peer group (all of them are among the candidate group's rows).
  const ownAmounts = new Map<string, number[]>();
  if (need.length > 0) {
    const wanted = new Set(need.map((o) => peerKey(o.payment)));
    const persons = new Set(need.map((o) => o.payment.id_number));
    for (const r of rows) if (r.amount_fen > 0 && persons.has(r.id_number) && wanted.has(peerKey(r))) pushTo(ownAmounts, `${r.id_number}|${peerKey(r)}`, r.amount_fen);
    const periods = sortedDistinct(need.map((o) => o.payment.period));
    const schemes = sortedDistinct(need.map((o) => o.payment.scheme));
    const items = sortedDistinct(need.map((o) => o.payment.item));
    const districts = [...new Set(need.map((o) => o.payment.district_code))];
    const freshP = fresh ? periods.filter((x) => fresh.periods.has(x)) : [];
    await peerAmounts(db, wanted, periods.filter((x) => !freshP.includes(x)), schemes, items, districts, peers);
    await peerAmounts(db, wanted, freshP, schemes, items, districts, peers, fresh?.sinceId);
  }
  const flagged: AmountOutlier[] = [];
  const states = new Map<number, PeerState>();
  for (const o of own) {
    let st = known.get(o.payment.id);
    if (!st) {
      const mine = [...(ownAmounts.get(`${o.payment.id_number}|${peerKey(o.payment)}`) ?? [])];
      const amounts = (peers.get(peerKey(o.payment)) ?? []).filter((fen) => {
        const k = mine.indexOf(fen);
        if (k < 0) return true;
        mine.splice(k, 1);
        return false;
      });
      st = { id: o.payment.id_number, peers: amounts.length < p.minPeers ? null : robustStats(amounts, p) };
    }
    states.set(o.payment.id, st);
    if (!st.peers) continue;
    const z = robustZ(o.payment.amount_fen, st.peers);
    if (z > p.threshold) flagged.push({ ...o, peers: st.peers, peerZ: z });
  }
  return { flagged, states };
}

/** The persons an incremental run recomputes (module doc). */
async function scopePersons(db: Kysely<DB>, inc: DetectorIncremental, excluded: readonly string[], p: Params): Promise<Set<string>> {
  const candidates = new Set((await candidateGroupQuery(db, excluded, p).execute()).map((r) => r.id_number));
  const relevant = new Set([...candidates, ...inc.previous.map((f) => f.idNumber)]);
  const scope = await idsWithNewRows(db, relevant, inc);
  for (const id of await ownersOf(db, inc.claimChanged)) if (relevant.has(id)) scope.add(id);
  if (inc.oldPeriods.length > 0) {
    const touched = new Set((await oldPeriodRows(db, inc)).filter((r) => r.amount_fen > 0 && !excluded.includes(r.item)).map(peerKey));
    for (const c of chunksOf([...candidates].filter((id) => !scope.has(id)))) {
      for (const r of await candidateGroups(db, excluded, p, c)) if (r.amount_fen > 0 && touched.has(peerKey(r))) scope.add(r.id_number);
    }
  }
  return scope;
}

export const amountAnomaly: Detector = {
  id: 'amount_anomaly',
  title: 'Amounts far outside own history and peers',
  personSummaries: true,
  async *run(ctx: DetectorContext) {
    const { db, settings } = ctx;
    const p = settings.detectors.amount_anomaly;
    const excluded = sortedDistinct([...p.excludeItems, ...payableAfterDeathItems(settings)]);
    const inc = ctx.incremental;
    ctx.stats.examined = await countPayments(db);

    // Benford table first: it is wanted even when no payment is an outlier.
    let counts = await benfordCounts(db, settings.detectors.benford, inc?.sinceId);
    if (inc) {
      const before = JSON.parse((await readState(db, inc.prevRunId, 'amount_anomaly', 'benford_counts')) ?? '{}') as Record<string, number[]>;
      const sum = new Map(Object.entries(before));
      for (const [batch, c] of counts) sum.set(batch, (sum.get(batch) ?? new Array<number>(9).fill(0)).map((x, i) => x + c[i]!));
      counts = sum;
    }
    ctx.stats.benford = benfordTable(counts, settings.detectors.benford.minRows);
    for (const b of ctx.stats.benford) {
      if (b.conformity === 'nonconformity') ctx.logger.warn({ batch: b.batch, n: b.n, mad: b.mad }, `batch ${b.batch}: first digits of ${b.n} back-pay/adjustment amounts do not conform to Benford's law (MAD ${b.mad})`);
    }

    const untilId = Number((await db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0);
    await refreshGroupStats(db, untilId);
    let rows: PaymentRow[];
    let scope: Set<string> | null = null;
    const known = new Map<number, PeerState>();
    const carried = new Map<number, PeerState>();
    if (inc) {
      scope = await scopePersons(db, inc, excluded, p);
      rows = [];
      for (const c of chunksOf([...scope].sort(byteCmp))) rows.push(...(await candidateGroups(db, excluded, p, c)));
      const before = await readStates(db, inc.prevRunId, 'amount_anomaly');
      for (const [k, v] of before) {
        if (!/^\d+$/.test(k)) continue;
        const st = JSON.parse(v) as PeerState;
        if (scope.has(st.id)) known.set(Number(k), st);
        else carried.set(Number(k), st);
      }
      // Peer statistics are reused only where the peer group gained no rows.
      const touched = new Set((await oldPeriodRows(db, inc)).filter((r) => r.amount_fen > 0).map(peerKey));
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const id of [...known.keys()]) {
        const r = byId.get(id);
        if (!r || inc.freshPeriods.has(r.period) || touched.has(peerKey(r))) known.delete(id);
      }
      ctx.logger.info({ step: 'detect', recomputed: scope.size, rows: rows.length }, `amount_anomaly: ${scope.size} person(s) to recompute`);
    } else {
      rows = await candidateGroups(db, excluded, p);
    }
    const own = ownOutliersOf(rows, ctx.claimed, p);
    const { flagged, states } = await judgePeers(db, own, rows, known, p, inc ? { sinceId: inc.sinceId, periods: inc.freshPeriods } : undefined);
    for (const [id, st] of carried) states.set(id, st);
    const saved: [string, string][] = [...states].map(([id, st]) => [String(id), JSON.stringify(st)]);
    saved.push(['benford_counts', JSON.stringify(Object.fromEntries(counts))]);
    await writeStates(db, ctx.runId, 'amount_anomaly', saved);

    const byCase = new Map<string, AmountOutlier[]>();
    for (const f of flagged) pushTo(byCase, `${f.payment.id_number}|${f.payment.period}`, f);
    const labels = labelsOf(settings);
    const out: Finding[] = [...byCase.keys()].map((key) => anomalyFinding(byCase.get(key)!, labels));
    if (inc && scope) {
      const s = scope;
      out.push(...inc.previous.filter((f) => !s.has(f.idNumber)));
    }
    out.sort((a, b) => byteCmp(a.caseKey, b.caseKey));
    yield* out;
  },
};
