/**
 * `fundguard feedback import FILE.xlsx --by NAME [--approved-by NAME]`: reads the investigators' feedback
 * columns (O–S) of a work list (WORKLIST-FORMAT.md: sheet `工作清单`, header in row 1, case_id in column A)
 * and applies them as case events and ledger entries — every row or none.
 *
 * 1. Read: every row is parsed (outcome label, amount in yuan, channel, date); a row with O–S all empty is
 *    ignored. Format problems are collected, never thrown.
 * 2. Apply, in ONE transaction: each row goes through the same functions as the CLI (actions.ts), so a row
 *    is checked exactly as `cases transition` / `cases repay` would check it: unknown case, illegal
 *    transition, missing or same-person approval, repayment on a false positive, future date... Problems are
 *    collected for every row. Any problem → the transaction is rolled back and nothing is applied; the report
 *    lists every bad row.
 * 3. Idempotent: each applied row is recorded in `feedback_row` under a fingerprint of its feedback
 *    (sha256 of case id, outcome, amount, channel, date — and the note, for a note-only row). A row already
 *    recorded is skipped, so importing the same file again, or a copy of it with more rows filled in,
 *    applies each piece of feedback once. A file with nothing new writes nothing at all.
 * Within a row, money is recorded before an outcome of `已全额追回` (recovered) and after any other
 * outcome, so `已发追回通知` + a repayment that settles the case ends `recovered`. `核实属实` on a `new` case
 * records the review it implies first (new → under_review → verified: two events).
 * A process killed mid-import leaves the database as it was (the transaction never committed).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type ExcelJS from 'exceljs';
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../db/schema.ts';
import { parseDate } from '../calendar/values.ts';
import { applyNote, applyRepayment, applyTransition, checkPerson, getCase, parseYuan, personKey, type ChangeContext } from './actions.ts';
import { CaseError } from './errors.ts';
import { NEEDS_APPROVAL, TRANSITIONS, type CaseStatus, type Channel } from './statuses.ts';

/** Work-list outcome labels (column O, 核查结果) → case status (WORKLIST-FORMAT.md). */
export const OUTCOME_LABELS: Readonly<Record<string, CaseStatus>> = Object.freeze({
  核查中: 'under_review',
  核实属实: 'verified',
  '误报（非本人或未死亡）': 'false_positive',
  已暂停发放: 'suspended',
  已发追回通知: 'notice_sent',
  已签还款计划: 'repayment_plan',
  已全额追回: 'recovered',
  '移送稽核/司法': 'escalated',
  核销: 'written_off',
});

/** Work-list channel labels (column Q, 追回渠道) → ledger channel. */
export const CHANNEL_LABELS: Readonly<Record<string, Channel>> = Object.freeze({ 银行退回: 'bank_return', 继承人退还: 'heir_repayment', 抵扣: 'offset' });

/** Headers of the columns read (row 1). */
export const FEEDBACK_HEADERS = { caseId: 'case_id', outcome: '核查结果', amount: '追回金额（元）', channel: '追回渠道', date: '追回日期', note: '备注' } as const;

const WORKSHEET = '工作清单';

/** A bad row (or, with line 0, a bad file). */
export interface RowProblem {
  line: number;
  caseId: number | null;
  column: string | null;
  message: string;
}

/** One parsed feedback row. */
export interface FeedbackRow {
  line: number;
  caseId: number;
  outcome: CaseStatus | null;
  amountFen: number | null;
  channel: Channel | null;
  date: string | null;
  note: string | null;
  /** Fingerprint of the feedback (see module doc). */
  key: string;
}

export interface ParsedWorklist {
  file: string;
  sha256: string;
  sheet: string;
  /** Data rows with any content (below the header). */
  rowsRead: number;
  rows: FeedbackRow[];
  /** Rows with O–S all empty. */
  ignored: number;
  problems: RowProblem[];
}

export interface ImportReport extends Omit<ParsedWorklist, 'rows'> {
  /** `applied` (committed), `nothing_new` (every row already applied or without effect: nothing written), `rejected` (bad rows: nothing written). */
  status: 'applied' | 'nothing_new' | 'rejected';
  importId: number | null;
  applied: number;
  unchanged: number;
  /** Rows already applied by an earlier import. */
  skipped: number;
}

const norm = (s: string): string => s.normalize('NFKC').replace(/\s+/g, '');
const OUTCOMES = new Map<string, CaseStatus>();
for (const [label, status] of Object.entries(OUTCOME_LABELS)) {
  OUTCOMES.set(norm(label), status);
  OUTCOMES.set(norm(label.replace(/（.*）$/, '')), status);
  OUTCOMES.set(status, status);
}
const CHANNELS = new Map<string, Channel>();
for (const [label, ch] of Object.entries(CHANNEL_LABELS)) {
  CHANNELS.set(norm(label), ch);
  CHANNELS.set(ch, ch);
}

