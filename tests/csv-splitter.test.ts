import { describe, expect, it } from 'vitest';
import { CsvSplitter, MAX_RECORD_LINES, type CsvRecord } from '../src/ingest/csv-splitter.ts';

function split(text: string, chunkSizes: number[] = [text.length]): CsvRecord[] {
  const s = new CsvSplitter();
  const out: CsvRecord[] = [];
  let pos = 0;
  let k = 0;
  while (pos < text.length) {
    const size = Math.max(1, chunkSizes[k++ % chunkSizes.length]!);
    s.push(text.slice(pos, pos + size), out);
    pos += size;
  }
  return s.end(out);
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('CSV splitter (RFC 4180, streaming)', () => {
  it.each([
    ['a,b\r\n1,2\r\n', [[1, ['a', 'b']], [2, ['1', '2']]]],
    ['a,b\n1,2', [[1, ['a', 'b']], [2, ['1', '2']]]],
    ['\ufeffa,b\n', [[1, ['a', 'b']]]],
    ['a,"x,y",c\n', [[1, ['a', 'x,y', 'c']]]],
    ['a,"he said ""hi""",c\n', [[1, ['a', 'he said "hi"', 'c']]]],
    ['a,"multi\nline",c\nnext,1\n', [[1, ['a', 'multi\nline', 'c']], [3, ['next', '1']]]],
    ['a,"multi\r\nline"\r\nnext\r\n', [[1, ['a', 'multi\r\nline']], [3, ['next']]]],
    ['\n\na\n', [[1, ['']], [2, ['']], [3, ['a']]]],
    ['a,5"x,c\n', [[1, ['a', '5"x', 'c']]]],
    ['a,"q"tail,c\n', [[1, ['a', 'qtail', 'c']]]],
    ['"",""\n', [[1, ['', '']]]],
    ['李𠮷,"3,456.70"\n', [[1, ['李𠮷', '3,456.70']]]],
  ] as const)('%j', (text, want) => {
    expect(split(text).map((r) => [r.line, r.cells])).toEqual(want);
  });

  it('keeps the raw text of each record without its line end', () => {
    expect(split('a,"x\ny"\r\nb,2\r\n').map((r) => r.raw)).toEqual(['a,"x\ny"', 'b,2']);
  });

  it('rejects only the line of an unclosed quote and goes on with the next', () => {
    const recs = split('h1,h2\nok,1\nbad,"never closed\nok,2\nok,3\n');
    expect(recs.map((r) => [r.line, r.error?.code ?? 'ok', r.cells])).toEqual([
      [1, 'ok', ['h1', 'h2']], [2, 'ok', ['ok', '1']], [3, 'CSV_MALFORMED', []], [4, 'ok', ['ok', '2']], [5, 'ok', ['ok', '3']],
    ]);
    expect(recs[2]!.raw).toBe('bad,"never closed');
  });

  it('bounds a quoted field to MAX_RECORD_LINES lines', () => {
    const body = Array.from({ length: MAX_RECORD_LINES + 5 }, (_, i) => `row${i},x`).join('\n');
    const recs = split(`h\nbad,"open\n${body}\n`);
    expect(recs[1]).toMatchObject({ line: 2, error: { code: 'CSV_MALFORMED' } });
    expect(recs.slice(2).every((r) => !r.error)).toBe(true);
    expect(recs.at(-1)!.line).toBe(MAX_RECORD_LINES + 7);
  });

  it('gives the same records for any chunking (random round trip)', () => {
    const r = rng(42);
    const alphabet = ['a', 'b', '中', '𠮷', ',', '"', '\n', '\r\n', ' ', '1', '-', '¥'];
    const records: string[][] = [];
    for (let i = 0; i < 400; i++) {
      const n = 1 + Math.floor(r() * 6);
      records.push(Array.from({ length: n }, () => Array.from({ length: Math.floor(r() * 8) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('')));
    }
    const enc = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
    const eol = ['\n', '\r\n'];
    let text = '';
    const lines: number[] = [];
    let line = 1;
    for (const rec of records) {
      const s = rec.map(enc).join(',');
      lines.push(line);
      line += (s.match(/\n/g) ?? []).length + 1;
      text += s + eol[Math.floor(r() * 2)];
    }
    for (const chunks of [[text.length], [1], [7], [64, 3, 1000], [2, 5, 11]]) {
      const got = split(text, chunks);
      expect(got.map((g) => g.cells)).toEqual(records.map((rec) => (rec.length === 1 && rec[0] === '' ? [''] : rec)));
      expect(got.map((g) => g.line)).toEqual(lines);
    }
  });
});
