/**
 * Anomaly patterns for the detectors (issue 5): duplicate payments, concurrent pensions, shared accounts,
 * amount anomalies, their interplay with deaths, and decoys that look like findings but are not. Ported from
 * the hand-built scenario in tests/helpers/anomaly-patterns.ts.
 *
 * A pattern instance is a story of one to four recipients at consecutive indexes (its members). Instances are
 * placed two ways, both pure functions of (seed, recipients):
 * - a fixed set of stories — the 22 single-recipient scenarios of model.ts and one instance of every pattern —
 *   spread evenly over the population (packed from index 0 when the population is too small to spread them),
 *   so that every pattern exists even with a few hundred recipients;
 * - at a small rate in the rest of the population: the indexes are cut into blocks of {@link BLOCK}; a block
 *   holding no fixed story carries a pattern with probability {@link RANDOM_PER_MILLE} ‰ (one instance per
 *   ~2,000 recipients), the pattern drawn uniformly.
 *
 * Patterns only generate payments. What the detectors must find is computed afterwards from the payments as
 * stored (oracle.ts), so interplay (one payment, one claim; a reversal; a death) needs no special case here.
 * Members never get a rare character in their name and never move agency, so every export column of their
 * findings is determined by the rows alone.
 *
 * Month numbers are window months (0 … months − 1); money is integer fen.
 */
import { hash32, Rng, TAG } from './prng.ts';
import {
  ITEM_BACK_PAY,
  ITEM_PENSION,
  ITEM_SURVIVOR_PENSION,
  SCENARIOS,
  monthlyFen,
  routineFen,
  type PatternContext,
  type PatternDef,
  type Recipient,
  type Role,
  type Scenario,
} from './model.ts';

const S110 = 0;
const S120 = 1;
const S170 = 2;
/** District index of 南昌县 (360121), the largest: an amount anomaly needs 20 peers in its district. */
const LARGEST_DISTRICT = 6;

/** Bank and card prefix of the fresh accounts opened for a shared-account story (no recipient's own prefix). */
export const FRESH_ACCOUNT_BANK = { name: '中国工商银行南昌分行', prefix: '621226' } as const;

/** Recipients per block of the random placement (the largest pattern has 4 members). */
export const BLOCK = 4;
/** Per mille of free blocks that carry a pattern instance. */
export const RANDOM_PER_MILLE = 2;

const living = (name: string, scheme: number, extra: Partial<Scenario> = {}): Scenario => ({ name, deceased: false, scheme, ...extra });

/** A re-run of the routine batch (`…02`, `…03`): the same routine payment again, same amount. */
function rerun(ctx: PatternContext, period: number, run: number, scheme?: number, fen?: number): void {
  const { w, r } = ctx;
  r.extras.push({ m: period, kind: 'P', item: ITEM_PENSION, period, fen: fen ?? routineFen(w, r, period), run, ...(scheme === undefined ? {} : { scheme }) });
}

/** Routine residents' pension (170) rows of a person whose own scheme is another, for months `from`…`to`. */
function secondPension(r: Recipient, from: number, to: number, fen: number): void {
  for (let m = from; m <= to; m++) r.extras.push({ m, kind: 'P', item: ITEM_PENSION, period: m, fen, scheme: S170 });
}

const a170 = (rng: Rng): number => rng.int(150, 600) * 100 + rng.int(0, 9) * 10;

