/**
 * The incremental link stage (issue 10, link.ts relinkDeaths) against the full one, on every engine: death
 * records stored once, payments stored in two steps (every split of a world with each kind of link), and
 * after the second step the relink's verdicts, plus the previous step's verdicts for what it does not cover,
 * must be exactly the full link stage's — a person first paid after their death record was stored, an ID
 * repaired by one edit that is now paid, a block (area and birth date, birth date, last 4 characters) gaining
 * a member, an ambiguity appearing, an alias appearing, a damaged payment ID explaining a record (the weaker
 * links going away), a name first written, a back payment for an old period.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, ENGINES, type TestDb } from './helpers/engines.ts';
import type { Store } from '../src/db/connection.ts';
import { checkCharacter, isValidIdNumber, validNeighbours } from '../src/identity/resident-id.ts';
import { linkDeaths, relinkDeaths, type RecipientDeath } from '../src/matching/link.ts';

/** A valid ID in area 360102 from birth date and sequence. */
const id = (birth: string, seq: string, area = '360102'): string => {
  const body = `${area}${birth}${seq}`;
  return body + checkCharacter(body);
};
const sub = (x: string, pos: number, ch: string): string => x.slice(0, pos) + ch + x.slice(pos + 1);
const damage = (x: string, pos: number): string => sub(x, pos, x[pos] === '1' ? '7' : '1');
/** Two typos at `p` and `q`, failing the check character (a valid ID is someone else's). */
const twoTypos = (x: string, p: number, q: number): string => {
  for (const a of '123456789') for (const b of '123456789') {
    const y = sub(sub(x, p, a), q, b);
    if (a !== x[p] && b !== x[q] && !isValidIdNumber(y)) return y;
  }
  throw new Error('no damaged form');
};

interface Pay { id: string; name: string; period: string; sex?: string }
interface Death { id: string; name: string; death: string; birth?: string; sex?: string; source?: string }

// Each situation on its own people.
const plain = id('19500312', '201');
const firstPaid = id('19510101', '301');
const repaired = id('19550505', '409');
const [amb1, amb2] = validNeighbours(damage(id('19560606', '411'), 16)).map((n) => n.id);
const ambDamaged = damage(id('19560606', '411'), 16);
const aliasValid = id('19601010', '419');
const aliasDamaged = damage(aliasValid, 3);
const explainDamaged = damage(id('19570707', '413'), 16);
const [exp1, exp2] = validNeighbours(explainDamaged).map((n) => n.id);
const prefixPerson = id('19580808', '555');
const prefixDamaged = twoTypos(prefixPerson, 14, 15);
const tailPerson = id('19590909', '617');
const tailDamaged = twoTypos(tailPerson, 2, 3);
const birthPerson = id('19610101', '623', '360103');
const birthDamaged = `3601041961010162${birthPerson[16]}${birthPerson[17] === '0' ? '1' : '0'}`;
const payTailValid = id('19620202', '731');
const payTailDamaged = twoTypos(payTailValid, 8, 11);
const namesake = id('19580808', '557');
// Damaged payment IDs reaching unpaid death records by birth date (block 4) and by one edit (2b).
const payBirthValid = id('19630303', '733', '360105');
const payBirthDamaged = damage(id('19630303', '999', '360106'), 15);
const payEditValid = id('19650505', '751');
const payEditDamaged = damage(payEditValid, 5);
const quiet = id('19450505', '135');

const deaths: Death[] = [
  { id: plain, name: '陈建国', death: '2024-02-10' },
  { id: plain, name: '陈建国', death: '2024-02-10', birth: '1950-03-12', sex: 'M', source: 'civil-affairs' },
  { id: firstPaid, name: '王秀英', death: '2024-01-20' },
  { id: damage(repaired, 2), name: '周志强', death: '2024-02-05' },
  { id: ambDamaged, name: '李明', death: '2024-02-05' },
  { id: aliasValid, name: '曹立新', death: '2024-03-10' },
  { id: explainDamaged, name: '孙七', death: '2024-02-05' },
  { id: prefixDamaged, name: '吴丽', death: '2024-02-05' },
  { id: tailDamaged, name: '郑海', death: '2024-02-05', birth: '1959-09-09', source: 'civil-affairs' },
  { id: birthDamaged, name: '冯兰', death: '2024-02-05', birth: '1961-01-01', source: 'civil-affairs' },
  { id: payTailValid, name: '韩德', death: '2024-02-05' },
  { id: quiet, name: '林静', death: '2024-01-05' },
  { id: payBirthValid, name: '钱进', death: '2024-02-05' },
  { id: payEditValid, name: '何平', death: '2024-02-05' },
];

