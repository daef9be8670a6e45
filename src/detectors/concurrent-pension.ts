/**
 * Detector `concurrent_pension`: the residents' pension drawn in months already covered by an employees' or
 * public-institution pension (重复领取).
 *
 * Rule (DOMAIN.md §4 "Concurrent pensions"): a person drawing the urban-rural residents' pension (170) in a
 * month in which they also draw the enterprise employees' (110) or public-institution (120) pension; the 170
 * payments for the overlapping months are to be refunded and the 170 relationship terminated.
 * - "Draws scheme S in month M": the net of the person's payments of S for period M (every item except
 *   those paid because of a death — funeral grant, survivor payments, seeds/items.json
 *   `payable_after_death` — which a survivor receives on someone else's account) is positive. By period, not
 *   pay date: a 110 back payment for March makes March a 110 month.
 * - Amount = the net of the person's 170 payments (all non-exempt items) for the overlapping months, each
 *   month counted when that net is positive.
 * - One payment, one claim: 170 payments already counted by an earlier detector (`ctx.claimed`: paid after
 *   death, or a duplicate copy) are left out of the amount, so a duplicated 170 payment is counted once by
 *   duplicate_payment (the copy) and once here (the kept payment). Whether the person draws 110/120 in a
 *   month is judged on all their payments.
 *
 * Parameters (`detectors.concurrent_pension`): `residentScheme` (default "170"), `otherSchemes` (default
 * ["110", "120"]).
 *
 * Case key: the resident ID (one case per person, like deceased_payment). periods = the overlapping months
 * counted; schemes = the residents' scheme and every other scheme drawn in those months; the district is the
 * latest counted 170 payment's.
 *
 * Confidence: `confirmed` when the ID is valid (check character) and a name in the 170 payments agrees
 * with a name in the other scheme's payments (exactly, or up to a rare-character placeholder) — the same
 * person in two of the bureau's own registers, and the rule needs no judgement; otherwise `review` (an
 * invalid ID or different names may mean a mis-keyed ID joined two people).
 *
 * paymentIds: the counted 170 payments (and reversals) of the counted months.
 *
 * Scale: a GROUP BY (person, period, scheme HAVING net > 0) and a self-join of that small set find the
 * overlapping (person, month) pairs; the GROUP BY runs only over the (person, period) pairs holding two or
 * more rows (shared.ts `multiRowPairs`: an index-only scan), and only the overlapping pairs' payments are
 * read back.
 *
 * Incremental (./scope.ts): a person's finding depends only on their own rows (and the claims on them), and
 * only a person drawing both schemes at all — a positive payment of a non-exempt item in the resident scheme
 * and in another (payment_group_stats, brought up to date first: one pass over that table in its key order) —
 * can have an overlapping month. Among those, a person with a new row (any period) or a payment whose claim
 * changed is recomputed from all their rows; every other previous finding is carried forward. No GROUP BY
 * over the new month's rows. On the 250,000-recipient bench store (one new month of 245,000 rows) 36 persons
 * draw both schemes; the detector took 0.8 s of CPU, against 1.9 s with a GROUP BY and self-join over the new
 * rows (most of what is left is bringing payment_group_stats up to date, which amount_anomaly needs too).
 */
import type { Kysely } from 'kysely';
import { chunksOf, idsWithNewRows, ownersOf, type DetectorIncremental } from './scope.ts';
import { refreshGroupStats } from './amount-anomaly.ts';
import { formatFen } from '../calendar/values.ts';
import type { DB } from '../db/schema.ts';
import { compareNames, fullestName } from '../matching/names.ts';
import type { Confidence, Detector, DetectorContext, Finding } from './types.ts';
import { byteCmp, countPayments, multiRowPairs, districtOf, labelsOf, latestPayment, monthRanges, payableAfterDeathItems, PAYMENT_COLUMNS, pushTo, sortedDistinct, toPaymentRow, type Labels, type PaymentRow } from './shared.ts';

