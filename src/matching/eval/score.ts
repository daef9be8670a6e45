/**
 * Scores the `deceased_payment` cases of a run against a scenario's truth (scenario.ts): precision and
 * recall per confidence tier, and the two guarantees of the issue — no namesake ever linked `confirmed`,
 * no ID clash ever `confirmed`. Pure.
 *
 * Definitions:
 * - a positive is a deceased recipient paid for a period after their month of death (a person, whatever
 *   IDs the payments carried);
 * - a case is true when the recipient it names (through the payment-side ID) really died; precision of a
 *   tier = true cases / cases of that tier;
 * - recall of a tier = positives whose best case is of that tier / positives; cumulative recall adds the
 *   stronger tiers (`review` cumulative = overall recall).
 */
import type { ScenarioTruth } from './scenario.ts';

export const TIERS = ['confirmed', 'probable', 'review'] as const;
export type EvalTier = (typeof TIERS)[number];

/** A case as read from `recovery_case`. */
export interface ScoredCase {
  id_number: string;
  confidence: string;
  /** `evidence.death.month` of the case. */
  deathMonth: string | null;
}

export interface TierScore {
  tier: EvalTier;
  cases: number;
  trueCases: number;
  /** trueCases / cases (1 when there are no cases). */
  precision: number;
  /** Positives whose best case is this tier. */
  found: number;
  recall: number;
  cumulativeRecall: number;
}

export interface EvalScore {
  positives: number;
  tiers: TierScore[];
  overall: { cases: number; trueCases: number; precision: number; found: number; recall: number };
  /** Payment-side IDs paid after their holder's death, and how many of them have a case. */
  paymentIdPositives: number;
  paymentIdsFound: number;
  /** True cases whose month of death is the real one. */
  deathMonthRight: number;
  /** Positives without any case, with their scenario tags. */
  misses: { key: number; tags: string[] }[];
  /** Cases naming someone alive: tier and the person's tags. */
  falseCases: { tier: string; key: number; tags: string[] }[];
  /** Namesakes of the dead that got any case / a confirmed case. */
  namesakeCases: number;
  namesakeConfirmed: number;
  /** Recipients whose ID a stranger's death record carries, with a confirmed case. */
  clashConfirmed: number;
  /** Positives per tag, and how many of them were found. */
  byTag: Record<string, { positives: number; found: number; confirmed: number }>;
}

const ratio = (a: number, b: number): number => (b === 0 ? 1 : a / b);

/** Scores `cases` against `truth` (module doc). */
export function scoreCases(truth: ScenarioTruth, cases: readonly ScoredCase[]): EvalScore {
  const rank = (t: string): number => TIERS.indexOf(t as EvalTier);
  const best = new Map<number, string>();
  const tiers = TIERS.map((tier) => ({ tier, cases: 0, trueCases: 0, precision: 1, found: 0, recall: 0, cumulativeRecall: 0 }));
  const falseCases: EvalScore['falseCases'] = [];
  let deathMonthRight = 0;
  let namesakeCases = 0;
  let namesakeConfirmed = 0;
  let clashConfirmed = 0;
  for (const c of cases) {
    const key = truth.paymentIds.get(c.id_number);
    const t = tiers[rank(c.confidence)];
    if (!t) throw new Error(`unknown confidence "${c.confidence}"`);
    t.cases++;
    const person = key === undefined ? undefined : truth.persons[key];
    if (person?.death) {
      t.trueCases++;
      if (c.deathMonth === person.death.slice(0, 7)) deathMonthRight++;
      const prev = best.get(person.key);
      if (prev === undefined || rank(c.confidence) < rank(prev)) best.set(person.key, c.confidence);
    } else {
      falseCases.push({ tier: c.confidence, key: key ?? -1, tags: person?.tags ?? ['unknown_id'] });
      if (person?.tags.includes('namesake_of_deceased')) {
        namesakeCases++;
        if (c.confidence === 'confirmed') namesakeConfirmed++;
      }
      if (person?.tags.includes('id_clash') && c.confidence === 'confirmed') clashConfirmed++;
    }
  }
  const positives = [...truth.overpaid];
  const byTag: EvalScore['byTag'] = {};
  const misses: EvalScore['misses'] = [];
  for (const k of positives) {
    const b = best.get(k);
    const p = truth.persons[k]!;
    if (b !== undefined) tiers[rank(b)]!.found++;
    else misses.push({ key: k, tags: p.tags });
    for (const tag of p.tags.length ? p.tags : ['plain']) {
      const e = (byTag[tag] ??= { positives: 0, found: 0, confirmed: 0 });
      e.positives++;
      if (b !== undefined) e.found++;
      if (b === 'confirmed') e.confirmed++;
    }
  }
  let cum = 0;
  for (const t of tiers) {
    t.precision = ratio(t.trueCases, t.cases);
    t.recall = ratio(t.found, positives.length);
    cum += t.found;
    t.cumulativeRecall = ratio(cum, positives.length);
  }
  const totalCases = tiers.reduce((s, t) => s + t.cases, 0);
  const trueCases = tiers.reduce((s, t) => s + t.trueCases, 0);
  const caseIds = new Set(cases.map((c) => c.id_number));
  const paymentIdsFound = [...truth.overpaidIds].filter((x) => caseIds.has(x)).length;
  return {
    positives: positives.length,
    paymentIdPositives: truth.overpaidIds.size,
    paymentIdsFound,
    tiers,
    overall: { cases: totalCases, trueCases, precision: ratio(trueCases, totalCases), found: cum, recall: ratio(cum, positives.length) },
    deathMonthRight,
    misses,
    falseCases,
    namesakeCases,
    namesakeConfirmed,
    clashConfirmed,
    byTag,
  };
}

/** The score as a plain-text table (one row per tier, then overall and the guarantees). */
export function formatScore(s: EvalScore): string {
  const f = (x: number): string => x.toFixed(3);
  const rows: string[][] = [['tier', 'cases', 'true', 'precision', 'found', 'recall', 'cumulative recall']];
  for (const t of s.tiers) rows.push([t.tier, String(t.cases), String(t.trueCases), f(t.precision), String(t.found), f(t.recall), f(t.cumulativeRecall)]);
  rows.push(['all', String(s.overall.cases), String(s.overall.trueCases), f(s.overall.precision), String(s.overall.found), f(s.overall.recall), f(s.overall.recall)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  out.push('');
  out.push(`overpaid deceased recipients (positives): ${s.positives}`);
  out.push(`payment-side IDs paid after the death (incl. miswritten ones) with a case: ${s.paymentIdsFound} of ${s.paymentIdPositives}`);
  out.push(`true cases with the right month of death: ${s.deathMonthRight} of ${s.overall.trueCases}`);
  out.push(`namesakes of the dead with a case: ${s.namesakeCases} (confirmed: ${s.namesakeConfirmed})`);
  out.push(`ID clashes (a stranger's death under a living recipient's ID) confirmed: ${s.clashConfirmed}`);
  return out.join('\n');
}
