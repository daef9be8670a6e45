/**
 * Schema migrations, applied with kysely's Migrator (in order of their names). Migrations are the one place
 * besides the connection where the engine matters (auto-increment keys), so they live in `src/db/`.
 */
import { Kysely, Migrator, sql, type CreateTableBuilder, type Migration, type MigrationProvider } from 'kysely';
import type { Engine } from './connection.ts';
import { SCHEME_PERIOD_HIGH_WATER, setHighWater } from './summary-tables.ts';

type AnyDb = Kysely<any>;

function idColumn<T extends string>(t: CreateTableBuilder<T, any>, engine: Engine): CreateTableBuilder<T, any> {
  return engine === 'postgres'
    ? t.addColumn('id', 'bigserial', (c) => c.primaryKey())
    : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

function initial(engine: Engine): Migration {
  return {
    async up(db: AnyDb) {
      await idColumn(db.schema.createTable('run'), engine)
        .addColumn('as_of', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('stats', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('error', 'text')
        .execute();

      await idColumn(db.schema.createTable('source_file'), engine)
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('mtime_ms', 'bigint', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('encoding', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('error', 'text')
        .addColumn('layout_key', 'text', (c) => c.notNull())
        .addColumn('header_line', 'integer')
        .addColumn('rows_read', 'integer', (c) => c.notNull())
        .addColumn('rows_accepted', 'integer', (c) => c.notNull())
        .addColumn('rows_rejected', 'integer', (c) => c.notNull())
        .addColumn('rows_skipped', 'integer', (c) => c.notNull())
        .addColumn('rows_repeated', 'integer', (c) => c.notNull())
        .addColumn('run_id', 'bigint', (c) => c.notNull())
        .addColumn('ingested_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('source_file_sha256').on('source_file').column('sha256').execute();
      await db.schema.createIndex('source_file_path').on('source_file').column('path').execute();

      await idColumn(db.schema.createTable('payment'), engine)
        .addColumn('file_id', 'bigint', (c) => c.notNull())
        .addColumn('line', 'integer', (c) => c.notNull())
        .addColumn('person_no', 'text')
        .addColumn('id_number', 'text', (c) => c.notNull())
        .addColumn('id_raw', 'text', (c) => c.notNull())
        .addColumn('id_valid', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('sex', 'text')
        .addColumn('scheme', 'text', (c) => c.notNull())
        .addColumn('item', 'text', (c) => c.notNull())
        .addColumn('item_raw', 'text', (c) => c.notNull())
        .addColumn('period', 'text', (c) => c.notNull())
        .addColumn('amount_fen', 'bigint', (c) => c.notNull())
        .addColumn('paid_on', 'text')
        .addColumn('account', 'text')
        .addColumn('bank', 'text')
        .addColumn('agency', 'text')
        .addColumn('district_code', 'text')
        .addColumn('batch', 'text', (c) => c.notNull())
        .execute();
      // The natural key of a payment (DOMAIN.md §2): the same record in two extracts is one payment.
      await db.schema
        .createIndex('payment_natural_key')
        .on('payment')
        .columns(['batch', 'id_number', 'scheme', 'item', 'period'])
        .unique()
        .execute();
      await db.schema.createIndex('payment_person_period').on('payment').columns(['id_number', 'period']).execute();

      await idColumn(db.schema.createTable('death_record'), engine)
        .addColumn('file_id', 'bigint', (c) => c.notNull())
        .addColumn('line', 'integer', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('id_number', 'text', (c) => c.notNull())
        .addColumn('id_raw', 'text', (c) => c.notNull())
        .addColumn('id_valid', 'integer', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('sex', 'text')
        .addColumn('birth_date', 'text')
        .addColumn('death_date', 'text')
        .addColumn('cremation_date', 'text')
        .addColumn('cancel_date', 'text')
        .addColumn('cancel_reason', 'text')
        .addColumn('is_death', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('death_record_id_number').on('death_record').column('id_number').execute();

      await db.schema
        .createTable('death_fact')
        .addColumn('id_number', 'text', (c) => c.primaryKey())
        .addColumn('death_date', 'text', (c) => c.notNull())
        .addColumn('death_month', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('sex', 'text')
        .addColumn('birth_date', 'text')
        .addColumn('sources', 'text', (c) => c.notNull())
        .addColumn('month_disagreement', 'integer', (c) => c.notNull())
        .execute();

      await idColumn(db.schema.createTable('reject'), engine)
        .addColumn('file_id', 'bigint', (c) => c.notNull())
        .addColumn('line', 'integer', (c) => c.notNull())
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('raw', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('reject_file').on('reject').columns(['file_id', 'line']).execute();

      await idColumn(db.schema.createTable('finding'), engine)
        .addColumn('run_id', 'bigint', (c) => c.notNull())
        .addColumn('detector', 'text', (c) => c.notNull())
        .addColumn('case_key', 'text', (c) => c.notNull())
        .addColumn('id_number', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('district_code', 'text', (c) => c.notNull())
        .addColumn('scheme', 'text', (c) => c.notNull())
        .addColumn('first_period', 'text', (c) => c.notNull())
        .addColumn('last_period', 'text', (c) => c.notNull())
        .addColumn('months', 'integer', (c) => c.notNull())
        .addColumn('amount_fen', 'bigint', (c) => c.notNull())
        .addColumn('confidence', 'text', (c) => c.notNull())
        .addColumn('evidence', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('finding_run').on('finding').columns(['run_id', 'detector']).execute();

      await idColumn(db.schema.createTable('recovery_case'), engine)
        .addColumn('detector', 'text', (c) => c.notNull())
        .addColumn('case_key', 'text', (c) => c.notNull())
        .addColumn('follow_up_seq', 'integer', (c) => c.notNull())
        .addColumn('follow_up_of', 'bigint')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('confidence', 'text', (c) => c.notNull())
        .addColumn('id_number', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('district_code', 'text', (c) => c.notNull())
        .addColumn('scheme', 'text', (c) => c.notNull())
        .addColumn('first_period', 'text', (c) => c.notNull())
        .addColumn('last_period', 'text', (c) => c.notNull())
        .addColumn('months', 'integer', (c) => c.notNull())
        .addColumn('amount_fen', 'bigint', (c) => c.notNull())
        .addColumn('evidence', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('assignee', 'text')
        .addColumn('created_run_id', 'bigint', (c) => c.notNull())
        .addColumn('updated_run_id', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('recovery_case_key')
        .on('recovery_case')
        .columns(['detector', 'case_key', 'follow_up_seq'])
        .unique()
        .execute();

      await db.schema
        .createTable('case_payment')
        .addColumn('case_id', 'bigint', (c) => c.notNull())
        .addColumn('payment_id', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('case_payment_pk', ['case_id', 'payment_id'])
        .execute();
      await db.schema.createIndex('case_payment_payment').on('case_payment').column('payment_id').execute();

      await idColumn(db.schema.createTable('case_event'), engine)
        .addColumn('case_id', 'bigint', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('from_status', 'text')
        .addColumn('to_status', 'text')
        .addColumn('reason', 'text')
        .addColumn('data', 'text')
        .addColumn('run_id', 'bigint')
        .execute();
      await db.schema.createIndex('case_event_case').on('case_event').column('case_id').execute();
    },
    async down(db: AnyDb) {
      for (const t of ['case_event', 'case_payment', 'recovery_case', 'finding', 'reject', 'death_fact', 'death_record', 'payment', 'source_file', 'run']) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  };
}

/**
 * The recovery ledger, the feedback import and the audit columns of case events (DOMAIN.md §5):
 * - `case_event` gains `approved_by` (second person for false_positive / written_off) and `evidence_ref`;
 * - `ledger_entry` — append-only money movements of a case: repayments (positive), refunds of an
 *   over-recovery and voids of an entry recorded in error (negative); a void names the entry it cancels
 *   (unique, so an entry is voided at most once);
 * - `feedback_import` / `feedback_row` — one row per applied work-list import and one per applied work-list
 *   row (its content fingerprint is the primary key, so the same feedback is never applied twice).
 */
function casesLedger(engine: Engine): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema.alterTable('case_event').addColumn('approved_by', 'text').execute();
      await db.schema.alterTable('case_event').addColumn('evidence_ref', 'text').execute();

      await idColumn(db.schema.createTable('ledger_entry'), engine)
        .addColumn('case_id', 'bigint', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('amount_fen', 'bigint', (c) => c.notNull())
        .addColumn('channel', 'text')
        .addColumn('paid_on', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('voids_entry_id', 'bigint')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('import_id', 'bigint')
        .execute();
      await db.schema.createIndex('ledger_entry_case').on('ledger_entry').column('case_id').execute();
      await db.schema.createIndex('ledger_entry_voids').on('ledger_entry').column('voids_entry_id').unique().execute();

      await idColumn(db.schema.createTable('feedback_import'), engine)
        .addColumn('file_name', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('approved_by', 'text')
        .addColumn('imported_at', 'text', (c) => c.notNull())
        .addColumn('rows_read', 'integer', (c) => c.notNull())
        .addColumn('rows_applied', 'integer', (c) => c.notNull())
        .addColumn('rows_unchanged', 'integer', (c) => c.notNull())
        .addColumn('rows_skipped', 'integer', (c) => c.notNull())
        .addColumn('rows_ignored', 'integer', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('feedback_row')
        .addColumn('row_key', 'text', (c) => c.primaryKey())
        .addColumn('import_id', 'bigint', (c) => c.notNull())
        .addColumn('case_id', 'bigint', (c) => c.notNull())
        .addColumn('line', 'integer', (c) => c.notNull())
        .execute();
    },
    async down(db: AnyDb) {
      for (const t of ['feedback_row', 'feedback_import', 'ledger_entry']) await db.schema.dropTable(t).ifExists().execute();
      await db.schema.alterTable('case_event').dropColumn('evidence_ref').execute();
      await db.schema.alterTable('case_event').dropColumn('approved_by').execute();
    },
  };
}

/** `source_file.recheck_from`: death files re-read once the business date reaches a rejected future date of death. */
const sourceFileRecheck: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('source_file').addColumn('recheck_from', 'text').execute();
  },
  async down(db: AnyDb) {
    await db.schema.alterTable('source_file').dropColumn('recheck_from').execute();
  },
};

/**
 * What incremental detection needs (issue 10: a nightly run scans only what is new):
 * - `finding.periods` / `finding.payment_ids` (JSON arrays): a finding is stored whole, so a later run can
 *   carry it forward unchanged and know which payments it claimed (DOMAIN.md §4 "one payment, one claim");
 * - `detector_state` (run_id, detector, key, value): small per-run facts a detector compares against the
 *   next run — the settings fingerprint, the payment high-water mark, the periods stored, the link verdict
 *   fingerprints of deceased_payment, the peer statistics of amount_anomaly's own-history outliers;
 * - `payment_group_stats`: count, min and max of the positive payments per (person, scheme, item), kept up
 *   to date set-based with the new rows (its own high-water mark is a `detector_state` row of run 0), so
 *   amount_anomaly finds the groups that can hold an outlier without scanning every payment.
 * No index on `payment` is added: measured on the 250,000-recipient bench store (3.4 M rows), an index on
 * (account, period, id_number, amount_fen) cost 15 µs of CPU per inserted row (6.8 s instead of 3.0 s per
 * month of 243,000 rows) and one on (account) alone 8 µs — more than the detector time it saves.
 */
const detectorScope: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('finding').addColumn('periods', 'text').execute();
    await db.schema.alterTable('finding').addColumn('payment_ids', 'text').execute();
    await db.schema
      .createTable('detector_state')
      .addColumn('run_id', 'bigint', (c) => c.notNull())
      .addColumn('detector', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('detector_state_pk', ['run_id', 'detector', 'key'])
      .execute();
    await db.schema
      .createTable('payment_group_stats')
      .addColumn('id_number', 'text', (c) => c.notNull())
      .addColumn('scheme', 'text', (c) => c.notNull())
      .addColumn('item', 'text', (c) => c.notNull())
      .addColumn('n', 'bigint', (c) => c.notNull())
      .addColumn('min_fen', 'bigint', (c) => c.notNull())
      .addColumn('max_fen', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('payment_group_stats_pk', ['id_number', 'scheme', 'item'])
      .execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropTable('payment_group_stats').ifExists().execute();
    await db.schema.dropTable('detector_state').ifExists().execute();
    await db.schema.alterTable('finding').dropColumn('payment_ids').execute();
    await db.schema.alterTable('finding').dropColumn('periods').execute();
  },
};

/**
 * `account_person` (account, id_number): every (bank account, resident ID) pair of the stored payments with a
 * non-empty account — about one row per recipient — so that shared_account finds the accounts paid for
 * several people with one GROUP BY over this small table instead of over every payment (issue 10, city
 * scale). The detector keeps it up to date set-based with the rows stored since its high-water mark (a
 * `detector_state` row of run 0, detector `shared_account`, key `account_person_high_water`); this migration
 * fills it from the payments already stored and records that mark, so a store created before it needs no
 * rebuild. No index on `payment` is added (see migration 0005).
 */
const accountPerson: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('account_person')
      .addColumn('account', 'text', (c) => c.notNull())
      .addColumn('id_number', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('account_person_pk', ['account', 'id_number'])
      .execute();
    const max = await db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
    const untilId = max?.m == null ? 0 : Number(max.m);
    await db
      .insertInto('account_person')
      .columns(['account', 'id_number'])
      .expression(db.selectFrom('payment').select(['account', 'id_number']).where('account', 'is not', null).where('account', '<>', '').where('id', '<=', untilId))
      .onConflict((oc) => oc.columns(['account', 'id_number']).doNothing())
      .execute();
    // The mark the detector reads (src/detectors/shared-account.ts ACCOUNT_PERSON_HIGH_WATER).
    await setHighWater(db, { detector: 'shared_account', key: 'account_person_high_water' }, untilId);
  },
  async down(db: AnyDb) {
    await db.deleteFrom('detector_state').where('run_id', '=', 0).where('detector', '=', 'shared_account').where('key', '=', 'account_person_high_water').execute();
    await db.schema.dropTable('account_person').ifExists().execute();
  },
};


/**
 * Removes the last two scans of every payment row from each nightly run (issue 10):
 * - `payment_invalid_id`: a partial index `payment (id_number) WHERE id_valid = 0`, so the link stage reads
 *   the payments whose ID fails its check character without a full scan. Invalid IDs are rare, so rows
 *   with a valid ID cost no index entry (measured: inserting 250,000 payment rows, one in 1,000 with an invalid
 *   ID, took 2.8–3.0 µs of CPU per row with the index and 3.0–3.4 without — no difference beyond noise);
 * - `scheme_period` (scheme, period): the periods with a positive payment per scheme, so the reports' latest
 *   period per scheme reads a tiny table. Backfilled here from the stored payments, with its high-water mark
 *   (a `detector_state` row of run 0) set to the highest payment id; each run adds the periods of the rows
 *   above the mark (src/reports/report-data.ts).
 */
const linkReportScans: Migration = {
  async up(db: AnyDb) {
    await db.schema.createIndex('payment_invalid_id').on('payment').column('id_number').where(sql.ref('id_valid'), '=', 0).execute();
    await db.schema
      .createTable('scheme_period')
      .addColumn('scheme', 'text', (c) => c.notNull())
      .addColumn('period', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('scheme_period_pk', ['scheme', 'period'])
      .execute();
    const top = await db.selectFrom('payment').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
    const until = top?.m == null ? 0 : Number(top.m);
    await db
      .insertInto('scheme_period')
      .columns(['scheme', 'period'])
      .expression(db.selectFrom('payment').select(['scheme', 'period']).where('amount_fen', '>', 0).where('id', '<=', until).groupBy(['scheme', 'period']))
      .execute();
    await setHighWater(db, SCHEME_PERIOD_HIGH_WATER, until);
  },
  async down(db: AnyDb) {
    await db.deleteFrom('detector_state').where('run_id', '=', 0).where('detector', '=', SCHEME_PERIOD_HIGH_WATER.detector).where('key', '=', SCHEME_PERIOD_HIGH_WATER.key).execute();
    await db.schema.dropTable('scheme_period').ifExists().execute();
    await db.schema.dropIndex('payment_invalid_id').ifExists().execute();
  },
};

/**
 * One index for the payment natural key and the (person, period) lookups (issue 10): the unique natural key
 * (DOMAIN.md §2: batch, resident ID, scheme, item, period) is rebuilt with its columns in the order
 * (id_number, period, scheme, item, batch), so that its prefix serves every lookup by person or by
 * (person, period) that `payment_person_period` (id_number, period) served — that index is dropped. Uniqueness
 * is the same set of columns, so `ON CONFLICT` targets and duplicate outcomes do not change. Each payment row
 * then costs one secondary-index entry fewer: the first load builds two indexes instead of three, and a new
 * month's rows are inserted into one large index instead of two (both in random order).
 */
const paymentKeyOrder: Migration = {
  async up(db: AnyDb) {
    await db.schema.dropIndex('payment_natural_key').execute();
    await db.schema.dropIndex('payment_person_period').execute();
    await db.schema
      .createIndex('payment_natural_key')
      .on('payment')
      .columns(['id_number', 'period', 'scheme', 'item', 'batch'])
      .unique()
      .execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropIndex('payment_natural_key').execute();
    await db.schema.createIndex('payment_natural_key').on('payment').columns(['batch', 'id_number', 'scheme', 'item', 'period']).unique().execute();
    await db.schema.createIndex('payment_person_period').on('payment').columns(['id_number', 'period']).execute();
  },
};

/**
 * SQLite only: the payment natural key is ordered by period first — (period, id_number, scheme, item, batch) —
 * so that a new month's rows are appended at the end of the index instead of inserted at random places
 * through it (issue 10). Measured on the 1M-recipient bench store (12.7 M rows, index 833 MiB, 128 MiB page
 * cache), inserting one month of 980 k rows took 37.9 s (21.4 s user, 14.9 s system, 1.1 GiB written to the
 * WAL) with (id_number, period, …) and 9.1 s (7.3 user, 1.4 system, 0.27 GiB) with (period, id_number, …); an
 * extra narrow index on id_number alone cost 32 s again, so lookups by person use this index too: SQLite reads
 * `id_number = ?` and `id_number IN (…)` through it with a skip-scan (one seek per stored period), which the
 * planner chooses only with statistics — the store writes them itself after each load
 * (`writePaymentKeyStats` in src/db/sqlite.ts). Uniqueness is the same set of columns, so `ON CONFLICT` targets
 * and duplicate outcomes do not change.
 *
 * PostgreSQL keeps (id_number, period, …): it has no skip-scan before version 18, and loads a new month through
 * a staging table (src/db/postgres.ts).
 */
function paymentKeyByPeriod(engine: Engine): Migration {
  const rebuild = async (db: AnyDb, columns: string[]): Promise<void> => {
    if (engine !== 'sqlite') return;
    await db.schema.dropIndex('payment_natural_key').execute();
    await db.schema.createIndex('payment_natural_key').on('payment').columns(columns).unique().execute();
  };
  return {
    up: (db) => rebuild(db, ['period', 'id_number', 'scheme', 'item', 'batch']),
    down: (db) => rebuild(db, ['id_number', 'period', 'scheme', 'item', 'batch']),
  };
}

/**
 * SQLite only: the payment table's key is a plain rowid (`INTEGER PRIMARY KEY`) instead of `AUTOINCREMENT`
 * (issue 10). With AUTOINCREMENT, SQLite reads and rewrites the table's `sqlite_sequence` row at the end of
 * every INSERT statement, and payments are inserted one statement a row: inserting 1 M bench rows took
 * 3.4–4.7 s with it and 2.6–2.9 s without (three pairs, bench-out microbenchmark, 16 KiB pages).
 *
 * Ids still only grow: without AUTOINCREMENT a new row gets max(id) + 1, so an id could come back only after
 * the row with the largest id was deleted. Payments are deleted in one place, the duplicate resolution at the
 * end of a first load (src/db/sqlite.ts), inside the load's own transaction and before any run has recorded a
 * high-water mark above them (src/detectors/scope.ts), so no id a run has seen is ever given again.
 *
 * The table is rebuilt only while it is empty (a new store, or one that never loaded payments): rebuilding a
 * loaded store's table would copy gigabytes inside a migration. A store that already holds payments keeps
 * AUTOINCREMENT and works as before; the README says how to rebuild it (a fresh store and a first run).
 */
function paymentPlainRowid(engine: Engine): Migration {
  const rebuild = async (db: AnyDb, from: RegExp, to: string): Promise<void> => {
    if (engine !== 'sqlite') return;
    if (await db.selectFrom('payment').select('id').limit(1).executeTakeFirst()) return;
    const objects = (await sql<{ type: string; sql: string }>`SELECT type, sql FROM sqlite_master WHERE tbl_name = 'payment' AND sql IS NOT NULL ORDER BY type DESC, name`.execute(db)).rows;
    const table = objects.find((o) => o.type === 'table')!;
    if (!from.test(table.sql)) return;
    await sql.raw('DROP TABLE payment').execute(db);
    await sql.raw(table.sql.replace(from, to)).execute(db);
    for (const o of objects) if (o.type === 'index') await sql.raw(o.sql).execute(db);
    if ((await sql`SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'`.execute(db)).rows.length) await sql`DELETE FROM sqlite_sequence WHERE name = 'payment'`.execute(db);
  };
  return {
    up: (db) => rebuild(db, /("id" integer primary key) autoincrement/i, '$1'),
    down: (db) => rebuild(db, /("id" integer primary key)(?! autoincrement)/i, '$1 autoincrement'),
  };
}

/**
 * Each run's headline — findings stored, confirmed findings, their amount (fen) — kept on the run row
 * (`run.findings`, `run.confirmed`, `run.amount_fen`; null until the run ends), so that the reports' history of
 * every run (index.html, the summary's trend) no longer reads the whole `finding` table each night: it holds a
 * copy of every finding of every run (≈ 17,000 rows of ≈ 2 KB each a night at 1M recipients), and grouping it
 * took 1.2 s after 62 runs, growing with every run (issue 10). Existing runs that ended are filled in from
 * their findings, once; a run still `running` is left to its own end. The cases each run opened are counted
 * through a partial index of the `opened` events (`case_event_opened`: one entry a case, not a scan of every
 * event).
 */
const runHeadline: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('run').addColumn('findings', 'integer').execute();
    await db.schema.alterTable('run').addColumn('confirmed', 'integer').execute();
    await db.schema.alterTable('run').addColumn('amount_fen', 'bigint').execute();
    const ofRun = (eb: any) => eb.selectFrom('finding').whereRef('finding.run_id', '=', 'run.id');
    await db
      .updateTable('run')
      .set((eb: any) => ({
        findings: ofRun(eb).select(eb.fn.countAll().as('n')),
        confirmed: ofRun(eb).where('finding.confidence', '=', 'confirmed').select(eb.fn.countAll().as('n')),
        amount_fen: ofRun(eb).select(eb.fn.coalesce(eb.fn.sum('finding.amount_fen'), sql.lit(0)).as('fen')),
      }))
      .where('status', '<>', 'running')
      .execute();
    await db.schema.createIndex('case_event_opened').on('case_event').column('run_id').where(sql.ref('kind'), '=', 'opened').execute();
  },
  async down(db: AnyDb) {
    await db.schema.dropIndex('case_event_opened').ifExists().execute();
    for (const c of ['findings', 'confirmed', 'amount_fen']) await db.schema.alterTable('run').dropColumn(c).execute();
  },
};

/**
 * `source_file.superseded_by`: a death file read again (0004 `recheck_from`) no longer deletes its first
 * reading: the file row and its rejected rows stay, as the history of the run that read them (index.html,
 * that date's rejects.csv), and point at the reading that replaced them. Before, the earlier run's files
 * and rejected rows moved to the later run in the history.
 */
const sourceFileSuperseded: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('source_file').addColumn('superseded_by', 'bigint').execute();
  },
  async down(db: AnyDb) {
    await db.schema.alterTable('source_file').dropColumn('superseded_by').execute();
  },
};

/** All migrations, keyed by name (applied in name order). */
export function migrations(engine: Engine): Record<string, Migration> {
  return {
    '0001_initial': initial(engine), '0003_cases_ledger': casesLedger(engine), '0004_source_file_recheck': sourceFileRecheck,
    '0005_detector_scope': detectorScope, '0006_account_person': accountPerson, '0007_link_report_scans': linkReportScans,
    '0008_payment_key_order': paymentKeyOrder, '0009_payment_key_by_period': paymentKeyByPeriod(engine),
    '0010_payment_plain_rowid': paymentPlainRowid(engine), '0011_run_headline': runHeadline,
    '0012_source_file_superseded': sourceFileSuperseded,
  };
}

/** True when some migration has not been applied yet (read only: the migration tables may not exist yet). */
export async function hasPendingMigrations(db: Kysely<any>, engine: Engine): Promise<boolean> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(engine) };
  return (await new Migrator({ db, provider }).getMigrations()).some((m) => m.executedAt === undefined);
}

/**
 * Brings the schema up to date.
 * @throws Error naming the failed migration when one fails (the database is left at the last good one)
 */
export async function migrateToLatest(db: Kysely<any>, engine: Engine): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(engine) };
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
