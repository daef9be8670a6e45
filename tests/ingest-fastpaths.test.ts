/**
 * The fast paths of the reading half of ingest (issue 10) agree with the slow paths they bypass: streaming
 * UTF-8 validation without decoding (any chunking, valid and damaged input) against a fatal TextDecoder;
 * GB18030 decoding with Node's ICU decoder against iconv-lite; and the row-level fast paths (amounts, IDs,
 * names, classifyRow, memoised payment-row fields) against references built from the slow rules, on the
 * inputs that must NOT take them (full-width digits, spaces, lower-case x, commas, signs, …) as well.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { parseAmountFen, parseDate, parsePeriod, toHalfWidth } from '../src/calendar/values.ts';
import { loadSettings } from '../src/config/settings.ts';
import { maskIdsInText, normalizeIdNumber } from '../src/identity/resident-id.ts';
import { CsvSplitter, type CsvRecord } from '../src/ingest/csv-splitter.ts';
import { decodeGb18030, gb18030CompletePrefix, Utf8Validator } from '../src/ingest/encoding.ts';
import { parseFile, parseSettings, vocabularyOf, type ParsedMessage } from '../src/ingest/file-parser.ts';
import { classifyRow, headerKey, matchHeader } from '../src/ingest/layout.ts';
import { buildVocabulary, cleanName, digitsLost, isStableHan, parseCleanAmountFen, parseCleanId, parsePaymentRow } from '../src/ingest/parse-rows.ts';
import { prng as rng } from '../src/matching/eval/scenario.ts';


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

// ---- Row-level fast paths against the slow rules they shortcut ----

const settings = loadSettings(undefined, '/nonexistent-dir');
const vocab = buildVocabulary(settings.schemes, settings.items);
const HEADER = '个人编号,姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,发放日期,银行账号,开户银行,经办机构,发放批次号'.split(',');
const columns = matchHeader(HEADER, settings.headerAliases.payments, settings.requiredFields.payments)!;
const headerKeys = HEADER.map(headerKey);

describe('parseCleanAmountFen', () => {
  const fastInputs = ['8408.97', '0.00', '-0.00', '000123.45', '￥8408.97', '¥8408.97', '￥-8408.97', '-12.50', '8,408.97', '1,234,567.89', '-1,000.00', '123456789.00', '123,456,789.99'];
  const slowInputs = [
    '８４０８.９７', '８,408.97', ' 8408.97', '8408.97 ', '8 408.97', '8408.9', '8408.970', '8408', '.97', '8408.', '(8408.97)', '8408.97元', '+8408.97', '−8408.97',
    '-￥8408.97', '￥', '-', '', '8,40.97', ',408.97', '8408,.97', '1234,567.89', '1,2345.00', '1,234,56.00', '1234567890.00', '1,234,567,890.00', '8408.9x', '--1.00', '￥￥1.00',
  ];

  it('takes the fast path only for plain, ￥ and grouped amounts with two decimals — same value as parseAmountFen', () => {
    for (const s of fastInputs) {
      const slow = parseAmountFen(s);
      expect(slow.ok, s).toBe(true);
      expect(Object.is(parseCleanAmountFen(s), slow.ok ? slow.value : NaN), s).toBe(true);
    }
    for (const s of slowInputs) expect(parseCleanAmountFen(s), s).toBeNull();
  });

  it('agrees with parseAmountFen on random text', () => {
    const r = rng(3);
    const alphabet = '0123456789.,-￥¥ 元８(+'.split('');
    const digits = '0123456789.,'.split('');
    for (let t = 0; t < 20000; t++) {
      const pool = r() < 0.7 ? digits : alphabet;
      let s = '';
      const len = 1 + Math.floor(r() * 14);
      for (let i = 0; i < len; i++) s += pool[Math.floor(r() * pool.length)];
      const fast = parseCleanAmountFen(s);
      if (fast === null) continue;
      const slow = parseAmountFen(s);
      expect(slow.ok && Object.is(slow.value, fast), s).toBe(true);
    }
  });
});

describe('parseCleanId', () => {
  it('agrees with normalizeIdNumber, and leaves anything but 17 digits and a digit/X/x to it', () => {
    for (const s of ['36010219500101001X', '36010319480302081x', '360121193207070333', '360121193207070334', '36010219500101001x']) {
      const n = normalizeIdNumber(s);
      expect(n.ok && parseCleanId(s), s).toEqual(n.ok ? { id: n.id, valid: n.valid } : null);
    }
    for (const s of ['３６0102195001010010', '360102 19500101001X', ' 36010219500101001X', '360102195001010', '3601021950010100', '36010219500101001Y', '3601021950010100X1', '36010219500101001Ｘ', '', '36010219500101001X0']) {
      expect(parseCleanId(s), s).toBeNull();
    }
  });

  it('agrees with normalizeIdNumber on random damage', () => {
    const r = rng(5);
    const chars = '0123456789xX ３-'.split('');
    for (let t = 0; t < 20000; t++) {
      const s = Array.from('36010219500101001X');
      for (let d = Math.floor(r() * 3); d > 0; d--) s[Math.floor(r() * s.length)] = chars[Math.floor(r() * chars.length)]!;
      const text = s.join('');
      const fast = parseCleanId(text);
      if (fast === null) continue;
      const n = normalizeIdNumber(text);
      expect(n.ok && { id: n.id, valid: n.valid }, text).toEqual(fast);
    }
  });
});

describe('cleanName fast path', () => {
  const slowClean = (raw: string): string => raw.normalize('NFC').replace(/[\s\u3000]+/g, '');

  it('every character it accepts as stable is NFC-stable and not white space', () => {
    for (let cp = 0x3400; cp <= 0x9fff; cp++) {
      const s = String.fromCodePoint(cp);
      expect(isStableHan(s)).toBe(true);
      if (slowClean(s) !== s) expect.fail(`U+${cp.toString(16)}`);
    }
    for (let cp = 0x20000; cp <= 0x2f7ff; cp++) {
      const s = String.fromCodePoint(cp);
      expect(isStableHan(s)).toBe(true);
      if (slowClean(s) !== s) expect.fail(`U+${cp.toString(16)}`);
    }
  });

  it('leaves spaces, middle dots, full-width letters, compatibility ideographs and lone surrogates to the slow path', () => {
    for (const s of ['张 三', '张\u3000三', ' 张三', '阿依·古丽', 'Ａ', '\uf900', '\u{2f800}', '\ud840', '\udc00张', '张\ud87e\udc00', 'abc']) {
      expect(isStableHan(s), s).toBe(false);
      expect(cleanName(s)).toBe(slowClean(s));
    }
    for (const s of ['张三', '林祥勇', '张𠮷', '䶮龘', '\u3400\u9fff', '']) expect(cleanName(s)).toBe(s);
  });
});

/** classifyRow as it was before issue 10's rewrite (the reference). */
function classifyRowReference(cells: readonly string[], keys: readonly string[]): string | null {
  const nonEmpty = cells.filter((c) => c.trim() !== '');
  if (nonEmpty.length === 0) return 'blank';
  let same = 0;
  for (let i = 0; i < Math.min(cells.length, keys.length); i++) {
    const hk = keys[i]!;
    const c = cells[i]!;
    if (hk === '' || c === '' || (/[0-9]/.test(c) && !/[0-9]/.test(hk))) continue;
    if (/^[\u4e00-\u9fffa-z0-9]+$/.test(c) ? c === hk : headerKey(c) === hk) same++;
  }
  if (same >= Math.max(2, Math.ceil(keys.filter((k) => k !== '').length / 2))) return 'repeated_header';
  const first = toHalfWidth(nonEmpty[0]!);
  if (/^(合\s*计|总\s*计|小\s*计|累\s*计|共\s*计|本页合计|本页小计|total|subtotal|grand\s*total)/i.test(first)) return 'summary';
  if (nonEmpty.length <= 2 && /^(注|备注|说明|制表|填表|审核|打印|导出|数据来源|note)[:：\s]?/i.test(first)) return 'note';
  return null;
}

