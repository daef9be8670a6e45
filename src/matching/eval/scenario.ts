/**
 * A labelled, seeded record-linkage scenario for measuring the link stage (issue: "quality measured, not
 * assumed"). It produces the extracts a city would send — monthly benefit-payment files and death records
 * from health, civil affairs and public security — and the truth: who really died, when, and under which
 * payment-side IDs each person was paid.
 *
 * The traps it lays, each tagged on the person it concerns:
 * - `id_damaged_one`: one death record's ID has one substitution or adjacent transposition (check fails);
 * - `id_damaged_all`: every death record of the person has its own one-edit damage;
 * - `id_damaged_two`: one death record's ID has two substitutions (may even pass its check: then it is
 *   another valid ID, which must never be linked);
 * - `pay_id_damaged`: one month's payment extract carries the recipient's ID with one edit;
 * - `legacy_death` / `legacy_pay`: a 15-digit legacy ID in a death record / in the payment extracts;
 * - `rare_char`: the name has a rare character the payment system writes as '?', '□', '*', U+FFFD or a
 *   private-use code point;
 * - `homophone`: one death record writes a homophone of a given-name character (晓 → 小);
 * - `traditional`: one death record writes the name in traditional characters;
 * - `minority`: a minority name with a middle dot, written with another dot variant (or none) elsewhere;
 * - `month_disagreement`: the public-security record gives a date of death in another month;
 * - `namesake_of_deceased`: a LIVING recipient with the same name, sex and birth date (different valid ID)
 *   as someone who died — must never be linked;
 * - `id_clash`: a LIVING recipient whose valid ID is carried by the death record of someone else (another
 *   name, or the same name with another birth date or sex) — must never be `confirmed`;
 * - `moved_away`: a living recipient with a public-security cancellation for another reason (迁出).
 *
 * Deterministic: the same options give byte-identical files. Pure (no I/O); {@link writeScenario} writes it.
 * All names and IDs are synthetic.
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkCharacter, legacyIdOf } from '../../identity/resident-id.ts';

/** Options of {@link generateScenario}. */
export interface ScenarioOptions {
  seed: number;
  /** Number of benefit recipients (living and dying). */
  recipients: number;
  /** Number of monthly payment periods, starting at `firstPeriod`. */
  months: number;
  /** First period `YYYY-MM` (default `2023-01`). */
  firstPeriod?: string;
  /** Share of recipients who die during the window (default 0.08). */
  deathRate?: number;
}

/** One synthetic person. */
export interface ScenarioPerson {
  key: number;
  /** True 18-character ID. */
  id: string;
  name: string;
  sex: 'M' | 'F';
  /** `YYYY-MM-DD` */
  birth: string;
  recipient: boolean;
  /** True date of death `YYYY-MM-DD`, when the person died. */
  death: string | null;
  tags: string[];
}

/** What really happened. */
export interface ScenarioTruth {
  persons: ScenarioPerson[];
  /** Every normalised ID the payment extracts carry → the person paid under it. */
  paymentIds: Map<string, number>;
  /** Keys of deceased recipients paid (net, non-exempt) for a period after their month of death. */
  overpaid: Set<number>;
  /** The normalised payment-side IDs under which such a payment was made (one person may have several). */
  overpaidIds: Set<string>;
}

/** One extract file: path relative to the inbox, and its UTF-8 text. */
export interface ScenarioFile {
  path: string;
  text: string;
}

export interface Scenario {
  /** Business date of the run, `YYYY-MM-DD`. */
  asOf: string;
  files: ScenarioFile[];
  truth: ScenarioTruth;
}

