/**
 * The fast paths of the reading half of ingest (issue 10) agree with the slow paths they bypass: streaming
 * UTF-8 validation without decoding (any chunking, valid and damaged input) against a fatal TextDecoder;
 * GB18030 decoding with Node's ICU decoder against iconv-lite.
 */
import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { decodeGb18030, gb18030CompletePrefix, Utf8Validator } from '../src/ingest/encoding.ts';

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

describe('decodeGb18030', () => {
  const slow = (b: Uint8Array): string => iconv.decode(Buffer.from(b), 'gb18030', { stripBOM: false });

  /** Equal to iconv-lite on the whole buffer; where not, on each half (units of `unit` bytes), down to one unit. */
  function agree(buf: Buffer, unit: number): void {
    if (decodeGb18030(buf) === slow(buf)) return;
    expect(buf.length, buf.toString('hex')).toBeGreaterThan(unit);
    const half = Math.floor(buf.length / unit / 2) * unit;
    agree(buf.subarray(0, half), unit);
    agree(buf.subarray(half), unit);
  }

  it('agrees with iconv-lite on every 1-, 2- and 4-byte sequence', () => {
    for (let b = 0; b < 256; b++) expect(decodeGb18030(Buffer.from([b]))).toBe(slow(Buffer.from([b])));
    const two: number[] = [];
    for (let l = 0x81; l <= 0xfe; l++) for (let t = 0; t < 256; t++) two.push(l, t);
    // Each pair alone (invalid pairs make the whole buffer fall back, which would prove nothing).
    for (let i = 0; i < two.length; i += 2) {
      const u = Buffer.from([two[i]!, two[i + 1]!]);
      expect(decodeGb18030(u), u.toString('hex')).toBe(slow(u));
    }
    for (let b1 = 0x81; b1 <= 0xfe; b1++) {
      const four: number[] = [];
      for (let b2 = 0x30; b2 <= 0x39; b2++) for (let b3 = 0x81; b3 <= 0xfe; b3++) for (let b4 = 0x30; b4 <= 0x39; b4++) four.push(b1, b2, b3, b4);
      agree(Buffer.from(four), 4);
    }
  }, 60_000);

  it('falls back to iconv-lite for the 18 sequences GB 18030-2022 remapped, and for damage', () => {
    const remapped = Buffer.from('a6d9a6daa6dba6dca6dda6dea6dfa6eca6eda6f3fe59fe61fe66fe67fe6dfe7efe90fea0', 'hex');
    expect(decodeGb18030(remapped)).toBe(slow(remapped));
    expect(decodeGb18030(remapped)).not.toMatch(/[\ufe10-\ufe19\u9fb4-\u9fbb]/);
    const text = iconv.encode('个人编号,姓名,张𠮷\r\n﻿BOM,￥8,408.97\n', 'gb18030');
    expect(decodeGb18030(text)).toBe(slow(text));
    const bom = iconv.encode('\ufeff姓名\n', 'gb18030', { addBOM: false });
    expect(decodeGb18030(bom)).toBe('\ufeff姓名\n'); // kept, as iconv-lite with stripBOM: false
    expect(slow(bom)).toBe('\ufeff姓名\n');
    for (const bad of ['81', '8130', '813081', '80', 'ff', '8141ff', '84318730', 'fe39fe39', '8431a437', '1a']) {
      const b = Buffer.concat([text, Buffer.from(bad, 'hex'), text]);
      expect(decodeGb18030(b), bad).toBe(slow(b));
    }
  });

  it('agrees with iconv-lite on random text and random damage', () => {
    const r = rng(11);
    const base = iconv.encode('36010270795106,林祥勇,36010319480302081x,男,机关事业单位养老保险,基本养老金,2024-04,￥8408.97,2024年9月10日,𠮷䶮龘·\r\n', 'gb18030');
    for (let t = 0; t < 2000; t++) {
      const b = Buffer.from(base);
      const damage = Math.floor(r() * 3);
      for (let d = 0; d < damage; d++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      const cut = b.subarray(0, gb18030CompletePrefix(b));
      expect(decodeGb18030(cut), cut.toString('hex')).toBe(slow(cut));
    }
  });
});
