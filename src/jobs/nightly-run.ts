/**
 * The nightly pipeline (ARCHITECTURE.md floor 6): one run id and one lock drive every step —
 * ingest new files → derive death facts → run every detector → update the cases → write the run folder.
 * Each detector's outcome is recorded; one detector failing does not stop the others or the reports
 * (STYLE.md §8).
 *
 * Detection is incremental after a succeeded run with the same settings (src/detectors/scope.ts): each
 * detector gets what is new since that run — payment rows above its high-water mark, changed death facts, the
 * payments whose claim by an earlier detector changed — and that run's findings, and returns exactly the
 * findings a full computation would. Every finding is stored whole (periods and payment ids), so the next run
 * can carry it forward; the run stats say which way the run detected (`detection`).
 */
import os from 'node:os';
import { sql, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { DB } from '../db/schema.ts';
import type { Settings } from '../config/settings.ts';
import type { Store } from '../db/connection.ts';
import { ingestInbox, listInbox, type FileReport } from '../ingest/ingest.ts';
import { refreshDeathFacts } from '../matching/death-facts.ts';
import { DETECTORS } from '../detectors/index.ts';
import type { Detector, DetectorStats, Finding } from '../detectors/types.ts';
import { detectionFingerprint, planDetection, pruneStates, saveRunState, storedFindingId, storedFindings, type DetectorIncremental } from '../detectors/scope.ts';
import { upsertCases, type CarriedFindings, type CaseChanges } from '../cases/upsert.ts';
import { writeRunReports, type DetectorOutcome, type RunReportFiles } from '../reports/run-reports.ts';
import { maxPaymentId, refreshSummariesAhead } from '../db/summary-tables.ts';
import { pausePoint } from '../config/test-hooks.ts';
import type { FileReport as IngestFileReport } from '../ingest/ingest.ts';

/** The columns of a stored finding besides its id and run. */
const FINDING_COLUMNS = ['detector', 'case_key', 'id_number', 'name', 'district_code', 'scheme', 'first_period', 'last_period', 'months', 'amount_fen', 'confidence', 'evidence', 'periods', 'payment_ids'] as const;

/** Copies stored findings (by id, in id order) into another run, as stored. */
async function copyFindings(trx: Transaction<DB>, runId: number, ids: readonly number[]): Promise<void> {
  await trx
    .insertInto('finding')
    .columns(['run_id', ...FINDING_COLUMNS])
    .expression(trx.selectFrom('finding').select([sql.lit(runId).as('run_id'), ...FINDING_COLUMNS]).where('id', 'in', ids).orderBy('id'))
    .execute();
}

/** Exit code of `fundguard run` when another run holds the lock (README "Exit codes"). */
export const EXIT_LOCKED = 3;

/** The run was stopped by a signal (SIGTERM) between steps; it is recorded as `abandoned`. */
export class RunStoppedError extends Error {
  override name = 'RunStoppedError';
}

/** Another run is running on this database. */
export class RunLockedError extends Error {
  override name = 'RunLockedError';
  constructor(readonly heldBy: { id: number; host: string; pid: number; started_at: string }) {
    super(`another run (id ${heldBy.id}, pid ${heldBy.pid} on ${heldBy.host}, started ${heldBy.started_at}) is running on this database; not started`);
  }
}

/**
 * The business date is earlier than that of a run that already read extracts into this store (or succeeded):
 * a run dated earlier would count payments and deaths that were known only later (a death after its date, the
 * payments after it), and would rewrite that date's report folder with them. Exit code 2 (README "Exit codes").
 */
export class EarlierDateError extends Error {
  override name = 'EarlierDateError';
  constructor(readonly asOf: string, readonly later: LatestKnownRun) {
    super(
      `business date ${asOf} is before ${later.asOf}: run ${later.id} for ${later.asOf} ${later.readFiles ? 'already read extracts into this store' : 'succeeded on this store'}, ` +
        `so a run for ${asOf} now would count what was known only later; not started, nothing changed. ` +
        `To redo ${asOf}, run it on a copy of the store saved before run ${later.id}`,
    );
  }
}

/** The run with the latest business date that read extracts into the store or succeeded (see {@link latestKnownRun}). */
export interface LatestKnownRun {
  id: number;
  /** Business date `YYYY-MM-DD`. */
  asOf: string;
  /** Whether it read at least one file (else it succeeded with nothing new). */
  readFiles: boolean;
}

/**
 * The run with the latest business date (then the latest id) that read at least one extract into the store,
 * whatever its status, or that succeeded — after it, the store holds what was known on that date, so no
 * earlier date can run ({@link EarlierDateError}); `after` limits it to dates later than that. A run that
 * stopped before reading anything does not count. Undefined when there is none.
 */
export async function latestKnownRun(db: Kysely<DB>, after?: string): Promise<LatestKnownRun | undefined> {
  const readFiles = (eb: ExpressionBuilder<DB, 'run'>) => eb.exists(eb.selectFrom('source_file').select('source_file.id').whereRef('source_file.run_id', '=', 'run.id'));
  let q = db
    .selectFrom('run')
    .select((eb) => ['id', 'as_of', readFiles(eb).as('read')])
    .where((eb) => eb.or([eb('status', '=', 'succeeded'), readFiles(eb)]));
  if (after !== undefined) q = q.where('as_of', '>', after);
  const r = await q.orderBy('as_of', 'desc').orderBy('id', 'desc').executeTakeFirst();
  return r ? { id: Number(r.id), asOf: r.as_of, readFiles: Boolean(Number(r.read)) } : undefined;
}

export interface RunOptions {
  store: Store;
  inbox: string;
  outDir: string;
  /** Business date `YYYY-MM-DD`. */
  asOf: string;
  settings: Settings;
  logger: Logger;
  detectors?: readonly Detector[];
  /** Aborting (SIGTERM) finishes the step in progress (a file, a detector), records the run `abandoned`, and throws RunStoppedError. */
  signal?: AbortSignal;
  /** Progress callback for ingest (one call per file). */
  onFile?: (report: IngestFileReport, index: number, total: number) => void;
}

export interface RunResult {
  runId: number;
  files: FileReport[];
  deathFacts: number;
  detectors: DetectorOutcome[];
  cases: Record<string, CaseChanges>;
  reports: RunReportFiles;
  /** How the detectors ran (also in the run's stats): in full (and why), or on what is new since a run. */
  detection: { mode: 'full'; reason: string } | { mode: 'incremental'; sinceRun: number };
}

/**
 * Runs the whole job once.
 * @throws RunLockedError when another run is running; any other error marks the run `failed` and is rethrown
 */
export async function runNightly(opts: RunOptions): Promise<RunResult> {
  const { store, logger, settings, asOf } = opts;
  const db = store.db;
  // A missing or malformed inbox (a typo in --inbox) is refused before a run is recorded: a failed run would
  // make the next night's run compute in full (src/detectors/scope.ts).
  listInbox(opts.inbox);
  // Nor is a business date earlier than one whose run already read extracts (or succeeded): the store holds
  // what was known after it (fresh-user trial: a re-run of an earlier date counted a death after that date).
  const later = await latestKnownRun(db, asOf);
  if (later) throw new EarlierDateError(asOf, later);
  const startedAt = new Date().toISOString();
  const begun = await store.beginRun(asOf, os.hostname(), process.pid, startedAt);
  if ('heldBy' in begun) throw new RunLockedError(begun.heldBy);
  const runId = begun.runId;
  const log = logger.child({ run: runId });
  const timings: Record<string, number> = {};
  /** How the detectors compute, once known (the run record's `stats.detection`, also for a run that fails after). */
  let detectionStats: { mode: 'full'; reason: string } | { mode: 'incremental'; since_run: number } | undefined;
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    log.info({ step: name }, `${name} started`);
    const r = await fn();
    timings[name] = Date.now() - t;
    log.info({ step: name, ms: timings[name] }, `${name} finished`);
    return r;
  };
  try {
    const stopIfAsked = async (): Promise<void> => {
      // Back to the event loop first: on SQLite every query resolves at once, so a step runs on promises alone
      // and a SIGTERM is dispatched (the signal aborted) only when the loop is reached — before, not until the
      // reports wrote their files, so a run stopped during the detectors ended `succeeded`.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (opts.signal?.aborted) throw new RunStoppedError(`run ${runId} stopped by a signal after the step in progress was committed`);
    };
    const files = await step('ingest', () => ingestInbox({ store, inbox: opts.inbox, settings, runId, asOf, logger: log, signal: opts.signal, onFile: opts.onFile, timings }));
    await stopIfAsked();
    if (files.some((f) => f.status === 'ingested')) await step('optimize', () => store.optimize());
    const { facts: deathFacts, changed: deathChanged } = await step('death_facts', () => refreshDeathFacts(db));
    const outcomes: DetectorOutcome[] = [];
    // The run's headline (run.findings / confirmed / amount_fen): what its detectors stored.
    const headline = { findings: 0, confirmed: 0, amount_fen: 0 };
    const cases: Record<string, CaseChanges> = {};
    const claimed = new Set<number>();
    const detectors = opts.detectors ?? DETECTORS;
    const fingerprint = detectionFingerprint(settings, detectors.map((d) => d.id));
    const plan = await planDetection(db, runId, fingerprint, new Set(deathChanged));
    detectionStats = plan.mode === 'full' ? { mode: 'full', reason: plan.reason } : { mode: 'incremental', since_run: plan.prevRunId };
    if (plan.mode === 'full') log.info({ step: 'detect', mode: 'full', reason: plan.reason }, `detectors compute in full: ${plan.reason}`);
    else log.info({ step: 'detect', mode: 'incremental', since: plan.sinceId, prevRun: plan.prevRunId, fresh: [...plan.freshPeriods], old: plan.oldPeriods, deathChanged: deathChanged.length }, `detectors scan what is new since run ${plan.prevRunId}`);
    // The summary tables are brought up to date in a thread of the store's while the first detectors run
    // (SQLite; src/db/summary-tables.ts refreshSummariesAhead): the person summaries when a detector reads
    // them, scheme_period for the reports.
    await refreshSummariesAhead(store, await maxPaymentId(db), { person: detectors.some((d) => d.personSummaries) });
    // Case events up to here are seen by this run's case updates; the next run looks again at chains with later ones.
    const eventsMark = Number((await db.selectFrom('case_event').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst())?.m ?? 0);
    // Claims of the previous run by the detectors before the current one (for claimChanged).
    const prevClaimed = new Set<number>();
    for (const d of detectors) {
      await stopIfAsked();
      const t = Date.now();
      const stats: DetectorStats = { examined: 0 };
      // Where the detector's time went (ms): previous findings read, detector, findings stored, cases; and the
      // process's CPU time of each (the machine may be shared: wall time alone misleads).
      const parts: Record<string, number> = {};
      const cpu: Record<string, number> = {};
      let lap = Date.now();
      let lapCpu = process.cpuUsage();
      const mark = (name: string): void => {
        const now = Date.now();
        const used = process.cpuUsage(lapCpu);
        parts[name] = now - lap;
        cpu[name] = Math.round((used.user + used.system) / 1000);
        lap = now;
        lapCpu = process.cpuUsage();
      };
      try {
        const findings: Finding[] = [];
        let incremental: DetectorIncremental | undefined;
        let previousSet: ReadonlySet<Finding> = new Set();
        if (plan.mode === 'incremental') {
          const previous = await storedFindings(db, plan.prevRunId, d.id);
          const claimChanged = new Set<number>();
          for (const p of claimed) if (!prevClaimed.has(p)) claimChanged.add(p);
          for (const p of prevClaimed) if (!claimed.has(p)) claimChanged.add(p);
          for (const f of previous) for (const p of f.paymentIds) prevClaimed.add(p);
          incremental = { ...plan, previous, claimChanged };
          previousSet = new Set(previous);
          mark('previous');
        }
        for await (const f of d.run({ db, runId, asOf, settings, logger: log.child({ detector: d.id }), stats, claimed, ...(incremental ? { incremental } : {}) })) findings.push(f);
        for (const f of findings) for (const p of f.paymentIds) claimed.add(p);
        mark('detect');
        // A finding carried forward from the previous run is copied as stored (SQL), not serialized again;
        // the order of the findings (their ids) is kept.
        const carried = new Set(findings.filter((f) => previousSet.has(f) && storedFindingId(f) !== undefined));
        await db.transaction().execute(async (trx) => {
          let i = 0;
          while (i < findings.length) {
            const copy = carried.has(findings[i]!);
            let j = i;
            while (j < findings.length && j - i < (copy ? 500 : 200) && carried.has(findings[j]!) === copy) j++;
            const part = findings.slice(i, j);
            if (copy) await copyFindings(trx, runId, part.map((f) => storedFindingId(f)!));
            else {
              await trx
                .insertInto('finding')
                .values(part.map((f) => ({
                  run_id: runId, detector: f.detector, case_key: f.caseKey, id_number: f.idNumber, name: f.name, district_code: f.districtCode,
                  scheme: f.schemes.join('+'), first_period: f.periods[0]!, last_period: f.periods.at(-1)!, months: f.periods.length,
                  amount_fen: f.amountFen, confidence: f.confidence, evidence: JSON.stringify(f.evidence),
                  periods: JSON.stringify(f.periods), payment_ids: JSON.stringify(f.paymentIds),
                })))
                .execute();
            }
            i = j;
          }
        });
        mark('store');
        // Counted as soon as they are stored: the history counts what the finding table holds for the run, even
        // when the case step below fails (the run is then recorded `failed`, with these figures on its row).
        const amountFen = findings.reduce((s, f) => s + f.amountFen, 0);
        headline.findings += findings.length;
        headline.confirmed += findings.filter((f) => f.confidence === 'confirmed').length;
        headline.amount_fen += amountFen;
        pausePoint('detect');
        const since: CarriedFindings | undefined =
          plan.mode === 'incremental' && plan.eventsMark != null
            ? { prevRunId: plan.prevRunId, carried, previousKeys: [...previousSet].map((f) => f.caseKey), eventsSince: plan.eventsMark }
            : undefined;
        cases[d.id] = await upsertCases(db, runId, d.id, findings, new Date().toISOString(), since);
        mark('cases');
        outcomes.push({ id: d.id, title: d.title, status: 'succeeded', examined: stats.examined, findings: findings.length, amountFen, ms: Date.now() - t, ...(stats.benford ? { benford: stats.benford } : {}) });
        log.info({ step: 'detect', detector: d.id, examined: stats.examined, findings: findings.length, ms: Date.now() - t, parts, cpu, cases: cases[d.id] }, `detector ${d.id} finished`);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        outcomes.push({ id: d.id, title: d.title, status: 'failed', error: msg, examined: stats.examined, findings: 0, amountFen: 0, ms: Date.now() - t });
        log.error({ step: 'detect', detector: d.id, err: e }, `detector ${d.id} failed: ${msg}`);
      }
    }
    await stopIfAsked();
    const reports = await step('reports', () => writeRunReports({ db, runId, asOf, startedAt, outDir: opts.outDir, settings, detectors: outcomes }));
    const detection: RunResult['detection'] = plan.mode === 'full' ? { mode: 'full', reason: plan.reason } : { mode: 'incremental', sinceRun: plan.prevRunId };
    // The run record keeps its snake_case key (`since_run`) as before.
    const stats = { files, deathFacts, detection: detectionStats, detectors: outcomes, cases, timings };
    const failed = outcomes.some((o) => o.status === 'failed');
    if (!failed) {
      await saveRunState(db, runId, fingerprint, plan, eventsMark);
      await pruneStates(db, runId);
    }
    await db.updateTable('run').set({ status: failed ? 'failed' : 'succeeded', ended_at: new Date().toISOString(), stats: JSON.stringify(stats), error: failed ? 'one or more detectors failed' : null, ...headline }).where('id', '=', runId).execute();
    return { runId, files, deathFacts, detectors: outcomes, cases, reports, detection };
  } catch (e) {
    if (e instanceof RunStoppedError) {
      await db.updateTable('run').set({ status: 'abandoned', ended_at: new Date().toISOString(), error: e.message, stats: JSON.stringify({ timings, ...(detectionStats ? { detection: detectionStats } : {}) }) }).where('id', '=', runId).execute();
      throw e;
    }
    await db.updateTable('run').set({ status: 'failed', ended_at: new Date().toISOString(), error: e instanceof Error ? e.message : String(e), stats: JSON.stringify({ timings, ...(detectionStats ? { detection: detectionStats } : {}) }) }).where('id', '=', runId).execute();
    throw e;
  } finally {
    await store.endRun(runId);
  }
}
