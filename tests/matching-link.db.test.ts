import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { loadSettings } from '../src/config/settings.ts';
import { engineTarget } from './helpers/engines.ts';
import { openStore, type Store } from '../src/db/connection.ts';
import { runNightly } from '../src/jobs/nightly-run.ts';
import { silentLogger } from '../src/log.ts';
import { checkCharacter, legacyIdOf } from '../src/identity/resident-id.ts';
import { resolveAmbiguity, type PersonLink } from '../src/matching/link.ts';

/** A valid ID in area 360102 from birth date, sequence. */
const id = (birth: string, seq: string): string => {
  const body = `360102${birth}${seq}`;
  return body + checkCharacter(body);
};
const sub = (x: string, pos: number, ch: string): string => x.slice(0, pos) + ch + x.slice(pos + 1);
/** Substitutes position `pos` with another digit. */
const damage = (x: string, pos: number): string => sub(x, pos, x[pos] === '1' ? '7' : '1');

interface Pay { id: string; name: string; sex?: '男' | '女'; periods?: string[] }
interface Death { source: 'health' | 'civil-affairs' | 'public-security'; id: string; name: string; death: string; birth?: string; sex?: '男' | '女'; reason?: string }

const PERIODS = ['202401', '202402', '202403', '202404', '202405', '202406'];
const AS_OF = '2024-07-15';

/** Writes the inbox of one test world and runs the nightly job on it. */
async function runWorld(dir: string, pays: Pay[], deaths: Death[]): Promise<Store> {
  const inbox = path.join(dir, 'inbox');
  fs.mkdirSync(path.join(inbox, 'payments'), { recursive: true });
  const payLines = ['姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,经办机构,发放批次号'];
  for (const p of pays) for (const per of p.periods ?? PERIODS) payLines.push(`${p.name},${p.id},${p.sex ?? ''},110,基本养老金,${per},3000.00,360102001,B${per}`);
  fs.writeFileSync(path.join(inbox, 'payments', 'pay.csv'), payLines.join('\n') + '\n');
  const headers = {
    health: '死者姓名,证件号码,死亡日期',
    'civil-affairs': '逝者姓名,身份证号,性别,出生日期,死亡日期,火化日期',
    'public-security': '姓名,公民身份号码,注销原因,死亡日期,注销日期',
  };
  for (const source of Object.keys(headers) as (keyof typeof headers)[]) {
    const rows = deaths.filter((d) => d.source === source).map((d) =>
      source === 'health' ? `${d.name},${d.id},${d.death}`
        : source === 'civil-affairs' ? `${d.name},${d.id},${d.sex ?? ''},${d.birth ?? ''},${d.death},`
          : `${d.name},${d.id},${d.reason ?? '死亡'},${d.reason ? '' : d.death},2024-07-01`);
    fs.mkdirSync(path.join(inbox, 'deaths', source), { recursive: true });
    fs.writeFileSync(path.join(inbox, 'deaths', source, 'd.csv'), [headers[source], ...rows].join('\n') + '\n');
  }
  const store = await openStore(await engineTarget(dir, 'x.db'));
  await runNightly({ store, inbox, outDir: path.join(dir, 'out'), asOf: AS_OF, settings: loadSettings(undefined, dir), logger: silentLogger });
  return store;
}

interface CaseView { confidence: string; why: string; deathDate: string; idLevel: string; nameLevel: string; periods: string; reports: string[] }

// One world with every situation, each on its own person (so the test runs the pipeline once).
const P = {
  plain: id('19500312', '201'),
  namesakeLiving: id('19420105', '112'),
  namesakeDead: id('19420105', '356'),
  clashName: id('19480707', '301'),
  clashBirth: id('19480808', '303'),
  clashSex: id('19480909', '305'),
  homophone: id('19510101', '401'),
  traditional: id('19520202', '403'),
  rare: id('19530303', '405'),
  minority: id('19540404', '407'),
  repairedOutside: id('19550505', '409'),
  repairedBirthNoField: id('19560606', '411'),
  repairedBirthField: id('19570707', '413'),
  monthDisagree: id('19580808', '415'),
  monthAgree: id('19590909', '417'),
  payDamaged: id('19601010', '419'),
  legacy: id('19611111', '421'),
  movedAway: id('19621212', '423'),
  namesakeDamaged: id('19430303', '114'),
  namesakeDamagedDead: id('19430303', '552'),
  mixedNames: id('19440404', '425'),
};
const payDamagedId = damage(P.payDamaged, 3);

