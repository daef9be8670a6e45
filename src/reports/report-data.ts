/**
 * Everything the run folder shows, read once from the store into plain objects (the sinks are pure
 * renderers of {@link RunData}). Amounts are integer fen, periods `YYYY-MM`, dates `YYYY-MM-DD`; resident
 * IDs and accounts are in full here — each sink decides what its reader may see (DOMAIN.md §6).
 */
import { sql, type Kysely } from 'kysely';
import type { Settings } from '../config/settings.ts';
import type { DB, SourceFile } from '../db/schema.ts';
import { refreshFromNewPayments, schemePeriodPairs, SCHEME_PERIOD_HIGH_WATER } from '../db/summary-tables.ts';
import { jsonFields } from '../db/json-fields.ts';

/** Per-detector outcome of a run, as recorded in the run's stats. */
export interface DetectorOutcome {
  id: string;
  title: string;
  status: 'succeeded' | 'failed';
  error?: string;
  examined: number;
  findings: number;
  amountFen: number;
  ms: number;
  /** First-digit (Benford) test per batch, when the detector ran one (amount_anomaly): a table, not cases. */
  benford?: BenfordRow[];
}

/** One batch's first-digit test (the shape src/detectors/benford.ts produces; reports cannot import detectors). */
export interface BenfordRow {
  batch: string;
  n: number;
  counts: number[];
  observed: number[];
  mad: number;
  conformity: 'close' | 'acceptable' | 'marginal' | 'nonconformity';
  chiSquare: number;
  chiSquareRejects: boolean;
}

/** One payment row a case counts (case_payment → payment); reversals have a negative amount. */
export interface CountedPayment {
  scheme: string;
  item: string;
  period: string;
  amountFen: number;
  account: string | null;
}

/** A finding of this run with its case. */
export interface ReportFinding {
  /** The case the finding feeds (latest case of its detector and key), or null when none exists. */
  caseId: number | null;
  caseStatus: string;
  detector: string;
  confidence: string;
  idNumber: string;
  name: string;
  districtCode: string;
  /** Scheme codes joined by `+`. */
  scheme: string;
  firstPeriod: string;
  lastPeriod: string;
  months: number;
  amountFen: number;
  /** Date of death used (deceased_payment), else null. */
  deathDate: string | null;
  /** Months from the death month to the last period paid (deceased_payment), else null. */
  monthsAfterDeath: number | null;
  why: string;
  /** Distinct bank accounts of the payments counted, in full. */
  accounts: string[];
}

/** A case that is still open (status other than recovered, written_off, false_positive). */
export interface OpenCase {
  id: number;
  detector: string;
  confidence: string;
  status: string;
  idNumber: string;
  name: string;
  districtCode: string;
  scheme: string;
  firstPeriod: string;
  lastPeriod: string;
  months: number;
  amountFen: number;
  deathDate: string | null;
  why: string;
  /** True when the detector no longer finds the overpayment (amount set to 0 by a later run). */
  notFound: boolean;
  accounts: string[];
  payments: CountedPayment[];
}

/** A rejected row (or whole file, line null) of a file ingested for this business date. */
export interface ReportReject {
  file: string;
  line: number | null;
  code: string;
  reason: string;
  raw: string;
}

/** Headline figures of one run (for the trend and the run index). */
export interface RunHeadline {
  runId: number;
  asOf: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  findings: number;
  confirmed: number;
  amountFen: number;
  casesOpened: number;
  filesIngested: number;
  /** Files refused whole. */
  filesRejected: number;
  rowsRejected: number;
  /** True for the run writing these reports. */
  current: boolean;
}

