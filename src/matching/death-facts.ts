/**
 * One death fact per valid death-record ID from all death record sources (DOMAIN.md §2, §4). The link to
 * benefit recipients (damaged IDs, names, tiers) is made by link.ts, which uses the same corroboration. Each source's records are
 * kept as they came; the fact takes the date of death from the most authoritative source reporting it
 * (health certificate, then cremation, then public-security record, then any other source by name) and
 * records every source, and whether sources disagree on the month of death.
 *
 * Only records that report a death (`is_death = 1`) with a valid ID take part: a public-security
 * cancellation for another reason (迁出, 出国（境）定居, 重复登记) is not a death.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { hasPlaceholder } from './names.ts';

/** Authority order of death record sources: lower is more authoritative. */
export const SOURCE_AUTHORITY: Readonly<Record<string, number>> = { health: 0, 'civil-affairs': 1, 'public-security': 2 };

/** One source's report inside a death fact (`death_fact.sources`). */
export interface DeathSourceReport {
  source: string;
  death_date: string;
  name: string | null;
  sex: string | null;
  birth_date: string | null;
  file_id: number;
  line: number;
}

function authority(source: string): number {
  return SOURCE_AUTHORITY[source] ?? 10;
}

/**
 * Orders reports most authoritative first (then earliest file, then line) — deterministic whatever the
 * order they were stored in.
 */
export function rankReports(reports: DeathSourceReport[]): DeathSourceReport[] {
  return [...reports].sort(
    (a, b) => authority(a.source) - authority(b.source) || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0) || a.file_id - b.file_id || a.line - b.line,
  );
}

/** What the sources of one person's death say together (see {@link corroborate}). */
export interface Corroboration {
  /** Date of death `YYYY-MM-DD` from the most authoritative report. */
  death_date: string;
  /** Its month, `YYYY-MM`. */
  death_month: string;
  /** The source of that report. */
  source: string;
  /** Reports most authoritative first ({@link rankReports}). */
  ranked: DeathSourceReport[];
  /** True when some report gives another month of death. */
  month_disagreement: boolean;
  /** The distinct months reported, most authoritative first. */
  months: string[];
}

/**
 * Corroborates the reports of one person's death (DOMAIN.md §4): the date comes from the most authoritative
 * source (health certificate, then cremation, then public-security record, then other sources by name);
 * the others are kept, and a different month in any of them is a disagreement. Pure.
 * @throws RangeError when `reports` is empty
 */
export function corroborate(reports: readonly DeathSourceReport[]): Corroboration {
  if (reports.length === 0) throw new RangeError('corroborate needs at least one report');
  const ranked = rankReports([...reports]);
  const top = ranked[0]!;
  const month = top.death_date.slice(0, 7);
  const months = [...new Set(ranked.map((r) => r.death_date.slice(0, 7)))];
  return { death_date: top.death_date, death_month: month, source: top.source, ranked, month_disagreement: months.length > 1, months };
}

/** The death facts derived from all of `death_record`, ordered by ID. */
async function deriveFacts(db: Kysely<DB>): Promise<DB['death_fact'][]> {
  const records = await db
    .selectFrom('death_record')
    .select(['id_number', 'source', 'death_date', 'name', 'sex', 'birth_date', 'file_id', 'line'])
    .where('is_death', '=', 1)
    .where('id_valid', '=', 1)
    .where('death_date', 'is not', null)
    .orderBy('id_number')
    .execute();
  const facts: DB['death_fact'][] = [];
  let i = 0;
  while (i < records.length) {
    let j = i;
    const group: DeathSourceReport[] = [];
    while (j < records.length && records[j]!.id_number === records[i]!.id_number) {
      const r = records[j]!;
      group.push({ source: r.source, death_date: r.death_date!, name: r.name, sex: r.sex, birth_date: r.birth_date, file_id: Number(r.file_id), line: r.line });
      j++;
    }
    const c = corroborate(group);
    const ranked = c.ranked;
    facts.push({
      id_number: records[i]!.id_number,
      death_date: c.death_date,
      death_month: c.death_month,
      source: c.source,
      name: ranked.find((r) => r.name && !hasPlaceholder(r.name))?.name ?? ranked[0]!.name,
      sex: ranked.find((r) => r.sex)?.sex ?? null,
      birth_date: ranked.find((r) => r.birth_date)?.birth_date ?? null,
      sources: JSON.stringify(ranked),
      month_disagreement: c.month_disagreement ? 1 : 0,
    });
    i = j;
  }
  return facts;
}