/** mulberry32: a small, fast, seedable PRNG (deterministic across platforms). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const AREAS = ['360102', '360103', '360104', '360111', '360112', '360113', '360121', '360123', '360124'];
const SURNAMES = Array.from('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔向汤');
const GIVEN = Array.from('伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华玉兰桂珍凤霞平刚建国志红春梅林文德成福生荣海云金晓东辉峰波宁斌鹏飞琴萍燕雪慧淑凯亮');
/** Given-name characters and a homophone (same toneless pinyin) a clerk might type instead. */
const HOMOPHONES: Record<string, string> = {
  晓: '小', 丽: '莉', 伟: '玮', 静: '婧', 军: '君', 红: '宏', 华: '桦', 明: '鸣', 芳: '方', 英: '瑛', 玉: '钰', 兰: '岚',
  平: '萍', 春: '纯', 梅: '玫', 文: '雯', 峰: '锋', 波: '博', 燕: '艳', 霞: '侠', 敏: '闵', 杰: '洁', 涛: '韬', 辉: '晖',
};
/** Simplified → traditional for the characters above that differ. */
const TRADITIONAL: Record<string, string> = {
  张: '張', 刘: '劉', 陈: '陳', 杨: '楊', 黄: '黃', 赵: '趙', 吴: '吳', 郑: '鄭', 邓: '鄧', 冯: '馮', 韩: '韓', 华: '華',
  国: '國', 伟: '偉', 丽: '麗', 红: '紅', 军: '軍', 兰: '蘭', 凤: '鳳', 东: '東', 辉: '輝', 涛: '濤', 刚: '剛', 强: '強',
  龙: '龍', 孙: '孫', 马: '馬', 罗: '羅', 谢: '謝', 许: '許', 萧: '蕭', 钟: '鍾', 陆: '陸', 贺: '賀', 顾: '顧', 龚: '龔',
  邹: '鄒', 汤: '湯', 叶: '葉', 苏: '蘇', 吕: '呂', 卢: '盧', 谭: '譚', 贾: '賈', 韦: '韋', 邱: '邱', 宁: '寧', 鹏: '鵬',
  飞: '飛', 琴: '琴', 凯: '凱', 亮: '亮', 云: '雲', 荣: '榮', 霞: '霞', 娟: '娟', 艳: '艷', 静: '靜', 玉: '玉', 杰: '傑',
};
/** Rare characters (生僻字) and the placeholders legacy systems write for them. */
const RARE = ['𠀋', '𡒄', '𨭉', '堃', '喆', '淼', '犇', '燚', '垚', '昇', '𪚥', '䶮'];
const PLACEHOLDERS = ['?', '□', '*', '\ufffd', '\ue000', '\ue3a1'];
const MINORITY_FIRST = ['买买提', '阿依古丽', '艾尔肯', '古丽娜', '阿不都', '热依拉', '吐尔逊', '帕提古丽'];
const MINORITY_LAST = ['艾力', '吐尔逊', '买买提', '阿不都拉', '依明', '肉孜', '卡德尔', '沙吾提'];
const DOTS = ['•', '・', '.', '‧', ''];

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

function daysInMonth(y: number, m: number): number {
  return [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

/** Adds `n` days to a `YYYY-MM-DD` date (UTC arithmetic on the calendar, no time zone). */
export function addDays(date: string, n: number): string {
  const d = new Date(Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)) + n));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

function addPeriod(period: string, n: number): string {
  const t = Number(period.slice(0, 4)) * 12 + Number(period.slice(5, 7)) - 1 + n;
  return `${Math.floor(t / 12)}-${pad((t % 12) + 1, 2)}`;
}

/**
 * Damages an ID by one substitution (80 %) or one adjacent transposition (20 %): the check character then
 * always fails (GB 11643-1999). Never moves an X out of the last place (ingest would refuse the row).
 */