/** Everything the sinks render. */
export interface RunData {
  runId: number;
  asOf: string;
  startedAt: string;
  /** Outcome of this run as it will be recorded: `failed` when a detector failed. */
  status: 'succeeded' | 'failed';
  settings: Settings;
  detectors: DetectorOutcome[];
  /** This run's findings, ordered byte-wise by detector, id_number, first_period. */
  findings: ReportFinding[];
  /** All open cases, ordered by district, amount descending, case id. */
  openCases: OpenCase[];
  /** Files ingested (or rejected whole) for this business date, by any run with this as-of. */
  files: SourceFile[];
  rejects: ReportReject[];
  /**
   * Latest period with a positive payment, per scheme code, over the whole payment table (read from
   * `scheme_period`, see {@link refreshSchemePeriods}).
   */
  latestPeriodByScheme: ReadonlyMap<string, string>;
  /** Cases opened (first or follow-up) by this run. */
  casesOpened: number;
  /** Every run of this database, oldest first, this one included. */
  history: RunHeadline[];
}

/** Statuses that close a case: no work list row, no suspension request (DOMAIN.md §5). */
export const CLOSED_STATUSES: readonly string[] = ['recovered', 'written_off', 'false_positive'];

/** Input of {@link loadRunData}. */
export interface RunDataInput {
  db: Kysely<DB>;
  runId: number;
  asOf: string;
  startedAt: string;
  settings: Settings;
  detectors: DetectorOutcome[];
}

/** Byte-wise comparison of UTF-8 strings (collation- and engine-independent ordering). */
import { byteCmp } from '../byte-order.ts';
export { byteCmp };

interface EvidenceShape {
  why?: string;
  death?: { date?: string };
  months_paid_after_death?: number;
}

function parseEvidence(json: string): EvidenceShape {
  try {
    const e = JSON.parse(json) as unknown;
    return e && typeof e === 'object' ? (e as EvidenceShape) : {};
  } catch {
    return { why: json };
  }
}

/** The fields of a finding's or case's evidence JSON that the reports show (text that is not JSON is the "why"). */
function evidenceFields(json: string): { why: string; deathDate: string | null; monthsAfterDeath: number | null } {
  const ev = parseEvidence(json);
  return { why: ev.why ?? '', deathDate: ev.death?.date ?? null, monthsAfterDeath: ev.months_paid_after_death ?? null };
}

/**
 * The evidence columns of a streamed row: `evidence` is the text to parse (PostgreSQL; on SQLite only when it
 * is not valid JSON), else the fields read by the database.
 */
interface EvidenceRow {
  evidence: string | null;
  ev_why?: unknown;
  ev_death_date?: unknown;
  ev_months?: unknown;
}

/** Rows fetched per round trip when streaming findings and cases. */
const STREAM_CHUNK = 1000;

async function inChunks<T, R>(items: readonly T[], size: number, fn: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await fn(items.slice(i, i + size))));
  return out;
}

/**
 * Reads the data of the run folder.
 * @throws Error from the database
 */
