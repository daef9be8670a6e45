/**
 * Sample-data generator (sample-data/lib/generator.ts): determinism, file formats, and — most important —
 * that expected/cases.csv and expected/rejects.csv agree with an independent reading of the generated inbox
 * under the rules of DOMAIN.md §4 (death month payable, by period, exempt items, net of reversals, an
 * overlapping re-export is one payment).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import iconv from 'iconv-lite';
import { parse } from 'csv-parse/sync';
import { generateInbox, type GenerateResult, type Summary } from '../sample-data/lib/generator.ts';
import { isValidIdNumber, normalizeIdNumber } from '../src/identity/resident-id.ts';

const OPTS = { seed: 7, recipients: 500, months: 18, start: '2024-01' } as const;

let root: string;
let a: GenerateResult;
let b: GenerateResult;
let c: GenerateResult;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fundguard-gen-'));
  a = await generateInbox({ ...OPTS, outDir: path.join(root, 'a') });
  b = await generateInbox({ ...OPTS, outDir: path.join(root, 'b') });
  c = await generateInbox({ ...OPTS, seed: 8, outDir: path.join(root, 'c') });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, r)));
    else out.push(r);
  }
  return out.sort();
}

/** Decodes a generated file according to its declared encoding, checking BOM and line endings. */
async function readTable(inbox: string, f: Summary['files'][number]): Promise<string[][]> {
  const raw = await readFile(path.join(inbox, ...f.file.split('/')));
  const hasBom = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf;
  expect(hasBom, f.file).toBe(f.encoding === 'utf-8-bom');
  const text =
    f.encoding === 'gb18030' ? iconv.decode(raw, 'gb18030') : new TextDecoder('utf-8', { fatal: true }).decode(raw);
  const crlf = (text.match(/\r\n/g) ?? []).length;
  const lf = (text.match(/\n/g) ?? []).length;
  expect(crlf === lf ? 'crlf' : crlf === 0 ? 'lf' : 'mixed', f.file).toBe(f.lineEnding);
  return parse(text, { relax_column_count: false }) as string[][];
}

const SCHEME_NAMES: Record<string, string> = {
  '110': '110',
  '120': '120',
  '170': '170',
  企业职工基本养老保险: '110',
  机关事业单位养老保险: '120',
  城乡居民基本养老保险: '170',
};
const EXEMPT = new Set(['丧葬补助金', '一次性抚恤金', '供养亲属抚恤金']);

function parsePeriod(s: string): string | null {
  const m = /^(\d{4})(\d{2})$/.exec(s) ?? /^(\d{4})-(\d{2})$/.exec(s) ?? /^(\d{4})年(\d{2})月$/.exec(s);
  if (!m) return null;
  const mo = Number(m[2]);
  return mo >= 1 && mo <= 12 ? `${m[1]}-${m[2]}` : null;
}

/** Yuan text → fen; 'TOO_PRECISE' for more than two decimals; null when not a number. */
function parseFen(s: string): number | 'TOO_PRECISE' | null {
  const t = s.replace('￥', '').replace(/,/g, '');
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) return null;
  const dec = m[3] ?? '';
  if (dec.length > 2) return 'TOO_PRECISE';
  return (m[1] ? -1 : 1) * (Number(m[2]) * 100 + Number(dec.padEnd(2, '0')));
}

function parseDay(s: string): string | null {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})$/.exec(s) ??
    /^(\d{4})(\d{2})(\d{2})$/.exec(s) ??
    /^(\d{4})\/(\d{1,2})\/(\d{1,2})$/.exec(s) ??
    /^(\d{4})年(\d{1,2})月(\d{1,2})日$/.exec(s);
  if (!m) return null;
  return `${m[1]}-${m[2]!.padStart(2, '0')}-${m[3]!.padStart(2, '0')}`;
}

interface Pay {
  file: string;
  line: number;
  id: string;
  scheme: string;
  item: string;
  period: string;
  fen: number;
  paidOn: string;
  agency: string;
  batch: string;
}

interface Reading {
  payments: Map<string, Pay>;
  rejects: string[];
  overlapPerFile: Map<string, number>;
  rowsPerFile: Map<string, number>;
  deaths: Map<string, { date: string; name: string }>;
  badIds: string[];
}