const pays: Pay[] = [
  { id: P.plain, name: '陈建国', sex: '男' },
  { id: P.namesakeLiving, name: '王秀英', sex: '女' },
  { id: P.clashName, name: '刘德明' },
  { id: P.clashBirth, name: '赵春梅' },
  { id: P.clashSex, name: '孙桂兰' },
  { id: P.homophone, name: '张晓龙' },
  { id: P.traditional, name: '张国华' },
  { id: P.rare, name: '王?明' },
  { id: P.minority, name: '买买提·艾力' },
  { id: P.repairedOutside, name: '周志强' },
  { id: P.repairedBirthNoField, name: '吴丽娟' },
  { id: P.repairedBirthField, name: '郑海波' },
  { id: P.monthDisagree, name: '冯玉兰' },
  { id: P.monthAgree, name: '韩文德' },
  { id: P.payDamaged, name: '曹立新', periods: ['202401', '202402', '202403', '202404'] },
  { id: payDamagedId, name: '曹立新', periods: ['202405'] },
  { id: legacyIdOf(P.legacy)!, name: '彭福生' },
  { id: P.movedAway, name: '董淑珍' },
  { id: P.namesakeDamaged, name: '李桂芳', sex: '女' },
  { id: P.mixedNames, name: '林晓明' },
];
const deaths: Death[] = [
  { source: 'health', id: P.plain, name: '陈建国', death: '2024-02-10' },
  { source: 'civil-affairs', id: P.plain, name: '陈建国', death: '2024-02-10', birth: '1950-03-12', sex: '男' },
  // A namesake with another valid ID died: same name, sex and birth date.
  { source: 'civil-affairs', id: P.namesakeDead, name: '王秀英', death: '2024-01-20', birth: '1942-01-05', sex: '女' },
  { source: 'health', id: P.namesakeDead, name: '王秀英', death: '2024-01-20' },
  // Strangers' deaths recorded under living recipients' IDs.
  { source: 'health', id: P.clashName, name: '马玉珍', death: '2024-02-03' },
  { source: 'civil-affairs', id: P.clashBirth, name: '赵春梅', death: '2024-02-03', birth: '1951-04-04' },
  { source: 'civil-affairs', id: P.clashSex, name: '孙桂兰', death: '2024-02-03', sex: '女' }, // the ID says male (sequence 305)
  { source: 'health', id: P.homophone, name: '张小龙', death: '2024-02-05' },
  { source: 'health', id: P.traditional, name: '張國華', death: '2024-02-05' },
  { source: 'health', id: P.rare, name: '王𠀋明', death: '2024-02-05' },
  { source: 'public-security', id: P.minority, name: '买买提•艾力', death: '2024-02-05' },
  { source: 'health', id: damage(P.repairedOutside, 2), name: '周志强', death: '2024-02-05' },
  { source: 'health', id: damage(P.repairedBirthNoField, 9), name: '吴丽娟', death: '2024-02-05' },
  { source: 'civil-affairs', id: damage(P.repairedBirthField, 9), name: '郑海波', death: '2024-02-05', birth: '1957-07-07' },
  // Damaged in the health certificate (authoritative), valid in the public-security record.
  { source: 'health', id: damage(P.monthDisagree, 4), name: '冯玉兰', death: '2024-02-27' },
  { source: 'public-security', id: P.monthDisagree, name: '冯玉兰', death: '2024-03-02' },
  { source: 'health', id: damage(P.monthAgree, 4), name: '韩文德', death: '2024-02-20' },
  { source: 'public-security', id: P.monthAgree, name: '韩文德', death: '2024-02-22' },
  { source: 'health', id: P.payDamaged, name: '曹立新', death: '2024-03-10' },
  { source: 'civil-affairs', id: P.legacy, name: '彭福生', death: '2024-02-05', birth: '1961-11-11' },
  { source: 'public-security', id: P.movedAway, name: '董淑珍', death: '', reason: '迁出' },
  // A non-recipient's only death record, ID damaged once; their valid ID is 1943-03-03 …552, a living
  // recipient namesake has …114. The damaged record must not be confirmed onto the namesake.
  { source: 'civil-affairs', id: damage(P.namesakeDamagedDead, 15), name: '李桂芳', death: '2024-02-05', birth: '1943-03-03', sex: '女' },
  { source: 'health', id: P.mixedNames, name: '林小明', death: '2024-02-05' },
  { source: 'public-security', id: P.mixedNames, name: '林晓明', death: '2024-02-05' },
];

