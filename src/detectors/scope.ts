/**
 * Incremental detection (issue 10): what is new since the last succeeded run, and the previous findings a
 * detector carries forward for the case keys that cannot have changed.
 *
 * The rule every detector keeps: a run's findings are exactly those of a full recomputation over all stored
 * rows. A detector given an {@link Incremental} recomputes every case key that new payment rows, changed death
 * records or changed claims of earlier detectors can reach (each detector's docstring says how it finds
 * them), and carries the previous succeeded run's finding forward unchanged for every other key.
 *
 * What is new: payments are never deleted and their ids only grow (one run at a time holds the lock), so the
 * payment rows stored since the previous run's detectors looked are those with `id` above its high-water
 * mark. A run does the full computation instead when there is no previous succeeded run, when the run right
 * before it failed or was abandoned, when the settings or the detector list changed since it
 * ({@link detectionFingerprint}), or when its findings were stored without their payment ids.
 */
import crypto from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Settings } from '../config/settings.ts';
import type { DB } from '../db/schema.ts';
import type { Confidence, Evidence, Finding } from './types.ts';

/**
 * Version of the detectors' rules: bump it when a detector's output changes for the same data, so that the
 * next run recomputes everything instead of carrying forward findings made by the old rules.
 * - 2: a deceased_payment reason line for a disagreeing birth date or sex names the sources that disagree
 *   (src/matching/link.ts disagreementReason), no longer always the death record.
 */
export const DETECTION_VERSION = 2;

/** Fingerprint of everything besides the data that decides the findings: settings, detector list, rules. */
export function detectionFingerprint(settings: Settings, detectorIds: readonly string[]): string {
  return crypto.createHash('sha256').update(JSON.stringify({ v: DETECTION_VERSION, d: detectorIds, s: settings })).digest('hex').slice(0, 32);
}

/** What the previous succeeded run saw, and what is new since (see module doc). */
export interface Incremental {
  /** The previous succeeded run, whose findings are carried forward. */
  prevRunId: number;
  /** Payments with `id > sinceId` are new. */
  sinceId: number;
  /** Highest payment id now (inclusive). */
  untilId: number;
  /** Periods of new rows in which no earlier row is stored: every row of such a period is new. */
  freshPeriods: ReadonlySet<string>;
  /** Periods of new rows that also hold earlier rows, sorted. */
  oldPeriods: readonly string[];
  /** Resident IDs whose death fact was added, changed or removed in this run (death-facts.ts). */
  deathChanged: ReadonlySet<string>;
  /**
   * The highest `case_event.id` when the previous run began detecting (null when it did not record it): a
   * case chain with a later event not written by that run's own case updates was changed since (by people,
   * or by a repayment settling it), so the case update looks at it again (src/cases/upsert.ts).
   */
  eventsMark?: number | null;
}

/** The per-detector part of an incremental run. */
export interface DetectorIncremental extends Incremental {
  /** This detector's findings of the previous run. */
  previous: readonly Finding[];
  /**
   * Payments whose claim by an earlier detector changed since the previous run (claimed then and not now,
   * or now and not then): keys holding them must be recomputed.
   */
  claimChanged: ReadonlySet<number>;
}

/** The plan of a run's detection: incremental, or full with the reason. */
export type DetectionPlan = { mode: 'full'; reason: string; untilId: number } | ({ mode: 'incremental' } & Incremental);

const RUN = '_run';

async function maxPaymentId(db: Kysely<DB>): Promise<number> {
  const r = await db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
  return r?.m == null ? 0 : Number(r.m);
}

/** Reads one state value of a run (null when absent). */
export async function readState(db: Kysely<DB>, runId: number, detector: string, key: string): Promise<string | null> {
  const r = await db.selectFrom('detector_state').select('value').where('run_id', '=', runId).where('detector', '=', detector).where('key', '=', key).executeTakeFirst();
  return r?.value ?? null;
}

/** Every state row of a detector in a run, key → value. */
export async function readStates(db: Kysely<DB>, runId: number, detector: string): Promise<Map<string, string>> {
  const rows = await db.selectFrom('detector_state').select(['key', 'value']).where('run_id', '=', runId).where('detector', '=', detector).execute();
  return new Map(rows.map((r) => [r.key, r.value]));
}

