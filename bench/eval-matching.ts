/**
 * `npm run eval:matching` (`node bin/run-ts.js bench/eval-matching.ts [--seed N] [--recipients N]
 * [--months N] [--keep DIR]`): generates a labelled scenario, runs the real nightly job on it and prints
 * precision and recall per confidence tier. Exits 1 when a target is missed: recall of overpaid deceased
 * recipients ≥ 0.995 across tiers, precision of `confirmed` = 1.000, no namesake and no ID clash confirmed.
 */
import { parseArgs } from 'node:util';
import { evaluateMatching } from './matching-eval.ts';
import { formatScore } from '../src/matching/eval/score.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '20240305' },
    recipients: { type: 'string', default: '20000' },
    months: { type: 'string', default: '24' },
    keep: { type: 'string' },
  },
});
const num = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`eval-matching: --${name}: got "${v}", expected a positive integer\n`);
    process.exit(2);
  }
  return n;
};
const seed = num('seed', values.seed);
const recipients = num('recipients', values.recipients);
const months = num('months', values.months);

const r = await evaluateMatching({ seed, recipients, months, keep: values.keep });
const s = r.score;
const out: string[] = [];
out.push(`matching eval: seed ${seed}, ${recipients} recipients, ${months} months — ${r.rows.payments} payments, ${r.rows.deathRecords} death records`);
out.push(`time: generate ${r.ms.generate} ms, nightly run ${r.ms.run} ms, link stage alone ${r.ms.link} ms`);
out.push(`link stage: ${r.link.links} links to ${r.link.recipients} recipients from ${r.link.candidatePairs} candidate pairs; ` +
  `invalid IDs: ${r.link.invalidDeathIds} in death records, ${r.link.invalidRecipientIds} in payments; by method ${JSON.stringify(r.link.byMethod)}`);
out.push('');
out.push(formatScore(s));
out.push('');
out.push('positives by scenario tag (found / positives, confirmed):');
for (const [tag, e] of Object.entries(s.byTag).sort()) out.push(`  ${tag.padEnd(22)} ${String(e.found).padStart(5)} / ${String(e.positives).padEnd(5)} confirmed ${e.confirmed}`);
if (s.misses.length) out.push(`missed: ${s.misses.map((m) => `#${m.key} [${m.tags.join(' ') || 'plain'}]`).join(', ')}`);
const falseByTier = new Map<string, number>();
for (const f of s.falseCases) falseByTier.set(f.tier, (falseByTier.get(f.tier) ?? 0) + 1);
if (s.falseCases.length) {
  out.push(`cases naming a living person: ${[...falseByTier].map(([t, n]) => `${t} ${n}`).join(', ')}`);
  for (const f of s.falseCases.slice(0, 20)) out.push(`  ${f.tier} #${f.key} [${f.tags.join(' ')}]`);
}
const confirmed = s.tiers.find((t) => t.tier === 'confirmed')!;
const ok = s.overall.recall >= 0.995 && confirmed.precision === 1 && s.namesakeConfirmed === 0 && s.clashConfirmed === 0;
out.push('');
out.push(`targets (recall >= 0.995 across tiers, confirmed precision 1.000, no namesake or clash confirmed): ${ok ? 'MET' : 'MISSED'}`);
process.stdout.write(out.join('\n') + '\n');
if (!ok) process.exitCode = 1;
