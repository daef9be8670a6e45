import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvCell, csvLine, writeCsv, type CsvValue } from '../src/reports/csv.ts';

describe('csvCell', () => {
  it.each<[string, CsvValue, string]>([
    ['plain text', '张三', '张三'],
    ['empty', '', ''],
    ['null', null, ''],
    ['undefined', undefined, ''],
    ['comma quoted', 'a,b', '"a,b"'],
    ['quote doubled', 'say "hi"', '"say ""hi"""'],
    ['LF quoted', 'a\nb', '"a\nb"'],
    ['formula =', '=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
    ['formula +', '+1+1', "'+1+1"],
    ['formula - in text', '-2+3', "'-2+3"],
    ['formula @', '@SUM(1)', "'@SUM(1)"],
    ['leading tab', '\tx', "'\tx"],
    ['leading CR', '\rx', `"'\rx"`],
    ['full-width equals', '＝1+1', "'＝1+1"],
    ['equals not first', 'a=b', 'a=b'],
    ['script tag is not CSV-special', '<script>alert(1)</script>', '<script>alert(1)</script>'],
    ['number', 42, '42'],
    ['negative number', -12.5, '-12.5'],
    ['numeric amount', { numeric: '13826.80' }, '13826.80'],
    ['negative numeric amount stays a number', { numeric: '-3456.70' }, '-3456.70'],
  ])('%s', (_label, v, want) => {
    expect(csvCell(v)).toBe(want);
  });

  it.each([['=1+1'], ['1,5'], ['12e3'], ['']])('refuses a numeric cell that is not a plain decimal: %j', (s) => {
    expect(() => csvCell({ numeric: s })).toThrow(RangeError);
  });

  it('refuses a non-finite number', () => {
    expect(() => csvCell(Number.NaN)).toThrow(RangeError);
  });
});

describe('csvLine and writeCsv', () => {
  it('ends every line with CRLF and round-trips through an RFC 4180 parser', () => {
    const cells: CsvValue[] = ['a "q"', 'x,y', 'line1\r\nline2', { numeric: '-1.00' }, '=1'];
    const text = csvLine(cells);
    expect(text.endsWith('\r\n')).toBe(true);
    const [row] = parse(text) as string[][];
    expect(row).toEqual(['a "q"', 'x,y', 'line1\r\nline2', '-1.00', "'=1"]);
  });

  it('writes BOM, header and CRLF rows; the header alone when there are no rows; no temporary file left', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-csv-'));
    const file = path.join(dir, 'sub', 'x.csv');
    await writeCsv(file, ['a', 'b'], []);
    expect(fs.readFileSync(file)).toEqual(Buffer.from('\ufeffa,b\r\n', 'utf8'));
    await writeCsv(file, ['a', 'b'], [['1', { numeric: '-2.50' }], ['@x', null]]);
    const bytes = fs.readFileSync(file);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(bytes.toString('utf8')).toBe("\ufeffa,b\r\n1,-2.50\r\n'@x,\r\n");
    expect(fs.readdirSync(path.dirname(file))).toEqual(['x.csv']);
  });

  it('streams many rows intact', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-csv-'));
    const file = path.join(dir, 'big.csv');
    const rows = Array.from({ length: 20000 }, (_, i) => [`名字${i}`, { numeric: `${i}.05` }] as CsvValue[]);
    await writeCsv(file, ['name', 'amount'], rows);
    const parsed = parse(fs.readFileSync(file), { bom: true }) as string[][];
    expect(parsed.length).toBe(20001);
    expect(parsed[12346]).toEqual(['名字12345', '12345.05']);
  });
});
