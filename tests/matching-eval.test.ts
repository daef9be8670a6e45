import crypto from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { evaluateMatching } from '../bench/matching-eval.ts';
import { generateScenario } from '../src/matching/eval/scenario.ts';

const hash = (s: ReturnType<typeof generateScenario>): string =>
  crypto.createHash('sha256').update(s.files.map((f) => `${f.path}\n${f.text}`).join('\u0000')).digest('hex');

describe('matching quality on a labelled scenario (fixed seed, whole pipeline)', () => {
  it('the scenario is deterministic for a seed and differs between seeds', () => {
    const a = generateScenario({ seed: 7, recipients: 500, months: 6 });
    expect(hash(a)).toBe(hash(generateScenario({ seed: 7, recipients: 500, months: 6 })));
    expect(hash(a)).not.toBe(hash(generateScenario({ seed: 8, recipients: 500, months: 6 })));
  });

  it('meets the targets: confirmed precision 1.000, recall ≥ 0.995 across tiers, no namesake or clash confirmed', async () => {
    const { score } = await evaluateMatching({ seed: 7, recipients: 4000, months: 9 });
    const confirmed = score.tiers.find((t) => t.tier === 'confirmed')!;
    // The scenario must be big enough to mean something, and hold every trap.
    expect(score.positives).toBeGreaterThan(150);
    for (const tag of ['id_damaged_one', 'id_damaged_all', 'homophone', 'traditional', 'rare_char', 'minority', 'legacy_death', 'legacy_pay', 'pay_id_damaged', 'month_disagreement']) {
      expect(score.byTag[tag]?.positives ?? 0, tag).toBeGreaterThan(0);
    }
    expect(confirmed.cases).toBeGreaterThan(0);
    expect(confirmed.precision).toBe(1);
    expect(score.overall.recall).toBeGreaterThanOrEqual(0.995);
    expect(score.paymentIdsFound / score.paymentIdPositives).toBeGreaterThanOrEqual(0.995);
    expect(score.namesakeConfirmed).toBe(0);
    expect(score.clashConfirmed).toBe(0);
    expect(score.falseCases.filter((f) => f.tier !== 'review')).toEqual([]);
  });
});
