/**
 * Synthetic Nanchang population: districts, agencies, banks, Chinese names and resident IDs.
 *
 * Each person is a pure function of (seed, slot): the ID slot comes from a keyed bijection of the person's
 * index, so IDs are unique by construction (no collision table), and every other attribute comes from a
 * PRNG seeded by hash(seed, index). All data is synthetic (DOMAIN.md §6).
 */
import { checkCharacter } from '../../src/identity/resident-id.ts';
import { civilFromDays, daysFromCivil, pad2 } from './calendar.ts';
import { AffinePermutation, FeistelPermutation, Rng, cumulate } from './prng.ts';

/** Nanchang area codes (seeds/districts.json) with rough weights (share of pensioners). */
export const DISTRICTS: readonly { code: string; name: string; weight: number; agencies: number }[] = [
  { code: '360102', name: '东湖区', weight: 12, agencies: 3 },
  { code: '360103', name: '西湖区', weight: 13, agencies: 3 },
  { code: '360104', name: '青云谱区', weight: 8, agencies: 2 },
  { code: '360111', name: '青山湖区', weight: 14, agencies: 3 },
  { code: '360112', name: '新建区', weight: 11, agencies: 2 },
  { code: '360113', name: '红谷滩区', weight: 9, agencies: 2 },
  { code: '360121', name: '南昌县', weight: 16, agencies: 3 },
  { code: '360123', name: '安义县', weight: 6, agencies: 1 },
  { code: '360124', name: '进贤县', weight: 11, agencies: 2 },
];
const DISTRICT_CUM = cumulate(DISTRICTS.map((d) => d.weight));

/** Banks that pay pensions in Nanchang, with a (synthetic) 6-digit card prefix. */
export const BANKS: readonly { name: string; prefix: string; weight: number }[] = [
  { name: '中国工商银行南昌分行', prefix: '622202', weight: 20 },
  { name: '中国建设银行南昌分行', prefix: '621700', weight: 18 },
  { name: '中国农业银行南昌分行', prefix: '622848', weight: 18 },
  { name: '中国银行南昌分行', prefix: '621661', weight: 10 },
  { name: '中国邮政储蓄银行南昌市分行', prefix: '621799', weight: 12 },
  { name: '江西银行', prefix: '623058', weight: 8 },
  { name: '九江银行', prefix: '621592', weight: 6 },
  { name: '江西农商银行', prefix: '621591', weight: 8 },
];
const BANK_CUM = cumulate(BANKS.map((b) => b.weight));

/** Surnames with rough relative frequencies (per 10,000; Jiangxi leans to 刘, 陈, 胡, 熊, 万, 邹, 涂). */
const SURNAMES: readonly [string, number][] = [
  ['王', 710], ['李', 700], ['张', 670], ['刘', 600], ['陈', 560], ['杨', 310], ['黄', 260], ['赵', 220],
  ['吴', 220], ['周', 180], ['徐', 160], ['孙', 140], ['马', 110], ['朱', 130], ['胡', 180], ['郭', 110],
  ['何', 110], ['高', 100], ['林', 100], ['罗', 110], ['郑', 90], ['梁', 70], ['谢', 90], ['宋', 70],
  ['唐', 70], ['许', 60], ['韩', 50], ['冯', 50], ['邓', 70], ['曹', 60], ['彭', 80], ['曾', 80],
  ['肖', 80], ['田', 50], ['董', 50], ['袁', 50], ['潘', 50], ['于', 40], ['蒋', 50], ['蔡', 40],
  ['余', 70], ['杜', 40], ['叶', 50], ['程', 50], ['苏', 40], ['魏', 40], ['吕', 40], ['丁', 40],
  ['任', 30], ['沈', 30], ['姚', 30], ['卢', 30], ['姜', 30], ['崔', 20], ['钟', 40], ['谭', 30],
  ['陆', 30], ['汪', 40], ['范', 30], ['金', 30], ['石', 30], ['廖', 40], ['贾', 20], ['夏', 30],
  ['韦', 10], ['付', 30], ['方', 30], ['白', 20], ['邹', 50], ['孟', 20], ['熊', 70], ['秦', 20],
  ['邱', 30], ['江', 30], ['尹', 20], ['薛', 20], ['闫', 10], ['段', 20], ['雷', 30], ['侯', 20],
  ['龙', 20], ['史', 20], ['陶', 30], ['黎', 20], ['贺', 20], ['顾', 20], ['毛', 20], ['郝', 10],
  ['龚', 30], ['邵', 20], ['万', 50], ['钱', 20], ['严', 20], ['覃', 5], ['武', 10], ['戴', 20],
  ['莫', 10], ['孔', 10], ['向', 10], ['汤', 20], ['涂', 40], ['喻', 20], ['饶', 20], ['章', 20],
  ['欧阳', 15], ['上官', 3], ['司马', 2], ['诸葛', 1],
];
const SURNAME_CUM = cumulate(SURNAMES.map((s) => s[1]));

