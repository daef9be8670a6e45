import { describe, expect, it } from 'vitest';
import { byteCmp } from '../src/byte-order.ts';

describe('UTF-8 byte order without allocation', () => {
  it('agrees with Buffer.compare, characters above U+FFFF and private-use ones included', () => {
    const alphabet = ['a', 'Z', '0', '3601', '李', '𠮷', '\ue000', '\uffff', '·', 'X', ''];
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const words = Array.from({ length: 300 }, () => Array.from({ length: Math.floor(rnd() * 4) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join(''));
    for (const a of words) for (const b of words.slice(0, 60)) {
      expect(Math.sign(byteCmp(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
    // The case where JavaScript's own `<` disagrees with byte order.
    expect('𠮷' < '\ue000').toBe(true);
    expect(byteCmp('𠮷', '\ue000')).toBeGreaterThan(0);
  });
});