/** Replaces state rows of a detector in a run (one transaction). */
export async function writeStates(db: Kysely<DB>, runId: number, detector: string, entries: Iterable<[string, string]>, replaceAll = true): Promise<void> {
  const rows = [...entries].map(([key, value]) => ({ run_id: runId, detector, key, value }));
  await db.transaction().execute(async (trx) => {
    if (replaceAll) await trx.deleteFrom('detector_state').where('run_id', '=', runId).where('detector', '=', detector).execute();
    else for (const r of rows) await trx.deleteFrom('detector_state').where('run_id', '=', runId).where('detector', '=', detector).where('key', '=', r.key).execute();
    for (let i = 0; i < rows.length; i += 500) await trx.insertInto('detector_state').values(rows.slice(i, i + 500)).execute();
  });
}

/**
 * Gives run `toRun` the state rows of `detector` that run `fromRun` had, copied inside the database (no row
 * passes through the process), except the keys in `remove`, and with the keys of `set` set to their values;
 * one transaction. This run's earlier rows of the detector are replaced.
 */
export async function carryStates(db: Kysely<DB>, fromRun: number, toRun: number, detector: string, set: ReadonlyMap<string, string>, remove: Iterable<string> = []): Promise<void> {
  const drop = [...new Set([...remove, ...set.keys()])];
  const rows = [...set].map(([key, value]) => ({ run_id: toRun, detector, key, value }));
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('detector_state').where('run_id', '=', toRun).where('detector', '=', detector).execute();
    await trx
      .insertInto('detector_state')
      .columns(['run_id', 'detector', 'key', 'value'])
      .expression((eb) => eb.selectFrom('detector_state').select([sql.lit(toRun).as('run_id'), 'detector', 'key', 'value']).where('run_id', '=', fromRun).where('detector', '=', detector))
      .execute();
    for (const c of chunksOf(drop, 500)) await trx.deleteFrom('detector_state').where('run_id', '=', toRun).where('detector', '=', detector).where('key', 'in', c).execute();
    for (let i = 0; i < rows.length; i += 500) await trx.insertInto('detector_state').values(rows.slice(i, i + 500)).execute();
  });
}

/**
 * Decides how this run detects (module doc) and, when incrementally, what is new.
 * @param deathChanged resident IDs whose death fact changed in this run
 */
export async function planDetection(db: Kysely<DB>, runId: number, fingerprint: string, deathChanged: ReadonlySet<string>): Promise<DetectionPlan> {
  const untilId = await maxPaymentId(db);
  const full = (reason: string): DetectionPlan => ({ mode: 'full', reason, untilId });
  const prev = await db.selectFrom('run').select(['id', 'status']).where('id', '<', runId).orderBy('id', 'desc').executeTakeFirst();
  if (!prev) return full('no previous run');
  if (prev.status !== 'succeeded') return full(`the previous run ${prev.id} ${prev.status}`);
  const prevRunId = Number(prev.id);
  const state = await readStates(db, prevRunId, RUN);
  if (!state.has('fingerprint') || !state.has('high_water') || !state.has('periods')) return full(`run ${prevRunId} left no detection state`);
  if (state.get('fingerprint') !== fingerprint) return full('settings, detectors or their rules (a new version) changed since the previous run');
  const missing = await db.selectFrom('finding').select((eb) => eb.fn.countAll().as('n')).where('run_id', '=', prevRunId).where('payment_ids', 'is', null).executeTakeFirstOrThrow();
  if (Number(missing.n) > 0) return full(`findings of run ${prevRunId} have no payment ids`);
  const sinceId = Number(state.get('high_water'));
  const known = new Set(JSON.parse(state.get('periods')!) as string[]);
  // Both bounds: the planner then reads the new rows by id instead of every entry of the period-first key.
  const newPeriods = (await db.selectFrom('payment').select('period').distinct().where('id', '>', sinceId).where('id', '<=', untilId).execute()).map((r) => r.period);
  const freshPeriods = new Set(newPeriods.filter((p) => !known.has(p)));
  const oldPeriods = newPeriods.filter((p) => known.has(p)).sort();
  const mark = state.get('events_mark');
  return { mode: 'incremental', prevRunId, sinceId, untilId, freshPeriods, oldPeriods, deathChanged, eventsMark: mark === undefined ? null : Number(mark) };
}

/**
 * Records what the next run compares against: the fingerprint, the high-water mark, the stored periods and
 * the highest case event id when this run began detecting ({@link Incremental.eventsMark}).
 */
