/**
 * Detector `deceased_payment`: benefit payments for periods after the recipient's death.
 *
 * Rules (DOMAIN.md §4):
 * - death month payable: overpaid periods are those AFTER the month of death (setting
 *   `deathMonthPayable`; when false, the death month itself is overpaid too, as in US practice);
 * - by period, not pay date: a back payment for a period up to the death month is legitimate even when
 *   paid after the death;
 * - items payable after death (funeral grant, one-off survivor payment, survivors' pension — seeds/items.json
 *   `payable_after_death`) are never overpayments;
 * - net amounts: what was paid for a (person, scheme, item, period) is the net of its payments and
 *   reversals; a period is counted when its net is positive, and the amount is the sum of counted nets.
 *
 * Matching (first cut): the normalised, valid resident ID of the payment equals the death fact's. The
 * confidence is `confirmed` when the name agrees (exactly, or up to a rare-character placeholder or a
 * middle-dot variant) and nothing contradicts (sex and birth date inside the ID against the death
 * record's, the sources' months of death); otherwise `review`. One finding per person; case key = ID.
 */
import type { Kysely } from 'kysely';
import { monthsBetween } from '../calendar/values.ts';
import { birthDateFromId, sexFromId } from '../identity/resident-id.ts';
import type { DeathSourceReport } from '../matching/death-facts.ts';
import { compareNames, fullestName, type NameAgreement } from '../matching/names.ts';
import type { DB } from '../db/schema.ts';
import type { Comparison, Confidence, Detector, DetectorContext, Finding } from './types.ts';

interface Row {
  id: number;
  id_number: string;
  name: string;
  sex: string | null;
  scheme: string;
  item: string;
  period: string;
  amount_fen: number;
  paid_on: string | null;
  district_code: string | null;
  death_date: string;
  death_month: string;
  death_source: string;
  sources: string;
  month_disagreement: number;
}

async function candidateRows(db: Kysely<DB>, exempt: string[], deathMonthPayable: boolean): Promise<Row[]> {
  let q = db
    .selectFrom('payment as p')
    .innerJoin('death_fact as d', 'd.id_number', 'p.id_number')
    .select([
      'p.id', 'p.id_number', 'p.name', 'p.sex', 'p.scheme', 'p.item', 'p.period', 'p.amount_fen', 'p.paid_on', 'p.district_code',
      'd.death_date', 'd.death_month', 'd.source as death_source', 'd.sources', 'd.month_disagreement',
    ])
    .where('p.id_valid', '=', 1)
    .whereRef('p.period', deathMonthPayable ? '>' : '>=', 'd.death_month');
  if (exempt.length) q = q.where('p.item', 'not in', exempt);
  const rows = await q.orderBy('p.id_number').orderBy('p.period').orderBy('p.id').execute();
  return rows.map((r) => ({ ...r, id: Number(r.id), amount_fen: Number(r.amount_fen), month_disagreement: Number(r.month_disagreement) }));
}

/**
 * Builds the finding of one person from their candidate payment rows (all for periods after the death
 * month, non-exempt items), or null when nothing nets to a positive amount. Pure.
 */
