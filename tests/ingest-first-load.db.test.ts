/**
 * Issue 10: the fast ways of ingest give exactly the results of the plain one. The same inbox — repeats and
 * conflicting amounts within and across files, summary rows whose check depends on which rows were
 * accepted, an XLSX workbook, whole-file rejects, a death file — is ingested
 *   - through the first load (SQLite: payment indexes dropped, duplicates resolved set-based at the end),
 *   - through the file-by-file path (unique index, ON CONFLICT per row),
 *   - with the rows read by worker threads or in the main thread,
 * and the payment rows, rejects, per-file accounting and reports are compared.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { sql } from 'kysely';
import { openStore, type Store } from '../src/db/connection.ts';
import { loadSettings } from '../src/config/settings.ts';
import { ingestInbox, type FileReport } from '../src/ingest/ingest.ts';
import { silentLogger } from '../src/log.ts';
import { engineTarget } from './helpers/engines.ts';
import { FIXTURES } from './helpers/ingest-env.ts';
import { PAY_HEADER, makeId } from './fixtures/make-fixtures.ts';

const A = makeId('360102', '19500312', '901');
const B = makeId('360103', '19480705', '902');
const C = makeId('360104', '19521120', '903');
const D = makeId('360105', '19400101', '904');
const E = makeId('360111', '19451231', '905');
/** An ID whose check character is wrong (accepted, id_valid = 0). */
const BAD = makeId('360121', '19470214', '906').slice(0, 17) + (makeId('360121', '19470214', '906').endsWith('1') ? '2' : '1');

function row(id: string, name: string, amount: string, batch = 'B202403', period = '202403'): string {
  return ['P1', name, id, '男', '110', '基本养老金', period, amount, '2024-03-05', '6217000000000001', '中国建设银行南昌分行', '360102000001', batch].join(',');
}
function total(label: string, amount: string): string {
  const cells = PAY_HEADER.map(() => '');
  cells[0] = label;
  cells[7] = amount;
  return cells.join(',');
}

/** The inbox: two CSV files with duplicates and summary rows, fixtures (XLSX, overlaps, whole-file rejects, deaths). */
function makeInbox(dir: string): string {
  const inbox = path.join(dir, 'inbox');
  const put = (rel: string, data: string | Buffer): void => {
    fs.mkdirSync(path.dirname(path.join(inbox, rel)), { recursive: true });
    fs.writeFileSync(path.join(inbox, rel), data);
  };
  put('payments/01.csv', [
    PAY_HEADER.join(','),
    row(A, '张三', '100.00'), // 2
    row(B, '李四', '200.00'), // 3
    row(A, '张三', '100.00'), // 4 repeat of line 2
    row(B, '李四', '250.00'), // 5 KEY_CONFLICT with line 3
    row(C, '王五', '300.00'), // 6
    total('合计', '700.00'), // 7: 100 + 200 + 100 + 300 accepted — matches only with line 5 rejected
    row(D, '赵六', '400.00'), // 8
    row(D, '赵六', '401.00'), // 9 KEY_CONFLICT with line 8
    total('小计', '801.00'), // 10: mismatch; the text counts the rejected row
    row(E, '钱七', 'abc'), // 11 AMOUNT_INVALID
    total('总计', '1500.00'), // 12: mismatch
    '',
  ].join('\n'));
  put('payments/02.csv', iconv.encode([
    PAY_HEADER.join(','),
    row(A, '张三', '100.00'), // 2 repeat of 01.csv line 2
    row(C, '王五', '333.00'), // 3 KEY_CONFLICT with 01.csv line 6
    row(E, '钱七', '500.00'), // 4
    row(B, '李四', '200.00', 'B202404'), // 5 another batch: new
    total('合计', '1133.00'), // 6: matches only if line 3 were accepted → mismatch
    row(E, '钱七', '555.00'), // 7 KEY_CONFLICT with line 4 of this file
    row(BAD, '孙八', '600.00'), // 8 accepted with a failing check character (payment_invalid_id)
    '',
  ].join('\r\n'), 'gb18030'));
  for (const [rel, fixture] of [
    ['payments/2024-03/a.csv', 'pay-overlap-a-second.csv'],
    ['payments/2024-03/Z.csv', 'pay-overlap-Z-first.csv'],
    ['payments/sheets.xlsx', 'pay-two-sheets.xlsx'],
    ['payments/summary.csv', 'pay-summary-mismatch.csv'],
    ['payments/title.csv', 'pay-title-rows.csv'],
    ['payments/bad-bytes.csv', 'pay-invalid-bytes.csv'],
    ['payments/unknown.csv', 'pay-unknown-layout.csv'],
    ['deaths/civil-affairs/q1.csv', 'deaths-civil-affairs.csv'],
  ] as const) put(rel, fs.readFileSync(path.join(FIXTURES, fixture)));
  return inbox;
}

