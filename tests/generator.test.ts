/**
 * Sample-data generator (sample-data/lib/generator.ts): determinism (machine and time zone), layouts and
 * file formats, and — most important — that expected/ agrees with an independent reading of the generated
 * inbox (CSV and XLSX): each file's accounting (rows read, accepted, rejected, skipped, repeated), the
 * rejected rows, the summary-row totals, and the findings of every detector recomputed from the payments
 * read under the rules of DOMAIN.md §4 and README "Detectors" (death month payable, by period, exempt items,
 * net of reversals, an overlapping re-export is one payment, one payment one claim).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import iconv from 'iconv-lite';
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { generateInbox, type FileSummary, type GenerateResult, type Layout } from '../sample-data/lib/generator.ts';
import { PATTERNS } from '../sample-data/lib/patterns.ts';
import { isValidIdNumber, normalizeIdNumber } from '../src/identity/resident-id.ts';

const OPTS = { seed: 7, recipients: 500, months: 18, start: '2024-01' } as const;
const REPO = path.resolve(import.meta.dirname, '..');

let root: string;
let a: GenerateResult;
let b: GenerateResult;
let c: GenerateResult;
let p: GenerateResult;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fundguard-gen-'));
  a = await generateInbox({ ...OPTS, layout: 'messy', outDir: path.join(root, 'a') });
  b = await generateInbox({ ...OPTS, layout: 'messy', outDir: path.join(root, 'b') });
  c = await generateInbox({ ...OPTS, layout: 'messy', seed: 8, outDir: path.join(root, 'c') });
  p = await generateInbox({ ...OPTS, layout: 'plain', outDir: path.join(root, 'p') });
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

async function sameBytes(x: string, y: string): Promise<void> {
  const fx = await listFiles(x);
  expect(fx).toEqual(await listFiles(y));
  for (const f of fx) expect((await readFile(path.join(x, f))).equals(await readFile(path.join(y, f))), f).toBe(true);
}

// ---- an independent reader --------------------------------------------------------------------------------

type Cell = string | number | Date | null;
interface Rec {
  line: number;
  cells: Cell[];
}

const PAYMENT_HEADER = '个人编号,姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,发放日期,银行账号,开户银行,经办机构,发放批次号';
const DEATH_HEADERS = ['逝者姓名,身份证号,性别,出生日期,死亡日期,火化日期', '姓名,公民身份号码,性别,注销原因,死亡日期,注销日期', '死者姓名,证件号码,性别,死亡日期'];

/** Decodes a CSV file according to its declared encoding (checking BOM and line endings) into records. */
async function readCsvRecords(inbox: string, f: FileSummary): Promise<Rec[]> {
  const raw = await readFile(path.join(inbox, ...f.file.split('/')));
  const hasBom = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf;
  expect(hasBom, f.file).toBe(f.encoding === 'utf-8-bom');
  const text = f.encoding === 'gb18030' ? iconv.decode(raw, 'gb18030') : new TextDecoder('utf-8', { fatal: true }).decode(raw);
  const crlf = (text.match(/\r\n/g) ?? []).length;
  const lf = (text.match(/\n/g) ?? []).length;
  expect(crlf === lf ? 'crlf' : crlf === 0 ? 'lf' : 'mixed', f.file).toBe(f.lineEnding);
  const rows = parse(text, { relax_column_count: true, skip_empty_lines: false, bom: true }) as string[][];
  expect(rows.length, `${f.file}: one record per line`).toBe(lf);
  return rows.map((cells, k) => ({ line: k + 1, cells }));
}

/** Reads the first worksheet of an XLSX file (exceljs, whole workbook): one record per stored row. */
async function readXlsxRecords(inbox: string, f: FileSummary): Promise<Rec[]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path.join(inbox, ...f.file.split('/')));
  expect(wb.worksheets).toHaveLength(1);
  const out: Rec[] = [];
  wb.worksheets[0]!.eachRow({ includeEmpty: false }, (row, n) => {
    const values = (row.values as unknown[]).slice(1).map((v) => (v === undefined ? null : (v as Cell)));
    out.push({ line: n, cells: values });
  });
  out.forEach((r, k) => expect(r.line, `${f.file}: rows are stored consecutively`).toBe(k + 1));
  return out;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');
