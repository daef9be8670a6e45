/**
 * A small deterministic inbox for the report tests (synthetic people, IDs and accounts). One deceased,
 * overpaid recipient per district, names that try formula and script injection, a reversal, a payment
 * exempt after death, a name mismatch (confidence `review`), living recipients, and a bad row whose raw
 * text starts with `=` and carries a full ID and account (it must come out masked and inert).
 *
 * The expected figures are derived here from the model with the domain rules written out plainly (death
 * month payable, by period, funeral grant exempt, net of reversals) — not by calling the product.
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkCharacter } from '../../src/identity/resident-id.ts';

export const DISTRICTS = ['360102', '360103', '360111'] as const;

/** Builds a valid 18-character ID; with `wantX` the sequence is chosen so the check character is X. */
export function makeId(area: string, birth: string, seq: number, wantX = false): string {
  for (let s = seq; s < seq + 1000; s++) {
    const first17 = `${area}${birth}${String(s % 1000).padStart(3, '0')}`;
    const c = checkCharacter(first17);
    if (!wantX || c === 'X') return first17 + c;
  }
  throw new Error('no sequence gives check character X');
}

export interface Person {
  key: string;
  id: string;
  name: string;
  district: string;
  account: string;
  /** Monthly pension in fen. */
  monthlyFen: number;
  /** Last period paid (inclusive). */
  payUntil: string;
  death?: { date: string; name: string };
  /** Period whose pension is reversed in full by a later batch. */
  reversed?: string;
  /** A funeral grant (exempt after death) is paid in the month after death. */
  funeralGrantFen?: number;
}

/** The people of the scenario. Names of the deceased try formula and script injection (names are data). */
export function people(): Person[] {
  return [
    { key: 'hyperlink', id: makeId('360102', '19480312', 11, true), name: '=HYPERLINK("x")', district: '360102', account: '6217000010000000011', monthlyFen: 345670, payUntil: '2099-12', death: { date: '2025-02-10', name: '=HYPERLINK("x")' }, funeralGrantFen: 500000 },
    { key: 'sum', id: makeId('360103', '19500101', 21), name: '@SUM(1)', district: '360103', account: '6217000010000000022', monthlyFen: 210000, payUntil: '2099-12', death: { date: '2025-04-15', name: '@SUM(1)' } },
    { key: 'script', id: makeId('360111', '19421120', 31), name: '<script>alert(1)</script>', district: '360111', account: '6217000010000000033', monthlyFen: 180000, payUntil: '2025-05', death: { date: '2025-01-20', name: '<script>alert(1)</script>' }, reversed: '2025-03' },
    { key: 'mismatch', id: makeId('360102', '19551230', 41), name: '李四', district: '360102', account: '6217000010000000044', monthlyFen: 150050, payUntil: '2099-12', death: { date: '2025-05-31', name: '张三' } },
    { key: 'alive1', id: makeId('360102', '19600101', 51), name: '王小明', district: '360102', account: '6217000010000000055', monthlyFen: 300000, payUntil: '2099-12' },
    { key: 'alive2', id: makeId('360103', '19610202', 61), name: '赵敏', district: '360103', account: '6217000010000000066', monthlyFen: 280000, payUntil: '2099-12' },
    { key: 'alive3', id: makeId('360111', '19620303', 71), name: '阿依古丽·买买提', district: '360111', account: '6217000010000000077', monthlyFen: 260000, payUntil: '2099-12' },
  ];
}

const q = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const line = (cells: readonly string[]): string => cells.map(q).join(',') + '\r\n';
const yuanText = (fen: number): string => `${fen < 0 ? '-' : ''}${Math.floor(Math.abs(fen) / 100)}.${String(Math.abs(fen) % 100).padStart(2, '0')}`;
const nextPeriod = (p: string): string => {
  const y = Number(p.slice(0, 4));
  const m = Number(p.slice(5, 7));
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
};

/** Periods from `first` to `last` inclusive (`YYYY-MM`). */
export function periodRange(first: string, last: string): string[] {
  const out: string[] = [];
  for (let p = first; p <= last; p = nextPeriod(p)) out.push(p);
  return out;
}

const PAYMENT_HEADER = ['姓名', '公民身份号码', '险种类型', '待遇项目', '待遇所属期', '实发金额', '发放日期', '银行账号', '经办机构', '发放批次号'];