export function damageOnce(id: string, rnd: () => number): string {
  if (rnd() < 0.2) {
    for (let tries = 0; tries < 50; tries++) {
      const p = Math.floor(rnd() * 17);
      if (id[p] === id[p + 1] || id[p + 1] === 'X') continue;
      return id.slice(0, p) + id[p + 1] + id[p] + id.slice(p + 2);
    }
  }
  const p = Math.floor(rnd() * 18);
  const alphabet = p === 17 ? '0123456789X' : '0123456789';
  let c = id[p]!;
  while (c === id[p]) c = alphabet[Math.floor(rnd() * alphabet.length)]!;
  return id.slice(0, p) + c + id.slice(p + 1);
}

function damageTwice(id: string, rnd: () => number): string {
  const p1 = Math.floor(rnd() * 17);
  let p2 = p1;
  while (p2 === p1) p2 = Math.floor(rnd() * 17);
  let out = id;
  for (const p of [p1, p2]) {
    let c = out[p]!;
    while (c === out[p]) c = String(Math.floor(rnd() * 10));
    out = out.slice(0, p) + c + out.slice(p + 1);
  }
  return out;
}

interface DeathRow {
  source: 'health' | 'civil-affairs' | 'public-security';
  idText: string;
  name: string;
  sex: 'M' | 'F';
  birth: string;
  death: string | null;
  reason?: string;
}

/**
 * Generates a scenario (module doc). Pure and deterministic for given options.
 * @throws RangeError for fewer than 100 recipients or fewer than 3 months
 */