type Scalar = string | number | Date | null;

/** The value of a cell as text, number or date (rich text joined, formulas by their result). */
function scalar(v: ExcelJS.CellValue | undefined): Scalar {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v.trim() === '' ? null : v.trim();
  if (typeof v === 'number' || v instanceof Date) return v;
  if (typeof v === 'boolean') return String(v);
  if ('richText' in v) return scalar(v.richText.map((t) => t.text).join(''));
  if ('formula' in v || 'sharedFormula' in v) return scalar((v as ExcelJS.CellFormulaValue).result as ExcelJS.CellValue);
  if ('error' in v) return String(v.error);
  if ('text' in v) return scalar((v as ExcelJS.CellHyperlinkValue).text);
  return null;
}

const show = (v: Scalar): string => (v instanceof Date ? v.toISOString().slice(0, 10) : String(v));

/** Amount of yuan in a number cell → fen; only float noise is tolerated, never rounding of a third decimal. */
function fenFromNumber(n: number): number {
  const fen = Math.round(n * 100);
  if (!Number.isFinite(n) || Math.abs(n * 100 - fen) > 1e-6) throw new CaseError('BAD_AMOUNT', `got ${n}: more than two decimals (fen), not rounded`);
  if (fen <= 0) throw new CaseError('BAD_AMOUNT', `got ${n}: expected a positive amount of yuan (at least 0.01)`);
  return fen;
}

/**
 * Reads the feedback of a work list.
 * @returns the parsed rows and every format problem (a file that is not a work list gives one problem on line 0)
 */