export async function saveRunState(db: Kysely<DB>, runId: number, fingerprint: string, plan: DetectionPlan, eventsMark?: number): Promise<void> {
  let periods: string[];
  if (plan.mode === 'incremental') {
    const prev = JSON.parse((await readState(db, plan.prevRunId, RUN, 'periods'))!) as string[];
    periods = [...new Set([...prev, ...plan.freshPeriods])].sort();
  } else {
    // The periods another run recorded, plus those of the rows stored since: one scan of every row only when
    // no run has recorded them yet (the stored periods depend on the rows alone, not on the settings).
    const last = await db.selectFrom('detector_state').select('run_id').where('detector', '=', RUN).where('key', '=', 'periods').where('run_id', '<', runId).orderBy('run_id', 'desc').executeTakeFirst();
    const hw = last ? await readState(db, Number(last.run_id), RUN, 'high_water') : null;
    if (last && hw !== null) {
      const prev = JSON.parse((await readState(db, Number(last.run_id), RUN, 'periods'))!) as string[];
      const since = (await db.selectFrom('payment').select('period').distinct().where('id', '>', Number(hw)).where('id', '<=', plan.untilId).execute()).map((r) => r.period);
      periods = [...new Set([...prev, ...since])].sort();
    } else {
      periods = (await db.selectFrom('payment').select('period').distinct().execute()).map((r) => r.period).sort();
    }
  }
  await writeStates(db, runId, RUN, [['fingerprint', fingerprint], ['high_water', String(plan.untilId)], ['periods', JSON.stringify(periods)], ...(eventsMark === undefined ? [] : [['events_mark', String(eventsMark)] as [string, string]])]);
}

/** Drops the state of runs before `runId` (kept: run 0, the derived tables' state). */
export async function pruneStates(db: Kysely<DB>, runId: number): Promise<void> {
  await db.deleteFrom('detector_state').where('run_id', '>', 0).where('run_id', '<', runId).execute();
}

/** The `finding.id` of findings read back by {@link storedFindings} (a carried-forward finding is copied by it). */
const storedIds = new WeakMap<Finding, number>();

/** The stored row id of a finding read back from the store, or undefined for one computed in this run. */
export function storedFindingId(f: Finding): number | undefined {
  return storedIds.get(f);
}

/**
 * A stored finding row back as a {@link Finding} (the inverse of the job's insert). The evidence is parsed
 * when first read (a carried-forward finding is copied as stored and its evidence never looked at).
 */
export function findingFromRow(r: {
  detector: string; case_key: string; id_number: string; name: string; district_code: string; scheme: string; periods: string | null;
  first_period: string; amount_fen: number | string; confidence: string; evidence: string; payment_ids: string | null;
}): Finding {
  const f = {
    detector: r.detector,
    caseKey: r.case_key,
    idNumber: r.id_number,
    name: r.name,
    districtCode: r.district_code,
    schemes: r.scheme.split('+'),
    periods: r.periods ? (JSON.parse(r.periods) as string[]) : [r.first_period],
    amountFen: Number(r.amount_fen),
    confidence: r.confidence as Confidence,
    paymentIds: r.payment_ids ? (JSON.parse(r.payment_ids) as number[]) : [],
  } as Finding;
  let evidence: Evidence | undefined;
  Object.defineProperty(f, 'evidence', {
    enumerable: true,
    configurable: true,
    get: () => (evidence ??= JSON.parse(r.evidence) as Evidence),
    set: (v: Evidence) => {
      evidence = v;
    },
  });
  return f;
}

/** The findings of one detector in one run, in id order. */
export async function storedFindings(db: Kysely<DB>, runId: number, detector: string): Promise<Finding[]> {
  const rows = await db
    .selectFrom('finding')
    .select(['id', 'detector', 'case_key', 'id_number', 'name', 'district_code', 'scheme', 'periods', 'first_period', 'amount_fen', 'confidence', 'evidence', 'payment_ids'])
    .where('run_id', '=', runId)
    .where('detector', '=', detector)
    .orderBy('id')
    .execute();
  return rows.map((r) => {
    const f = findingFromRow(r);
    storedIds.set(f, Number(r.id));
    return f;
  });
}

/** Splits a list into chunks of at most n (for `IN` lists). */
export function chunksOf<T>(xs: readonly T[], n = 400): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** The periods (`YYYY-MM`) of the rows stored since the previous run (fresh and old), sorted. */
export function newPeriodsOf(inc: Incremental): string[] {
  return [...new Set([...inc.freshPeriods, ...inc.oldPeriods])].sort();
}

/**
 * The payment rows of some resident IDs stored since the previous run (`sinceId < id <= untilId`), as a query
 * to select from. It names the new rows' periods, so that each ID is one seek per new period on either key
 * order (SQLite's key is period-first, migration 0009) instead of one per stored period.
 * @param periods {@link newPeriodsOf} `inc`; must not be empty (an empty `IN` list is not SQL)
 */