/** Reads the inbox like a minimal ingest would (files in path order) and returns payments, deaths, rejects. */
async function readInbox(res: GenerateResult): Promise<Reading> {
  const r: Reading = {
    payments: new Map(),
    rejects: [],
    overlapPerFile: new Map(),
    rowsPerFile: new Map(),
    deaths: new Map(),
    badIds: [],
  };
  const files = [...res.summary.files].sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : 0));
  for (const f of files) {
    const rows = await readTable(res.inboxDir, f);
    r.rowsPerFile.set(f.file, rows.length - 1);
    if (f.kind === 'payments') {
      expect(rows[0]!.join(',')).toBe('个人编号,姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,发放日期,银行账号,开户银行,经办机构,发放批次号');
      let overlap = 0;
      rows.slice(1).forEach((cells, k) => {
        const line = k + 2;
        const [, , idRaw, sex, schemeRaw, item, periodRaw, amountRaw, paidRaw, , , agency, batch] = cells as string[];
        const reject = (code: string) => r.rejects.push(`${f.file},${line},${code}`);
        const id = normalizeIdNumber(idRaw!);
        if (!id.ok) return reject(id.code === 'BAD_LENGTH' ? 'ID_BAD_LENGTH' : 'ID_BAD_CHARACTERS');
        if (!id.valid) r.badIds.push(idRaw!);
        const fen = parseFen(amountRaw!);
        if (fen === 'TOO_PRECISE') return reject('AMOUNT_TOO_PRECISE');
        if (fen === null) return reject('AMOUNT_INVALID');
        const period = parsePeriod(periodRaw!);
        if (!period) return reject('PERIOD_INVALID');
        const scheme = SCHEME_NAMES[schemeRaw!];
        if (!scheme) return reject('SCHEME_UNKNOWN');
        const paidOn = parseDay(paidRaw!);
        expect(paidOn, `${f.file}:${line}`).not.toBeNull();
        expect(sex === '男' ? 1 : 0, `${f.file}:${line} sex`).toBe(Number(id.id[16]) % 2);
        expect(batch!.slice(1, 4), `${f.file}:${line} batch scheme`).toBe(scheme);
        const key = `${batch}|${id.id}|${scheme}|${item}|${period}`;
        const prev = r.payments.get(key);
        if (prev) {
          expect(prev.fen, `${f.file}:${line} repeats ${prev.file}:${prev.line}`).toBe(fen);
          expect(prev.file < f.file).toBe(true);
          overlap++;
          return;
        }
        r.payments.set(key, { file: f.file, line, id: id.id, scheme, item: item!, period, fen, paidOn: paidOn!, agency: agency!, batch: batch! });
      });
      r.overlapPerFile.set(f.file, overlap);
    } else {
      rows.slice(1).forEach((cells) => {
        const norm = normalizeIdNumber(cells[1]!);
        if (!norm.ok) throw new Error(`death record ID ${cells[1]} in ${f.file} is not an ID`);
        expect(norm.valid && norm.id === cells[1], `death record ID ${cells[1]} in ${f.file}`).toBe(true);
        const id = norm;
        let dateText: string;
        if (f.source === 'public-security') {
          if (cells[3] !== '死亡') {
            expect(['迁出', '出国（境）定居', '重复登记']).toContain(cells[3]);
            expect(cells[4]).toBe('');
            return;
          }
          dateText = cells[4]!;
        } else {
          dateText = f.source === 'civil-affairs' ? cells[4]! : cells[3]!;
        }
        if (f.source === 'health') expect(dateText).toMatch(/^\d{4}年\d{1,2}月\d{1,2}日$/);
        const date = parseDay(dateText)!;
        expect(date).not.toBeNull();
        const prev = r.deaths.get(id.id);
        if (prev) {
          expect(prev.date, `sources agree on the death date of ${id.id}`).toBe(date);
          expect(prev.name).toBe(cells[0]);
        } else r.deaths.set(id.id, { date, name: cells[0]! });
        if (f.source === 'civil-affairs') expect(parseDay(cells[5]!)! > date).toBe(true);
        if (f.source === 'public-security') expect(parseDay(cells[5]!)! > date).toBe(true);
      });
    }
  }
  return r;
}

