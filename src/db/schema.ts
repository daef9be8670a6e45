/**
 * Table types of the fundguard database, as kysely sees them. Conventions (DOMAIN.md, STYLE.md §12):
 * money columns end in `_fen` and hold integer fen; `period` columns hold `YYYY-MM`; `*_date` / `*_on`
 * columns hold `YYYY-MM-DD` text; `*_at` columns hold ISO-8601 UTC instants; booleans are 0/1 integers;
 * `evidence`, `stats`, `sources`, `data` hold JSON text.
 */
import type { Generated, Insertable, Selectable } from 'kysely';

export interface RunTable {
  id: Generated<number>;
  /** Business date of the run, `YYYY-MM-DD`. */
  as_of: string;
  started_at: string;
  ended_at: string | null;
  /** `running` | `succeeded` | `failed` | `abandoned` */
  status: string;
  host: string;
  pid: number;
  /** JSON: per-step counts and timings. */
  stats: string;
  error: string | null;
  /** Findings the run stored, those `confirmed`, and their amount in fen; null until the run ends (a run that stopped on an error or a signal keeps null). */
  findings: number | null;
  confirmed: number | null;
  amount_fen: number | null;
}

export interface SourceFileTable {
  id: Generated<number>;
  /** Path relative to the inbox, `/`-separated. */
  path: string;
  sha256: string;
  size: number;
  mtime_ms: number;
  /** `payments` | `deaths` */
  kind: string;
  /** Death-record source (`civil-affairs`, `public-security`, `health`, ...) or `payments`. */
  source: string;
  /** `csv` | `xlsx` */
  format: string;
  encoding: string | null;
  /** `ingested` | `rejected` (the whole file was refused; see `error`) */
  status: string;
  /** Whole-file reject code (ENCODING_INVALID, HEADER_NOT_FOUND, ...) when status is `rejected`. */
  error_code: string | null;
  error: string | null;
  /** Fingerprint of the settings (header aliases) the file was read with; a rejected file is retried when it changes. */
  layout_key: string;
  header_line: number | null;
  rows_read: number;
  rows_accepted: number;
  rows_rejected: number;
  rows_skipped: number;
  /** Accepted rows that repeat a payment already stored (overlapping extracts): a subset of rows_accepted. */
  rows_repeated: number;
  /** Earliest date of death rejected as future (DEATH_DATE_FUTURE): the file is re-read once the business date reaches it. */
  recheck_from: string | null;
  /**
   * The reading that replaced this one (a death file read again once the business date reached the dates it
   * rejected as future); null for the current reading. A superseded reading keeps its row and rejected rows
   * as the history of its run; its death records are gone (the new reading holds them). Migration 0012.
   */
  superseded_by: number | null;
  run_id: number;
  ingested_at: string;
}

export interface PaymentTable {
  id: Generated<number>;
  file_id: number;
  line: number;
  person_no: string | null;
  /** Normalised 18-character resident ID. */
  id_number: string;
  id_raw: string;
  /** 1 when the check character passes (GB 11643-1999). */
  id_valid: number;
  name: string;
  sex: string | null;
  /** Benefit scheme code: 110, 120, 170, 210, 410. */
  scheme: string;
  /** Benefit item code from seeds/items.json, or the item name as written when unknown. */
  item: string;
  item_raw: string;
  period: string;
  amount_fen: number;
  paid_on: string | null;
  account: string | null;
  bank: string | null;
  agency: string | null;
  /** First 6 digits of the agency code. */
  district_code: string | null;
  batch: string;
}

export interface DeathRecordTable {
  id: Generated<number>;
  file_id: number;
  line: number;
  source: string;
  id_number: string;
  id_raw: string;
  id_valid: number;
  name: string | null;
  sex: string | null;
  birth_date: string | null;
  death_date: string | null;
  cremation_date: string | null;
  cancel_date: string | null;
  cancel_reason: string | null;
  /** 1 when the record reports a death (a public-security cancellation only when the reason is 死亡). */
  is_death: number;
}

export interface DeathFactTable {
  /** Normalised, valid resident ID. */
  id_number: string;
  death_date: string;
  death_month: string;
  /** Source of the date used (the most authoritative one reporting). */
  source: string;
  name: string | null;
  sex: string | null;
  birth_date: string | null;
  /** JSON array of { source, death_date, name, file, line } for every record of this person. */
  sources: string;
  /** 1 when sources disagree on the month of death. */
  month_disagreement: number;
}

export interface RejectTable {
  id: Generated<number>;
  file_id: number;
  line: number;
  code: string;
  reason: string;
  raw: string;
}

export interface FindingTable {
  id: Generated<number>;
  run_id: number;
  detector: string;
  case_key: string;
  id_number: string;
  name: string;
  district_code: string;
  scheme: string;
  first_period: string;
  last_period: string;
  months: number;
  amount_fen: number;
  confidence: string;
  evidence: string;
  /** JSON array of the finding's periods (`YYYY-MM`, sorted); null on findings stored before migration 0005. */
  periods: string | null;
  /** JSON array of the payment ids the finding counts (its claims); null before migration 0005. */
  payment_ids: string | null;
}