export async function loadRunData(input: RunDataInput): Promise<RunData> {
  const { db, runId, asOf } = input;
  const status: RunData['status'] = input.detectors.some((d) => d.status === 'failed') ? 'failed' : 'succeeded';

  // Every case's key and status (light): the case a finding feeds is the latest of its detector and key.
  const keys = await db.selectFrom('recovery_case').select(['id', 'detector', 'case_key', 'follow_up_seq', 'status']).execute();
  const latestCase = new Map<string, { id: number; status: string }>();
  for (const c of keys.sort((a, b) => a.follow_up_seq - b.follow_up_seq || Number(a.id) - Number(b.id))) latestCase.set(`${c.detector}|${c.case_key}`, { id: Number(c.id), status: c.status });
  keys.length = 0;

  // Open cases and this run's findings, streamed: the evidence (kilobytes of JSON per row) is parsed row by
  // row and only the fields the sinks show are kept, so the whole evidence never sits in memory at once.
  // On SQLite the database reads the three fields out of the JSON (no kilobytes of text per row into JavaScript).
  const inDb = jsonFields(db, 'evidence', { why: '$.why', deathDate: '$.death.date', monthsAfterDeath: '$.months_paid_after_death' });
  const evidenceColumns = inDb
    ? [inDb.why.as('ev_why'), inDb.deathDate.as('ev_death_date'), inDb.monthsAfterDeath.as('ev_months'), inDb.invalid.as('evidence')]
    : [sql.ref<string>('evidence').as('evidence')];
  const evidenceOf = (r: EvidenceRow): ReturnType<typeof evidenceFields> =>
    r.evidence !== null ? evidenceFields(r.evidence) : { why: (r.ev_why ?? '') as string, deathDate: (r.ev_death_date ?? null) as string | null, monthsAfterDeath: (r.ev_months ?? null) as number | null };
  const openCases: OpenCase[] = [];
  const openStream = db
    .selectFrom('recovery_case')
    .select(['id', 'detector', 'confidence', 'status', 'id_number', 'name', 'district_code', 'scheme', 'first_period', 'last_period', 'months', 'amount_fen'])
    .select(evidenceColumns)
    .where('status', 'not in', [...CLOSED_STATUSES])
    .orderBy('id')
    .stream(STREAM_CHUNK);
  for await (const c of openStream) {
    const ev = evidenceOf(c as EvidenceRow);
    openCases.push({
      id: Number(c.id), detector: c.detector, confidence: c.confidence, status: c.status, idNumber: c.id_number, name: c.name, districtCode: c.district_code,
      scheme: c.scheme, firstPeriod: c.first_period, lastPeriod: c.last_period, months: Number(c.months), amountFen: Number(c.amount_fen),
      deathDate: ev.deathDate, why: ev.why, notFound: Number(c.amount_fen) === 0 && Number(c.months) === 0, accounts: [], payments: [],
    });
  }
  const findings: ReportFinding[] = [];
  const findingStream = db
    .selectFrom('finding')
    .select(['detector', 'case_key', 'confidence', 'id_number', 'name', 'district_code', 'scheme', 'first_period', 'last_period', 'months', 'amount_fen'])
    .select(evidenceColumns)
    .where('run_id', '=', runId)
    .orderBy('detector')
    .orderBy('id')
    .stream(STREAM_CHUNK);
  for await (const f of findingStream) {
    const c = latestCase.get(`${f.detector}|${f.case_key}`);
    const ev = evidenceOf(f as EvidenceRow);
    findings.push({
      caseId: c ? c.id : null, caseStatus: c?.status ?? 'new', detector: f.detector, confidence: f.confidence, idNumber: f.id_number, name: f.name,
      districtCode: f.district_code, scheme: f.scheme, firstPeriod: f.first_period, lastPeriod: f.last_period, months: Number(f.months),
      amountFen: Number(f.amount_fen), deathDate: ev.deathDate, monthsAfterDeath: ev.monthsAfterDeath, why: ev.why, accounts: [],
    });
  }
  latestCase.clear();

  // The payments the cases count (open cases and the cases of this run's findings).
  const caseIds = new Set<number>(openCases.map((c) => c.id));
  for (const f of findings) if (f.caseId !== null) caseIds.add(f.caseId);
  const paymentRows = await inChunks([...caseIds], 500, (chunk) =>
    db
      .selectFrom('case_payment as cp')
      .innerJoin('payment as p', 'p.id', 'cp.payment_id')
      .select(['cp.case_id', 'p.id', 'p.scheme', 'p.item', 'p.period', 'p.amount_fen', 'p.account'])
      .where('cp.case_id', 'in', chunk)
      .execute(),
  );
  paymentRows.sort((a, b) => Number(a.case_id) - Number(b.case_id) || Number(a.id) - Number(b.id));
  const paymentsByCase = new Map<number, CountedPayment[]>();
  for (const p of paymentRows) {
    const list = paymentsByCase.get(Number(p.case_id)) ?? [];
    list.push({ scheme: p.scheme, item: p.item, period: p.period, amountFen: Number(p.amount_fen), account: p.account && p.account.trim() !== '' ? p.account.trim() : null });
    paymentsByCase.set(Number(p.case_id), list);
  }
  paymentRows.length = 0;
  const accountsOf = (caseId: number | null): string[] =>
    caseId === null ? [] : [...new Set((paymentsByCase.get(caseId) ?? []).map((p) => p.account).filter((a): a is string => a !== null))];
  for (const f of findings) f.accounts = accountsOf(f.caseId);
  for (const c of openCases) {
    c.accounts = accountsOf(c.id);
    c.payments = paymentsByCase.get(c.id) ?? [];
  }
  findings.sort((a, b) => byteCmp(a.detector, b.detector) || byteCmp(a.idNumber, b.idNumber) || byteCmp(a.firstPeriod, b.firstPeriod));
  openCases.sort((a, b) => byteCmp(a.districtCode, b.districtCode) || b.amountFen - a.amountFen || a.id - b.id);

  // Files ingested for this business date (any run with this as-of), and their rejects.
  const runs = await db.selectFrom('run').selectAll().orderBy('id').execute();
  const runIds = runs.filter((r) => r.as_of === asOf).map((r) => Number(r.id));
  if (!runIds.includes(runId)) runIds.push(runId);
  const files = await db.selectFrom('source_file').selectAll().where('run_id', 'in', runIds).orderBy('id').execute();
  const pathById = new Map(files.map((f) => [Number(f.id), f.path]));
  const rejectRows = await inChunks(files.map((f) => Number(f.id)), 500, (chunk) =>
    db.selectFrom('reject').selectAll().where('file_id', 'in', chunk).execute(),
  );
  rejectRows.sort((a, b) => Number(a.file_id) - Number(b.file_id) || a.line - b.line || Number(a.id) - Number(b.id));
  const rejects: ReportReject[] = [
    ...files.filter((f) => f.status === 'rejected').map((f) => ({ file: f.path, line: null, code: f.error_code ?? 'FILE_REJECTED', reason: f.error ?? '', raw: '' })),
    ...rejectRows.map((r) => ({ file: pathById.get(Number(r.file_id)) ?? '', line: r.line, code: r.code, reason: r.reason, raw: r.raw })),
  ];

  await refreshSchemePeriods(db);
  const latest = await db
    .selectFrom('scheme_period')
    .select(['scheme', (eb) => eb.fn.max('period').as('period')])
    .groupBy('scheme')
    .execute();
  const latestPeriodByScheme = new Map(latest.filter((r) => r.period !== null).map((r) => [r.scheme, String(r.period)]));

  const history = await loadHistory(db, runs, runId, status, findings);
  const casesOpened = history.find((h) => h.current)!.casesOpened;

  return {
    runId, asOf, startedAt: input.startedAt, status, settings: input.settings, detectors: input.detectors,
    findings, openCases, files, rejects, latestPeriodByScheme, casesOpened, history,
  };
}