export const PATTERNS: readonly PatternDef[] = [
  {
    name: 'dup_rerun_batch',
    size: 1,
    kind: 'finding',
    finds: ['duplicate_payment'],
    clears: [],
    description: '110 pension of one month paid again, same amount, in a re-run of the routine batch (…02): one duplicate',
    base: () => living('dup_rerun_batch', S110),
    apply(ctx) {
      rerun(ctx, ctx.shared.int(ctx.r.startM, ctx.w.months - 1), 2);
    },
  },
  {
    name: 'dup_three_batches',
    size: 1,
    kind: 'finding',
    finds: ['duplicate_payment'],
    clears: [],
    description: '120 pension of one month paid in three runs of its batch (…01, …02, …03): two duplicates',
    base: () => living('dup_three_batches', S120),
    apply(ctx) {
      const p = ctx.shared.int(ctx.r.startM, ctx.w.months - 1);
      rerun(ctx, p, 2);
      rerun(ctx, p, 3);
    },
  },
  {
    name: 'dup_partly_reversed',
    size: 1,
    kind: 'finding',
    finds: ['duplicate_payment'],
    clears: [],
    description: '110 pension paid twice, then ¥1,000.00 returned by the bank the next month: the rest is to recover',
    base: () => living('dup_partly_reversed', S110),
    apply(ctx) {
      const { w, r, shared } = ctx;
      const p = shared.int(0, Math.max(0, w.months - 2));
      const a = routineFen(w, r, p);
      rerun(ctx, p, 2);
      if (p + 1 <= w.months - 1) r.extras.push({ m: p + 1, kind: 'R', item: ITEM_PENSION, period: p, fen: -Math.min(100000, Math.floor(a / 3)) });
    },
  },
  {
    name: 'dup_fully_reversed',
    size: 1,
    kind: 'decoy',
    finds: [],
    clears: ['duplicate_payment'],
    description: '110 pension paid twice and the copy returned in full the next month: nothing left to recover',
    base: () => living('dup_fully_reversed', S110),
    apply(ctx) {
      const { w, r, shared } = ctx;
      const p = shared.int(0, Math.max(0, w.months - 2));
      rerun(ctx, p, 2);
      if (p + 1 <= w.months - 1) r.extras.push({ m: p + 1, kind: 'R', item: ITEM_PENSION, period: p, fen: -routineFen(w, r, p) });
    },
  },
  {
    name: 'back_pay_same_period',
    size: 1,
    kind: 'decoy',
    finds: [],
    clears: ['duplicate_payment'],
    description: '110 back pay (补发养老金) for a month of exactly the monthly amount, in a later back-pay batch: another item, no duplicate',
    base: () => living('back_pay_same_period', S110),
    apply(ctx) {
      const { w, r, shared } = ctx;
      const p = shared.int(0, Math.max(0, w.months - 2));
      const m = Math.min(w.months - 1, p + shared.int(1, 2));
      r.extras.push({ m, kind: 'B', item: ITEM_BACK_PAY, period: p, fen: routineFen(w, r, p) });
    },
  },
  {
    name: 'concurrent_110_170',
    size: 1,
    kind: 'finding',
    finds: ['concurrent_pension'],
    clears: [],
    description: "draws 110 all along and the residents' pension (170) for six months: the six 170 payments are to be refunded",
    base: () => living('concurrent_110_170', S110),
    apply(ctx) {
      const { w, r, shared } = ctx;
      const k = shared.int(0, Math.max(0, w.months - 6));
      secondPension(r, k, Math.min(w.months - 1, k + 5), a170(shared));
    },
  },
  {
    name: 'concurrent_120_170_duplicated',
    size: 1,
    kind: 'finding',
    finds: ['concurrent_pension', 'duplicate_payment'],
    clears: [],
    description: "draws 120 all along and 170 for three months, the middle 170 payment also re-run: the copy is duplicate_payment's, the three months concurrent_pension's — each fen once",
    base: () => living('concurrent_120_170_duplicated', S120),
    apply(ctx) {
      const { w, r, shared } = ctx;
      const k = shared.int(0, Math.max(0, w.months - 3));
      const last = Math.min(w.months - 1, k + 2);
      const fen = a170(shared);
      secondPension(r, k, last, fen);
      rerun(ctx, Math.min(k + 1, last), 2, S170, fen);
    },
  },
  {
    name: 'scheme_switch',
    size: 1,
    kind: 'decoy',
    finds: [],
    clears: ['concurrent_pension'],
    description: "residents' pension (170) until a month, enterprise pension (110) from the next: no month with both",
    base: () => living('scheme_switch', S110),
    apply(ctx) {
      const { w, r, shared } = ctx;
      if (w.months < 2) return;
      const s = shared.int(1, w.months - 1);
      r.startM = s;
      secondPension(r, 0, s - 1, a170(shared));
    },
  },
  {
    name: 'survivor_pension_with_170',
    size: 1,
    kind: 'decoy',
    finds: [],
    clears: ['concurrent_pension'],
    description: "draws 170 and a 110 survivors' pension (供养亲属抚恤金) on a late spouse's account every month: not a pension of their own",
    base: () => living('survivor_pension_with_170', S170),
    apply(ctx) {
      const { w, r, shared } = ctx;
      const fen = shared.int(600, 1500) * 100;
      for (let m = 0; m < w.months; m++) r.extras.push({ m, kind: 'S', item: ITEM_SURVIVOR_PENSION, period: m, fen, scheme: S110 });
    },
  },
  {
    name: 'deceased_with_duplicates',
    size: 1,
    kind: 'finding',
    finds: ['deceased_payment', 'duplicate_payment'],
    clears: [],
    description: "110, paid three months after death with the first of them re-run, and a month two before the death re-run: the post-death copy is deceased_payment's (one claim), the earlier copy duplicate_payment's",
    base: () => ({ name: 'deceased_with_duplicates', deceased: true, lag: 3, scheme: S110, minDeathM: 2 }),
    apply(ctx) {
      const d = ctx.r.death!;
      if (d.m + 1 <= d.lastPaid) rerun(ctx, d.m + 1, 2);
      if (d.m - 2 >= ctx.r.startM) rerun(ctx, d.m - 2, 2);
    },
  },
  {
    name: 'deceased_concurrent',
    size: 1,
    kind: 'finding',
    finds: ['deceased_payment', 'concurrent_pension'],
    clears: [],
    description: "draws 110 and 170 every month and is paid both two months after death: the post-death months are deceased_payment's, the earlier 170 months concurrent_pension's",
    base: () => ({ name: 'deceased_concurrent', deceased: true, lag: 2, scheme: S110 }),
    apply(ctx) {
      const { r, shared } = ctx;
      secondPension(r, r.startM, r.death!.lastPaid, a170(shared));
    },
  },
  {
    name: 'shared_account_four',
    size: 4,
    kind: 'finding',
    finds: ['shared_account'],
    clears: [],
    description: "one account receives its holder's 170 pension all along and three other people's for three months",
    base: (member) => living('shared_account_four', S170, { name: `shared_account_four#${member}` }),
    apply(ctx) {
      const { w, r, shared, member } = ctx;
      const k = shared.int(0, Math.max(0, w.months - 3));
      if (member === 0) return;
      const lead = ctx.leadRecipient();
      r.agency = r.agency2 = lead.agency;
      r.altAccount = { account: lead.account, bank: lead.bank, from: k, to: Math.min(w.months - 1, k + 2) };
    },
  },
  {
    name: 'shared_account_three_one_month',
    size: 3,
    kind: 'finding',
    finds: ['shared_account'],
    clears: [],
    description: 'three 110 pensioners paid into one fresh account for one month only (exactly the default of 3); the holder is the smallest ID on a tie',
    base: (member) => living('shared_account_three_one_month', S110, { name: `shared_account_three_one_month#${member}` }),
    apply(ctx) {
      const { w, r, shared, member, lead } = ctx;
      const k = shared.int(0, w.months - 1);
      if (member > 0) r.agency = r.agency2 = ctx.leadRecipient().agency;
      r.altAccount = { account: w.ids.account(lead, FRESH_ACCOUNT_BANK.prefix), bank: FRESH_ACCOUNT_BANK.name, from: k, to: k };
    },
  },
  {
    name: 'spouses_one_account',
    size: 2,
    kind: 'decoy',
    finds: [],
    clears: ['shared_account'],
    description: "two spouses' 110 pensions paid into one account all along: two people, below the default of 3",
    base: (member) => living('spouses_one_account', S110, { name: `spouses_one_account#${member}` }),
    apply(ctx) {
      if (ctx.member === 0) return;
      const lead = ctx.leadRecipient();
      ctx.r.agency = ctx.r.agency2 = lead.agency;
      ctx.r.altAccount = { account: lead.account, bank: lead.bank, from: 0, to: ctx.w.months - 1 };
    },
  },
  {
    name: 'amount_tenfold',
    size: 1,
    kind: 'finding',
    finds: ['amount_anomaly'],
    clears: [],
    description: '110 pension of one month paid tenfold (an extra digit), in the largest district so that it has 20 peers',
    base: () => living('amount_tenfold', S110, { district: LARGEST_DISTRICT }),
    apply(ctx) {
      const { w, r, shared } = ctx;
      const p = shared.int(Math.min(w.months - 1, 6), w.months - 1);
      r.routineFen = new Map([[p, 10 * monthlyFen(w, r, p)]]);
    },
  },
  {
    name: 'high_constant_pension',
    size: 1,
    kind: 'decoy',
    finds: [],
    clears: ['amount_anomaly'],
    description: 'a constant ¥25,000.00 110 pension: far above its peers but never above its own history',
    base: () => living('high_constant_pension', S110, { district: LARGEST_DISTRICT }),
    apply(ctx) {
      ctx.r.amounts = ctx.r.amounts.map(() => 2500000);
    },
  },
  {
    name: 'large_back_pay',
    size: 1,
    kind: 'decoy',
    finds: [],
    clears: ['amount_anomaly'],
    description: 'a ¥18,000.00 back pay beside a ¥2,200–6,500 pension: back pay is not judged (irregular by nature)',
    base: () => living('large_back_pay', S110, { district: LARGEST_DISTRICT }),
    apply(ctx) {
      const { w, r, shared } = ctx;
      const p = shared.int(0, Math.max(0, w.months - 2));
      r.extras.push({ m: Math.min(w.months - 1, p + 1), kind: 'B', item: ITEM_BACK_PAY, period: p, fen: 1800000 });
    },
  },
  {
    name: 'new_recipient_tenfold',
    size: 1,
    kind: 'decoy',
    finds: [],
    clears: ['amount_anomaly'],
    description: 'a new 110 recipient for the last four months, the last paid tenfold: too little history to judge',
    base: () => living('new_recipient_tenfold', S110, { district: LARGEST_DISTRICT }),
    apply(ctx) {
      const { w, r } = ctx;
      r.startM = Math.max(0, w.months - 4);
      r.routineFen = new Map([[w.months - 1, 10 * monthlyFen(w, r, w.months - 1)]]);
    },
  },
  {
    name: 'tenfold_after_death',
    size: 1,
    kind: 'decoy',
    finds: ['deceased_payment'],
    clears: ['amount_anomaly'],
    description: "110, paid three months after death, the second of them tenfold: already claimed by deceased_payment, so no amount_anomaly case",
    base: () => ({ name: 'tenfold_after_death', deceased: true, lag: 3, scheme: S110, district: LARGEST_DISTRICT }),
    apply(ctx) {
      const { w, r } = ctx;
      const d = r.death!;
      if (d.m + 2 <= d.lastPaid) r.routineFen = new Map([[d.m + 2, 10 * monthlyFen(w, r, d.m + 2)]]);
    },
  },
];