const PERIODS = ['2024-01', '2024-02', '2024-03', '2024-04'];
const pays: Pay[] = [
  ...PERIODS.map((period) => ({ id: plain, name: '陈建国', period, sex: 'M' })),
  { id: plain, name: '陈建囯', period: '2024-03' }, // a name first written (a typo variant)
  ...PERIODS.map((period) => ({ id: firstPaid, name: '王秀英', period })),
  ...PERIODS.map((period) => ({ id: repaired, name: '周志强', period })),
  ...PERIODS.map((period) => ({ id: amb1!, name: '李明', period })),
  ...PERIODS.slice(2).map((period) => ({ id: amb2!, name: '李明', period })),
  ...PERIODS.map((period) => ({ id: aliasValid, name: '曹立新', period })),
  { id: aliasDamaged, name: '曹立新', period: '2024-04' },
  ...PERIODS.map((period) => ({ id: exp1!, name: '孙七', period })),
  { id: exp2!, name: '孙七', period: '2024-04' },
  { id: explainDamaged, name: '孙七', period: '2024-04' },
  ...PERIODS.map((period) => ({ id: prefixPerson, name: '吴丽', period })),
  ...PERIODS.map((period) => ({ id: namesake, name: '吴丽', period })),
  ...PERIODS.map((period) => ({ id: tailPerson, name: '郑海', period })),
  ...PERIODS.map((period) => ({ id: birthPerson, name: '冯兰', period })),
  // Paid only under an ID with two typos: a block-4 link from the payment side (same last 4 characters and name).
  { id: payTailDamaged, name: '韩德', period: '2024-03' },
  ...PERIODS.map((period) => ({ id: quiet, name: '林静', period })),
  { id: payBirthDamaged, name: '钱进', period: '2024-03' },
  { id: payEditDamaged, name: '何平', period: '2024-03' },
  { id: id('19390101', '111'), name: '路人', period: '2024-01' },
];

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.each(ENGINES)('relinkDeaths equals the full link stage (%s)', (engine) => {
  let t: TestDb;
  let store: Store;
  let fileId = 0;
  beforeAll(async () => {
    t = await createTestDb(engine);
    store = await t.open();
    const f = await store.db.insertInto('source_file').values({
      path: 'x.csv', sha256: 'x', size: 1, mtime_ms: 1, kind: 'deaths', source: 'health', format: 'csv', encoding: 'utf-8', status: 'ingested', error_code: null, error: null,
      layout_key: 'k', header_line: 1, rows_read: 0, rows_accepted: 0, rows_rejected: 0, rows_skipped: 0, rows_repeated: 0, run_id: 1, ingested_at: '2025-01-01T00:00:00Z',
    }).returning('id').executeTakeFirstOrThrow();
    fileId = Number(f.id);
    for (const [i, d] of deaths.entries()) {
      await store.db.insertInto('death_record').values({
        file_id: fileId, line: i + 2, source: d.source ?? 'health', id_number: d.id, id_raw: d.id, id_valid: isValidIdNumber(d.id) ? 1 : 0, name: d.name, sex: d.sex ?? null,
        birth_date: d.birth ?? null, death_date: d.death, cremation_date: null, cancel_date: null, cancel_reason: null, is_death: 1,
      }).execute();
    }
  });
  afterAll(async () => {
    await store?.close();
    await t?.cleanup();
  });

  let batch = 0;
  const insert = async (rows: readonly Pay[]): Promise<void> => {
    batch++;
    for (const [i, p] of rows.entries()) {
      await store.db.insertInto('payment').values({
        file_id: fileId, line: i + 2, person_no: null, id_number: p.id, id_raw: p.id, id_valid: isValidIdNumber(p.id) ? 1 : 0, name: p.name, sex: p.sex ?? null,
        scheme: '110', item: 'pension', item_raw: '基本养老金', period: p.period, amount_fen: 300000, paid_on: null, account: null, bank: null, agency: null,
        district_code: null, batch: `B${batch}-${i}`,
      }).execute();
    }
  };
  const maxId = async (): Promise<number> => Number((await store.db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow()).m ?? 0);
  const byId = (ds: readonly RecipientDeath[]) => new Map(ds.map((d) => [d.idNumber, d]));

  /** Stores `old`, links in full, stores `added`, and checks the relink against a full link. */
  async function check(old: readonly Pay[], added: readonly Pay[]): Promise<{ relinked: string[]; changed: string[] }> {
    await store.db.deleteFrom('payment').execute();
    await insert(old);
    const before = byId((await linkDeaths(store.db)).deaths);
    const sinceId = await maxId();
    await insert(added);
    const full = byId((await linkDeaths(store.db)).deaths);
    const re = await relinkDeaths(store.db, sinceId);
    const got = byId(re.deaths);
    // The rows block 1 read (the IDs of the relinked death records), kept for deceased_payment: every stored
    // row of such an ID, in (period, id) order, as the detector would read them itself. A recipient found by
    // another block (a repaired ID) is not there: the detector reads its rows.
    expect(re.payments.rows.size).toBeGreaterThan(0);
    for (const k of re.payments.read) expect(re.payments.from(k)).toBe('');
    for (const [k, rows] of re.payments.rows) {
      const direct = await store.db.selectFrom('payment').select(['id', 'period', 'name', 'item', 'amount_fen']).where('id_number', '=', k).orderBy('period').orderBy('id').execute();
      const row = (r: { id: unknown; period: string; name: string; item: string; amount_fen: unknown }) => [Number(r.id), r.period, r.name, r.item, Number(r.amount_fen)];
      expect({ k, rows: rows.map(row) }).toEqual({ k, rows: direct.map(row) });
    }
    for (const [k, d] of got) expect({ k, d }).toEqual({ k, d: full.get(k) });
    for (const [k, d] of full) {
      if (got.has(k)) continue;
      // Not relinked: not covered, and the previous verdict stands.
      expect({ k, covers: re.covers(k), d: before.get(k) }).toEqual({ k, covers: false, d });
    }
    for (const k of before.keys()) if (!full.has(k)) expect({ k, covers: re.covers(k) }).toEqual({ k, covers: true });
    const changed = [...new Set([...full.keys(), ...before.keys()])].filter((k) => JSON.stringify(full.get(k)) !== JSON.stringify(before.get(k))).sort();
    return { relinked: [...got.keys()].sort(), changed };
  }

  it('covers every verdict a new payment row can change, in each named situation', async () => {
    // All of each situation's second-step rows arrive at once.
    const late = new Set([firstPaid, repaired, amb2!, aliasDamaged, explainDamaged, exp2!, namesake, prefixPerson, tailPerson, birthPerson, payTailDamaged, payBirthDamaged, payEditDamaged]);
    const old = pays.filter((p) => !late.has(p.id) && !(p.id === plain && p.name !== '陈建国'));
    const added = pays.filter((p) => !old.includes(p));
    const { changed, relinked } = await check(old, added);
    // The new rows did change these verdicts (so the check above is not vacuous) ...
    // (a weak link going away: exp1; an ambiguity appearing: amb1; blocks 3 and 4 gaining members), ...
    for (const k of [firstPaid, repaired, amb1!, aliasDamaged, explainDamaged, exp1!, prefixPerson, namesake, tailPerson, birthPerson, payTailDamaged, payBirthDamaged, payEditDamaged, plain]) expect(changed).toContain(k);
    // ... and the relink did not recompute the world: a valid ID without new rows, out of reach of every
    // damaged ID, keeps its verdict.
    expect(relinked).not.toContain(quiet);
    expect(relinked).toContain(aliasValid); // one edit from a damaged payment ID: always relinked
  });

  it('a new month only: the relink recomputes the IDs paid again and the damaged-ID part', async () => {
    const old = pays.filter((p) => p.period !== '2024-04');
    const added = pays.filter((p) => p.period === '2024-04');
    await check(old, added);
  });

  it('back payments for old periods (rows of a new step sorting before the old ones)', async () => {
    const old = pays.filter((p) => p.period !== '2024-01');
    const added = pays.filter((p) => p.period === '2024-01');
    await check(old, added);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])('random split %i', async (seed) => {
    const r = rng(seed);
    const split = pays.map((p) => ({ p, late: r() < 0.4 }));
    await check(split.filter((x) => !x.late).map((x) => x.p), split.filter((x) => x.late).map((x) => x.p));
  });
});