/**
 * Brings `scheme_period` (the periods with a positive payment, per scheme) up to every stored payment: adds
 * the (scheme, period) pairs of the positive rows stored since its high-water mark (payment ids only grow
 * and payments are never deleted, so nothing else can change), set-based, then moves the mark — one
 * transaction. When the mark is missing the table is rebuilt from every payment. The latest period per
 * scheme is then `MAX(period)` of this table: the same as `SELECT scheme, MAX(period) FROM payment WHERE
 * amount_fen > 0 GROUP BY scheme`, also after a late file of an old period or a reversal (amount ≤ 0).
 */
export async function refreshSchemePeriods(db: Kysely<DB>): Promise<void> {
  await refreshFromNewPayments(db, 'scheme_period', SCHEME_PERIOD_HIGH_WATER, async (trx, since, until) => {
    await trx
      .insertInto('scheme_period')
      .columns(['scheme', 'period'])
      .expression(schemePeriodPairs(trx, since, until))
      .onConflict((oc) => oc.columns(['scheme', 'period']).doNothing())
      .execute();
  });
}

/**
 * The headline of every run. A run that ended has its findings, confirmed findings and amount on its row
 * (migration 0011); only the runs without them (one that stopped on an error or a signal) have their findings
 * counted, by run id — the `finding` table holds every run's findings and is never read whole. Cases opened
 * are the `opened` events of each run, read through their own partial index (one entry a case).
 */