describe('classifyRow', () => {
  const data = '36010270795106,林祥勇,36010319480302081x,男,机关事业单位养老保险,基本养老金,202402,8408.97,2024/2/14,6228486988773478300,中国农业银行南昌分行,360113002,P12020240201'.split(',');
  const samples: string[][] = [
    data, [], [''], ['', ' ', '\u3000'], ['\ufeff'], HEADER, HEADER.map((h) => ` ${h} `), [...HEADER.slice(0, 2), ...data.slice(2)], [...HEADER.slice(0, 1), ...data.slice(1)],
    ['合计', '', '', '', '', '', '', '1,234.00'], [' 合 计', '1'], ['', '总计：', '12'], ['１２３', '合计'], ['Total', '5'], ['grand  total'], ['注：以上数据', ''], ['备注', 'a', 'b'],
    ['note: x'], ['Note'], ['制表人：张三', '', '审核：李四'], ['123', '合计'], ['\u3000合计'], ['ｔｏｔａｌ'], ['姓名', '张三'], ['个人编号', '姓名'],
    HEADER.map((h) => h.toUpperCase()), ['个人编号', '姓名', '公民身份号码', '性别', '险种类型', '待遇项目', '待遇所属期（月）', '实发金额(元)', '发放日期', '银行账号', '开户银行', '经办机构', '发放批次号'],
    ['0', '', ''], ['P001', '合计'], [' ', '注'], ['a', 'b', 'c'],
  ];

  it('agrees with the reference on data, blank, header, summary and note rows', () => {
    for (const cells of samples) for (const keys of [headerKeys, ['', ...headerKeys.slice(1)], headerKeys.slice(0, 3), []]) {
      expect(classifyRow(cells, keys), JSON.stringify([cells, keys])).toBe(classifyRowReference(cells, keys));
    }
  });

  it('agrees with the reference on random rows', () => {
    const r = rng(9);
    const pool = [...data, ...HEADER, '', ' ', '合计', '注', 'total', 'Note', '１', '姓 名', '\u3000', 'ＡＢ', 'ab'];
    for (let t = 0; t < 20000; t++) {
      const cells = Array.from({ length: Math.floor(r() * 15) }, () => pool[Math.floor(r() * pool.length)]!);
      expect(classifyRow(cells, headerKeys), JSON.stringify(cells)).toBe(classifyRowReference(cells, headerKeys));
    }
  });
});