interface Outcome {
  reports: FileReport[];
  files: unknown[];
  payments: unknown[];
  rejects: unknown[];
  deaths: unknown[];
  indexes: string[];
  integrity: { integrity_check: string }[];
  invalidIds: string[];
  /** `PRAGMA journal_mode` after the load (SQLite; `wal` elsewhere). */
  journal: string;
}

async function ingestWith(dir: string, inbox: string, name: string, opts: { firstLoad: boolean; worker: boolean }, store?: Store): Promise<Outcome> {
  const own = !store;
  store ??= await openStore(await engineTarget(path.join(dir, name)));
  try {
    const timings: Record<string, number> = {};
    const tempStore = async (): Promise<unknown> => (store!.engine === 'sqlite' ? (await sql`PRAGMA temp_store`.execute(store!.db)).rows : null);
    const tempStoreBefore = await tempStore();
    const reports = await ingestInbox({ store, inbox, settings: loadSettings(undefined, dir), runId: 1, asOf: '2025-12-31', logger: silentLogger, timings, ...opts });
    expect(Object.keys(timings).filter((k) => k !== 'ingest_index').sort()).toEqual(['ingest_insert', 'ingest_parse', 'ingest_read']);
    if (!opts.firstLoad || store.engine !== 'sqlite') expect(timings.ingest_index).toBeUndefined();
    // A first load changes the connection's temp_store for its index rebuild only.
    expect(await tempStore()).toEqual(tempStoreBefore);
    const db = store.db;
    const files = await db.selectFrom('source_file').select(['path', 'status', 'error_code', 'error', 'encoding', 'header_line', 'rows_read', 'rows_accepted', 'rows_rejected', 'rows_skipped', 'rows_repeated', 'recheck_from']).orderBy('id').execute();
    const payments = await db
      .selectFrom('payment as p')
      .innerJoin('source_file as f', 'f.id', 'p.file_id')
      .select(['f.path', 'p.line', 'p.person_no', 'p.id_number', 'p.id_raw', 'p.id_valid', 'p.name', 'p.sex', 'p.scheme', 'p.item', 'p.item_raw', 'p.period', 'p.amount_fen', 'p.paid_on', 'p.account', 'p.bank', 'p.agency', 'p.district_code', 'p.batch'])
      .orderBy('f.path').orderBy('p.line')
      .execute();
    const rejects = await db
      .selectFrom('reject as r')
      .innerJoin('source_file as f', 'f.id', 'r.file_id')
      .select(['f.path', 'r.line', 'r.code', 'r.reason', 'r.raw'])
      .orderBy('f.path').orderBy('r.line').orderBy('r.code')
      .execute();
    const deaths = await db.selectFrom('death_record').select(['line', 'id_number', 'death_date']).orderBy('line').execute();
    const indexes =
      store.engine === 'sqlite'
        ? (await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'payment' AND sql IS NOT NULL ORDER BY name`.execute(db)).rows.map((r) => r.name)
        : [];
    // SQLite: the indexes agree with the table (a partial index kept through a first load holds every row
    // its WHERE admits), read through the partial index itself.
    const integrity = store.engine === 'sqlite' ? (await sql<{ integrity_check: string }>`PRAGMA integrity_check`.execute(db)).rows : [];
    // SQLite: a first load runs with a rollback journal (no WAL double write) and leaves the store in WAL mode.
    const journal = store.engine === 'sqlite' ? (await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(db)).rows[0]!.journal_mode : 'wal';
    const invalidIds =
      store.engine === 'sqlite'
        ? (await sql<{ id_number: string }>`SELECT id_number FROM payment INDEXED BY payment_invalid_id WHERE id_valid = 0 ORDER BY id_number`.execute(db)).rows.map((r) => r.id_number)
        : [];
    return { reports, files, payments: payments.map((p) => ({ ...p, amount_fen: Number(p.amount_fen) })), rejects, deaths, indexes, integrity, invalidIds, journal };
  } finally {
    if (own) await store.close();
  }
}

describe('first load and worker threads give the results of the file-by-file path (issue 10)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-first-load-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const inbox = makeInbox(dir);

  it('same payments, rejects, accounting and reports in every mode', async () => {
    const plain = await ingestWith(dir, inbox, 'plain', { firstLoad: false, worker: false });
    const fast = await ingestWith(dir, inbox, 'fast', { firstLoad: true, worker: true });
    const firstInThread = await ingestWith(dir, inbox, 'first-in-thread', { firstLoad: true, worker: false });
    const workersOnly = await ingestWith(dir, inbox, 'workers-only', { firstLoad: false, worker: true });
    for (const other of [fast, firstInThread, workersOnly]) {
      expect(other.reports).toEqual(plain.reports);
      expect(other.files).toEqual(plain.files);
      expect(other.payments).toEqual(plain.payments);
      expect(other.rejects).toEqual(plain.rejects);
      expect(other.deaths).toEqual(plain.deaths);
      expect(other.indexes).toEqual(plain.indexes);
      expect(other.invalidIds).toEqual(plain.invalidIds);
      expect(other.journal).toBe('wal');
    }
    if (fast.indexes.length) {
      expect(fast.integrity).toEqual([{ integrity_check: 'ok' }]);
      expect(fast.invalidIds.length).toBeGreaterThan(0);
      expect(fast.invalidIds).toEqual((plain.payments as { id_valid: number; id_number: string }[]).filter((p) => p.id_valid === 0).map((p) => p.id_number).sort());
    }

    // The results themselves (so that the modes cannot agree on a wrong answer).
    const file = (p: string) => plain.files.find((f) => (f as { path: string }).path === p) as Record<string, unknown>;
    const acct = (p: string) => ['rows_read', 'rows_accepted', 'rows_rejected', 'rows_skipped', 'rows_repeated'].map((k) => file(p)[k]);
    expect(acct('payments/01.csv')).toEqual([12, 5, 3, 4, 1]);
    expect(acct('payments/02.csv')).toEqual([8, 4, 2, 2, 1]); // line 8 (check character wrong) accepted
    const rej = (p: string) => (plain.rejects as { path: string; line: number; code: string; reason: string; raw: string }[]).filter((r) => r.path === p);
    expect(rej('payments/01.csv').map((r) => [r.line, r.code])).toEqual([[5, 'KEY_CONFLICT'], [9, 'KEY_CONFLICT'], [10, 'SUMMARY_MISMATCH'], [11, 'AMOUNT_INVALID'], [12, 'SUMMARY_MISMATCH']]);
    expect(rej('payments/01.csv')[2]!.reason).toBe(
      'summary row total 801.00 on line 10 matches neither 400.00, the sum of the 1 accepted row(s) from line 8, nor 1100.00, the sum of all 5 accepted above it; 1 rejected row(s) since line 8 carry 401.00; the summary row is not ingested',
    );
    expect(rej('payments/02.csv').map((r) => [r.line, r.code])).toEqual([[3, 'KEY_CONFLICT'], [6, 'SUMMARY_MISMATCH'], [7, 'KEY_CONFLICT']]);
    expect(rej('payments/02.csv')[0]!.reason).toBe(
      'line 3 of payments/02.csv has the payment key (batch B202403, scheme 110, item pension, period 2024-03) of payments/01.csv line 6 but amount 333.00 instead of 300.00; the first (payments/01.csv line 6) is kept, this row is rejected',
    );
    expect(rej('payments/02.csv')[0]!.raw).toBe(row(C, '王五', '333.00'));
    expect(file('payments/bad-bytes.csv').error_code).toBe('ENCODING_INVALID');
    expect(file('payments/unknown.csv').error_code).toBe('HEADER_NOT_FOUND');
    if (fast.indexes.length) expect(fast.indexes).toEqual(expect.arrayContaining(['payment_natural_key', 'payment_invalid_id']));
  });

  it('a first load of a store that already holds payments takes the file-by-file path and agrees with it', async () => {
    const store = await openStore(await engineTarget(path.join(dir, 'twice')));
    try {
      const other = path.join(dir, 'inbox-b');
      fs.mkdirSync(path.join(other, 'payments'), { recursive: true });
      fs.copyFileSync(path.join(inbox, 'payments/01.csv'), path.join(other, 'payments/01.csv'));
      await ingestWith(dir, other, 'twice', { firstLoad: true, worker: true }, store);
      // 01.csv is known (same path, size, mtime); the rest goes through the incremental path.
      const second = await ingestWith(dir, inbox, 'twice', { firstLoad: true, worker: true }, store);
      const plain = await ingestWith(dir, inbox, 'plain2', { firstLoad: false, worker: false });
      expect(second.payments).toEqual(plain.payments);
      expect(second.rejects).toEqual(plain.rejects);
      const byPath = (fs_: unknown[]) => [...fs_].sort((a, b) => ((a as { path: string }).path < (b as { path: string }).path ? -1 : 1));
      expect(byPath(second.files)).toEqual(byPath(plain.files));
      expect(second.reports.filter((r) => r.status !== 'known')).toEqual(plain.reports.filter((r) => r.path !== 'payments/01.csv'));
    } finally {
      await store.close();
    }
  });
});