const GIVEN_MALE = [...'伟强军勇建国华明平刚林斌文志海波辉峰涛俊杰鹏新春生荣德福根发水金龙云长庆东光先保忠贵祥和安成兴家小江宏振永正立学良桂元民友礼义胜利红卫'];
const GIVEN_FEMALE = [...'芳英秀兰珍梅凤华玉霞红丽萍燕琴云莲桂娟敏静淑爱美菊花香月春翠金银素彩荣巧秋冬雪丹娥妹娇玲芬仙惠凤琼'];

/** Characters outside the BMP (CJK extensions B–G) that legacy systems cannot store. */
export const RARE_CHARS: readonly string[] = ['𠮷', '𪨶', '𫖮', '𬌗', '𰻝', '𬘡', '𬭚', '𫟅', '𬳵', '𬱟'];

const MINORITY_FEMALE = ['阿依古丽', '古丽娜尔', '热依拉', '迪丽娜尔', '帕提古丽', '努尔古丽'];
const MINORITY_MALE = ['买买提', '艾尔肯', '阿不都热合曼', '吐尔逊', '艾力', '伊力哈木'];
const MINORITY_FATHER = ['买买提', '吐尔逊', '阿不都拉', '艾力', '艾则孜', '吐尔洪', '艾买提', '热合曼'];

/** First and last birth dates of pensioners (1930-01-01 … 1965-12-31). */
const BIRTH_FIRST_DAY = daysFromCivil(1930, 1, 1);
export const BIRTH_DAYS = daysFromCivil(1966, 1, 1) - BIRTH_FIRST_DAY;
/** Sequence slots per (area-independent) birth date and sex: 001–998 split by parity (000 avoided). */
const SEQ_SLOTS = 499;
/** Size of the unique-ID space: every index below this maps to a distinct (birth date, sequence) pair. */
export const ID_SPACE = BIRTH_DAYS * SEQ_SLOTS;

export type Sex = 'M' | 'F';

/** A synthetic person as the generator sees them. */
export interface Person {
  /** Valid 18-character ID (upper-case X). */
  id18: string;
  /** Legacy 15-digit form (birth year without "19", no check character). */
  id15: string;
  sex: Sex;
  /** Birth date, day number since 1970-01-01. */
  birthDay: number;
  /** Full name, possibly with a character outside the BMP or a middle dot. */
  name: string;
  /** True when the name holds a character outside the BMP. */
  rare: boolean;
  minority: boolean;
}

/** Name features a caller may force. */
export interface NameOptions {
  rare?: boolean;
  minority?: boolean;
}

/** Derives everything that must be unique from one person slot index. */
export class Identities {
  private readonly ids: FeistelPermutation;
  private readonly personNos: AffinePermutation;
  private readonly accounts: AffinePermutation;
  constructor(seed: number) {
    this.ids = new FeistelPermutation(ID_SPACE, seed);
    this.personNos = new AffinePermutation(1e10, seed, 3);
    this.accounts = new AffinePermutation(1e12, seed, 4);
  }

  /**
   * Birth day and sequence slot of person `slot` (unique per slot). The sex picks the parity of the sequence,
   * so (birth date, sequence) — and hence the ID — is unique whatever the area code.
   */
  birthAndSeq(slot: number, sex: Sex): { birthDay: number; seq: string } {
    const p = this.ids.map(slot);
    const birthDay = BIRTH_FIRST_DAY + (p % BIRTH_DAYS);
    const s = Math.floor(p / BIRTH_DAYS) * 2 + (sex === 'M' ? 1 : 2);
    return { birthDay, seq: String(s).padStart(3, '0') };
  }