const isoDay = (d: Date): string => `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
const text = (c: Cell): string => (c === null ? '' : c instanceof Date ? isoDay(c) : String(c));
const trimmed = (cells: Cell[]): string[] => {
  const t = cells.map(text);
  while (t.length && t[t.length - 1] === '') t.pop();
  return t;
};

const SCHEME_CODES: Record<string, string> = {
  '110': '110',
  '120': '120',
  '170': '170',
  企业职工基本养老保险: '110',
  机关事业单位养老保险: '120',
  城乡居民基本养老保险: '170',
};
const EXEMPT = new Set(['丧葬补助金', '一次性抚恤金', '供养亲属抚恤金']);
/** Items amount_anomaly never judges: back pay (Benford instead) and items payable after death. */
const NOT_JUDGED = new Set(['补发养老金', '待遇调整补差', ...EXEMPT]);

function parsePeriodCell(c: Cell): string | null {
  if (c instanceof Date) return isoDay(c).slice(0, 7);
  const s = text(c);
  const m = /^(\d{4})(\d{2})$/.exec(s) ?? /^(\d{4})-(\d{2})$/.exec(s) ?? /^(\d{4})年(\d{2})月$/.exec(s);
  if (!m) return null;
  const mo = Number(m[2]);
  return mo >= 1 && mo <= 12 ? `${m[1]}-${m[2]}` : null;
}

/** Yuan (text or number) → fen; 'TOO_PRECISE' for more than two decimals; null when not a number. */
function parseFen(c: Cell): number | 'TOO_PRECISE' | null {
  const t = (typeof c === 'number' ? String(c) : text(c)).replace('￥', '').replace(/,/g, '');
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) return null;
  const dec = m[3] ?? '';
  if (dec.length > 2) return 'TOO_PRECISE';
  return (m[1] ? -1 : 1) * (Number(m[2]) * 100 + Number(dec.padEnd(2, '0')));
}

function parseDayCell(c: Cell): string | null {
  if (c instanceof Date) return isoDay(c);
  const s = text(c);
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
  /** Storage order: files in byte-wise path order, rows in file order. */
  order: number;
  id: string;
  name: string;
  scheme: string;
  item: string;
  period: string;
  fen: number;
  paidOn: string;
  agency: string;
  account: string;
  batch: string;
}

interface FileReading {
  rowsRead: number;
  accepted: number;
  rejected: number;
  repeated: number;
  skippedRows: FileSummary['skippedRows'];
  summaryRow: { line: number; statedTotal: number; expectedTotal: number } | null;
  numericLegacyIds: number;
}

interface Reading {
  payments: Pay[];
  rejects: string[];
  files: Map<string, FileReading>;
  deaths: Map<string, { date: string; name: string }>;
  badIds: string[];
}

/** Reads the inbox like a minimal ingest would (files in byte-wise path order) — never with the generator's code. */
async function readInbox(res: GenerateResult): Promise<Reading> {
  const r: Reading = { payments: [], rejects: [], files: new Map(), deaths: new Map(), badIds: [] };
  const seen = new Map<string, Pay>();
  const files = [...res.summary.files].sort((x, y) => Buffer.compare(Buffer.from(x.file), Buffer.from(y.file)));
  for (const f of files) {
    const recs = f.format === 'xlsx' ? await readXlsxRecords(res.inboxDir, f) : await readCsvRecords(res.inboxDir, f);
    const fr: FileReading = {
      rowsRead: recs.length, accepted: 0, rejected: 0, repeated: 0, numericLegacyIds: 0, summaryRow: null,
      skippedRows: { title: 0, header: 0, blank: 0, repeatedHeader: 0, summary: 0, note: 0 },
    };
    r.files.set(f.file, fr);
    const header = f.kind === 'payments' ? PAYMENT_HEADER : DEATH_HEADERS.find((h) => h === trimmed(recs[0]?.cells ?? []).join(','));
    let inData = false;
    let sumFen = 0;
    for (const { line, cells } of recs) {
      const t = trimmed(cells);
      if (t.every((x) => x.trim() === '')) {
        fr.skippedRows.blank++;
        continue;
      }
      if (t.join(',') === header) {
        fr.skippedRows[inData ? 'repeatedHeader' : 'header']++;
        inData = true;
        continue;
      }
      if (!inData) {
        fr.skippedRows.title++;
        continue;
      }
      const first = t.find((x) => x.trim() !== '')!;
      if (first.startsWith('合计')) {
        fr.skippedRows.summary++;
        const stated = parseFen(cells[7] ?? null);
        expect(typeof stated, `${f.file}:${line} summary total`).toBe('number');
        fr.summaryRow = { line, statedTotal: stated as number, expectedTotal: sumFen };
        continue;
      }
      if (/^(注|制表)/.test(first)) {
        fr.skippedRows.note++;
        continue;
      }
      if (f.kind === 'payments') {
        const [, name, idCell, sex, schemeRaw, item, periodCell, amountCell, paidCell, account, , agency, batch] = cells;
        const reject = (code: string) => {
          r.rejects.push(`${f.file},${line},${code}`);
          fr.rejected++;
        };
        let idRaw = text(idCell ?? null);
        if (typeof idCell === 'number') {
          if (idRaw.length > 15) {
            reject('ID_PRECISION_LOST');
            continue;
          }
          fr.numericLegacyIds++;
          idRaw = idRaw.padStart(15, '0');
        }
        const id = normalizeIdNumber(idRaw);
        if (!id.ok) {
          reject(id.code === 'BAD_LENGTH' ? 'ID_BAD_LENGTH' : 'ID_BAD_CHARACTERS');
          continue;
        }
        if (!id.valid) r.badIds.push(idRaw);
        const fen = parseFen(amountCell ?? null);
        if (fen === 'TOO_PRECISE') {
          reject('AMOUNT_TOO_PRECISE');
          continue;
        }
        if (fen === null) {
          reject('AMOUNT_INVALID');
          continue;
        }
        const period = parsePeriodCell(periodCell ?? null);
        if (!period) {
          reject('PERIOD_INVALID');
          continue;
        }
        const scheme = SCHEME_CODES[text(schemeRaw ?? null)];
        if (!scheme) {
          reject('SCHEME_UNKNOWN');
          continue;
        }
        const paidOn = parseDayCell(paidCell ?? null);
        expect(paidOn, `${f.file}:${line}`).not.toBeNull();
        expect(text(sex ?? null) === '男' ? 1 : 0, `${f.file}:${line} sex`).toBe(Number(id.id[16]) % 2);
        expect(text(batch ?? null).slice(1, 4), `${f.file}:${line} batch scheme`).toBe(scheme);
        fr.accepted++;
        sumFen += fen;
        const pay: Pay = {
          file: f.file, line, order: r.payments.length, id: id.id, name: text(name ?? null), scheme, item: text(item ?? null), period, fen,
          paidOn: paidOn!, agency: text(agency ?? null), account: text(account ?? null), batch: text(batch ?? null),
        };
        const key = `${pay.batch}|${pay.id}|${scheme}|${pay.item}|${period}`;
        const prev = seen.get(key);
        if (prev) {
          expect(prev.fen, `${f.file}:${line} repeats ${prev.file}:${prev.line}`).toBe(fen);
          expect(prev.file < f.file).toBe(true);
          fr.repeated++;
          continue;
        }
        seen.set(key, pay);
        r.payments.push(pay);
      } else {
        const norm = normalizeIdNumber(t[1]!);
        if (!norm.ok) throw new Error(`death record ID ${t[1]} in ${f.file} is not an ID`);
        expect(norm.valid && norm.id === t[1], `death record ID ${t[1]} in ${f.file}`).toBe(true);
        fr.accepted++;
        let dateText: string;
        if (f.source === 'public-security') {
          if (t[3] !== '死亡') {
            expect(['迁出', '出国（境）定居', '重复登记']).toContain(t[3]);
            expect(t[4]).toBe('');
            continue;
          }
          dateText = t[4]!;
        } else dateText = f.source === 'civil-affairs' ? t[4]! : t[3]!;
        if (f.source === 'health') expect(dateText).toMatch(/^\d{4}年\d{1,2}月\d{1,2}日$/);
        const date = parseDayCell(dateText)!;
        expect(date).not.toBeNull();
        const prev = r.deaths.get(norm.id);
        if (prev) {
          expect(prev.date, `sources agree on the death date of ${norm.id}`).toBe(date);
          expect(prev.name).toBe(t[0]);
        } else r.deaths.set(norm.id, { date, name: t[0]! });
        if (f.source !== 'health') expect(parseDayCell(t[5]!)! > date).toBe(true);
      }
    }
  }
  return r;
}

// ---- the detectors' rules, recomputed from what was read -------------------------------------------------

interface Found {
  detector: string;
  id: string;
  name: string;
  district: string;
  schemes: string[];
  periods: string[];
  fen: number;
  confidence: string;
}

const cmpStr = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
/** period, pay date, batch, storage order — the detectors' "earliest first". */
const payOrder = (x: Pay, y: Pay): number => cmpStr(x.period, y.period) || cmpStr(x.paidOn, y.paidOn) || cmpStr(x.batch, y.batch) || x.order - y.order;
const lastOf = (rows: Pay[]): Pay => [...rows].sort(payOrder).at(-1)!;
const by = <T,>(xs: T[], key: (x: T) => string): Map<string, T[]> => {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
};
const net = (rows: Pay[]): number => rows.reduce((s, x) => s + x.fen, 0);
const uniq = (xs: string[]): string[] => [...new Set(xs)].sort(cmpStr);

function medianOf(v: number[]): number {
  const s = [...v].sort((x, y) => x - y);
  const i = (s.length - 1) / 2;
  return Number.isInteger(i) ? s[i]! : s[Math.floor(i)]! + 0.5 * (s[Math.ceil(i)]! - s[Math.floor(i)]!);
}
function zScore(x: number, sample: number[]): number {
  const med = medianOf(sample);
  const mad = medianOf(sample.map((v) => Math.abs(v - med)));
  return (x - med) / Math.max(1.4826 * mad, 0.05 * Math.abs(med), 100);
}

/** Every detector, in registry order, one payment one claim (README "Detectors"). */
function recompute(r: Reading): Found[] {
  const out: Found[] = [];
  const claimed = new Set<Pay>();
  const byPerson = by(r.payments, (x) => x.id);

  for (const [id, pays] of byPerson) {
    const death = r.deaths.get(id);
    if (!death) continue;
    const month = death.date.slice(0, 7);
    const counted = [...by(pays.filter((x) => x.period > month && !EXEMPT.has(x.item)), (x) => `${x.scheme}|${x.item}|${x.period}`).values()].filter((g) => net(g) > 0).flat();
    if (!counted.length) continue;
    const last = [...counted.filter((x) => x.fen > 0)].sort((x, y) => cmpStr(x.period, y.period) || cmpStr(x.paidOn, y.paidOn) || x.order - y.order).at(-1)!;
    counted.forEach((x) => claimed.add(x));
    out.push({ detector: 'deceased_payment', id, name: death.name, district: last.agency.slice(0, 6), schemes: uniq(counted.map((x) => x.scheme)), periods: uniq(counted.map((x) => x.period)), fen: net(counted), confidence: 'confirmed' });
  }

  for (const g of by(r.payments, (x) => `${x.id}|${x.scheme}|${x.item}|${x.period}`).values()) {
    const rows = g.filter((x) => !claimed.has(x)).sort(payOrder);
    const open = rows.filter((x) => x.fen > 0);
    const unmatched: Pay[] = [];
    for (const rev of rows.filter((x) => x.fen < 0)) {
      const k = open.map((x) => x.fen).lastIndexOf(-rev.fen);
      if (k >= 0) open.splice(k, 1);
      else unmatched.push(rev);
    }
    const copies = [...by(open, (x) => String(x.fen)).values()].flatMap((same) => same.slice(1));
    const fen = net(copies) + net(unmatched);
    if (!copies.length || fen <= 0) continue;
    [...copies, ...unmatched].forEach((x) => claimed.add(x));
    const last = lastOf(copies);
    out.push({ detector: 'duplicate_payment', id: g[0]!.id, name: last.name, district: last.agency.slice(0, 6), schemes: [g[0]!.scheme], periods: [g[0]!.period], fen, confidence: 'probable' });
  }

  for (const [id, pays] of byPerson) {
    const mine = pays.filter((x) => ['110', '120', '170'].includes(x.scheme) && !EXEMPT.has(x.item));
    const counted: Pay[] = [];
    const periods: string[] = [];
    const others = new Set<string>();
    let fen = 0;
    for (const [period, inMonth] of [...by(mine, (x) => x.period)].sort((x, y) => cmpStr(x[0], y[0]))) {
      const drawn = ['110', '120'].filter((s) => net(inMonth.filter((x) => x.scheme === s)) > 0);
      const resident = inMonth.filter((x) => x.scheme === '170');
      if (!drawn.length || net(resident) <= 0) continue;
      const unclaimed = resident.filter((x) => !claimed.has(x));
      if (net(unclaimed) <= 0) continue;
      counted.push(...unclaimed);
      periods.push(period);
      drawn.forEach((s) => others.add(s));
      fen += net(unclaimed);
    }
    if (!periods.length) continue;
    counted.forEach((x) => claimed.add(x));
    const last = lastOf(counted.filter((x) => x.fen > 0));
    const names = new Set(mine.filter((x) => periods.includes(x.period)).map((x) => x.name));
    out.push({ detector: 'concurrent_pension', id, name: last.name, district: last.agency.slice(0, 6), schemes: uniq(['170', ...others]), periods, fen, confidence: names.size === 1 ? 'confirmed' : 'review' });
  }

  for (const rows of by(r.payments, (x) => x.account).values()) {
    const flagged = [...by(rows.filter((x) => x.fen > 0), (x) => x.period)].filter(([, g]) => new Set(g.map((x) => x.id)).size >= 3).map(([k]) => k).sort(cmpStr);
    if (!flagged.length) continue;
    const inFlagged = rows.filter((x) => flagged.includes(x.period));
    const people = uniq(inFlagged.map((x) => x.id)).map((id) => ({ id, paid: new Set(rows.filter((x) => x.id === id && x.fen > 0).map((x) => x.period)).size }));
    const holder = people.sort((x, y) => y.paid - x.paid || cmpStr(x.id, y.id))[0]!;
    out.push({
      detector: 'shared_account', id: holder.id, name: rows.find((x) => x.id === holder.id)!.name, district: lastOf(inFlagged).agency.slice(0, 6),
      schemes: uniq(inFlagged.map((x) => x.scheme)), periods: flagged, fen: 0, confidence: 'review',
    });
  }

  const peers = by(r.payments.filter((x) => x.fen > 0 && !NOT_JUDGED.has(x.item)), (x) => `${x.scheme}|${x.item}|${x.agency.slice(0, 6)}|${x.period}`);
  const flaggedRows: Pay[] = [];
  for (const g of by(r.payments.filter((x) => x.fen > 0 && !NOT_JUDGED.has(x.item)), (x) => `${x.id}|${x.scheme}|${x.item}`).values()) {
    if (g.length < 7) continue;
    g.forEach((x, i) => {
      if (claimed.has(x) || zScore(x.fen, g.filter((_, j) => j !== i).map((o) => o.fen)) <= 5) return;
      const others = peers.get(`${x.scheme}|${x.item}|${x.agency.slice(0, 6)}|${x.period}`)!.filter((o) => o.id !== x.id).map((o) => o.fen);
      if (others.length >= 20 && zScore(x.fen, others) > 5) flaggedRows.push(x);
    });
  }
  for (const g of by(flaggedRows, (x) => `${x.id}|${x.period}`).values()) {
    const last = lastOf(g);
    out.push({ detector: 'amount_anomaly', id: last.id, name: last.name, district: last.agency.slice(0, 6), schemes: uniq(g.map((x) => x.scheme)), periods: [last.period], fen: 0, confidence: 'review' });
  }
  return out;
}

function casesCsv(found: Found[]): string {
  const yuan = (fen: number) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
  const rows = found.map((f) => ({ f, line: [f.detector, f.id, f.name, f.district, f.schemes.join('+'), f.periods[0], f.periods.at(-1), f.periods.length, yuan(f.fen), f.confidence].join(',') }));
  rows.sort((x, y) => cmpStr(x.f.detector, y.f.detector) || cmpStr(x.f.id, y.f.id) || cmpStr(x.f.periods[0]!, y.f.periods[0]!) || cmpStr(x.line, y.line));
  return ['detector,id_number,name,district_code,scheme,first_period,last_period,months,amount,confidence', ...rows.map((x) => x.line)].join('\n') + '\n';
}

// ---- tests ------------------------------------------------------------------------------------------------

describe('sample-data generator', () => {
  it('is deterministic: the same options give byte-identical files (XLSX included)', async () => {
    await sameBytes(path.dirname(a.inboxDir), path.dirname(b.inboxDir));
    expect((await listFiles(a.inboxDir)).length).toBeGreaterThan(30);
  });

  it('does not depend on the time zone (a child process under UTC+14 writes the same bytes)', async () => {
    const o = { seed: 3, recipients: 120, months: 6, start: '2024-11' };
    const here = await generateInbox({ ...o, layout: 'messy', outDir: path.join(root, 'tz-here') });
    expect(here.summary.totals.xlsxFiles).toBeGreaterThan(0);
    const child = spawnSync(
      process.execPath,
      ['bin/run-ts.js', 'sample-data/generate.ts', '--seed', '3', '--recipients', '120', '--months', '6', '--start', '2024-11', '--layout', 'messy', '--out', path.join(root, 'tz-there')],
      { cwd: REPO, env: { ...process.env, TZ: 'Pacific/Kiritimati' }, encoding: 'utf8' },
    );
    expect(child.status, child.stderr).toBe(0);
    await sameBytes(path.join(root, 'tz-here'), path.join(root, 'tz-there'));
  });

  it('depends on the seed', async () => {
    const name = 'payments/待遇发放明细_202403.csv';
    expect((await readFile(path.join(a.inboxDir, name))).equals(await readFile(path.join(c.inboxDir, name)))).toBe(false);
    expect(await readFile(path.join(a.expectedDir, 'cases.csv'), 'utf8')).not.toBe(await readFile(path.join(c.expectedDir, 'cases.csv'), 'utf8'));
  });

  it('writes every encoding, line ending and format variant', () => {
    for (const g of [a, p]) {
      const pay = g.summary.files.filter((f) => f.kind === 'payments' && f.format === 'csv');
      expect(new Set(pay.map((f) => f.encoding))).toEqual(new Set(['gb18030', 'utf-8-bom', 'utf-8']));
      expect(new Set(pay.map((f) => f.lineEnding))).toEqual(new Set(['crlf', 'lf']));
      expect(new Set(pay.map((f) => f.formats.period))).toEqual(new Set(['compact', 'iso', 'cjk']));
      expect(new Set(pay.map((f) => f.formats.amount))).toEqual(new Set(['plain', 'grouped', 'yuan']));
      expect(new Set(pay.map((f) => f.formats.date))).toEqual(new Set(['iso', 'compact', 'slash', 'cjk']));
      const deaths = g.summary.files.filter((f) => f.kind === 'deaths');
      expect(deaths).toHaveLength(3 * 6);
      expect(new Set(deaths.map((f) => f.encoding))).toEqual(new Set(['gb18030', 'utf-8-bom', 'utf-8']));
    }
  });

  it('plain layout: CSV only, a header on line 1 and data rows — the same payments and findings as messy', async () => {
    const pay = p.summary.files.filter((f) => f.kind === 'payments');
    expect(pay).toHaveLength(OPTS.months + 1);
    for (const f of p.summary.files) {
      expect(f.format, f.file).toBe('csv');
      expect(f.skippedRows, f.file).toEqual({ title: 0, header: 1, blank: 0, repeatedHeader: 0, summary: 0, note: 0 });
      expect(f.rowsRead, f.file).toBe(f.rows + 1);
    }
    expect(p.summary.summaryMismatches).toEqual([]);
    expect(await readFile(path.join(p.expectedDir, 'cases.csv'), 'utf8')).toBe(await readFile(path.join(a.expectedDir, 'cases.csv'), 'utf8'));
  });

  it('messy layout: every quirk of DOMAIN.md §2 is present', async () => {
    const pay = a.summary.files.filter((f) => f.kind === 'payments');
    const xlsx = pay.filter((f) => f.format === 'xlsx');
    expect(xlsx.map((f) => f.file)).toEqual([
      'payments/待遇发放明细_202405.xlsx',
      'payments/待遇发放明细_202410.xlsx',
      'payments/待遇发放明细_补充导出_202504.xlsx',
    ]);
    const titles = new Set(pay.map((f) => f.skippedRows.title));
    expect([0, 1, 2].every((n) => titles.has(n))).toBe(true);
    for (const k of ['blank', 'repeatedHeader', 'summary', 'note'] as const) expect(pay.some((f) => f.skippedRows[k] > 0), k).toBe(true);
    expect(xlsx.filter((f) => f.overlap > 0)).toHaveLength(1);
    expect(a.summary.summaryMismatches).toHaveLength(1);
    const codes = (await readFile(path.join(a.expectedDir, 'rejects.csv'), 'utf8')).split('\n').map((l) => l.split(',')[2]);
    expect(codes.filter((x) => x === 'ID_PRECISION_LOST')).toHaveLength(4);
    // A GB18030 death record file carries a rare name as a 4-byte sequence.
    const gbDeaths = a.summary.files.filter((f) => f.kind === 'deaths' && f.encoding === 'gb18030');
    let fourByte = 0;
    for (const f of gbDeaths) {
      const t = iconv.decode(await readFile(path.join(a.inboxDir, f.file)), 'gb18030');
      fourByte += [...t].filter((ch) => ch.length > 1).length;
    }
    expect(fourByte).toBeGreaterThan(0);
  });

  describe.each<[Layout, () => GenerateResult]>([
    ['messy', () => a],
    ['plain', () => p],
  ])('read back independently (%s)', (layout, gen) => {
    let reading: Reading;
    beforeAll(async () => {
      reading = await readInbox(gen());
    });

    it('every ID in the inbox normalises to a valid ID (bad rows aside); messy XLSX store legacy IDs as numbers', () => {
      expect(reading.badIds).toEqual([]);
      expect(reading.payments.length).toBeGreaterThan(8000);
      for (const x of reading.payments) expect(isValidIdNumber(x.id)).toBe(true);
      const numeric = [...reading.files.values()].reduce((n, f) => n + f.numericLegacyIds, 0);
      if (layout === 'messy') expect(numeric).toBeGreaterThan(0);
      else expect(numeric).toBe(0);
    });

    it('rejects.csv lists exactly the rows a strict reader refuses, with their codes', async () => {
      const expected = (await readFile(path.join(gen().expectedDir, 'rejects.csv'), 'utf8')).trimEnd().split('\n');
      expect(expected[0]).toBe('file,line,code');
      expect([...reading.rejects].sort()).toEqual(expected.slice(1).sort());
      const codes = new Set(expected.slice(1).map((l) => l.split(',')[2]));
      for (const code of ['ID_BAD_LENGTH', 'ID_BAD_CHARACTERS', 'AMOUNT_TOO_PRECISE', 'AMOUNT_INVALID', 'PERIOD_INVALID', 'SCHEME_UNKNOWN']) expect(codes).toContain(code);
    });

    it('summary.json gives each file the accounting a reader finds: rows read, accepted, rejected, skipped, repeated', () => {
      for (const f of gen().summary.files) {
        const got = reading.files.get(f.file)!;
        expect({ file: f.file, read: got.rowsRead, accepted: got.accepted, rejected: got.rejected, repeated: got.repeated, skipped: got.skippedRows }).toEqual({
          file: f.file, read: f.rowsRead, accepted: f.accepted, rejected: f.rejected, repeated: f.repeated, skipped: f.skippedRows,
        });
        expect(f.rowsRead).toBe(f.accepted + f.rejected + f.skipped);
        expect(f.skipped).toBe(Object.values(f.skippedRows).reduce((s, n) => s + n, 0));
      }
      const t = gen().summary.totals;
      expect(t.paymentRowsOverlap).toBeGreaterThan(0);
      expect(t.distinctPayments).toBe(reading.payments.length);
      expect(t.paymentRows).toBe(t.distinctPayments + t.paymentRowsOverlap + t.paymentRowsRejected);
    });

    it('summary rows state the sum of the accepted amounts, except the one listed as a mismatch', () => {
      const mismatches: { file: string; line: number; expectedTotal: number; statedTotal: number }[] = [];
      for (const f of gen().summary.files) {
        const got = reading.files.get(f.file)!.summaryRow;
        expect(got, f.file).toEqual(f.summaryRow);
        if (got && got.statedTotal !== got.expectedTotal) mismatches.push({ file: f.file, ...got });
        if (got) expect(f.rejects, `${f.file}: a total only where no row is rejected`).toBe(0);
      }
      expect(mismatches).toEqual(gen().summary.summaryMismatches);
    });

    it('expected/cases.csv equals the findings of every detector recomputed from the inbox', async () => {
      const text = await readFile(path.join(gen().expectedDir, 'cases.csv'), 'utf8');
      expect(text).toBe(casesCsv(recompute(reading)));
      const detectors = new Set(text.trimEnd().split('\n').slice(1).map((l) => l.split(',')[0]));
      expect(detectors).toEqual(new Set(['deceased_payment', 'duplicate_payment', 'concurrent_pension', 'shared_account', 'amount_anomaly']));
    });

    it('names in death records keep rare characters that payment extracts write as ? or □', () => {
      expect([...reading.deaths.values()].some((d) => [...d.name].some((ch) => ch.length > 1))).toBe(true);
    });
  });

  describe.each<{ seed: number; recipients: number; months: number; start: string; layout: Layout }>([
    { seed: 11, recipients: 1, months: 1, start: '2024-12', layout: 'messy' },
    { seed: 12, recipients: 30, months: 4, start: '2023-11', layout: 'messy' },
    { seed: 13, recipients: 90, months: 7, start: '2024-06', layout: 'messy' },
    { seed: 14, recipients: 150, months: 30, start: '2022-12', layout: 'plain' },
  ])('small and odd windows agree with an independent reading ($recipients × $months from $start, $layout)', (o) => {
    it('cases, rejects, accounting and summary totals', async () => {
      const g = await generateInbox({ ...o, outDir: path.join(root, `small-${o.seed}`) });
      const reading = await readInbox(g);
      expect(await readFile(path.join(g.expectedDir, 'cases.csv'), 'utf8')).toBe(casesCsv(recompute(reading)));
      const rejects = (await readFile(path.join(g.expectedDir, 'rejects.csv'), 'utf8')).trimEnd().split('\n').slice(1);
      expect([...reading.rejects].sort()).toEqual(rejects.sort());
      for (const f of g.summary.files) {
        const got = reading.files.get(f.file)!;
        expect({ file: f.file, read: got.rowsRead, rejected: got.rejected, repeated: got.repeated, skipped: got.skippedRows, total: got.summaryRow }).toEqual({
          file: f.file, read: f.rowsRead, rejected: f.rejected, repeated: f.repeated, skipped: f.skippedRows, total: f.summaryRow,
        });
      }
    });
  });

  it('collecting the peers of amount_anomaly in a second pass gives the same expected cases', async () => {
    const late = await generateInbox({ ...OPTS, layout: 'plain', peersInPass: false, outDir: path.join(root, 'late') });
    expect(late.summary.totals.cases.amount_anomaly).toBeGreaterThan(0);
    expect(await readFile(path.join(late.expectedDir, 'cases.csv'), 'utf8')).toBe(await readFile(path.join(p.expectedDir, 'cases.csv'), 'utf8'));
  });

  it('places every anomaly pattern, and each finds what it must and nothing it is a decoy for', async () => {
    const cases = (await readFile(path.join(a.expectedDir, 'cases.csv'), 'utf8')).trimEnd().split('\n').slice(1).map((l) => l.split(','));
    const forced = a.summary.patterns.forced;
    expect(forced.map((f) => f.pattern)).toEqual(PATTERNS.map((x) => x.name));
    for (const f of forced) {
      const about = (d: string) => cases.filter((x) => x[0] === d && f.members.includes(x[1]!));
      for (const d of f.finds) expect(about(d).length, `${f.pattern}: ${d}`).toBeGreaterThan(0);
      for (const d of f.clears) expect(about(d), `${f.pattern}: no ${d}`).toEqual([]);
    }
    // Amounts fixed by construction.
    const find = (pattern: string, d: string) => cases.filter((x) => x[0] === d && forced.find((f) => f.pattern === pattern)!.members.includes(x[1]!));
    expect(find('dup_three_batches', 'duplicate_payment')[0]![7]).toBe('1');
    expect(find('concurrent_110_170', 'concurrent_pension')[0]![7]).toBe('6');
    expect(find('concurrent_120_170_duplicated', 'concurrent_pension')[0]![7]).toBe('3');
    expect(find('shared_account_four', 'shared_account')[0]![7]).toBe('3');
    expect(find('shared_account_three_one_month', 'shared_account')[0]![7]).toBe('1');
  });

  it('expected cases have months ≥ 1 and a period range; money detectors a positive amount, review detectors 0', async () => {
    const lines = (await readFile(path.join(a.expectedDir, 'cases.csv'), 'utf8')).trimEnd().split('\n');
    for (const l of lines.slice(1)) {
      const cells = l.split(',');
      expect(cells).toHaveLength(10);
      expect(Number(cells[7])).toBeGreaterThanOrEqual(1);
      expect(cells[8]).toMatch(/^\d+\.\d{2}$/);
      expect(Number(cells[8]) > 0, l).toBe(cells[9] !== 'review');
      expect(cells[5]! <= cells[6]!).toBe(true);
    }
    const t = a.summary.totals;
    expect(Object.values(t.cases).reduce((s, n) => s + n, 0)).toBe(lines.length - 1);
    expect(t.overpaidRecipients).toBe(t.cases.deceased_payment);
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
    await expect(generateInbox({ ...OPTS, layout: 'tidy' as Layout, outDir: path.join(root, 'x') })).rejects.toThrow(/"tidy"/);
  });
});