export function newRowsOf(db: Kysely<DB>, inc: Incremental, periods: readonly string[], ids: readonly string[]) {
  return db.selectFrom('payment').where('period', 'in', periods).where('id_number', 'in', ids).where('id', '>', inc.sinceId).where('id', '<=', inc.untilId);
}

/** Of the given resident IDs, those with a payment row stored since the previous run ({@link newRowsOf}). */
export async function idsWithNewRows(db: Kysely<DB>, ids: Iterable<string>, inc: Incremental): Promise<Set<string>> {
  const out = new Set<string>();
  const periods = newPeriodsOf(inc);
  if (periods.length === 0) return out;
  for (const c of chunksOf([...new Set(ids)])) {
    for (const r of await newRowsOf(db, inc, periods, c).select('id_number').distinct().execute()) out.add(r.id_number);
  }
  return out;
}

/** The owners (resident IDs) of some payments. */
export async function ownersOf(db: Kysely<DB>, paymentIds: Iterable<number>): Promise<Set<string>> {
  const out = new Set<string>();
  for (const c of chunksOf([...paymentIds], 500)) {
    const rows = await db.selectFrom('payment').select('id_number').distinct().where('id', 'in', c).execute();
    for (const r of rows) out.add(r.id_number);
  }
  return out;
}

/** The findings carried forward (keys not recomputed) merged with the recomputed ones, in case-key byte order. */
export function mergeFindings(previous: readonly Finding[], recomputed: readonly Finding[], isRecomputed: (f: Finding) => boolean, order: (a: Finding, b: Finding) => number): Finding[] {
  return [...previous.filter((f) => !isRecomputed(f)), ...recomputed].sort(order);
}

/** `ID|period` — a (person, period) pair touched by new rows or changed claims. */
export const pairKey = (idNumber: string, period: string): string => `${idNumber}|${period}`;

/**
 * The (person, period) pairs of new rows in periods that also hold earlier rows, plus those of the payments
 * whose claim changed: the pairs whose other rows are not all new.
 */
export async function oldPairsTouched(db: Kysely<DB>, inc: Incremental & { claimChanged?: ReadonlySet<number> }): Promise<Set<string>> {
  const out = new Set<string>();
  for (const r of await oldPeriodRows(db, inc)) out.add(pairKey(r.id_number, r.period));
  for (const c of chunksOf([...(inc.claimChanged ?? [])], 500)) {
    const rows = await db.selectFrom('payment').select(['id_number', 'period']).where('id', 'in', c).execute();
    for (const r of rows) out.add(pairKey(r.id_number, r.period));
  }
  return out;
}

/** A new payment row in a period that also holds earlier rows (see {@link oldPeriodRows}). */
export interface OldPeriodRow {
  id: number;
  id_number: string;
  period: string;
  scheme: string;
  item: string;
  district_code: string | null;
  amount_fen: number;
}

const oldRowsMemo = new WeakMap<Kysely<DB>, { key: string; rows: Promise<OldPeriodRow[]> }>();

/**
 * The new rows (`sinceId < id <= untilId`) in {@link Incremental.oldPeriods} — back pay and corrections for
 * months already stored, a small part of a new extract. Read once per run and store handle (several detectors
 * ask): one pass over the new rows by their ids.
 */
export function oldPeriodRows(db: Kysely<DB>, inc: Incremental): Promise<OldPeriodRow[]> {
  const key = `${inc.sinceId}|${inc.untilId}|${inc.oldPeriods.join(',')}`;
  const known = oldRowsMemo.get(db);
  if (known && known.key === key) return known.rows;
  const rows =
    inc.oldPeriods.length === 0
      ? Promise.resolve([])
      : db
          .selectFrom('payment')
          .select(['id', 'id_number', 'period', 'scheme', 'item', 'district_code', 'amount_fen'])
          // Bounded on both sides, so that the engine reads the new rows by their ids (SQLite otherwise
          // scanned the whole (person, period) index for the period filter).
          .where('id', '>', inc.sinceId)
          .where('id', '<=', inc.untilId)
          .where('period', 'in', [...inc.oldPeriods])
          .execute()
          .then((rs) => rs.map((r) => ({ ...r, id: Number(r.id), amount_fen: Number(r.amount_fen) })));
  oldRowsMemo.set(db, { key, rows });
  rows.catch(() => oldRowsMemo.delete(db));
  return rows;
}