/** parsePaymentRow as it was before issue 10's fast paths and memos (the reference), from the slow-path functions. */
function paymentRowReference(cells: readonly string[], line: number): unknown {
  const cell = (f: string): string => {
    const idx = (columns as Record<string, number | undefined>)[f];
    return idx === undefined ? '' : (cells[idx] ?? '').trim();
  };
  const rej = (code: string, reason: string) => ({ ok: false, code, reason });
  const lost = (code: string, field: string, raw: string) => rej(code, `${field} "${maskIdsInText(raw)}" was stored as a number and has lost digits (a spreadsheet keeps 15 significant digits); store the column as text`);
  const idRaw = cell('id_number');
  if (digitsLost(idRaw, false)) return lost('ID_PRECISION_LOST', 'resident ID', idRaw);
  const n = normalizeIdNumber(idRaw);
  if (!n.ok) {
    if (n.code === 'EMPTY') return rej('ID_MISSING', 'resident ID is empty');
    if (n.code === 'BAD_LENGTH') return rej('ID_BAD_LENGTH', `resident ID has ${n.cleaned.length} characters; expected 18 (or legacy 15)`);
    return rej('ID_BAD_CHARACTERS', 'resident ID contains characters other than digits and a final X');
  }
  const name = cell('name').normalize('NFC').replace(/[\s\u3000]+/g, '');
  if (name === '') return rej('NAME_MISSING', 'name is empty');
  const schemeRaw = cell('scheme');
  if (schemeRaw === '') return rej('SCHEME_MISSING', 'benefit scheme is empty');
  const scheme = vocab.schemes.get(headerKey(schemeRaw));
  if (!scheme) return rej('SCHEME_UNKNOWN', `benefit scheme "${schemeRaw}" is not a known code or name (add it under "schemes" in the settings file)`);
  const itemRaw = cell('item').normalize('NFC');
  if (itemRaw === '') return rej('ITEM_MISSING', 'benefit item is empty');
  const item = vocab.items.get(headerKey(itemRaw)) ?? itemRaw;
  const period = parsePeriod(cell('period'));
  if (!period.ok) return period;
  const amount = parseAmountFen(cell('amount'));
  if (!amount.ok) return amount;
  const paidRaw = cell('paid_on');
  let paidOn: string | null = null;
  if (paidRaw !== '') {
    const d = parseDate(paidRaw, 'payment date');
    if (!d.ok) return rej('PAID_ON_INVALID', d.reason);
    paidOn = d.value;
  }
  const batch = toHalfWidth(cell('batch'));
  if (batch === '') return rej('BATCH_MISSING', 'batch number is empty');
  if (digitsLost(batch, false)) return lost('BATCH_PRECISION_LOST', 'batch number', batch);
  const agency = toHalfWidth(cell('agency')) || null;
  const accountRaw = cell('account');
  if (digitsLost(accountRaw, false)) return lost('ACCOUNT_PRECISION_LOST', 'bank account', accountRaw);
  const account = toHalfWidth(accountRaw).replace(/[\s-]/g, '') || null;
  const personNo = toHalfWidth(cell('person_no'));
  if (digitsLost(personNo, false)) return lost('PERSON_NO_PRECISION_LOST', 'person number', personNo);
  const sexText = toHalfWidth(cell('sex')).toLowerCase();
  const sex = ['男', 'm', 'male', '1'].includes(sexText) ? 'M' : ['女', 'f', 'female', '2'].includes(sexText) ? 'F' : null;
  return {
    ok: true,
    row: {
      line, person_no: personNo || null, id_number: n.id, id_raw: idRaw, id_valid: n.valid ? 1 : 0, name, sex, scheme, item, item_raw: itemRaw, period: period.value,
      amount_fen: amount.value, paid_on: paidOn, account, bank: cell('bank') || null, agency, district_code: agency && /^\d{6}/.test(agency) ? agency.slice(0, 6) : null, batch,
    },
  };
}