/** Recomputes the deceased_payment findings from what was read: DOMAIN.md §4. */
function recomputeCases(r: Reading): string {
  const byPerson = new Map<string, Pay[]>();
  for (const p of r.payments.values()) {
    if (!r.deaths.has(p.id)) continue;
    let list = byPerson.get(p.id);
    if (!list) byPerson.set(p.id, (list = []));
    list.push(p);
  }
  const lines: string[] = [];
  for (const [id, pays] of byPerson) {
    const death = r.deaths.get(id)!;
    const deathMonth = death.date.slice(0, 7);
    const nets = new Map<string, { period: string; scheme: string; fen: number; rows: Pay[] }>();
    for (const p of pays) {
      if (p.period <= deathMonth || EXEMPT.has(p.item)) continue;
      const k = `${p.scheme}|${p.item}|${p.period}`;
      let e = nets.get(k);
      if (!e) nets.set(k, (e = { period: p.period, scheme: p.scheme, fen: 0, rows: [] }));
      e.fen += p.fen;
      e.rows.push(p);
    }
    const counted = [...nets.values()].filter((e) => e.fen > 0);
    if (counted.length === 0) continue;
    const periods = [...new Set(counted.map((e) => e.period))].sort();
    const schemes = [...new Set(counted.map((e) => e.scheme))].sort();
    const positive = counted.flatMap((e) => e.rows.filter((p) => p.fen > 0));
    positive.sort((x, y) => (x.period < y.period ? -1 : x.period > y.period ? 1 : x.paidOn < y.paidOn ? -1 : x.paidOn > y.paidOn ? 1 : 0));
    const latest = positive[positive.length - 1]!;
    const fen = counted.reduce((s, e) => s + e.fen, 0);
    const amount = `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
    lines.push(
      ['deceased_payment', id, death.name, latest.agency.slice(0, 6), schemes.join('+'), periods[0], periods[periods.length - 1], periods.length, amount, 'confirmed'].join(','),
    );
  }
  lines.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return ['detector,id_number,name,district_code,scheme,first_period,last_period,months,amount,confidence', ...lines].join('\n') + '\n';
}

describe('sample-data generator', () => {
  it('is deterministic: the same options give byte-identical files', async () => {
    const fa = await listFiles(path.dirname(a.inboxDir));
    const fb = await listFiles(path.dirname(b.inboxDir));
    expect(fa).toEqual(fb);
    expect(fa.length).toBeGreaterThan(30);
    for (const f of fa) {
      const x = await readFile(path.join(path.dirname(a.inboxDir), f));
      const y = await readFile(path.join(path.dirname(b.inboxDir), f));
      expect(x.equals(y), f).toBe(true);
    }
  });

  it('depends on the seed', async () => {
    const name = 'payments/待遇发放明细_202403.csv';
    const x = await readFile(path.join(a.inboxDir, name));
    const y = await readFile(path.join(c.inboxDir, name));
    expect(x.equals(y)).toBe(false);
    expect(await readFile(path.join(a.expectedDir, 'cases.csv'), 'utf8')).not.toBe(
      await readFile(path.join(c.expectedDir, 'cases.csv'), 'utf8'),
    );
  });

  it('writes every encoding, line ending and format variant', () => {
    const pay = a.summary.files.filter((f) => f.kind === 'payments');
    expect(pay).toHaveLength(OPTS.months + 1);
    expect(new Set(pay.map((f) => f.encoding))).toEqual(new Set(['gb18030', 'utf-8-bom', 'utf-8']));
    expect(new Set(pay.map((f) => f.lineEnding))).toEqual(new Set(['crlf', 'lf']));
    expect(new Set(pay.map((f) => f.formats.period))).toEqual(new Set(['compact', 'iso', 'cjk']));
    expect(new Set(pay.map((f) => f.formats.amount))).toEqual(new Set(['plain', 'grouped', 'yuan']));
    expect(new Set(pay.map((f) => f.formats.date))).toEqual(new Set(['iso', 'compact', 'slash', 'cjk']));
    const deaths = a.summary.files.filter((f) => f.kind === 'deaths');
    expect(deaths).toHaveLength(3 * 6);
    expect(new Set(deaths.map((f) => f.encoding))).toEqual(new Set(['gb18030', 'utf-8-bom', 'utf-8']));
  });

  describe('read back independently', () => {
    let reading: Reading;
    beforeAll(async () => {
      reading = await readInbox(a);
    });

    it('every ID in the inbox normalises to a valid ID (bad rows aside)', () => {
      expect(reading.badIds).toEqual([]);
      expect(reading.payments.size).toBeGreaterThan(8000);
      for (const p of reading.payments.values()) expect(isValidIdNumber(p.id)).toBe(true);
    });

    it('rejects.csv lists exactly the rows a strict reader refuses, with their codes', async () => {
      const expected = (await readFile(path.join(a.expectedDir, 'rejects.csv'), 'utf8')).trimEnd().split('\n');
      expect(expected[0]).toBe('file,line,code');
      expect([...reading.rejects].sort()).toEqual(expected.slice(1).sort());
      expect(expected.length - 1).toBe(10);
      const codes = new Set(expected.slice(1).map((l) => l.split(',')[2]));
      expect(codes).toEqual(new Set(['ID_BAD_LENGTH', 'ID_BAD_CHARACTERS', 'AMOUNT_TOO_PRECISE', 'AMOUNT_INVALID', 'PERIOD_INVALID', 'SCHEME_UNKNOWN']));
    });

    it('summary.json counts rows, rejects and overlap per file', () => {
      for (const f of a.summary.files) {
        expect(reading.rowsPerFile.get(f.file), f.file).toBe(f.rows);
        expect(reading.rejects.filter((x) => x.startsWith(f.file + ',')).length, f.file).toBe(f.rejects);
        if (f.kind === 'payments') expect(reading.overlapPerFile.get(f.file), f.file).toBe(f.overlap);
      }
      const t = a.summary.totals;
      expect(t.paymentRowsOverlap).toBeGreaterThan(0);
      expect(t.distinctPayments).toBe(reading.payments.size);
      expect(t.paymentRows).toBe(t.distinctPayments + t.paymentRowsOverlap + t.paymentRowsRejected);
    });

    it('expected/cases.csv equals the findings recomputed from the inbox under DOMAIN.md §4', async () => {
      const text = await readFile(path.join(a.expectedDir, 'cases.csv'), 'utf8');
      expect(text).toBe(recomputeCases(reading));
    });

    it('names in death records keep rare characters that payment extracts write as ? or □', () => {
      const rare = [...reading.deaths.values()].filter((d) => [...d.name].some((ch) => ch.length > 1));
      expect(rare.length).toBeGreaterThan(0);
    });
  });

  it('expected cases are non-empty, each with months ≥ 1 and amount > 0', async () => {
    const lines = (await readFile(path.join(a.expectedDir, 'cases.csv'), 'utf8')).trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines.slice(1)) {
      const cells = l.split(',');
      expect(cells).toHaveLength(10);
      expect(Number(cells[7])).toBeGreaterThanOrEqual(1);
      expect(cells[8]).toMatch(/^\d+\.\d{2}$/);
      expect(Number(cells[8])).toBeGreaterThan(0);
      expect(cells[5]! <= cells[6]!).toBe(true);
    }
    expect(a.summary.totals.overpaidRecipients).toBe(lines.length - 1);
  });

  it('contains every death scenario: stopped in time, funeral grant, back pay after death, reversal', () => {
    const s = a.summary.scenarios;
    expect(s.stoppedInTime).toBeGreaterThanOrEqual(1);
    expect(s.withFuneralGrant).toBeGreaterThanOrEqual(1);
    expect(s.withBackPayAfterDeath).toBeGreaterThanOrEqual(1);
    expect(s.withPostDeathBackPay).toBeGreaterThanOrEqual(1);
    expect(s.withReversal).toBeGreaterThanOrEqual(1);
    expect(s.fullyReversed).toBeGreaterThanOrEqual(1);
    expect(s.partialReversal).toBeGreaterThanOrEqual(1);
    expect(s.legacyIdRecipients).toBeGreaterThanOrEqual(1);
    const forced = new Map(s.forced.map((f) => [f.scenario, f]));
    expect(forced.get('stopped_in_time')?.expectCase).toBe(false);
    expect(forced.get('reversal_all')?.expectCase).toBe(false);
    expect(forced.get('post_death_back_pay_only')?.expectCase).toBe(true);
    expect(forced.get('cancel_moved_out')?.expectCase).toBe(false);
  });

  it('refuses bad options with a message naming the value', async () => {
    await expect(generateInbox({ ...OPTS, start: '2024-13', outDir: path.join(root, 'x') })).rejects.toThrow(/2024-13/);
    await expect(generateInbox({ ...OPTS, recipients: 0, outDir: path.join(root, 'x') })).rejects.toThrow(/recipients/);
  });
});