/** Where the fixed stories sit and which blocks the random placement must leave alone. */
export interface Placement {
  /** Index → single-recipient scenario (model.ts SCENARIOS). */
  scenarios: Map<number, Scenario>;
  /** Index → role in a fixed pattern instance. */
  roles: Map<number, Role>;
  /** Blocks ({@link BLOCK}) holding any fixed story. */
  blocked: Set<number>;
}

/**
 * Places the fixed stories: the scenarios (one recipient each) and one instance of every pattern, in that
 * order, each in the middle of its own equal segment of the index space; when the population is too small
 * for segments of {@link BLOCK}, they are packed from index 0 (stories that do not fit are left out).
 */
export function placeStories(recipients: number): Placement {
  const stories: ({ scenario: Scenario; size: 1 } | { pattern: PatternDef; size: number })[] = [
    ...SCENARIOS.map((scenario) => ({ scenario, size: 1 as const })),
    ...PATTERNS.map((pattern) => ({ pattern, size: pattern.size })),
  ];
  const n = stories.length;
  const out: Placement = { scenarios: new Map(), roles: new Map(), blocked: new Set() };
  const spread = recipients >= n * BLOCK;
  let next = 0;
  stories.forEach((s, j) => {
    let start: number;
    if (spread) {
      const lo = Math.floor((j * recipients) / n);
      const hi = Math.floor(((j + 1) * recipients) / n);
      start = lo + Math.floor((hi - lo - s.size) / 2);
    } else {
      start = next;
      next += s.size;
    }
    if (start + s.size > recipients) return;
    for (let k = 0; k < s.size; k++) {
      const i = start + k;
      if ('scenario' in s) out.scenarios.set(i, s.scenario);
      else out.roles.set(i, { pattern: s.pattern, member: k, lead: start, forced: true });
      out.blocked.add(Math.floor(i / BLOCK));
    }
  });
  return out;
}