async function loadHistory(
  db: Kysely<DB>,
  runs: { id: number; as_of: string; status: string; started_at: string; ended_at: string | null; findings: number | null; confirmed: number | null; amount_fen: number | string | null }[],
  runId: number,
  status: string,
  findings: readonly ReportFinding[],
): Promise<RunHeadline[]> {
  const unknown = runs.filter((r) => Number(r.id) !== runId && r.findings === null).map((r) => Number(r.id));
  const byRun = await inChunks(unknown, 500, (chunk) =>
    db
      .selectFrom('finding')
      .select(['run_id', 'confidence', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.sum<number>('amount_fen').as('fen')])
      .where('run_id', 'in', chunk)
      .groupBy(['run_id', 'confidence'])
      .execute(),
  );
  const opened = await db
    .selectFrom('case_event')
    .select(['run_id', (eb) => eb.fn.countAll<number>().as('n')])
    .where('kind', '=', 'opened')
    .groupBy('run_id')
    .execute();
  const filesByRun = await db
    .selectFrom('source_file')
    .select(['run_id', 'status', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.sum<number>('rows_rejected').as('rejected')])
    .groupBy(['run_id', 'status'])
    .execute();
  const head = new Map<number, RunHeadline>();
  for (const r of runs) {
    const id = Number(r.id);
    head.set(id, {
      runId: id, asOf: r.as_of, status: id === runId ? status : r.status, startedAt: r.started_at, endedAt: r.ended_at,
      findings: Number(r.findings ?? 0), confirmed: Number(r.confirmed ?? 0), amountFen: Number(r.amount_fen ?? 0), casesOpened: 0, filesIngested: 0, filesRejected: 0, rowsRejected: 0, current: id === runId,
    });
  }
  for (const f of byRun) {
    const h = head.get(Number(f.run_id));
    if (!h || h.current) continue;
    h.findings += Number(f.n);
    h.amountFen += Number(f.fen ?? 0);
    if (f.confidence === 'confirmed') h.confirmed += Number(f.n);
  }
  const cur = head.get(runId);
  if (cur) {
    cur.findings = findings.length;
    cur.confirmed = findings.filter((f) => f.confidence === 'confirmed').length;
    cur.amountFen = findings.reduce((s, f) => s + f.amountFen, 0);
  }
  for (const o of opened) {
    const h = o.run_id === null ? undefined : head.get(Number(o.run_id));
    if (h) h.casesOpened = Number(o.n);
  }
  for (const f of filesByRun) {
    const h = head.get(Number(f.run_id));
    if (!h) continue;
    if (f.status === 'ingested') h.filesIngested += Number(f.n);
    else if (f.status === 'rejected') h.filesRejected += Number(f.n);
    h.rowsRejected += Number(f.rejected ?? 0);
  }
  return [...head.values()].sort((a, b) => a.runId - b.runId);
}

/**
 * The trend across runs: per business date, the latest run that succeeded (or this run), ordered by date.
 * Failed and abandoned runs are left out (their findings may be partial).
 */
export function trendPoints(history: readonly RunHeadline[]): RunHeadline[] {
  const byDate = new Map<string, RunHeadline>();
  for (const h of history) {
    if (!h.current && h.status !== 'succeeded') continue;
    const prev = byDate.get(h.asOf);
    if (!prev || (!prev.current && (h.current || h.runId > prev.runId))) byDate.set(h.asOf, h);
  }
  return [...byDate.values()].sort((a, b) => byteCmp(a.asOf, b.asOf));
}