describe('parsePaymentRow fast paths and memos', () => {
  const variants: Record<string, string[]> = {
    个人编号: ['36010270795106', '', ' 36010270795106 ', '３６０１', '3.60102E+13', 'P00000001', '3601-0270'],
    姓名: ['林祥勇', '张𠮷', ' 张 三 ', '', '阿依·古丽', '\uf900三', '张\u3000三'],
    公民身份号码: ['36010319480302081x', '360121193207070333', '360121193207070334', '３６０１２１１９３２０７０７０３３３', '360121320707033', '', '3.60121E+17', '36012119320707033', '360121 193207070333'],
    性别: ['男', '女', 'M', 'f', '', '１', 'x'],
    险种类型: ['120', '机关事业单位养老保险', '１２０', '', '999', ' 110 '],
    待遇项目: ['基本养老金', '', '补发养老金', 'e\u0301', 'ＡＢ'],
    待遇所属期: ['202402', '2024-02', '2024年2月', '2024/2', '', '202413', '２０２４０２', '2024-2'],
    实发金额: ['8408.97', '￥8408.97', '8,408.97', '-8408.97', '￥-1,000.00', '8408.9', '8408.975', '', '(1.00)', '8408.97元', '８４０８.９７', '1234567890.00', 'abc'],
    发放日期: ['2024-02-14', '2024/2/14', '20240214', '2024年2月14日', '', '2024-02-30', '2024-02-14 00:00:00', '２０２４-02-14'],
    银行账号: ['6228486988773478300', '', '6217 0000 1111', '6217-0000', '６２１７', '6.21700E+18', ' 6228486988773478300'],
    开户银行: ['中国农业银行南昌分行', ''],
    经办机构: ['360113002', '', '３６０１１３', 'X机构', '36011'],
    发放批次号: ['P12020240201', '', 'Ｐ１２', '1.2E+10', ' P1 '],
  };
  const base = HEADER.map((h) => variants[h]![0]!);

  it('gives the reference result for every single-field variant, twice (memo miss and hit)', () => {
    for (let i = 0; i < HEADER.length; i++) {
      for (const v of variants[HEADER[i]!]!) {
        const cells = [...base];
        cells[i] = v;
        for (let k = 0; k < 2; k++) expect(parsePaymentRow(cells, columns, 3, vocab), JSON.stringify(cells)).toEqual(paymentRowReference(cells, 3));
      }
    }
  });

  it('gives the reference result for random combinations', () => {
    const r = rng(13);
    for (let t = 0; t < 5000; t++) {
      const cells = HEADER.map((h) => (r() < 0.7 ? variants[h]![0]! : variants[h]![Math.floor(r() * variants[h]!.length)]!));
      expect(parsePaymentRow(cells, columns, t, vocab), JSON.stringify(cells)).toEqual(paymentRowReference(cells, t));
    }
  });
});