/** Parameters of {@link concurrentFinding}. */
export interface ConcurrentParams {
  residentScheme: string;
  otherSchemes: readonly string[];
  /** Scheme and item names for the "why" line. */
  labels: Labels;
}

/**
 * The finding for one person from all their payments (of the resident and other schemes, exempt items
 * removed) in the months where both are drawn. Pure.
 * @param claimed payments already counted by an earlier detector
 */
export function concurrentFinding(rows: readonly PaymentRow[], claimed: ReadonlySet<number>, p: ConcurrentParams): Finding | null {
  const byPeriod = new Map<string, PaymentRow[]>();
  for (const r of rows) pushTo(byPeriod, r.period, r);
  const months: { period: string; resident_net_fen: number; other: Record<string, number>; payments: number[] }[] = [];
  const counted: PaymentRow[] = [];
  for (const period of [...byPeriod.keys()].sort(byteCmp)) {
    const inMonth = byPeriod.get(period)!;
    const other: Record<string, number> = {};
    for (const r of inMonth) if (p.otherSchemes.includes(r.scheme)) other[r.scheme] = (other[r.scheme] ?? 0) + r.amount_fen;
    const drawnOther = Object.entries(other).filter(([, net]) => net > 0);
    const residentAll = inMonth.filter((r) => r.scheme === p.residentScheme);
    if (drawnOther.length === 0 || residentAll.reduce((s, r) => s + r.amount_fen, 0) <= 0) continue;
    const resident = residentAll.filter((r) => !claimed.has(r.id));
    const net = resident.reduce((s, r) => s + r.amount_fen, 0);
    if (net <= 0) continue;
    counted.push(...resident);
    months.push({ period, resident_net_fen: net, other: Object.fromEntries(drawnOther), payments: resident.map((r) => r.id) });
  }
  if (months.length === 0) return null;
  const first = rows[0]!;
  const periods = months.map((m) => m.period);
  const otherSchemes = sortedDistinct(months.flatMap((m) => Object.keys(m.other)));
  const amountFen = months.reduce((s, m) => s + m.resident_net_fen, 0);
  const countedPeriods = new Set(periods);
  const residentNames = sortedDistinct(rows.filter((r) => r.scheme === p.residentScheme && countedPeriods.has(r.period)).map((r) => r.name));
  const otherNames = sortedDistinct(rows.filter((r) => otherSchemes.includes(r.scheme) && countedPeriods.has(r.period)).map((r) => r.name));
  let nameLevel: 'exact' | 'wildcard' | 'none' = 'none';
  for (const a of residentNames) {
    for (const b of otherNames) {
      const l = compareNames(a, b);
      if (l === 'exact' || (l === 'wildcard' && nameLevel === 'none')) nameLevel = l;
    }
  }
  const idValid = rows.every((r) => r.id_valid === 1);
  const contradictions: string[] = [];
  if (!idValid) contradictions.push('the ID fails its check character');
  if (nameLevel === 'none') contradictions.push('names differ between the schemes');
  const confidence: Confidence = contradictions.length === 0 ? 'confirmed' : 'review';
  const latest = latestPayment(counted.filter((r) => r.amount_fen > 0).length ? counted.filter((r) => r.amount_fen > 0) : counted);
  const label = p.labels.scheme;
  const why =
    `draws ${label(p.residentScheme)} in ${months.length} month(s) also covered by ${otherSchemes.map(label).join(' and ')}: ${monthRanges(periods)}; ` +
    `${p.residentScheme} paid ¥${formatFen(amountFen)} for those months; name ${nameLevel} across schemes` +
    (contradictions.length ? `; REVIEW: ${contradictions.join('; ')}` : '');
  return {
    detector: 'concurrent_pension',
    caseKey: first.id_number,
    idNumber: first.id_number,
    name: fullestName(latest.name, [...residentNames, ...otherNames]),
    districtCode: districtOf([latest]),
    schemes: sortedDistinct([p.residentScheme, ...otherSchemes]),
    periods,
    amountFen,
    confidence,
    evidence: {
      why,
      comparisons: [
        { field: 'id_number', level: 'exact', values: [first.id_number], sources: [p.residentScheme, ...otherSchemes] },
        { field: 'name', level: nameLevel, values: sortedDistinct([...residentNames, ...otherNames]), sources: [p.residentScheme, ...otherSchemes] },
        { field: 'months', level: 'overlap', values: periods },
      ],
      id_valid: idValid,
      resident_scheme: p.residentScheme,
      other_schemes: otherSchemes,
      months,
    },
    paymentIds: counted.map((r) => r.id).sort((a, b) => a - b),
  };
}