/** Small per-run facts of the detectors, compared by the next run to find what changed (src/detectors/scope.ts). */
export interface DetectorStateTable {
  /** The run that recorded it; 0 for state that is not per run (a derived table's high-water mark). */
  run_id: number;
  /** Detector id, or `_run` for the run's own scope facts. */
  detector: string;
  key: string;
  value: string;
}

/** Count, min and max of the positive payments of one (person, scheme, item): amount_anomaly's prefilter. */
export interface PaymentGroupStatsTable {
  id_number: string;
  scheme: string;
  item: string;
  n: number;
  min_fen: number;
  max_fen: number;
}

/**
 * One (bank account, resident ID) pair of the stored payments with a non-empty account (migration 0006):
 * shared_account's prefilter, kept up to date with the new rows.
 */
export interface AccountPersonTable {
  account: string;
  id_number: string;
}

/**
 * The periods (`YYYY-MM`) in which a scheme has at least one positive payment (migration 0007): the reports'
 * "latest period per scheme" without scanning every payment. Rows are only ever added (payments are never
 * deleted); kept up to date from the rows above its high-water mark (src/reports/report-data.ts).
 */
export interface SchemePeriodTable {
  scheme: string;
  period: string;
}

export interface RecoveryCaseTable {
  id: Generated<number>;
  detector: string;
  case_key: string;
  /** 0 for the first case of a key; n for the n-th follow-up opened after a final case. */
  follow_up_seq: number;
  follow_up_of: number | null;
  status: string;
  confidence: string;
  id_number: string;
  name: string;
  district_code: string;
  scheme: string;
  first_period: string;
  last_period: string;
  months: number;
  amount_fen: number;
  evidence: string;
  /** Hash of the evidence that decided the case (a false positive is not recreated from the same evidence). */
  fingerprint: string;
  assignee: string | null;
  created_run_id: number;
  updated_run_id: number;
  created_at: string;
  updated_at: string;
}

export interface CasePaymentTable {
  case_id: number;
  payment_id: number;
}

export interface CaseEventTable {
  id: Generated<number>;
  case_id: number;
  at: string;
  actor: string;
  kind: string;
  from_status: string | null;
  to_status: string | null;
  reason: string | null;
  data: string | null;
  run_id: number | null;
  /** Second person who approved the change (false_positive, written_off need one; never the actor). */
  approved_by: string | null;
  /** Optional reference to the evidence behind the change (document number, file, letter). */
  evidence_ref: string | null;
}

/**
 * One money movement of a case (append-only). `amount_fen` is signed: a repayment is positive, a refund
 * of an over-recovery and a void (cancelling entry `voids_entry_id`) are negative; recovered = the sum.
 */
export interface LedgerEntryTable {
  id: Generated<number>;
  case_id: number;
  /** `repayment` | `refund` | `void` */
  kind: string;
  amount_fen: number;
  /** `bank_return` | `heir_repayment` | `offset` for a repayment (null for a refund or a void). */
  channel: string | null;
  /** Date the money moved, `YYYY-MM-DD` (for a void: the date of the voided entry). */
  paid_on: string;
  actor: string;
  recorded_at: string;
  reason: string | null;
  voids_entry_id: number | null;
  /** `cli` | `feedback` */
  source: string;
  import_id: number | null;
}

/** One applied work-list import (`fundguard feedback import`). */
export interface FeedbackImportTable {
  id: Generated<number>;
  file_name: string;
  sha256: string;
  actor: string;
  approved_by: string | null;
  imported_at: string;
  rows_read: number;
  rows_applied: number;
  rows_unchanged: number;
  rows_skipped: number;
  rows_ignored: number;
}

/** One applied work-list row; `row_key` is the fingerprint of its feedback (case and columns O–R). */
export interface FeedbackRowTable {
  row_key: string;
  import_id: number;
  case_id: number;
  line: number;
}

export interface DB {
  run: RunTable;
  source_file: SourceFileTable;
  payment: PaymentTable;
  death_record: DeathRecordTable;
  death_fact: DeathFactTable;
  reject: RejectTable;
  finding: FindingTable;
  recovery_case: RecoveryCaseTable;
  case_payment: CasePaymentTable;
  case_event: CaseEventTable;
  ledger_entry: LedgerEntryTable;
  feedback_import: FeedbackImportTable;
  feedback_row: FeedbackRowTable;
  detector_state: DetectorStateTable;
  payment_group_stats: PaymentGroupStatsTable;
  account_person: AccountPersonTable;
  scheme_period: SchemePeriodTable;
}

export type NewPayment = Omit<Insertable<PaymentTable>, 'id' | 'file_id'>;
export type NewDeathRecord = Omit<Insertable<DeathRecordTable>, 'id' | 'file_id'>;
export type NewReject = Omit<Insertable<RejectTable>, 'id' | 'file_id'>;
export type SourceFile = Selectable<SourceFileTable>;
export type RecoveryCase = Selectable<RecoveryCaseTable>;
export type Run = Selectable<RunTable>;
export type CaseEvent = Selectable<CaseEventTable>;
export type LedgerEntry = Selectable<LedgerEntryTable>;