export async function readWorklist(file: string): Promise<ParsedWorklist> {
  const bytes = fs.readFileSync(file);
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  const base: ParsedWorklist = { file, sha256, sheet: '', rowsRead: 0, rows: [], ignored: 0, problems: [] };
  // exceljs is loaded only when a work list is read (it costs half a second at start-up of every command).
  const { default: Excel } = await import('exceljs');
  const wb = new Excel.Workbook();
  try {
    await wb.xlsx.load(bytes as unknown as ExcelJS.Buffer);
  } catch (e) {
    base.problems.push({ line: 0, caseId: null, column: null, message: `not a readable XLSX workbook: ${e instanceof Error ? e.message : String(e)}` });
    return base;
  }
  const ws = wb.getWorksheet(WORKSHEET) ?? wb.worksheets[0];
  if (!ws) {
    base.problems.push({ line: 0, caseId: null, column: null, message: 'the workbook has no worksheet' });
    return base;
  }
  base.sheet = ws.name;
  const cols: Partial<Record<keyof typeof FEEDBACK_HEADERS, number>> = {};
  ws.getRow(1).eachCell((cell, col) => {
    const h = scalar(cell.value);
    if (h === null) return;
    const t = norm(show(h));
    for (const [k, header] of Object.entries(FEEDBACK_HEADERS) as [keyof typeof FEEDBACK_HEADERS, string][]) {
      if (cols[k] === undefined && (t === norm(header) || (k !== 'caseId' && t.startsWith(norm(header).replace(/\(元\)$/, ''))))) cols[k] = col;
    }
  });
  const missing = (Object.keys(FEEDBACK_HEADERS) as (keyof typeof FEEDBACK_HEADERS)[]).filter((k) => cols[k] === undefined);
  if (missing.length) {
    base.problems.push({ line: 0, caseId: null, column: null, message: `not a work list: row 1 of sheet "${ws.name}" has no ${missing.map((k) => `"${FEEDBACK_HEADERS[k]}"`).join(', ')} column (WORKLIST-FORMAT.md)` });
    return base;
  }
  const seen = new Map<string, number>();
  for (let r = 2; r <= ws.rowCount; r++) {
    const row = ws.getRow(r);
    const get = (k: keyof typeof FEEDBACK_HEADERS): Scalar => scalar(row.getCell(cols[k]!).value);
    if (!row.hasValues) continue;
    const raw = { caseId: get('caseId'), outcome: get('outcome'), amount: get('amount'), channel: get('channel'), date: get('date'), note: get('note') };
    if ([raw.caseId, raw.outcome, raw.amount, raw.channel, raw.date, raw.note].every((v) => v === null)) continue;
    base.rowsRead++;
    if ([raw.outcome, raw.amount, raw.channel, raw.date, raw.note].every((v) => v === null)) {
      base.ignored++;
      continue;
    }
    const problem = (column: string | null, message: string, caseId: number | null) => base.problems.push({ line: r, caseId, column, message });
    const before = base.problems.length;
    let caseId: number | null = null;
    if (raw.caseId === null) problem(FEEDBACK_HEADERS.caseId, 'case_id is empty', null);
    else {
      const n = typeof raw.caseId === 'number' ? raw.caseId : /^\d+$/.test(show(raw.caseId)) ? Number(show(raw.caseId)) : NaN;
      if (Number.isSafeInteger(n) && n > 0) caseId = n;
      else problem(FEEDBACK_HEADERS.caseId, `case_id: got "${show(raw.caseId)}", expected a case number`, null);
    }
    let outcome: CaseStatus | null = null;
    if (raw.outcome !== null) {
      outcome = OUTCOMES.get(norm(show(raw.outcome))) ?? null;
      if (!outcome) problem(FEEDBACK_HEADERS.outcome, `unknown outcome "${show(raw.outcome)}"; expected one of ${Object.keys(OUTCOME_LABELS).join(' / ')}`, caseId);
    }
    let amountFen: number | null = null;
    if (raw.amount !== null) {
      try {
        if (raw.amount instanceof Date) throw new CaseError('BAD_AMOUNT', `got the date ${show(raw.amount)}, expected an amount of yuan`);
        amountFen = typeof raw.amount === 'number' ? fenFromNumber(raw.amount) : parseYuan(raw.amount);
      } catch (e) {
        problem(FEEDBACK_HEADERS.amount, `amount: ${e instanceof Error ? e.message.replace(/^amount: /, '') : String(e)}`, caseId);
      }
    }
    let channel: Channel | null = null;
    if (raw.channel !== null) {
      channel = CHANNELS.get(norm(show(raw.channel))) ?? null;
      if (!channel) problem(FEEDBACK_HEADERS.channel, `unknown channel "${show(raw.channel)}"; expected ${Object.keys(CHANNEL_LABELS).join(' / ')}`, caseId);
    }
    let date: string | null = null;
    if (raw.date !== null) {
      if (raw.date instanceof Date) date = raw.date.toISOString().slice(0, 10);
      else if (typeof raw.date === 'number') problem(FEEDBACK_HEADERS.date, `date: got the number ${raw.date}, expected a date YYYY-MM-DD`, caseId);
      else {
        const p = parseDate(raw.date, 'date');
        if (p.ok) date = p.value;
        else problem(FEEDBACK_HEADERS.date, p.reason, caseId);
      }
    }
    const money = [raw.amount, raw.channel, raw.date];
    if (money.some((v) => v !== null) && money.some((v) => v === null)) {
      const lacking = [raw.amount === null ? FEEDBACK_HEADERS.amount : null, raw.channel === null ? FEEDBACK_HEADERS.channel : null, raw.date === null ? FEEDBACK_HEADERS.date : null].filter(Boolean);
      problem(null, `a repayment needs amount, channel and date: ${lacking.join(', ')} missing`, caseId);
    }
    if (base.problems.length > before || caseId === null) continue;
    const note = raw.note === null ? null : show(raw.note);
    const key = crypto.createHash('sha256').update(JSON.stringify([caseId, outcome ?? '', amountFen ?? 0, channel ?? '', date ?? '', outcome || amountFen ? '' : note])).digest('hex');
    const dup = seen.get(key);
    if (dup !== undefined) {
      problem(null, `the same feedback as line ${dup}`, caseId);
      continue;
    }
    seen.set(key, r);
    base.rows.push({ line: r, caseId, outcome, amountFen, channel, date, note, key });
  }
  return base;
}

class Rollback extends Error {}

/**
 * Imports the feedback of a work list (see module doc).
 * @param opts.afterRowApplied test hook, awaited inside the transaction after each applied row
 * @throws CaseError(BAD_ACTOR | SAME_APPROVER) for bad `by` / `approvedBy`; database errors (nothing applied)
 */