describe('packing of payment rows', () => {
  it('a NUL inside a row (seen only in a later read chunk) switches the batch to a separator no value holds', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-fast-'));
    try {
      const line = (i: number, name: string): string => `3601027079510${i},${name},360121193207070333,男,120,基本养老金,2024-01,8408.97,2024-01-12,6228486988773478300,中国农业银行南昌分行,360113002,P1202024010${i}`;
      // Enough rows that the NUL row comes after the first 64 KiB chunk.
      const rows = [HEADER.join(',')];
      for (let i = 0; i < 600; i++) rows.push(line(i % 10, '林祥勇'));
      rows.push(line(1, '林\u0000勇'));
      const file = path.join(dir, 'p.csv');
      fs.writeFileSync(file, rows.join('\n') + '\n');
      const ps = parseSettings(settings, '2026-01-31');
      const batches: Extract<ParsedMessage, { t: 'batch' }>[] = [];
      await parseFile({ fid: 1, abs: file, rel: 'p.csv', kind: 'payments', source: 'x', format: 'csv' }, ps, vocabularyOf(ps), (m) => {
        if (m.t === 'batch') batches.push(m);
        if (m.t === 'fail' || m.t === 'crash') throw new Error(JSON.stringify(m));
      });
      const last = batches.filter((b) => b.payRows > 0).at(-1)!;
      expect(last.sep).not.toBe('\u0000');
      const values = last.pay.split(last.sep);
      expect(values.length).toBe(last.payRows * 18);
      expect(values.slice(-18)[0]).toBe('602');
      expect(values.slice(-18)[5]).toBe('林\u0000勇');
      const first = batches.find((b) => b.payRows > 0)!;
      expect(first.sep).toBe('\u0000');
      expect(first.pay.split('\u0000').length).toBe(first.payRows * 18);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CsvSplitter fast path (no quote on the line)', () => {
  it('cuts the same cells as raw.split(",") whatever the chunking, with CR, empty cells, blank lines and a last line without a line end', () => {
    const r = rng(17);
    const pieces = ['a', '张三', '', ' ', '1,2', ',', '\r', 'x\ry', '中,,文'];
    for (let t = 0; t < 500; t++) {
      const lines = Array.from({ length: 1 + Math.floor(r() * 6) }, () => Array.from({ length: Math.floor(r() * 5) }, () => pieces[Math.floor(r() * pieces.length)]).join(''));
      const crlf = r() < 0.5;
      const text = lines.join(crlf ? '\r\n' : '\n') + (r() < 0.5 ? '\n' : '');
      if (text === '') continue; // no record at all
      const s = new CsvSplitter();
      const out: CsvRecord[] = [];
      for (let at = 0; at < text.length; ) {
        const n = 1 + Math.floor(r() * 7);
        s.push(text.slice(at, at + n), out);
        at += n;
      }
      s.end(out);
      const expected = text.split('\n');
      if (text.endsWith('\n')) expected.pop();
      expect(out.map((o) => o.raw), JSON.stringify(text)).toEqual(expected.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)));
      expect(out.map((o) => o.cells), JSON.stringify(text)).toEqual(out.map((o) => o.raw.split(',')));
      expect(out.map((o) => o.line)).toEqual(out.map((_, i) => i + 1));
    }
  });
});
