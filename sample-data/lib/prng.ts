/**
 * Seeded, platform-independent pseudo-randomness for the sample-data generator.
 *
 * Everything is 32-bit integer arithmetic (Math.imul, >>>), so the same seed gives the same numbers on any
 * machine, Node version or time zone. Never Math.random, never the clock.
 */

/** murmur3 fmix32 finaliser: a fast, well-mixing bijection on uint32. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hashes a list of non-negative integers (each taken modulo 2^53, split into two 32-bit words) into a uint32.
 * Used to derive independent streams: `hash32(seed, TAG, index)`.
 */
export function hash32(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    h = mix32((h ^ lo) + 0x7f4a7c15);
    h = mix32((h ^ hi) + 0x165667b1);
  }
  return h;
}

/** Stream tags, so that streams derived from the same seed never coincide. */
export const TAG = {
  recipient: 1,
  idPermutation: 2,
  personNo: 3,
  account: 4,
  fileFormats: 5,
  payDay: 6,
  badRows: 7,
  nonRecipient: 8,
  badPerson: 9,
  scenario: 10,
  pattern: 11,
  patternBlock: 12,
  layout: 13,
  idAsNumber: 14,
} as const;

/** mulberry32: a small 32-bit-state PRNG; plenty for one recipient's few dozen draws. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Next uint32. */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }
  /** Uniform integer in [lo, hi] (inclusive); lo when hi < lo. */
  int(lo: number, hi: number): number {
    if (hi <= lo) return lo;
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }
  /** One element of a non-empty array. */
  pick<T>(arr: readonly T[]): T {
    return arr[Math.floor(this.float() * arr.length)]!;
  }
  /** Index drawn from cumulative integer weights (last element = total). */
  weighted(cumulative: readonly number[]): number {
    const total = cumulative[cumulative.length - 1]!;
    const x = Math.floor(this.float() * total);
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const t = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = t;
    }
    return arr;
  }
}

/** Cumulative sums of integer weights, for {@link Rng.weighted}. */
export function cumulate(weights: readonly number[]): number[] {
  const out: number[] = [];
  let s = 0;
  for (const w of weights) out.push((s += w));
  return out;
}

/**
 * A keyed pseudo-random bijection of [0, size) (size ≤ 2^24): a 4-round balanced Feistel network on 24 bits,
 * with cycle-walking down to `size`. Maps recipient index → a unique slot, so IDs never collide.
 */
export class FeistelPermutation {
  private readonly keys: number[];
  constructor(
    readonly size: number,
    seed: number,
  ) {
    if (size > 1 << 24 || size < 1) throw new RangeError(`permutation size ${size} outside [1, 2^24]`);
    this.keys = [0, 1, 2, 3].map((r) => hash32(seed, TAG.idPermutation, r));
  }
  private round(x: number): number {
    let l = x >>> 12;
    let r = x & 0xfff;
    for (const k of this.keys) {
      const nl = r;
      r = l ^ (mix32(r ^ k) & 0xfff);
      l = nl;
    }
    return (l << 12) | r;
  }
  /** The image of `i` (0 ≤ i < size). */
  map(i: number): number {
    let x = this.round(i);
    while (x >= this.size) x = this.round(x);
    return x;
  }
}

/**
 * A keyed affine bijection of [0, modulus): i → (a·i + b) mod modulus, with a coprime to the modulus (a power
 * of ten). `a` stays below 2^30 so that a·i is exact in a double for i < 2^23.
 */
export class AffinePermutation {
  private readonly a: number;
  private readonly b: number;
  constructor(
    readonly modulus: number,
    seed: number,
    tag: number,
  ) {
    let a = (hash32(seed, tag, 1) & 0x3fffffff) | 1;
    if (a % 5 === 0) a += 2;
    this.a = a;
    const h2 = hash32(seed, tag, 2);
    const h3 = hash32(seed, tag, 3);
    this.b = ((h2 % 1000000) * 1000000 + (h3 % 1000000)) % modulus;
  }
  map(i: number): number {
    return (this.a * i + this.b) % this.modulus;
  }
}