/**
 * The role lookup of a population: fixed roles first, then the random blocks. Pure in (seed, recipients).
 */
export function roleLookup(seed: number, recipients: number, placement: Placement): (i: number) => Role | null {
  return (i: number): Role | null => {
    const fixed = placement.roles.get(i);
    if (fixed) return fixed;
    const b = Math.floor(i / BLOCK);
    if (placement.blocked.has(b)) return null;
    const lead = b * BLOCK;
    const h = hash32(seed, TAG.patternBlock, b);
    if (h % 1000 >= RANDOM_PER_MILLE) return null;
    const pattern = PATTERNS[(h >>> 12) % PATTERNS.length]!;
    const member = i - lead;
    if (member >= pattern.size || lead + pattern.size > recipients) return null;
    if (placement.scenarios.has(i)) return null;
    return { pattern, member, lead, forced: false };
  };
}

/** Leads of every pattern instance (fixed and random), in index order. */
export function patternLeads(seed: number, recipients: number, placement: Placement): { lead: number; pattern: PatternDef; forced: boolean }[] {
  const out: { lead: number; pattern: PatternDef; forced: boolean }[] = [];
  const roleOf = roleLookup(seed, recipients, placement);
  const fixedLeads = [...placement.roles.values()].filter((r) => r.member === 0).map((r) => r.lead);
  const leads = new Set(fixedLeads);
  for (let b = 0; b * BLOCK < recipients; b++) {
    if (placement.blocked.has(b)) continue;
    if (hash32(seed, TAG.patternBlock, b) % 1000 < RANDOM_PER_MILLE) leads.add(b * BLOCK);
  }
  for (const lead of [...leads].sort((x, y) => x - y)) {
    const role = roleOf(lead);
    if (role && role.member === 0) out.push({ lead, pattern: role.pattern, forced: role.forced });
  }
  return out;
}
