/**
 * The readers on their own: GB18030 decoding across any chunk split, the CSV reader's physical line numbers
 * under any read-chunk size, and the XLSX cell conversions (date systems, formats, numbers, rich text), plus
 * exceljs's multi-byte corruption at chunk boundaries (which the reader works around).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { Gb18030Decoder, fingerprintFile, gb18030CompletePrefix } from '../src/ingest/encoding.ts';
import { readCsv } from '../src/ingest/read-csv.ts';
import { cellToText, CompactStrings, dateFormatKind, joinRaw, readXlsx, serialToIsoDate } from '../src/ingest/read-xlsx.ts';
import { IngestError } from '../src/ingest/errors.ts';
import type { SourceRow } from '../src/ingest/source-row.ts';
import { FIXTURES } from './helpers/ingest-env.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-readers-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function decodeInChunks(bytes: Buffer, sizes: number[]): Promise<{ text: string; invalid: number }> {
  const chunks: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    chunks.push(bytes.subarray(at, at + n));
    at += n;
  }
  if (at < bytes.length) chunks.push(bytes.subarray(at));
  const d = new Gb18030Decoder();
  let text = '';
  d.on('data', (c: Buffer) => (text += c.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    Readable.from(chunks, { objectMode: false }).pipe(d).on('end', resolve).on('error', reject);
  });
  return { text, invalid: d.invalid };
}

describe('GB18030 decoding', () => {
  const sample = 'a张𠮷b,䶮𪚥\r\n龘';
  const bytes = iconv.encode(sample, 'gb18030');

  it.each([
    [[0x61], 1],
    [[0xd5, 0xc5], 2],
    [[0xd5], 0],
    [[0x95, 0x34, 0xb2, 0x35], 4],
    [[0x95, 0x34, 0xb2], 0],
    [[0x61, 0x95, 0x34], 1],
    [[0xff, 0x61], 2],
  ])('complete prefix of %j is %i bytes', (b, n) => {
    expect(gb18030CompletePrefix(Uint8Array.from(b))).toBe(n);
  });

  it('decodes exactly wherever a two-way split falls', async () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(await decodeInChunks(bytes, [cut])).toEqual({ text: sample, invalid: 0 });
    }
  });

  it('decodes exactly with one-byte chunks and with every three-way split', async () => {
    expect(await decodeInChunks(bytes, Array(bytes.length).fill(1))).toEqual({ text: sample, invalid: 0 });
    for (let a = 1; a < bytes.length; a++) {
      for (let b = 1; a + b < bytes.length; b++) {
        const out = await decodeInChunks(bytes, [a, b]);
        expect(out.text, `${a}+${b}`).toBe(sample);
      }
    }
  });

  it.each([
    ['FF FF', [0x61, 0xff, 0xff, 0x62]],
    ['a lead byte followed by a digit and the end', [0x61, 0x81, 0x30]],
    ['a four-byte sequence cut at the end of the file', [0x61, 0x95, 0x34, 0xb2]],
    ['a lead byte followed by an invalid trail byte', [0x61, 0x81, 0x7f, 0x62]],
  ])('counts invalid sequences: %s', async (_what, b) => {
    const out = await decodeInChunks(Buffer.from(b), [1]);
    expect(out.invalid).toBeGreaterThan(0);
    expect(out.text.startsWith('a')).toBe(true);
  });

  it('reads the Windows code page 936 euro sign 0x80 as €', async () => {
    expect(await decodeInChunks(Buffer.from([0x80, 0x61]), [])).toEqual({ text: '€a', invalid: 0 });
  });

  it('detects UTF-8, UTF-8 with BOM and GB18030 files', async () => {
    const f = (name: string, data: Buffer | string): string => {
      const p = path.join(tmp, name);
      fs.writeFileSync(p, data);
      return p;
    };
    expect((await fingerprintFile(f('u.csv', '姓名\n'))).encoding).toBe('utf-8');
    expect((await fingerprintFile(f('b.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('姓名\n')])))).encoding).toBe('utf-8-bom');
    expect((await fingerprintFile(f('g.csv', iconv.encode('姓名,张𠮷\n', 'gb18030')))).encoding).toBe('gb18030');
  });
});

describe('CSV reader', () => {
  async function rows(file: string, encoding: 'utf-8' | 'utf-8-bom' | 'gb18030', highWaterMark?: number): Promise<SourceRow[]> {
    const out: SourceRow[] = [];
    for await (const r of readCsv(file, encoding, 'x.csv', { highWaterMark })) out.push(r);
    return out;
  }

  it('yields the same rows (rare names included) whatever the read-chunk size', async () => {
    const file = path.join(FIXTURES, 'pay-gb18030-rare-names.csv');
    const expected = await rows(file, 'gb18030');
    expect(expected.map((r) => r.cells[1] ?? r.cells[0])).toEqual([
      '南昌市社会保险事业管理局 待遇发放明细（GB18030）', '姓名', '张𠮷', '王䶮', '李𪚥', '赵龘',
    ]);
    for (const hwm of [1, 2, 3, 4, 5, 7, 64]) expect(await rows(file, 'gb18030', hwm)).toEqual(expected);
  });

  it('numbers lines physically: a CRLF inside a quoted cell is one line break; an unclosed quote makes only its own line a CSV_MALFORMED row', async () => {
    const file = path.join(tmp, 'q.csv');
    fs.writeFileSync(file, 'h1,h2\r\na,"x\r\ny"\r\nb,2\r\nc,"unclosed\r\nd,4\r\n');
    const got = await rows(file, 'utf-8');
    expect(got.map((r) => [r.line, r.cells, r.error?.code ?? null])).toEqual([
      [1, ['h1', 'h2'], null],
      [2, ['a', 'x\r\ny'], null],
      [4, ['b', '2'], null],
      [5, [], 'CSV_MALFORMED'],
      [6, ['d', '4'], null], // the stray quote costs only its own line
    ]);
  });

  it('throws ENCODING_INVALID after the rows when the bytes are not GB18030', async () => {
    const seen: number[] = [];
    const err = await (async () => {
      try {
        for await (const r of readCsv(path.join(FIXTURES, 'pay-invalid-bytes.csv'), 'gb18030', 'p.csv')) seen.push(r.line);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(IngestError);
    expect((err as IngestError).code).toBe('ENCODING_INVALID');
  });
});

describe('XLSX cell conversion', () => {
  it.each([
    ['General', 'number'],
    ['@', 'number'],
    ['0.00', 'number'],
    ['#,##0.00"元"', 'number'],
    ['0.00E+00', 'number'],
    ['[Red]#,##0.00;[Red]\\-#,##0.00', 'number'],
    ['_-¥* #,##0.00_-', 'number'],
    ['yyyy-mm-dd', 'date'],
    ['yyyy"年"m"月"d"日"', 'date'],
    ['m"月"d"日"', 'date'],
    ['mm-dd-yy', 'date'],
    ['yyyy/m/d h:mm', 'date'],
    ['yyyy"年"m"月"', 'month'],
    ['[$-804]yyyy年m月', 'month'],
    ['mmm-yy', 'month'],
    ['yyyy-mm', 'month'],
  ] as const)('format %s shows a %s', (format, kind) => {
    expect(dateFormatKind(format)).toBe(kind);
  });

  it.each([
    [1, false, '1900-01-01'],
    [59, false, '1900-02-28'],
    [60, false, '1900-02-29'],
    [61, false, '1900-03-01'],
    [0, false, '1900-01-00'],
    [45356, false, '2024-03-05'],
    [45356.99, false, '2024-03-05'],
    [2958465, false, '9999-12-31'],
    [0, true, '1904-01-01'],
    [43894, true, '2024-03-05'],
    [43894.75, true, '2024-03-05'],
    [-1, false, null],
  ])('serial %d (1904: %s) is %s', (serial, date1904, iso) => {
    expect(serialToIsoDate(serial, date1904)).toBe(iso);
  });

  const d1900 = { date1904: false, exceljs1904: false };
  const d1904 = { date1904: true, exceljs1904: true };
  // exceljs knew the flag only as "1": it built Dates with the 1900 offset for a date1904="true" workbook.
  const d1904true = { date1904: true, exceljs1904: false };
  const excelDate = (serial: number, exceljs1904: boolean): Date => new Date(Math.round((serial - 25569 + (exceljs1904 ? 1462 : 0)) * 86_400_000));

  it.each([
    ['null', null, undefined, d1900, '', false],
    ['a string', ' 张三 ', undefined, d1900, ' 张三 ', false],
    ['an escaped control character', 'a_x000D_b', undefined, d1900, 'a\rb', false],
    ['rich text', { richText: [{ text: '王' }, { text: '秀英' }] }, undefined, d1900, '王秀英', false],
    ['an amount', 3456.7, '#,##0.00', d1900, '3456.7', true],
    ['a float artefact', 0.1 + 0.2, 'General', d1900, '0.30000000000000004', true],
    ['an 18-digit ID stored as a number', 360102195001011000, 'General', d1900, '360102195001011000', true],
    ['a 15-digit ID stored as a number', 360102500312123, '0', d1900, '360102500312123', true],
    ['a negative amount', -3456.7, 'General', d1900, '-3456.7', true],
    ['a date cell', excelDate(45356, false), 'yyyy-mm-dd', d1900, '2024-03-05', false],
    ['a date cell shown as a month', excelDate(45352, false), 'yyyy"年"m"月"', d1900, '2024-03', false],
    ['a date cell of a 1904 workbook', excelDate(43894, true), 'yyyy-mm-dd', d1904, '2024-03-05', false],
    ['a date cell of a date1904="true" workbook', excelDate(43894, false), 'yyyy-mm-dd', d1904true, '2024-03-05', false],
    ['a formula with a date result', { formula: 'DATE(2024,3,5)', result: 45356 }, 'yyyy/m/d', d1900, '2024-03-05', false],
    ['a formula with a number result', { formula: 'SUM(H4:H6)', result: 6791.2 }, 'General', d1900, '6791.2', true],
    ['a formula never calculated', { formula: 'A1+1' }, 'General', d1900, '', false],
    ['a shared formula', { sharedFormula: 'H4', result: 12 }, 'General', d1900, '12', true],
    ['an error value', { error: '#N/A' }, undefined, d1900, '#N/A', false],
    ['a hyperlink', { text: '说明', hyperlink: 'http://example.invalid' }, undefined, d1900, '说明', false],
    ['a boolean', true, undefined, d1900, 'TRUE', false],
  ])('%s', (_what, value, format, dates, text, numeric) => {
    expect(cellToText(value, format, dates)).toEqual({ text, numeric });
  });

  it('refuses a shared-string reference (the table was not read)', () => {
    expect(() => cellToText({ sharedString: 3 }, undefined, d1900)).toThrow('shared string 3 referenced but xl/sharedStrings.xml was not read');
  });

  it('joins raw cells with commas, quoting where needed', () => {
    expect(joinRaw(['a', '3,456.70', 'say "hi"', 'x\ny', ''])).toBe('a,"3,456.70","say ""hi""","x\ny",');
  });
});

describe('CompactStrings (the shared-string table)', () => {
  it('gives back every string across buffer chunks and index growth; rich text as plain text; null as empty', () => {
    const t = new CompactStrings();
    const expected: string[] = [];
    const big = '张'.repeat(400_000) + '𠮷'; // 1.2 MB of UTF-8: a chunk of its own
    for (let i = 0; i < 3000; i++) {
      const v = i === 1500 ? big : i % 3 === 0 ? `36010219500312${String(i).padStart(4, '0')}` : i % 3 === 1 ? `王${i}𠮷` : '';
      t.push(i % 3 === 2 ? null : v);
      expected.push(i % 3 === 2 ? '' : v);
    }
    t.push({ richText: [{ text: '王' }, { text: null }, { text: '秀英' }] });
    expected.push('王秀英');
    expect(t.length).toBe(3001);
    for (let i = 0; i < expected.length; i++) expect(t.get(i), String(i)).toBe(expected[i]);
    expect(t.get(3001)).toBeUndefined();
    const table = t.asTable() as { [i: number]: string | undefined; push(v: unknown): number; length: number };
    expect([table[0], table[3000], table.length]).toEqual([expected[0], '王秀英', 3001]);
    table.push('x');
    expect(table[3001]).toBe('x');
  });
});

describe('XLSX reader', () => {
  it('keeps every Chinese character exact where exceljs splits XML chunks (exceljs issue #2063)', async () => {
    const chars = Array.from('张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文𠮷䶮𪚥');
    const names = Array.from({ length: 4000 }, (_, i) => [1, 7, 13, 17, 23, 29].map((k) => chars[(i * k) % chars.length]!).join('') + i);
    const file = path.join(tmp, 'names.xlsx');
    const w = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: true, useStyles: true });
    const ws = w.addWorksheet('明细');
    ws.addRow(['姓名']).commit();
    for (const n of names) ws.addRow([n]).commit();
    ws.commit();
    await w.commit();
    // The unfixed reader does corrupt this file (so the test can fail) ...
    const plain = new ExcelJS.stream.xlsx.WorkbookReader(file, { sharedStrings: 'cache' });
    let damaged = 0;
    for await (const sheet of plain) for await (const row of sheet) if (String(row.getCell(1).value).includes('\ufffd')) damaged++;
    expect(damaged).toBeGreaterThan(0);
    // ... the reader does not.
    const got: string[] = [];
    for await (const r of readXlsx(file, 'names.xlsx')) if (r.line > 1) got.push(r.cells[0]!);
    expect(got).toEqual(names);
  });

  it('reads every sheet with stacked line numbers and the sheet position', async () => {
    const rows: [number, number, string, number][] = [];
    for await (const r of readXlsx(path.join(FIXTURES, 'pay-two-sheets.xlsx'), 'two.xlsx')) rows.push([r.line, r.sheet!.index, r.sheet!.name, r.sheet!.row]);
    expect(rows).toEqual([
      [1, 1, '一月', 1], [2, 1, '一月', 2], [3, 1, '一月', 3],
      [4, 2, '二月', 1], [5, 2, '二月', 2], [6, 2, '二月', 3], [7, 2, '二月', 4],
    ]);
  });

  it('marks numeric cells', async () => {
    const marks: number[][] = [];
    for await (const r of readXlsx(path.join(FIXTURES, 'pay-numeric-cells.xlsx'), 'n.xlsx')) marks.push([...(r.numericCells ?? [])].sort((a, b) => a - b));
    expect(marks).toEqual([[], [2, 7], [2, 7], [7, 9], [7, 9], [7], [7], [7], [7, 12]]);
  });

  it('stops early without error when the caller stops', async () => {
    let n = 0;
    for await (const r of readXlsx(path.join(FIXTURES, 'pay-two-sheets.xlsx'), 'two.xlsx')) {
      n = r.line;
      if (n === 2) break;
    }
    expect(n).toBe(2);
  });
});