  /** `3601` + 10 digits, unique per slot. */
  personNo(slot: number): string {
    return '3601' + String(this.personNos.map(slot)).padStart(10, '0');
  }

  /** 19-digit card number (6-digit prefix + 12 digits unique per slot + Luhn digit). */
  account(slot: number, prefix: string): string {
    const body = prefix + String(this.accounts.map(slot)).padStart(12, '0');
    return body + luhnDigit(body);
  }
}

/** Luhn check digit of a digit string. */
export function luhnDigit(body: string): string {
  let sum = 0;
  let dbl = true;
  for (let i = body.length - 1; i >= 0; i--) {
    let d = body.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return String((10 - (sum % 10)) % 10);
}

/** Picks a district index by weight. */
export function pickDistrict(rng: Rng): number {
  return rng.weighted(DISTRICT_CUM);
}

/** Picks a district different from `not`. */
export function pickOtherDistrict(rng: Rng, not: number): number {
  const k = rng.int(1, DISTRICTS.length - 1);
  return (not + k) % DISTRICTS.length;
}

/** Agency code (经办机构): district code + 3 digits. */
export function pickAgency(rng: Rng, district: number): string {
  const d = DISTRICTS[district]!;
  return `${d.code}00${rng.int(1, d.agencies)}`;
}

export function pickBank(rng: Rng): (typeof BANKS)[number] {
  return BANKS[rng.weighted(BANK_CUM)]!;
}

/** A Chinese name: surname + 1–2 given characters (sex-typed), optionally a rare character or a minority name. */
export function makeName(rng: Rng, sex: Sex, opts: NameOptions): string {
  if (opts.minority) {
    const given = rng.pick(sex === 'F' ? MINORITY_FEMALE : MINORITY_MALE);
    let father = rng.pick(MINORITY_FATHER);
    if (father === given) father = MINORITY_FATHER[(MINORITY_FATHER.indexOf(father) + 1) % MINORITY_FATHER.length]!;
    return `${given}·${father}`;
  }
  const surname = SURNAMES[rng.weighted(SURNAME_CUM)]![0];
  const pool = sex === 'F' ? GIVEN_FEMALE : GIVEN_MALE;
  const n = surname.length === 2 || rng.chance(0.3) ? 1 : 2;
  const given: string[] = [];
  for (let k = 0; k < n; k++) {
    let c = rng.pick(pool);
    if (k === 1 && c === given[0] && rng.chance(0.7)) c = rng.pick(pool);
    given.push(c);
  }
  if (opts.rare) given[rng.int(0, given.length - 1)] = rng.pick(RARE_CHARS);
  return surname + given.join('');
}

/**
 * Builds a person for ID slot `slot`. `area` is the 6-digit area code of the ID.
 * Draw order is fixed, so the result depends only on the rng state and the arguments.
 */
export function makePerson(ids: Identities, rng: Rng, slot: number, area: string, sex: Sex, names: NameOptions): Person {
  const { birthDay, seq } = ids.birthAndSeq(slot, sex);
  const [y, m, d] = civilFromDays(birthDay);
  const first17 = `${area}${y}${pad2(m)}${pad2(d)}${seq}`;
  const id18 = first17 + checkCharacter(first17);
  const id15 = `${area}${String(y).slice(2)}${pad2(m)}${pad2(d)}${seq}`;
  const name = makeName(rng, sex, names);
  return { id18, id15, sex, birthDay, name, rare: !!names.rare, minority: !!names.minority };
}

/** Replaces every character outside the BMP with `sub` (how a legacy system stores a rare character). */
export function legacyName(name: string, sub: string): string {
  let out = '';
  for (const ch of name) out += ch.length > 1 ? sub : ch;
  return out;
}

/** Full-width form of the ASCII digits in `s` (０-９). */
export function fullWidthDigits(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 48 && c <= 57 ? String.fromCharCode(c + 0xfee0) : s[i];
  }
  return out;
}