export async function importFeedback(
  db: Kysely<DB>,
  opts: { file: string; by: string; approvedBy?: string | null; now: string; today: string; afterRowApplied?: (applied: number) => Promise<void> },
): Promise<ImportReport> {
  const by = checkPerson(opts.by, '--by');
  const approvedBy = opts.approvedBy ? checkPerson(opts.approvedBy, '--approved-by') : null;
  if (approvedBy && personKey(approvedBy) === personKey(by)) throw new CaseError('SAME_APPROVER', `--approved-by must be a second person, not ${by} who imports the file`);
  const parsed = await readWorklist(opts.file);
  const { rows, ...rest } = parsed;
  const report: ImportReport = { ...rest, problems: [...parsed.problems], status: 'rejected', importId: null, applied: 0, unchanged: 0, skipped: 0 };
  if (parsed.problems.some((p) => p.line === 0)) return report;
  const fileName = path.basename(opts.file);
  try {
    await db.transaction().execute(async (trx) => {
      const imp = await trx
        .insertInto('feedback_import')
        .values({ file_name: fileName, sha256: parsed.sha256, actor: by, approved_by: approvedBy, imported_at: opts.now, rows_read: parsed.rowsRead, rows_applied: 0, rows_unchanged: 0, rows_skipped: 0, rows_ignored: parsed.ignored })
        .returning('id')
        .executeTakeFirstOrThrow();
      const importId = Number(imp.id);
      for (const row of rows) {
        const done = await trx.selectFrom('feedback_row').select('import_id').where('row_key', '=', row.key).executeTakeFirst();
        if (done) {
          report.skipped++;
          continue;
        }
        const ctx: ChangeContext = { now: opts.now, today: opts.today, source: 'feedback', importId, extra: { file: fileName, line: row.line } };
        try {
          const changed = await applyRow(trx, row, by, approvedBy, ctx);
          await trx.insertInto('feedback_row').values({ row_key: row.key, import_id: importId, case_id: row.caseId, line: row.line }).execute();
          if (changed) {
            report.applied++;
            await opts.afterRowApplied?.(report.applied);
          } else report.unchanged++;
        } catch (e) {
          if (!(e instanceof CaseError)) throw e;
          report.problems.push({ line: row.line, caseId: row.caseId, column: null, message: e.message });
        }
      }
      if (report.problems.length) throw new Rollback();
      if (report.applied === 0) {
        report.status = 'nothing_new';
        throw new Rollback();
      }
      await trx.updateTable('feedback_import').set({ rows_applied: report.applied, rows_unchanged: report.unchanged, rows_skipped: report.skipped }).where('id', '=', importId).execute();
      report.importId = importId;
      report.status = 'applied';
    });
  } catch (e) {
    if (!(e instanceof Rollback)) throw e;
  }
  report.problems.sort((a, b) => a.line - b.line);
  return report;
}

/** Applies one row inside the import's transaction. @returns whether anything changed */
async function applyRow(trx: Transaction<DB>, row: FeedbackRow, by: string, approvedBy: string | null, ctx: ChangeContext): Promise<boolean> {
  const c = await getCase(trx, row.caseId);
  if (!c) throw new CaseError('CASE_NOT_FOUND', `no case ${row.caseId} in this database`, row.caseId);
  let changed = false;
  const label = row.outcome ? Object.entries(OUTCOME_LABELS).find(([, s]) => s === row.outcome)![0] : '';
  const reason = row.note ?? `work list ${String(ctx.extra?.file)} line ${row.line}${label ? `: ${label}` : ''}`;
  const money = async () => {
    if (row.amountFen === null) return;
    await applyRepayment(trx, { caseId: row.caseId, amountFen: row.amountFen, channel: row.channel!, date: row.date!, by, reason }, ctx);
    changed = true;
  };
  const outcome = async () => {
    if (!row.outcome) return;
    const cur = (await getCase(trx, row.caseId))!;
    if (cur.status === row.outcome) return;
    // A work list offers every outcome on every row, and its cases are mostly `new`: 核实属实 (verified) on a
    // `new` case means the investigator reviewed it, so the review is recorded first, as its own event
    // (new → under_review → verified). No other step is implied: the lifecycle still refuses the rest.
    if (cur.status === 'new' && !TRANSITIONS.new.includes(row.outcome) && TRANSITIONS.under_review.includes(row.outcome)) {
      const implied = row.note ? `${row.note} (review implied by ${label})` : `work list ${String(ctx.extra?.file)} line ${row.line}: review implied by ${label}`;
      await applyTransition(trx, { caseId: row.caseId, to: 'under_review', by, reason: implied, approvedBy: null }, ctx);
    }
    await applyTransition(trx, { caseId: row.caseId, to: row.outcome, by, reason, approvedBy: NEEDS_APPROVAL.includes(row.outcome) ? approvedBy : null }, ctx);
    changed = true;
  };
  if (row.outcome === 'recovered') {
    await money();
    await outcome();
  } else {
    await outcome();
    await money();
  }
  if (!changed && row.note) {
    await applyNote(trx, { caseId: row.caseId, by, note: row.note }, ctx);
    changed = true;
  }
  return changed;
}