describe('link stage and deceased_payment cases (whole pipeline)', () => {
  let dir: string;
  let store: Store;
  const cases = new Map<string, CaseView>();
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-link-'));
    store = await runWorld(dir, pays, deaths);
    for (const c of await store.db.selectFrom('recovery_case').selectAll().where('detector', '=', 'deceased_payment').execute()) {
      const ev = JSON.parse(c.evidence) as { why: string; death: { date: string; reports: { source: string; death_date: string }[] }; comparisons: { field: string; level: string }[] };
      cases.set(c.case_key, {
        confidence: c.confidence, why: ev.why, deathDate: ev.death.date,
        idLevel: ev.comparisons.find((x) => x.field === 'id_number')!.level,
        nameLevel: ev.comparisons.find((x) => x.field === 'name')!.level,
        periods: `${c.first_period}..${c.last_period}`,
        reports: ev.death.reports.map((r) => `${r.source}:${r.death_date}`),
      });
    }
  });
  afterAll(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['exact ID and name, two sources', 'plain', 'confirmed', 'exact', 'exact'],
    ['a stranger\'s death under the ID, another name', 'clashName', 'review', 'exact', 'none'],
    ['the same name under the ID, another birth date', 'clashBirth', 'review', 'exact', 'exact'],
    ['the same name under the ID, another sex', 'clashSex', 'review', 'exact', 'exact'],
    ['names agree only phonetically', 'homophone', 'probable', 'exact', 'homophone'],
    ['traditional characters in the death record', 'traditional', 'confirmed', 'exact', 'script'],
    ['a placeholder for a rare character in the payments', 'rare', 'confirmed', 'exact', 'wildcard'],
    ['a middle-dot variant', 'minority', 'confirmed', 'exact', 'middle_dot'],
    ['ID repaired by one edit outside birth date and sex', 'repairedOutside', 'probable', 'substitution', 'exact'],
    ['ID repaired inside the birth date, nothing to check it against', 'repairedBirthNoField', 'review', 'substitution', 'exact'],
    ['ID repaired inside the birth date, the record\'s birth date agrees', 'repairedBirthField', 'probable', 'substitution', 'exact'],
    ['damaged ID in one source, valid in another, months differ', 'monthDisagree', 'review', 'exact', 'exact'],
    ['damaged ID in one source, valid in another, same month', 'monthAgree', 'confirmed', 'exact', 'exact'],
    ['legacy 15-digit ID in the payments', 'legacy', 'confirmed', 'legacy', 'exact'],
  ] as const)('%s → %s', (_label, who, confidence, idLevel, nameLevel) => {
    const c = cases.get(P[who]);
    expect(c, `a case for ${who}`).toBeDefined();
    expect([c!.confidence, c!.idLevel, c!.nameLevel]).toEqual([confidence, idLevel, nameLevel]);
  });

  it('never links a namesake (another valid ID with the same name, sex and birth date)', () => {
    expect(cases.has(P.namesakeLiving)).toBe(false);
  });

  it('never confirms a living namesake from a stranger\'s damaged ID: same area and birth date only → review', () => {
    const c = cases.get(P.namesakeDamaged)!;
    expect([c.confidence, c.idLevel]).toEqual(['review', 'area_birth']);
  });

  it('never confirms a death record whose ID belongs to someone with another name, sex or birth date', () => {
    for (const k of ['clashName', 'clashBirth', 'clashSex'] as const) expect(cases.get(P[k])!.confidence).toBe('review');
  });

  it('takes the date of death from the most authoritative source, even under a damaged ID, and shows the others', () => {
    const c = cases.get(P.monthDisagree)!;
    expect(c.deathDate).toBe('2024-02-27');
    expect(c.reports).toEqual(['health:2024-02-27', 'public-security:2024-03-02']);
    expect(c.periods).toBe('2024-03..2024-06');
    expect(c.why).toContain('died 2024-02-27 (health; public-security says 2024-03-02, another month)');
    expect(c.why).toContain('REVIEW: sources disagree on the month of death (2024-02, 2024-03)');
    expect(cases.get(P.monthAgree)!.why).toContain('died 2024-02-20 (health; public-security says 2024-02-22)');
  });

  it('opens a case on a damaged payment-side ID, keyed by that ID', () => {
    const c = cases.get(payDamagedId)!;
    expect([c.confidence, c.idLevel, c.periods]).toEqual(['probable', 'substitution', '2024-05..2024-05']);
    expect(cases.get(P.payDamaged)!.periods).toBe('2024-04..2024-04');
  });

  it('ignores cancellations for other reasons', () => {
    expect(cases.has(P.movedAway)).toBe(false);
  });

  it('writes a short why line without any ID', () => {
    const c = cases.get(P.plain)!;
    expect(c.why).toBe('ID exact; name exact (health, civil-affairs); died 2024-02-10 (health; civil-affairs agrees); paid for 4 period(s) after the death month 2024-02: 2024-03..2024-06');
    for (const v of cases.values()) expect(v.why).not.toMatch(/\d{15}/);
  });

  it('keeps birth dates (part of the masked ID) out of the why line; the comparisons hold them', () => {
    const c = cases.get(P.clashBirth)!;
    expect(c.why).toContain('REVIEW: birth date in the civil-affairs record differs');
    expect(c.why).not.toMatch(/1948-08-08|1951-04-04/);
  });

  it('groups name sources by level: a homophone in one source, exact in another, is confirmed', () => {
    const c = cases.get(P.mixedNames)!;
    expect(c.confidence).toBe('confirmed');
    expect(c.why).toContain('name exact (public-security), homophone (health)');
  });
});