/** The overlapping (person, month) pairs. */
function overlapQuery(db: Kysely<DB>, resident: string, others: readonly string[], exempt: readonly string[]) {
  const schemes = [resident, ...others];
  return db
    .with('drawn', (qc) =>
      // Only the (person, period) pairs with two or more rows can hold two schemes.
      qc.selectFrom(multiRowPairs(db).as('m')).innerJoin('payment as q', (j) => j.onRef('q.id_number', '=', 'm.id_number').onRef('q.period', '=', 'm.period'))
        .select(['q.id_number', 'q.period', 'q.scheme'])
        .where('q.scheme', 'in', schemes)
        .$if(exempt.length > 0, (q) => q.where('q.item', 'not in', exempt))
        .groupBy(['q.id_number', 'q.period', 'q.scheme'])
        .having((eb) => eb.fn.sum('q.amount_fen'), '>', 0),
    )
    .with('overlap', (qc) =>
      qc
        .selectFrom('drawn as r')
        .innerJoin('drawn as o', (j) => j.onRef('o.id_number', '=', 'r.id_number').onRef('o.period', '=', 'r.period'))
        .where('r.scheme', '=', resident)
        .where('o.scheme', 'in', others)
        .select(['r.id_number', 'r.period'])
        .distinct(),
    );
}

async function overlapRows(db: Kysely<DB>, resident: string, others: readonly string[], exempt: readonly string[]): Promise<PaymentRow[]> {
  const schemes = [resident, ...others];
  const rows = await overlapQuery(db, resident, others, exempt)
    .selectFrom('payment as p')
    .innerJoin('overlap as x', (j) => j.onRef('x.id_number', '=', 'p.id_number').onRef('x.period', '=', 'p.period'))
    .innerJoin('source_file as f', 'f.id', 'p.file_id')
    .select([...PAYMENT_COLUMNS])
    .where('p.scheme', 'in', schemes)
    .$if(exempt.length > 0, (q) => q.where('p.item', 'not in', exempt))
    .orderBy('p.id_number').orderBy('p.period').orderBy('p.id')
    .execute();
  return rows.map(toPaymentRow);
}

/** Keeps the rows of the months where the resident scheme and another scheme both net positive (the SQL overlap rule). */
function overlapMonthsOnly(rows: readonly PaymentRow[], resident: string, others: readonly string[]): PaymentRow[] {
  const net = new Map<string, number>();
  for (const r of rows) net.set(`${r.period}|${r.scheme}`, (net.get(`${r.period}|${r.scheme}`) ?? 0) + r.amount_fen);
  const overlap = (period: string) => (net.get(`${period}|${resident}`) ?? 0) > 0 && others.some((o) => (net.get(`${period}|${o}`) ?? 0) > 0);
  return rows.filter((r) => overlap(r.period));
}

/** Findings of rows ordered by person (then period, id). */
function personFindings(rows: readonly PaymentRow[], claimed: ReadonlySet<number>, params: ConcurrentParams): Finding[] {
  const findings: Finding[] = [];
  let i = 0;
  while (i < rows.length) {
    let j = i;
    while (j < rows.length && rows[j]!.id_number === rows[i]!.id_number) j++;
    const f = concurrentFinding(rows.slice(i, j), claimed, params);
    if (f) findings.push(f);
    i = j;
  }
  return findings;
}

