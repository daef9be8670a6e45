/**
 * deceased_payment in incremental runs that relink only what new payment rows can change (issue 10,
 * link.ts relinkDeaths), on every engine: the death records are stored months before the payments that make
 * them findings, and each incremental run must give exactly the findings of a fresh store loaded in one full run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, ENGINES, type TestDb } from './helpers/engines.ts';
import type { Store } from '../src/db/connection.ts';
import { loadSettings } from '../src/config/settings.ts';
import { runNightly } from '../src/jobs/nightly-run.ts';
import { silentLogger } from '../src/log.ts';
import { checkCharacter, isValidIdNumber } from '../src/identity/resident-id.ts';

const id = (birth: string, seq: string): string => {
  const body = `360102${birth}${seq}`;
  return body + checkCharacter(body);
};
const damage = (x: string, pos: number): string => x.slice(0, pos) + (x[pos] === '1' ? '7' : '1') + x.slice(pos + 1);

const firstPaid = id('19400101', '111'); // death record stored in step 1, first paid in step 2
const repaired = id('19410202', '213'); // death record under a damaged ID, the valid ID first paid in step 2
const plain = id('19420303', '315'); // paid all along, died in February
const renamed = id('19430404', '417'); // died in February, a name variant first written in step 3
const payDamaged = damage(id('19440505', '519'), 3); // step 3: a damaged payment ID of a dead person
const living = id('19450606', '611');
const repairedDamaged = damage(repaired, 9);

const HEADER = '姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,经办机构,发放批次号';
const line = (name: string, idn: string, period: string, fen = 300000) => `${name},${idn},,110,基本养老金,${period},${(fen / 100).toFixed(2)},360102001,B${period}`;

function month(period: string, extra: string[] = []): string {
  return [HEADER, line('陈建国', plain, period), line('林秀', renamed, period), line('路人甲', living, period), ...extra].join('\n') + '\n';
}

describe.each(ENGINES)('deceased_payment relinks incrementally what a full run links (%s)', (engine) => {
  let t: TestDb;
  let store: Store;
  let inbox: string;
  const settings = loadSettings(undefined, '/nonexistent');
  let step = 0;
  const run = (s: Store) => runNightly({ store: s, inbox, outDir: path.join(t.dir, `out-${step}`), asOf: '2024-12-31', settings, logger: silentLogger });

  /** The last run's deceased_payment findings, without store-specific ids. */
  async function findings(s: Store): Promise<string[]> {
    const r = await s.db.selectFrom('run').select(['id', 'stats']).orderBy('id', 'desc').executeTakeFirstOrThrow();
    const rows = await s.db.selectFrom('finding').selectAll().where('run_id', '=', r.id).where('detector', '=', 'deceased_payment').orderBy('case_key').execute();
    return rows.map((f) => {
      const ev = JSON.parse(f.evidence) as Record<string, unknown> & { links: Record<string, unknown>[]; death: { reports: Record<string, unknown>[] }; counted: Record<string, unknown>[] };
      return JSON.stringify({
        key: f.case_key, name: f.name, amount: Number(f.amount_fen), periods: f.periods, confidence: f.confidence, why: ev.why, comparisons: ev.comparisons, reasons: ev.reasons,
        links: ev.links.map(({ file_id: _f, ...l }) => l), reports: ev.death.reports.map(({ file_id: _f, ...r }) => r),
        counted: ev.counted.map(({ payments: _p, ...c }) => c),
      });
    });
  }
  async function sameAsFull(): Promise<string[]> {
    const got = await findings(store);
    const fresh = await createTestDb(engine);
    try {
      const b = await fresh.open();
      try {
        await runNightly({ store: b, inbox, outDir: path.join(fresh.dir, 'out'), asOf: '2024-12-31', settings, logger: silentLogger });
        expect(got).toEqual(await findings(b));
      } finally {
        await b.close();
      }
    } finally {
      await fresh.cleanup();
    }
    return got;
  }
  const detection = async () => (JSON.parse((await store.db.selectFrom('run').select('stats').orderBy('id', 'desc').executeTakeFirstOrThrow()).stats) as { detection: { mode: string } }).detection.mode;
  const keys = (fs_: string[]) => fs_.map((f) => (JSON.parse(f) as { key: string }).key);

  beforeAll(async () => {
    t = await createTestDb(engine);
    store = await t.open();
    inbox = path.join(t.dir, 'inbox');
    fs.mkdirSync(path.join(inbox, 'payments'), { recursive: true });
    fs.mkdirSync(path.join(inbox, 'deaths', 'health'), { recursive: true });
    expect(isValidIdNumber(repairedDamaged) || isValidIdNumber(payDamaged)).toBe(false);
    fs.writeFileSync(path.join(inbox, 'deaths', 'health', 'd.csv'), [
      '死者姓名,证件号码,死亡日期',
      `王秀英,${firstPaid},2024-01-15`,
      `周志强,${repairedDamaged},2024-01-20`,
      `陈建国,${plain},2024-02-10`,
      `林秀,${renamed},2024-02-12`,
      `曹立新,${id('19440505', '519')},2024-02-14`,
    ].join('\n') + '\n');
    for (const p of ['202401', '202402', '202403']) fs.writeFileSync(path.join(inbox, 'payments', `pay-${p}.csv`), month(p));
  });
  afterAll(async () => {
    await store?.close();
    await t?.cleanup();
  });

  it('step 1: the full run', async () => {
    await run(store);
    expect(await detection()).toBe('full');
    expect(keys(await sameAsFull())).toEqual([plain, renamed].sort());
  });

  it('step 2: a new month brings the first payment of a person whose death record was stored months before, and pays the ID a damaged death record repairs to', async () => {
    step++;
    fs.writeFileSync(path.join(inbox, 'payments', 'pay-202404.csv'), month('202404', [line('王秀英', firstPaid, '202404'), line('周志强', repaired, '202404')]));
    await run(store);
    expect(await detection()).toBe('incremental');
    expect(keys(await sameAsFull())).toEqual([firstPaid, repaired, plain, renamed].sort());
  });

  it('step 3: a name variant, a damaged payment ID of a dead person, and a back payment for an old period', async () => {
    step++;
    fs.writeFileSync(path.join(inbox, 'payments', 'pay-202405.csv'), month('202405', [line('林琇', renamed, '202405'), line('曹立新', payDamaged, '202405'), line('周志强', repaired, '202402', 150000)]));
    await run(store);
    expect(await detection()).toBe('incremental');
    expect(keys(await sameAsFull())).toEqual([firstPaid, repaired, plain, renamed, payDamaged].sort());
  });

  it('step 4: nothing new changes nothing', async () => {
    step++;
    const before = await findings(store);
    await run(store);
    expect(await findings(store)).toEqual(before);
  });
});
