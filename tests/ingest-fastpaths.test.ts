/**
 * The fast paths of the reading half of ingest (issue 10) agree with the slow paths they bypass: streaming
 * UTF-8 validation without decoding (any chunking, valid and damaged input) against a fatal TextDecoder.
 */
import { describe, expect, it } from 'vitest';
import { Utf8Validator } from '../src/ingest/encoding.ts';

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fatalValid(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function validInChunks(bytes: Buffer, sizes: number[]): boolean {
  const v = new Utf8Validator();
  let at = 0;
  for (const n of sizes) {
    v.push(bytes.subarray(at, at + n));
    at += n;
  }
  if (at < bytes.length) v.push(bytes.subarray(at));
  return v.end();
}

describe('Utf8Validator', () => {
  const text = 'a,张三,𠮷䶮龘,é\n36010319480302081x,￥8,408.97\r\n';
  const valid = Buffer.from(text.repeat(3));

  it('accepts valid UTF-8 split at every byte', () => {
    for (let cut = 0; cut <= valid.length; cut++) expect(validInChunks(valid, [cut])).toBe(true);
    expect(validInChunks(valid, Array(valid.length).fill(1))).toBe(true);
    expect(validInChunks(Buffer.alloc(0), [])).toBe(true);
  });

  it('rejects truncated, overlong, surrogate, out-of-range and stray bytes wherever the chunks split', () => {
    const bad = [
      Buffer.from([0xe5, 0xbc]), // truncated at the end
      Buffer.from([0x61, 0xc0, 0x80]), // overlong NUL
      Buffer.from([0xe0, 0x80, 0xaf]), // overlong
      Buffer.from([0xed, 0xa0, 0x80]), // surrogate
      Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
      Buffer.from([0x80]), // stray continuation
      Buffer.from([0xff]),
      Buffer.from([0xf0, 0x9f, 0x98]), // 4-byte sequence cut short
      Buffer.from([0xe5, 0x41, 0x42]),
    ];
    for (const b of bad) {
      const bytes = Buffer.concat([valid, b, Buffer.from('ok\n')]);
      const tail = Buffer.concat([valid, b]);
      for (const x of [bytes, tail]) {
        expect(fatalValid(x)).toBe(false);
        for (let cut = 0; cut <= x.length; cut++) expect(validInChunks(x, [cut])).toBe(false);
        expect(validInChunks(x, Array(x.length).fill(1))).toBe(false);
      }
    }
  });

  it('agrees with a fatal TextDecoder on random damage and random chunkings', () => {
    const r = rng(7);
    for (let t = 0; t < 3000; t++) {
      const bytes = Buffer.from(valid);
      const damage = Math.floor(r() * 3);
      for (let d = 0; d < damage; d++) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
      const sizes: number[] = [];
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + Math.floor(r() * 8);
        sizes.push(n);
        at += n;
      }
      expect(validInChunks(bytes, sizes), bytes.toString('hex')).toBe(fatalValid(bytes));
    }
  });
});