export function generateScenario(opts: ScenarioOptions): Scenario {
  if (opts.recipients < 100) throw new RangeError('a scenario needs at least 100 recipients');
  if (opts.months < 3) throw new RangeError('a scenario needs at least 3 months');
  const rnd = prng(opts.seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  const firstPeriod = opts.firstPeriod ?? '2023-01';
  const lastPeriod = addPeriod(firstPeriod, opts.months - 1);
  const asOf = `${addPeriod(lastPeriod, 1)}-15`;
  const deathRate = opts.deathRate ?? 0.08;
  const windowStart = `${firstPeriod}-01`;
  const windowDays = Math.round(
    (Date.UTC(Number(lastPeriod.slice(0, 4)), Number(lastPeriod.slice(5, 7)), 1) - Date.UTC(Number(firstPeriod.slice(0, 4)), Number(firstPeriod.slice(5, 7)) - 1, 1)) / 86400000,
  );
  const randomDeath = (): string => addDays(windowStart, Math.floor(rnd() * (windowDays - 1)));

  const usedIds = new Set<string>();
  const newId = (area: string, birth: string, sex: 'M' | 'F'): string => {
    for (;;) {
      let seq = Math.floor(rnd() * 1000);
      if ((seq % 2 === 1) !== (sex === 'M')) seq = (seq + 1) % 1000;
      const body = area + birth.replace(/-/g, '') + pad(seq, 3);
      const id = body + checkCharacter(body);
      if (!usedIds.has(id)) {
        usedIds.add(id);
        return id;
      }
    }
  };
  const randomBirth = (): string => {
    const y = 1935 + Math.floor(rnd() * 30);
    const m = 1 + Math.floor(rnd() * 12);
    const d = 1 + Math.floor(rnd() * daysInMonth(y, m));
    return `${y}-${pad(m, 2)}-${pad(d, 2)}`;
  };
  const randomName = (): string => pick(SURNAMES) + (chance(0.55) ? pick(GIVEN) + pick(GIVEN) : pick(GIVEN));
  const persons: ScenarioPerson[] = [];
  const newPerson = (recipient: boolean): ScenarioPerson => {
    const sex = chance(0.5) ? 'M' : 'F';
    const birth = randomBirth();
    const p: ScenarioPerson = { key: persons.length, id: newId(pick(AREAS), birth, sex), name: randomName(), sex, birth, recipient, death: null, tags: [] };
    persons.push(p);
    return p;
  };

  // 1. Recipients with their name traits; some die during the window.
  const recipients: ScenarioPerson[] = [];
  for (let i = 0; i < opts.recipients; i++) {
    const p = newPerson(true);
    if (chance(0.03)) {
      p.name = pick(MINORITY_FIRST) + '·' + pick(MINORITY_LAST);
      p.tags.push('minority');
    } else if (chance(0.04)) {
      const chars = Array.from(p.name);
      chars[chars.length - 1] = pick(RARE);
      p.name = chars.join('');
      p.tags.push('rare_char');
    }
    if (chance(deathRate)) p.death = randomDeath();
    recipients.push(p);
  }
  // 2. Deaths of people who draw no benefit here (most deaths in a city).
  const outsiders = Math.round(opts.recipients * deathRate * 2);
  for (let i = 0; i < outsiders; i++) newPerson(false).death = randomDeath();

  // 3. Traps on living recipients: namesakes of the dead, ID clashes, other cancellations.
  const dead = persons.filter((p) => p.death);
  const living = recipients.filter((p) => !p.death);
  const takeLiving = (): ScenarioPerson | undefined => (living.length ? living.splice(Math.floor(rnd() * living.length), 1)[0] : undefined);
  for (let i = 0, n = Math.max(5, Math.round(dead.length * 0.15)); i < n; i++) {
    const l = takeLiving();
    if (!l) break;
    const d = pick(dead);
    usedIds.delete(l.id);
    l.id = newId(chance(0.5) ? d.id.slice(0, 6) : pick(AREAS), d.birth, d.sex);
    l.name = d.name;
    l.sex = d.sex;
    l.birth = d.birth;
    l.tags = ['namesake_of_deceased'];
  }
  const deathRows: DeathRow[] = [];
  for (let i = 0, n = Math.max(5, Math.round(dead.length * 0.05)); i < n; i++) {
    const l = takeLiving();
    if (!l) break;
    const other = newPerson(false);
    const death = randomDeath();
    l.tags.push('id_clash');
    const variant = rnd();
    if (variant < 0.6) {
      deathRows.push({ source: pick(['health', 'civil-affairs', 'public-security'] as const), idText: l.id, name: other.name, sex: other.sex, birth: other.birth, death });
    } else if (variant < 0.8) {
      // The same name, another birth date (civil affairs carries 出生日期).
      deathRows.push({ source: 'civil-affairs', idText: l.id, name: l.name, sex: l.sex, birth: other.birth === l.birth ? addDays(l.birth, 40) : other.birth, death });
    } else {
      // The same name, another sex (this civil-affairs extract carries 性别).
      deathRows.push({ source: 'civil-affairs', idText: l.id, name: l.name, sex: l.sex === 'M' ? 'F' : 'M', birth: l.birth, death });
    }
  }
  for (let i = 0, n = Math.max(3, Math.round(opts.recipients * 0.005)); i < n; i++) {
    const l = takeLiving();
    if (!l) break;
    l.tags.push('moved_away');
    deathRows.push({ source: 'public-security', idText: l.id, name: l.name, sex: l.sex, birth: l.birth, death: null, reason: pick(['迁出', '出国（境）定居']) });
  }

  // 4. How the benefit system writes each recipient; when it stops paying; damaged IDs in one month.
  interface PayPlan { name: string; idText: string; scheme: string; fen: number; lastPaid: string; damaged?: { period: string; idText: string } }
  const plans = new Map<number, PayPlan>();
  const paymentIds = new Map<string, number>();
  for (const p of recipients) {
    let name = p.name;
    if (p.tags.includes('rare_char')) name = Array.from(name).map((c) => (RARE.includes(c) ? pick(PLACEHOLDERS) : c)).join('');
    if (p.tags.includes('minority') && chance(0.5)) name = name.replace('·', pick(DOTS));
    let idText = p.id;
    if (chance(0.04)) {
      idText = legacyIdOf(p.id)!;
      p.tags.push('legacy_pay');
    }
    const scheme = chance(0.7) ? '110' : '170';
    const fen = scheme === '110' ? 150000 + Math.floor(rnd() * 450000) : 15000 + Math.floor(rnd() * 30000);
    let lastPaid = lastPeriod;
    if (p.death) {
      const r = rnd();
      const lag = r < 0.3 ? 0 : r < 0.6 ? 1 + Math.floor(rnd() * 3) : r < 0.9 ? 4 + Math.floor(rnd() * 9) : 99;
      const stop = addPeriod(p.death.slice(0, 7), lag);
      lastPaid = stop < lastPeriod ? stop : lastPeriod;
    }
    const plan: PayPlan = { name, idText, scheme, fen, lastPaid };
    paymentIds.set(p.id, p.key);
    if (chance(0.03)) {
      const period = addPeriod(firstPeriod, Math.floor(rnd() * opts.months));
      if (period <= lastPaid) {
        plan.damaged = { period, idText: damageOnce(p.id, rnd) };
        paymentIds.set(plan.damaged.idText, p.key);
        p.tags.push('pay_id_damaged');
      }
    }
    plans.set(p.key, plan);
  }

  // 5. Payment extracts, one file per period; funeral grants (payable after death) in their own file.
  const payHeader = '个人编号,姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,发放日期,银行账号,开户银行,经办机构,发放批次号';
  const yuan = (fen: number): string => `${Math.floor(fen / 100)}.${pad(fen % 100, 2)}`;
  const overpaid = new Set<number>();
  const overpaidIds = new Set<string>();
  const files: ScenarioFile[] = [];
  const payLine = (p: ScenarioPerson, plan: PayPlan, idText: string, item: string, period: string, amount: string, batch: string): string =>
    [`P${pad(p.key, 8)}`, plan.name, idText, p.sex === 'M' ? '男' : '女', plan.scheme, item, period.replace('-', ''), amount, `${period}-05`,
      `62220${pad(p.key, 10)}`, '中国工商银行', `${p.id.slice(0, 6)}001`, batch].join(',');
  for (let k = 0; k < opts.months; k++) {
    const period = addPeriod(firstPeriod, k);
    const lines = [payHeader];
    for (const p of recipients) {
      const plan = plans.get(p.key)!;
      if (period > plan.lastPaid) continue;
      const idText = plan.damaged?.period === period ? plan.damaged.idText : plan.idText;
      lines.push(payLine(p, plan, idText, '基本养老金', period, yuan(plan.fen), `B${period.replace('-', '')}${plan.scheme}`));
      if (p.death && period > p.death.slice(0, 7)) {
        overpaid.add(p.key);
        overpaidIds.add(plan.damaged?.period === period ? plan.damaged.idText : p.id);
      }
    }
    files.push({ path: `payments/pay_${period.replace('-', '')}.csv`, text: lines.join('\r\n') + '\r\n' });
  }
  const funeral = [payHeader];
  for (const p of recipients) {
    if (!p.death || !chance(0.5)) continue;
    const period = addPeriod(p.death.slice(0, 7), 1);
    if (period > lastPeriod) continue;
    const plan = plans.get(p.key)!;
    funeral.push(payLine(p, plan, plan.idText, '丧葬补助金', period, '6000.00', `F${period.replace('-', '')}`));
  }
  files.push({ path: 'payments/funeral_grants.csv', text: funeral.join('\r\n') + '\r\n' });

  // 6. Death records: each death reported by one to three sources, with the traps of the module doc.
  for (const p of dead) {
    const sources: DeathRow['source'][] = [];
    if (chance(0.85)) sources.push('health');
    if (chance(0.8)) sources.push('civil-affairs');
    if (chance(0.85)) sources.push('public-security');
    if (sources.length === 0) sources.push(pick(['health', 'civil-affairs', 'public-security'] as const));
    const rows: DeathRow[] = sources.map((source) => ({ source, idText: p.id, name: p.name, sex: p.sex, birth: p.birth, death: p.death }));
    const one = (): DeathRow => pick(rows);
    if (chance(0.02)) {
      for (const r of rows) r.idText = damageOnce(p.id, rnd);
      p.tags.push('id_damaged_all');
    } else if (chance(0.1)) {
      one().idText = damageOnce(p.id, rnd);
      p.tags.push('id_damaged_one');
    } else if (chance(0.015)) {
      one().idText = damageTwice(p.id, rnd);
      p.tags.push('id_damaged_two');
    }
    if (chance(0.06)) {
      const r = rows.find((x) => x.idText === p.id);
      if (r) {
        r.idText = legacyIdOf(p.id)!;
        p.tags.push('legacy_death');
      }
    }
    if (chance(0.05)) {
      const chars = Array.from(p.name);
      const i = chars.findIndex((c, j) => j > 0 && HOMOPHONES[c] !== undefined);
      if (i > 0) {
        chars[i] = HOMOPHONES[chars[i]!]!;
        one().name = chars.join('');
        p.tags.push('homophone');
      }
    }
    if (chance(0.05)) {
      const t = Array.from(p.name).map((c) => TRADITIONAL[c] ?? c).join('');
      if (t !== p.name) {
        one().name = t;
        p.tags.push('traditional');
      }
    }
    if (p.tags.includes('minority')) for (const r of rows) if (chance(0.5)) r.name = p.name.replace('·', pick(DOTS));
    const ps = rows.find((r) => r.source === 'public-security');
    if (ps && chance(0.03)) {
      const later = addDays(p.death!, 32 + Math.floor(rnd() * 20));
      ps.death = later > asOf ? addDays(asOf, -1) : later;
      if (ps.death.slice(0, 7) !== p.death!.slice(0, 7)) p.tags.push('month_disagreement');
    }
    for (const r of rows) {
      // Sources often report a day or two apart, within the month.
      if (r.source !== 'health' && r.death === p.death && chance(0.1)) {
        const moved = addDays(p.death!, 1 + Math.floor(rnd() * 2));
        if (moved.slice(0, 7) === p.death!.slice(0, 7) && moved < asOf) r.death = moved;
      }
    }
    deathRows.push(...rows);
  }
  // Death files, records in a shuffled but seeded order.
  for (let i = deathRows.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [deathRows[i], deathRows[j]] = [deathRows[j]!, deathRows[i]!];
  }
  const bySource = (s: DeathRow['source']): DeathRow[] => deathRows.filter((r) => r.source === s);
  const capped = (d: string): string => (d > asOf ? asOf : d);
  files.push({
    path: 'deaths/health/death_certificates.csv',
    text: ['死者姓名,证件号码,死亡日期', ...bySource('health').map((r) => `${r.name},${r.idText},${r.death!.replace(/-/g, '')}`)].join('\r\n') + '\r\n',
  });
  files.push({
    path: 'deaths/civil-affairs/cremations.csv',
    text: ['逝者姓名,身份证号,性别,出生日期,死亡日期,火化日期',
      ...bySource('civil-affairs').map((r) => `${r.name},${r.idText},${r.sex === 'M' ? '男' : '女'},${r.birth},${r.death},${capped(addDays(r.death!, 3))}`)].join('\r\n') + '\r\n',
  });
  files.push({
    path: 'deaths/public-security/cancellations.csv',
    text: ['姓名,公民身份号码,注销原因,死亡日期,注销日期',
      ...bySource('public-security').map((r) => `${r.name},${r.idText},${r.reason ?? '死亡'},${r.death ?? ''},${r.death ? capped(addDays(r.death, 20)) : addDays(asOf, -30)}`)].join('\r\n') + '\r\n',
  });
  return { asOf, files, truth: { persons, paymentIds, overpaid, overpaidIds } };
}

/** Writes the scenario's files under `inbox` (created). */
export function writeScenario(s: Scenario, inbox: string): void {
  for (const f of s.files) {
    const abs = path.join(inbox, f.path);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, f.text);
  }
}