describe('resolveAmbiguity', () => {
  const rec = { id: 1, file_id: 1, line: 2, source: 'health', id_number: 'x', id_raw: 'x', id_valid: false, name: '张伟', sex: null, birth_date: null, death_date: '2024-01-01' };
  const link = (recipient: string, method: PersonLink['method'], name: PersonLink['name']): PersonLink => ({
    recipient, record: rec, method, edit: null, invalid: 'death', name, birth: { level: 'missing', values: [] }, sex: { level: 'missing', values: [] }, ambiguous: false,
  });
  it('marks a damaged ID that fits two recipients equally as ambiguous', () => {
    expect(resolveAmbiguity([link('a', 'substitution', 'exact'), link('b', 'substitution', 'exact')]).map((l) => l.ambiguous)).toEqual([true, true]);
  });
  it('keeps only the strongest candidates of a record', () => {
    expect(resolveAmbiguity([link('a', 'substitution', 'exact'), link('b', 'name_birth', 'exact'), link('c', 'substitution', 'homophone')]).map((l) => [l.recipient, l.ambiguous])).toEqual([['a', false]]);
  });
  it('drops weaker links of a record an exact ID explains', () => {
    expect(resolveAmbiguity([link('a', 'exact', 'exact'), link('b', 'substitution', 'exact')]).map((l) => l.recipient)).toEqual(['a']);
  });
  it('keeps links to a miswritten payment-side ID of the same person (alias)', () => {
    const alias = new Map([['b', 'a']]);
    expect(resolveAmbiguity([link('a', 'exact', 'exact'), link('b', 'substitution', 'exact')], alias).map((l) => l.recipient)).toEqual(['a', 'b']);
    expect(resolveAmbiguity([link('a', 'substitution', 'exact'), link('b', 'area_birth', 'exact')], alias).map((l) => [l.recipient, l.ambiguous])).toEqual([['a', false], ['b', false]]);
  });
});
