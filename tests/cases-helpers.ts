/**
 * Shared fixtures of the recovery-queue tests: a fresh SQLite store in a temp folder, synthetic payments
 * and findings fed to the real upsert, and an XLSX work list built per WORKLIST-FORMAT.md. All data is
 * synthetic.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { openStore, type Store } from '../src/db/connection.ts';
import { createTestDb, ENGINES } from './helpers/engines.ts';
import { checkCharacter } from '../src/identity/resident-id.ts';
import { upsertCases, type CaseChanges } from '../src/cases/upsert.ts';
import type { Finding } from '../src/detectors/types.ts';
import type { ChangeContext } from '../src/cases/actions.ts';

/** A valid 18-character resident ID from its first 17 digits. */
export function residentId(first17: string): string {
  return first17 + checkCharacter(first17);
}

export const ID_A = residentId('36010219500101123');
export const ID_B = residentId('36010319480202234');
export const ID_C = residentId('36011119450303345');

export function tempDir(prefix = 'fg-cases-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * A fresh store on the engine under test (tests/helpers/engines.ts): for SQLite in memory, or a file in a
 * temp folder (for child processes); for PostgreSQL a throwaway database (`file` is then its URL).
 */
export async function freshStore(onDisk = false): Promise<{ store: Store; file: string; dir: string }> {
  if (ENGINES[0] === 'postgres') {
    const t = await createTestDb('postgres');
    return { store: await t.open(), file: t.target, dir: t.dir };
  }
  const dir = onDisk ? tempDir() : '';
  const file = onDisk ? path.join(dir, 'fg.db') : ':memory:';
  return { store: await openStore(file), file, dir };
}

/** A change context at a fixed instant and business date. */
export function ctxAt(now = '2025-09-01T02:00:00.000Z', today = '2025-09-01'): ChangeContext {
  return { now, today, source: 'cli' };
}

let fileSeq = 0;

/** One synthetic payment row to store. */
export interface Pay {
  id: string;
  period: string;
  fen: number;
  batch?: string;
  scheme?: string;
  item?: string;
  name?: string;
}

/** Stores payment rows (one synthetic source file); returns their ids in order. */
export async function addPayments(store: Store, rows: Pay[]): Promise<number[]> {
  const db = store.db;
  const f = await db
    .insertInto('source_file')
    .values({
      path: `payments/test-${++fileSeq}.csv`, sha256: `sha-${fileSeq}-${Math.random()}`, size: 1, mtime_ms: 1, kind: 'payments', source: 'payments', format: 'csv', encoding: 'utf-8',
      status: 'ingested', error_code: null, error: null, layout_key: 'k', header_line: 1, rows_read: rows.length, rows_accepted: rows.length, rows_rejected: 0, rows_skipped: 0, rows_repeated: 0, run_id: 1, ingested_at: '2025-01-01T00:00:00Z',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const ids: number[] = [];
  for (const [i, r] of rows.entries()) {
    const ins = await db
      .insertInto('payment')
      .values({
        file_id: Number(f.id), line: i + 2, person_no: null, id_number: r.id, id_raw: r.id, id_valid: 1, name: r.name ?? '张三', sex: null, scheme: r.scheme ?? '110',
        item: r.item ?? 'pension', item_raw: '基本养老金', period: r.period, amount_fen: r.fen, paid_on: `${r.period}-10`, account: '6222000011112222', bank: null,
        agency: '360102001', district_code: '360102', batch: r.batch ?? `B${r.period.replace('-', '')}${r.fen < 0 ? 'R' : ''}`,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.push(Number(ins.id));
  }
  return ids;
}

/**
 * A deceased_payment finding over stored payments, netted like the detector: periods with a positive net,
 * amount = sum of the counted rows.
 * @param deathSources the death records behind the match (their list is the evidence fingerprint)
 */
export async function findingFor(store: Store, idNumber: string, paymentIds: number[], deathSources: string[] = ['health:2025-02-15']): Promise<Finding> {
  const rows = (await store.db.selectFrom('payment').select(['id', 'period', 'scheme', 'item', 'amount_fen']).where('id', 'in', paymentIds).execute()).map((r) => ({ ...r, id: Number(r.id), amount_fen: Number(r.amount_fen) }));
  const groups = new Map<string, { net: number; ids: number[]; period: string; scheme: string }>();
  for (const r of rows) {
    const k = `${r.scheme}|${r.item}|${r.period}`;
    const g = groups.get(k) ?? { net: 0, ids: [], period: r.period, scheme: r.scheme };
    g.net += r.amount_fen;
    g.ids.push(r.id);
    groups.set(k, g);
  }
  const counted = [...groups.values()].filter((g) => g.net > 0);
  const periods = [...new Set(counted.map((g) => g.period))].sort();
  return {
    detector: 'deceased_payment',
    caseKey: idNumber,
    idNumber,
    name: '张三',
    districtCode: '360102',
    schemes: [...new Set(counted.map((g) => g.scheme))].sort(),
    periods,
    amountFen: counted.reduce((s, g) => s + g.net, 0),
    confidence: 'confirmed',
    evidence: { why: `paid after death: ${periods.join(',')}`, comparisons: [{ field: 'id_number', level: 'exact', values: [idNumber] }, { field: 'death_month', level: 'agree', values: deathSources }] },
    paymentIds: counted.flatMap((g) => g.ids).sort((a, b) => a - b),
  };
}

let runSeq = 100;

/** Feeds findings to the real upsert as one nightly run. */
export async function nightly(store: Store, findings: Finding[], now = '2025-09-02T18:00:00.000Z'): Promise<CaseChanges> {
  return upsertCases(store.db, ++runSeq, 'deceased_payment', findings, now);
}

/** Events of a case, oldest first. */
export async function eventsOf(store: Store, caseId: number) {
  return (await store.db.selectFrom('case_event').selectAll().where('case_id', '=', caseId).orderBy('id').execute()).map((e) => ({ ...e, id: Number(e.id), data: e.data ? (JSON.parse(e.data) as Record<string, unknown>) : null }));
}

export async function caseRow(store: Store, caseId: number) {
  const c = await store.db.selectFrom('recovery_case').selectAll().where('id', '=', caseId).executeTakeFirstOrThrow();
  return { ...c, id: Number(c.id), amount_fen: Number(c.amount_fen) };
}

export async function countRows(store: Store, table: 'case_event' | 'ledger_entry' | 'recovery_case' | 'feedback_import' | 'feedback_row'): Promise<number> {
  const r = await store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** One work-list row: the case and the investigator's feedback (columns O–S); `date` may be a Date cell. */
export interface WorklistRow {
  caseId: number | string;
  outcome?: string;
  amount?: number | string;
  channel?: string;
  date?: string | Date;
  note?: string;
}

/**
 * Writes a work list following WORKLIST-FORMAT.md: sheet 工作清单, header row 1 (A–S), one row per case;
 * columns B–N carry plausible synthetic values.
 */
export async function writeWorklist(file: string, rows: WorklistRow[]): Promise<void> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('工作清单', { views: [{ state: 'frozen', ySplit: 1 }] });
  ws.addRow(['case_id', '检测类型 detector', '可信度 confidence', '状态 status', '公民身份号码', '姓名', '险种', '起始期', '截止期', '月数', '金额（元）', '银行账号', '死亡日期', '依据 evidence', '核查结果', '追回金额（元）', '追回渠道', '追回日期', '备注']);
  for (const r of rows) {
    const row = ws.addRow([r.caseId, 'deceased_payment', 'confirmed', 'new', ID_A, '张三', '110', '2025-03', '2025-06', 4, 12000, '6222000011112222', '2025-02-15', 'why', r.outcome ?? null, r.amount ?? null, r.channel ?? null, r.date ?? null, r.note ?? null]);
    row.getCell(5).numFmt = '@';
    row.getCell(11).numFmt = '0.00';
    if (typeof r.amount === 'number') row.getCell(16).numFmt = '0.00';
  }
  ws.autoFilter = 'A1:S1';
  await wb.xlsx.writeFile(file);
}