/**
 * The persons who draw the resident scheme and another scheme at all: a positive payment of a non-exempt item
 * in each (payment_group_stats, which must be up to date) — a necessary condition for an overlapping month.
 * One pass over the table in its key order (person first), no sort.
 */
async function drawingBoth(db: Kysely<DB>, resident: string, others: readonly string[], exempt: readonly string[]): Promise<string[]> {
  const rows = await db
    .selectFrom('payment_group_stats')
    .select('id_number')
    .where('scheme', 'in', [resident, ...others])
    .$if(exempt.length > 0, (q) => q.where('item', 'not in', exempt))
    .groupBy('id_number')
    .having((eb) => eb.fn.max(eb.case().when('scheme', '=', resident).then(1).else(0).end()), '=', 1)
    .having((eb) => eb.fn.max(eb.case().when('scheme', '=', resident).then(0).else(1).end()), '=', 1)
    .execute();
  return rows.map((r) => r.id_number);
}

async function incrementalFindings(db: Kysely<DB>, inc: DetectorIncremental, claimed: ReadonlySet<number>, params: ConcurrentParams, exempt: readonly string[]): Promise<Finding[]> {
  const { residentScheme: resident, otherSchemes: others } = params;
  // Only a person drawing both schemes at all can have an overlapping month, and only one with a new row or a
  // payment whose claim changed can have gained, changed or lost a finding.
  await refreshGroupStats(db, inc.untilId);
  const candidates = await drawingBoth(db, resident, others, exempt);
  const persons = await idsWithNewRows(db, candidates, inc);
  if (inc.claimChanged.size > 0) {
    const both = new Set(candidates);
    for (const id of await ownersOf(db, inc.claimChanged)) if (both.has(id)) persons.add(id);
  }
  const out: Finding[] = [];
  for (const c of chunksOf([...persons].sort(byteCmp))) {
    const rows = (
      await db
        .selectFrom('payment as p')
        .innerJoin('source_file as f', 'f.id', 'p.file_id')
        .select([...PAYMENT_COLUMNS])
        .where('p.id_number', 'in', c)
        .where('p.scheme', 'in', [resident, ...others])
        .$if(exempt.length > 0, (q) => q.where('p.item', 'not in', exempt))
        .orderBy('p.id_number').orderBy('p.period').orderBy('p.id')
        .execute()
    ).map(toPaymentRow);
    const kept: PaymentRow[] = [];
    let i = 0;
    while (i < rows.length) {
      let j = i;
      while (j < rows.length && rows[j]!.id_number === rows[i]!.id_number) j++;
      kept.push(...overlapMonthsOnly(rows.slice(i, j), resident, others));
      i = j;
    }
    out.push(...personFindings(kept, claimed, params));
  }
  for (const f of inc.previous) if (!persons.has(f.caseKey)) out.push(f);
  return out;
}

export const concurrentPension: Detector = {
  id: 'concurrent_pension',
  title: "Residents' pension drawn with another pension",
  personSummaries: true,
  async *run(ctx: DetectorContext) {
    const { db, settings } = ctx;
    const { residentScheme, otherSchemes } = settings.detectors.concurrent_pension;
    ctx.stats.examined = await countPayments(db);
    const exempt = payableAfterDeathItems(settings);
    const params: ConcurrentParams = { residentScheme, otherSchemes, labels: labelsOf(settings) };
    const findings = ctx.incremental
      ? await incrementalFindings(db, ctx.incremental, ctx.claimed, params, exempt)
      : personFindings(await overlapRows(db, residentScheme, otherSchemes, exempt), ctx.claimed, params);
    findings.sort((a, b) => byteCmp(a.caseKey, b.caseKey));
    yield* findings;
  },
};