/** One bad row: 姓名 first, so the raw text starts with `=`; amount with three decimals (AMOUNT_TOO_PRECISE). */
export const BAD_ROW = {
  name: "=cmd|' /C calc'!A0",
  id: makeId('360102', '19700707', 81),
  account: '6217000010000000099',
  code: 'AMOUNT_TOO_PRECISE',
};

/**
 * Writes one payments file for the given periods (and the deaths file when `deaths` is true) into `inbox`.
 * @param file name under payments/, e.g. `2025H1.csv`
 */
export function writePayments(inbox: string, file: string, periods: readonly string[], opts: { badRow?: boolean } = {}): void {
  let out = '\ufeff' + line(['待遇发放明细（测试数据，全部虚构）']) + line(PAYMENT_HEADER);
  for (const period of periods) {
    for (const p of people()) {
      if (period > p.payUntil) continue;
      const agency = `${p.district}001`;
      out += line([p.name, p.id, '110', '基本养老金', period, yuanText(p.monthlyFen), `${period}-05`, p.account, agency, `B${period.replace('-', '')}`]);
      if (p.reversed === period) {
        out += line([p.name, p.id, '110', '基本养老金', period, yuanText(-p.monthlyFen), `${period}-25`, p.account, agency, `R${period.replace('-', '')}`]);
      }
      if (p.funeralGrantFen && p.death && period === nextPeriod(p.death.date.slice(0, 7))) {
        out += line([p.name, p.id, '110', '丧葬补助金', period, yuanText(p.funeralGrantFen), `${period}-05`, p.account, agency, `F${period.replace('-', '')}`]);
      }
    }
  }
  if (opts.badRow) {
    out += line([BAD_ROW.name, BAD_ROW.id, '110', '基本养老金', periods[0]!, '12.345', `${periods[0]}-05`, BAD_ROW.account, '360102001', 'BX']);
  }
  out += line(['合计', '', '', '', '', '', '', '', '', '']);
  fs.mkdirSync(path.join(inbox, 'payments'), { recursive: true });
  fs.writeFileSync(path.join(inbox, 'payments', file), out);
}

/** Writes the civil-affairs cremation records of the deceased. */
export function writeDeaths(inbox: string): void {
  let out = line(['逝者姓名', '身份证号', '出生日期', '死亡日期', '火化日期']);
  for (const p of people()) {
    if (!p.death) continue;
    const birth = `${p.id.slice(6, 10)}-${p.id.slice(10, 12)}-${p.id.slice(12, 14)}`;
    out += line([p.death.name, p.id, birth, p.death.date, p.death.date]);
  }
  fs.mkdirSync(path.join(inbox, 'deaths', 'civil-affairs'), { recursive: true });
  fs.writeFileSync(path.join(inbox, 'deaths', 'civil-affairs', 'cremation.csv'), out);
}

/** What the reports must show for one deceased recipient, given the periods stored so far. */
export interface ExpectedCase {
  person: Person;
  /** Overpaid periods: after the death month, pension only (the funeral grant is exempt), net > 0. */
  periods: string[];
  amountFen: number;
  confidence: 'confirmed' | 'review';
  /** Paid (net > 0) in the latest period of the payment table. */
  running: boolean;
  monthsAfterDeath: number;
}

/**
 * The expected cases after payments for `periods` were ingested (rules: DOMAIN.md §4 — death month payable,
 * by period, exempt items, net amounts).
 */
export function expectedCases(periods: readonly string[]): ExpectedCase[] {
  const latest = [...periods].sort().at(-1)!;
  const out: ExpectedCase[] = [];
  for (const p of people()) {
    if (!p.death) continue;
    const deathMonth = p.death.date.slice(0, 7);
    const paid = periods.filter((x) => x > deathMonth && x <= p.payUntil && x !== p.reversed);
    if (paid.length === 0) continue;
    const last = paid.at(-1)!;
    const months = (Number(last.slice(0, 4)) - Number(deathMonth.slice(0, 4))) * 12 + Number(last.slice(5, 7)) - Number(deathMonth.slice(5, 7));
    out.push({
      person: p, periods: paid, amountFen: paid.length * p.monthlyFen, confidence: p.death.name === p.name ? 'confirmed' : 'review',
      running: paid.includes(latest), monthsAfterDeath: months,
    });
  }
  return out;
}

/** Formats fen as the reports show yuan: `1,234.50`. */
export function yuanGrouped(fen: number): string {
  const t = yuanText(fen);
  const [i, d] = t.replace('-', '').split('.');
  return `${fen < 0 ? '-' : ''}${i!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${d}`;
}

export { yuanText };