const FACT_COLUMNS = ['id_number', 'death_date', 'death_month', 'source', 'name', 'sex', 'birth_date', 'sources', 'month_disagreement'] as const;
const sameFact = (a: DB['death_fact'], b: DB['death_fact']): boolean => FACT_COLUMNS.every((k) => String(a[k] ?? '') === String(b[k] ?? '') && (a[k] === null) === (b[k] === null));

/**
 * A mark of the whole `death_record` table: `count:max id`. Death records are only ever inserted (ids only
 * grow: AUTOINCREMENT, bigserial) or deleted (a death file read again replaces its records), never updated,
 * so any change moves the mark: an insert raises the max id, a delete alone lowers the count.
 */
export async function deathRecordsMark(db: Kysely<DB>): Promise<string> {
  const r = await db.selectFrom('death_record').select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('id').as('m')]).executeTakeFirst();
  return `${Number(r?.n ?? 0)}:${r?.m == null ? 0 : Number(r.m)}`;
}

/** Where {@link refreshDeathFacts} keeps the {@link deathRecordsMark} the table was derived from: run 0's state. */
const FACTS_MARK = { detector: 'death_fact', key: 'death_records' } as const;

/**
 * Brings the `death_fact` table up to date with `death_record` (derived from all of it, written as a diff in
 * one transaction: only facts added, changed or removed are touched). Nothing is read when the death records
 * did not change since the table was last derived ({@link deathRecordsMark}, kept as a `detector_state` row
 * of run 0): a nightly run with a new payment month and no new death file costs two counts.
 * @returns the number of persons with a death fact, and the IDs whose fact was added, changed or removed
 *   (sorted) — the persons whose death-based findings can have changed (incremental detection, issue 10)
 */
export async function refreshDeathFacts(db: Kysely<DB>): Promise<{ facts: number; changed: string[] }> {
  const mark = await deathRecordsMark(db);
  const done = await db.selectFrom('detector_state').select('value').where('run_id', '=', 0).where('detector', '=', FACTS_MARK.detector).where('key', '=', FACTS_MARK.key).executeTakeFirst();
  if (done?.value === mark) {
    const n = await db.selectFrom('death_fact').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return { facts: Number(n.n), changed: [] };
  }
  const facts = await deriveFacts(db);
  const stored = new Map((await db.selectFrom('death_fact').selectAll().execute()).map((f) => [f.id_number, { ...f, month_disagreement: Number(f.month_disagreement) }]));
  const changed: string[] = [];
  const upsert: DB['death_fact'][] = [];
  for (const f of facts) {
    const old = stored.get(f.id_number);
    stored.delete(f.id_number);
    if (old && sameFact(old, f)) continue;
    changed.push(f.id_number);
    upsert.push(f);
  }
  const removed = [...stored.keys()];
  changed.push(...removed);
  await db.transaction().execute(async (trx) => {
    const gone = [...removed, ...upsert.map((f) => f.id_number)];
    for (let k = 0; k < gone.length; k += 500) await trx.deleteFrom('death_fact').where('id_number', 'in', gone.slice(k, k + 500)).execute();
    for (let k = 0; k < upsert.length; k += 500) await trx.insertInto('death_fact').values(upsert.slice(k, k + 500)).execute();
    await trx.deleteFrom('detector_state').where('run_id', '=', 0).where('detector', '=', FACTS_MARK.detector).where('key', '=', FACTS_MARK.key).execute();
    await trx.insertInto('detector_state').values({ run_id: 0, ...FACTS_MARK, value: mark }).execute();
  });
  return { facts: facts.length, changed: changed.sort() };
}

/**
 * Rebuilds the `death_fact` table from `death_record` ({@link refreshDeathFacts}).
 * @returns the number of persons with a death fact
 */
export async function rebuildDeathFacts(db: Kysely<DB>): Promise<number> {
  return (await refreshDeathFacts(db)).facts;
}