export function findingForPerson(rows: readonly Row[]): Finding | null {
  const groups = new Map<string, { net: number; rows: Row[] }>();
  for (const r of rows) {
    const key = `${r.scheme}|${r.item}|${r.period}`;
    const g = groups.get(key) ?? { net: 0, rows: [] };
    g.net += r.amount_fen;
    g.rows.push(r);
    groups.set(key, g);
  }
  const counted = [...groups.values()].filter((g) => g.net > 0);
  if (counted.length === 0) return null;
  const amountFen = counted.reduce((s, g) => s + g.net, 0);
  const countedRows = counted.flatMap((g) => g.rows).sort((a, b) => a.id - b.id);
  const positive = countedRows.filter((r) => r.amount_fen > 0);
  // Latest payment counted: latest period, then latest pay date, then last stored.
  const latest = [...positive].sort((a, b) => cmp(a.period, b.period) || cmp(a.paid_on ?? '', b.paid_on ?? '') || a.id - b.id).at(-1)!;
  const periods = [...new Set(counted.map((g) => g.rows[0]!.period))].sort();
  const schemes = [...new Set(counted.map((g) => g.rows[0]!.scheme))].sort();
  const first = rows[0]!;
  const reports = JSON.parse(first.sources) as DeathSourceReport[];
  const id = first.id_number;

  // Comparisons (evidence).
  const paymentNames = [...new Set(rows.map((r) => r.name))];
  let nameLevel: NameAgreement = 'none';
  const nameSources: string[] = [];
  for (const rep of reports) {
    if (!rep.name) continue;
    for (const pn of paymentNames) {
      const level = compareNames(pn, rep.name);
      if (rank(level) > rank(nameLevel)) nameLevel = level;
      if (level !== 'none' && !nameSources.includes(rep.source)) nameSources.push(rep.source);
    }
  }
  const reportedNames = reports.some((r) => r.name);
  const comparisons: Comparison[] = [
    { field: 'id_number', level: 'exact', values: [id], sources: ['payments', ...new Set(reports.map((r) => r.source))] },
    { field: 'name', level: reportedNames ? nameLevel : 'missing', values: [...paymentNames, ...new Set(reports.map((r) => r.name ?? ''))].filter(Boolean), sources: nameSources },
  ];
  const contradictions: string[] = [];
  const idSex = sexFromId(id);
  const sexes = [...new Set(reports.map((r) => r.sex).filter((s): s is string => !!s))];
  if (sexes.length) {
    const ok = sexes.every((s) => s === idSex);
    comparisons.push({ field: 'sex', level: ok ? 'agree' : 'disagree', values: [idSex ?? '', ...sexes] });
    if (!ok) contradictions.push('sex in the death record differs from the ID');
  }
  const idBirth = birthDateFromId(id);
  const births = [...new Set(reports.map((r) => r.birth_date).filter((s): s is string => !!s))];
  if (births.length) {
    const ok = births.every((b) => b === idBirth);
    comparisons.push({ field: 'birth_date', level: ok ? 'agree' : 'disagree', values: [idBirth ?? '', ...births] });
    if (!ok) contradictions.push('birth date in the death record differs from the ID');
  }
  const months = [...new Set(reports.map((r) => r.death_date.slice(0, 7)))];
  comparisons.push({ field: 'death_month', level: first.month_disagreement ? 'disagree' : 'agree', values: reports.map((r) => `${r.source}:${r.death_date}`) });
  if (first.month_disagreement) contradictions.push(`sources disagree on the month of death (${months.join(', ')})`);
  if (reportedNames && nameLevel === 'none') contradictions.push('name differs between payments and death record');

  const confidence: Confidence = contradictions.length === 0 && (nameLevel === 'exact' || nameLevel === 'wildcard') ? 'confirmed' : 'review';
  const name = fullestName(latest.name, [...paymentNames, ...reports.map((r) => r.name)]);
  const lag = monthsBetween(first.death_month, periods.at(-1)!);
  const why =
    `ID ${'exact'} match; name ${nameLevel}${nameSources.length ? ` (${nameSources.join(', ')})` : ''}; ` +
    `died ${first.death_date} (${reports.map((r) => r.source).filter((s, i, a) => a.indexOf(s) === i).join(', ')}); ` +
    `paid for ${periods.length} period(s) after the death month ${first.death_month}: ${periods[0]}..${periods.at(-1)}` +
    (contradictions.length ? `; REVIEW: ${contradictions.join('; ')}` : '');
  return {
    detector: 'deceased_payment',
    caseKey: id,
    idNumber: id,
    name,
    districtCode: latest.district_code ?? id.slice(0, 6),
    schemes,
    periods,
    amountFen,
    confidence,
    evidence: {
      why,
      comparisons,
      death: { date: first.death_date, month: first.death_month, source: first.death_source, reports },
      months_paid_after_death: lag,
      counted: counted.map((g) => ({ scheme: g.rows[0]!.scheme, item: g.rows[0]!.item, period: g.rows[0]!.period, net_fen: g.net, payments: g.rows.map((r) => r.id) })),
    },
    paymentIds: countedRows.map((r) => r.id),
  };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const rank = (l: NameAgreement): number => (l === 'exact' ? 2 : l === 'wildcard' ? 1 : 0);

export const deceasedPayment: Detector = {
  id: 'deceased_payment',
  title: 'Payments after death',
  async *run(ctx: DetectorContext) {
    const exempt = ctx.settings.items.filter((i) => i.payable_after_death).map((i) => i.code);
    const rows = await candidateRows(ctx.db, exempt, ctx.settings.deathMonthPayable);
    ctx.stats.examined = rows.length;
    let i = 0;
    while (i < rows.length) {
      let j = i;
      while (j < rows.length && rows[j]!.id_number === rows[i]!.id_number) j++;
      const f = findingForPerson(rows.slice(i, j));
      if (f) yield f;
      i = j;
    }
  },
};
