/**
 * deceased_payment counts the payment rows the link stage already read (issue 10, link.ts KeptPayments): the
 * rows of each death-record ID from its earliest month of death on. A recipient whose corroborated month of
 * death is earlier than that — it comes from a more authoritative record under a damaged form of the ID — is
 * read again, in full: the finding counts every period after that month, on every engine.
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
import { keptPayments, linkDeaths } from '../src/matching/link.ts';

const id = (birth: string, seq: string): string => {
  const body = `360102${birth}${seq}`;
  return body + checkCharacter(body);
};
/** One substitution in the area code: the check character then fails (GB 11643-1999). */
const damage = (x: string): string => x.slice(0, 3) + (x[3] === '1' ? '7' : '1') + x.slice(4);

const early = id('19400101', '111'); // health (most authoritative) under a damaged ID: February; public security under the ID: May
const plain = id('19420303', '315'); // one record under the ID: March

describe.each(ENGINES)('deceased_payment with the rows the link stage kept (%s)', (engine) => {
  let t: TestDb;
  let store: Store;
  beforeAll(async () => {
    t = await createTestDb(engine);
    store = await t.open();
    const inbox = path.join(t.dir, 'inbox');
    for (const d of ['payments', 'deaths/health', 'deaths/public-security']) fs.mkdirSync(path.join(inbox, d), { recursive: true });
    expect(isValidIdNumber(damage(early))).toBe(false);
    fs.writeFileSync(path.join(inbox, 'deaths', 'health', 'd.csv'), `死者姓名,证件号码,死亡日期\n王秀英,${damage(early)},2024-02-15\n`);
    fs.writeFileSync(path.join(inbox, 'deaths', 'public-security', 'd.csv'), `姓名,公民身份号码,性别,注销原因,死亡日期,注销日期\n王秀英,${early},,死亡,2024-05-10,2024-05-20\n陈建国,${plain},,死亡,2024-03-03,2024-03-10\n`);
    const header = '姓名,公民身份号码,性别,险种类型,待遇项目,待遇所属期,实发金额,经办机构,发放批次号';
    for (const p of ['202401', '202402', '202403', '202404', '202405', '202406']) {
      fs.writeFileSync(path.join(inbox, 'payments', `pay-${p}.csv`), [header, `王秀英,${early},,110,基本养老金,${p},3000.00,360102001,B${p}`, `陈建国,${plain},,110,基本养老金,${p},2000.00,360102001,B${p}`].join('\n') + '\n');
    }
    await runNightly({ store, inbox, outDir: path.join(t.dir, 'out'), asOf: '2024-12-31', settings: loadSettings(undefined, '/nonexistent'), logger: silentLogger });
  });
  afterAll(async () => {
    await store?.close();
    await t?.cleanup();
  });

  it('the link stage keeps the rows of each ID from its earliest month of death in its own records', async () => {
    const keep = keptPayments();
    await linkDeaths(store.db, keep);
    expect(keep.from(early)).toBe('2024-05');
    expect(keep.from(plain)).toBe('2024-03');
    expect(keep.rows.get(early)!.map((r) => r.period)).toEqual(['2024-05', '2024-06']);
    expect(keep.rows.get(plain)!.map((r) => r.period)).toEqual(['2024-03', '2024-04', '2024-05', '2024-06']);
  });

  it('the findings count every period after the corroborated month, also when it is earlier than the rows kept', async () => {
    const rows = await store.db.selectFrom('finding').select(['case_key', 'periods', 'amount_fen']).where('detector', '=', 'deceased_payment').orderBy('case_key').execute();
    expect(rows.map((r) => ({ key: r.case_key, periods: JSON.parse(r.periods ?? '[]') as string[], fen: Number(r.amount_fen) }))).toEqual([
      { key: early, periods: ['2024-03', '2024-04', '2024-05', '2024-06'], fen: 4 * 300000 },
      { key: plain, periods: ['2024-04', '2024-05', '2024-06'], fen: 3 * 200000 },
    ].sort((a, b) => (a.key < b.key ? -1 : 1)));
  });
});
