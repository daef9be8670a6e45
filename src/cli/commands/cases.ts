/**
 * `fundguard cases ...`: the recovery queue (DOMAIN.md §5) — list, show, assign, transition, repay, refund,
 * void-entry, flag, followup, dishonesty, export. Full IDs (for investigators). Exit codes: 0 done; 1 the
 * change was refused (unknown case, illegal transition, missing approval, duplicate repayment, ...); 2 a bad
 * flag value (amount, date, channel, status, name).
 */
import path from 'node:path';
import { Option, type Command } from 'commander';
import { openStore, type Store } from '../../db/connection.ts';
import { loadSettings } from '../../config/settings.ts';
import { formatFen, isIsoDate, parseAmountFen, todayIn } from '../../calendar/values.ts';
import { loadHolidayCalendar } from '../../calendar/working-days.ts';
import { exportCasesCsv } from '../../cases/export.ts';
import { CaseError, type CaseErrorCode } from '../../cases/errors.ts';
import { assignCase, flagCase, parseYuan, recordRefund, recordRepayment, transitionCase, voidEntry, type ChangeContext, type MoneyResult } from '../../cases/actions.ts';
import { caseDetail, listCases } from '../../cases/queries.ts';
import { writeFollowUpCsv } from '../../cases/follow-up.ts';
import { writeDishonestyCsv } from '../../cases/dishonesty.ts';
import { CASE_STATUSES, CHANNELS } from '../../cases/statuses.ts';
import { DB_HELP, UsageError, existingDbTarget } from '../common.ts';

/** Codes that mean a bad flag value (exit 2) rather than a refused change (exit 1). */
const USAGE_CODES: ReadonlySet<CaseErrorCode> = new Set(['BAD_AMOUNT', 'BAD_DATE', 'BAD_CHANNEL', 'BAD_STATUS', 'BAD_ACTOR', 'BAD_REASON']);

/** Opens the store, runs `fn`, closes; maps flag-value errors to {@link UsageError}. */
export async function withStore<T>(db: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(existingDbTarget(db));
  try {
    return await fn(store);
  } catch (e) {
    if (e instanceof CaseError && USAGE_CODES.has(e.code)) throw new UsageError(e.message);
    throw e;
  } finally {
    await store.close();
  }
}

/** The context of a change made now: the instant and today's business date. */
export function changeContext(): ChangeContext {
  const now = new Date();
  return { now: now.toISOString(), today: todayIn(timeZone(), now), source: 'cli' };
}

function timeZone(): string {
  return loadSettings(undefined).timeZone;
}

/** Parses a case id argument. @throws UsageError */
export function caseIdArg(s: string): number {
  if (!/^\d+$/.test(s.trim()) || Number(s) <= 0 || !Number.isSafeInteger(Number(s))) throw new UsageError(`case id: got "${s}", expected a case number (see fundguard cases list)`);
  return Number(s);
}

function asOfOption(s: string | undefined): string {
  const d = s ?? todayIn(timeZone());
  if (!isIsoDate(d)) throw new UsageError(`--as-of: got "${d}", expected a real date YYYY-MM-DD`);
  return d;
}

const out = (lines: string[]) => process.stdout.write(lines.join('\n') + '\n');

function moneyLines(r: MoneyResult): string[] {
  const lines = [`  recovered ${formatFen(r.balance.recoveredFen)} of ${formatFen(r.balance.owedFen)} yuan owed; outstanding ${formatFen(r.balance.outstandingFen)}; status ${r.status}`];
  if (r.automatic) lines.push(`  the case became ${r.automatic} automatically (nothing outstanding)`);
  if (r.balance.refundDueFen > 0) lines.push(`  REFUND DUE ${formatFen(r.balance.refundDueFen)} yuan: more came back than was owed (fundguard cases refund / void-entry)`);
  return lines;
}

const dbOption = () => new Option('--db <path>', DB_HELP);

export function registerCases(program: Command): Command {
  const cases = program.command('cases').description('recovery cases: the queue, their lifecycle, ledger and history');

  cases
    .command('export')
    .description('write every case as one CSV row (UTF-8 with BOM; full IDs, for investigators)')
    .addOption(dbOption())
    .addOption(new Option('--format <format>', 'output format').choices(['csv']).default('csv'))
    .requiredOption('--out <file>', 'file to write')
    .action(async (o: { db?: string; out: string }) => {
      await withStore(o.db, async (store) => {
        const n = await exportCasesCsv(store.db, o.out === "-" ? "-" : path.resolve(o.out));
        process.stderr.write(`fundguard: ${n} case(s) written to ${o.out}\n`);
      });
    });

  cases
    .command('list')
    .description('list cases (tab-separated, largest amount first)')
    .addOption(dbOption())
    .option('--district <code>', 'district code (first 6 digits of the agency)')
    .option('--status <statuses>', `status, or several separated by commas (${CASE_STATUSES.join(', ')})`)
    .option('--detector <id>', 'detector id, e.g. deceased_payment')
    .option('--min-amount <yuan>', 'overpaid amount at least this many yuan')
    .option('--assignee <name>', 'assigned to this investigator')
    .option('--as-of <date>', 'business date for days open (default today, Asia/Shanghai)')
    .action(async (o: { db?: string; district?: string; status?: string; detector?: string; minAmount?: string; assignee?: string; asOf?: string }) => {
      let minAmountFen: number | undefined;
      if (o.minAmount !== undefined) {
        const p = parseAmountFen(o.minAmount);
        if (!p.ok || p.value < 0) throw new UsageError(`--min-amount: got "${o.minAmount}", expected an amount of yuan ≥ 0 with at most two decimals`);
        minAmountFen = p.value;
      }
      const asOf = asOfOption(o.asOf);
      await withStore(o.db, async (store) => {
        const status = o.status?.split(',').map((s) => s.trim()).filter(Boolean);
        const rows = await listCases(store.db, { district: o.district, status, detector: o.detector, minAmountFen, assignee: o.assignee }, asOf, timeZone());
        const lines = ['case_id\tdetector\tstatus\tconfidence\tdistrict_code\tid_number\tname\tperiods\tmonths\tamount\trecovered\toutstanding\tassignee\tdays_open\tflags'];
        for (const r of rows) {
          const c = r.case;
          const flags = [r.balance.refundDueFen > 0 ? `REFUND_DUE ${formatFen(r.balance.refundDueFen)}` : '', c.follow_up_of ? `follow-up of ${c.follow_up_of}` : ''].filter(Boolean).join('; ');
          lines.push([c.id, c.detector, c.status, c.confidence, c.district_code, c.id_number, c.name, `${c.first_period}..${c.last_period}`, c.months, formatFen(r.balance.overpaidFen), formatFen(r.balance.recoveredFen), formatFen(r.balance.outstandingFen), c.assignee ?? '', r.daysOpen, flags].join('\t'));
        }
        out(lines);
        process.stderr.write(`fundguard: ${rows.length} case(s)\n`);
      });
    });

  cases
    .command('show')
    .description('everything about one case: evidence, payments counted, ledger, history')
    .argument('<id>', 'case id')
    .addOption(dbOption())
    .action(async (id: string, o: { db?: string }) => {
      const caseId = caseIdArg(id);
      await withStore(o.db, async (store) => {
        const d = await caseDetail(store.db, caseId, loadHolidayCalendar(), timeZone());
        const c = d.case;
        const b = d.balance;
        const lines = [
          `case ${c.id}  ${c.detector}  status ${c.status}  confidence ${c.confidence}${c.assignee ? `  assigned to ${c.assignee}` : ''}`,
          `  person      ${c.name}  ${c.id_number}  district ${c.district_code}`,
          `  overpaid    ${formatFen(b.overpaidFen)} yuan for ${c.months} month(s) ${c.first_period}..${c.last_period} (scheme ${c.scheme})`,
          `  recovered   ${formatFen(b.recoveredFen)} yuan; outstanding ${formatFen(b.outstandingFen)} yuan${b.refundDueFen > 0 ? `; REFUND DUE ${formatFen(b.refundDueFen)} yuan` : ''}`,
          `  opened      ${c.created_at} (run ${c.created_run_id}); last updated ${c.updated_at}`,
        ];
        if (d.chain.length > 1) lines.push(`  chain       ${d.chain.map((x) => `${x.id === c.id ? '*' : ''}${x.id} (${x.status}, ${formatFen(x.amount_fen)})`).join(' → ')}`);
        if (d.notice) lines.push(`  notice      sent ${d.notice.sentOn}; 30 working days end ${d.notice.deadline}${d.notice.provisional ? ' (provisional: weekdays only beyond the holiday table)' : ''}`);
        lines.push('', 'evidence', `  ${d.evidence.why ?? ''}`);
        for (const cmp of d.evidence.comparisons ?? []) lines.push(`  - ${cmp.field}: ${cmp.level} [${cmp.values.join(' | ')}]${cmp.sources?.length ? ` (${cmp.sources.join(', ')})` : ''}`);
        lines.push('', `payments counted (${d.payments.length})`);
        for (const p of d.payments) lines.push(`  ${p.period}  ${p.scheme}  ${p.item}  ${formatFen(p.amount_fen).padStart(10)}  paid ${p.paid_on ?? '(no pay date in the extract)'}  batch ${p.batch}  account ${p.account ?? ''}  ${p.file}:${p.line}`);
        lines.push('', `ledger (${d.ledger.length})`);
        for (const e of d.ledger) lines.push(`  #${e.id}  ${e.paid_on}  ${e.kind.padEnd(9)}  ${formatFen(e.amount_fen).padStart(10)}  ${e.channel ?? ''}  by ${e.actor}${e.voids_entry_id ? `  voids #${e.voids_entry_id}` : ''}${e.reason ? `  — ${e.reason}` : ''}`);
        lines.push('', `history (${d.events.length})`);
        for (const e of d.events) {
          const move = e.from_status !== e.to_status && e.to_status ? `  ${e.from_status ?? '∅'} → ${e.to_status}` : '';
          lines.push(`  ${e.at}  ${e.kind}${move}  by ${e.actor}${e.approved_by ? ` approved by ${e.approved_by}` : ''}${e.reason ? `  — ${e.reason}` : ''}${e.evidence_ref ? `  [evidence: ${e.evidence_ref}]` : ''}`);
        }
        out(lines);
      });
    });

  cases
    .command('assign')
    .description('assign a case to an investigator')
    .argument('<id>', 'case id')
    .requiredOption('--to <name>', 'investigator')
    .requiredOption('--by <name>', 'who assigns it')
    .option('--reason <text>', 'why')
    .addOption(dbOption())
    .action(async (id: string, o: { to: string; by: string; reason?: string; db?: string }) => {
      const caseId = caseIdArg(id);
      await withStore(o.db, async (store) => {
        const changed = await assignCase(store.db, { caseId, to: o.to, by: o.by, reason: o.reason }, changeContext());
        out([changed ? `case ${caseId}: assigned to ${o.to.trim()}` : `case ${caseId}: already assigned to ${o.to.trim()}; nothing changed`]);
      });
    });

  cases
    .command('transition')
    .description(`change a case's status (false_positive and written_off need --approved-by, a second person)`)
    .argument('<id>', 'case id')
    .requiredOption('--to <status>', `new status (${CASE_STATUSES.join(', ')})`)
    .requiredOption('--by <name>', 'who makes the change')
    .requiredOption('--reason <text>', 'why (kept in the history)')
    .option('--approved-by <name>', 'second person approving the change')
    .option('--evidence <ref>', 'reference to the evidence (document number, file)')
    .option('--date <date>', 'date it happened, YYYY-MM-DD (default today; for notice_sent the 30 working days count from it)')
    .addOption(dbOption())
    .action(async (id: string, o: { to: string; by: string; reason: string; approvedBy?: string; evidence?: string; date?: string; db?: string }) => {
      const caseId = caseIdArg(id);
      await withStore(o.db, async (store) => {
        const r = await transitionCase(store.db, { caseId, to: o.to, by: o.by, reason: o.reason, approvedBy: o.approvedBy, evidenceRef: o.evidence, date: o.date }, changeContext());
        const lines = [`case ${caseId}: ${r.from} → ${r.to}`];
        if (r.automatic) lines.push(`  then ${r.automatic} automatically (nothing outstanding)`);
        if (r.balance.refundDueFen > 0) lines.push(`  REFUND DUE ${formatFen(r.balance.refundDueFen)} yuan`);
        out(lines);
      });
    });

  cases
    .command('repay')
    .description('record money that came back (a ledger entry)')
    .argument('<id>', 'case id')
    .requiredOption('--amount <yuan>', 'amount in yuan, e.g. 3456.70')
    .requiredOption('--channel <channel>', `how it came back (${CHANNELS.join(', ')})`)
    .requiredOption('--date <date>', 'date the money came back, YYYY-MM-DD')
    .requiredOption('--by <name>', 'who records it')
    .option('--reason <text>', 'note (kept in the history)')
    .option('--evidence <ref>', 'reference to the evidence (receipt, bank statement)')
    .option('--again', 'record it although the same amount, channel and date is already in the ledger (a second repayment)')
    .addOption(dbOption())
    .action(async (id: string, o: { amount: string; channel: string; date: string; by: string; reason?: string; evidence?: string; again?: boolean; db?: string }) => {
      const caseId = caseIdArg(id);
      const amountFen = toUsage(() => parseYuan(o.amount, '--amount'));
      await withStore(o.db, async (store) => {
        const r = await recordRepayment(store.db, { caseId, amountFen, channel: o.channel, date: o.date, by: o.by, reason: o.reason, evidenceRef: o.evidence, again: o.again }, changeContext());
        out([`case ${caseId}: ${formatFen(amountFen)} yuan (${o.channel.trim()}, ${o.date.trim()}) recorded as ledger entry ${r.entryId}`, ...moneyLines(r)]);
      });
    });

  cases
    .command('refund')
    .description('record money paid back to the payer after an over-recovery (up to the refund due)')
    .argument('<id>', 'case id')
    .requiredOption('--amount <yuan>', 'amount in yuan')
    .requiredOption('--date <date>', 'date of the refund, YYYY-MM-DD')
    .requiredOption('--by <name>', 'who records it')
    .requiredOption('--reason <text>', 'why')
    .option('--evidence <ref>', 'reference to the evidence')
    .addOption(dbOption())
    .action(async (id: string, o: { amount: string; date: string; by: string; reason: string; evidence?: string; db?: string }) => {
      const caseId = caseIdArg(id);
      const amountFen = toUsage(() => parseYuan(o.amount, '--amount'));
      await withStore(o.db, async (store) => {
        const r = await recordRefund(store.db, { caseId, amountFen, date: o.date, by: o.by, reason: o.reason, evidenceRef: o.evidence }, changeContext());
        out([`case ${caseId}: refund of ${formatFen(amountFen)} yuan recorded as ledger entry ${r.entryId}`, ...moneyLines(r)]);
      });
    });

  cases
    .command('void-entry')
    .description('cancel a ledger entry recorded in error (a new, negative entry; the original stays)')
    .argument('<id>', 'case id')
    .requiredOption('--entry <n>', 'ledger entry number (see cases show)')
    .requiredOption('--by <name>', 'who cancels it')
    .requiredOption('--reason <text>', 'why')
    .addOption(dbOption())
    .action(async (id: string, o: { entry: string; by: string; reason: string; db?: string }) => {
      const caseId = caseIdArg(id);
      if (!/^\d+$/.test(o.entry)) throw new UsageError(`--entry: got "${o.entry}", expected a ledger entry number`);
      await withStore(o.db, async (store) => {
        const r = await voidEntry(store.db, { caseId, entryId: Number(o.entry), by: o.by, reason: o.reason }, changeContext());
        out([`case ${caseId}: entry ${o.entry} voided by entry ${r.entryId}`, ...moneyLines(r)]);
      });
    });

  cases
    .command('flag')
    .description("record the payer's conduct (serious-dishonesty criteria): refused to repay, or broke a repayment agreement")
    .argument('<id>', 'case id')
    .option('--refused-to-repay', 'the payer refused to repay')
    .option('--broke-agreement', 'the payer broke a repayment agreement (case had a repayment plan)')
    .requiredOption('--by <name>', 'who records it')
    .requiredOption('--reason <text>', 'what happened')
    .option('--evidence <ref>', 'reference to the evidence')
    .option('--date <date>', 'date it happened, YYYY-MM-DD (default today)')
    .addOption(dbOption())
    .action(async (id: string, o: { refusedToRepay?: boolean; brokeAgreement?: boolean; by: string; reason: string; evidence?: string; date?: string; db?: string }) => {
      const caseId = caseIdArg(id);
      if (!!o.refusedToRepay === !!o.brokeAgreement) throw new UsageError('give exactly one of --refused-to-repay, --broke-agreement');
      const flag = o.refusedToRepay ? 'refused_to_repay' : 'broke_agreement';
      await withStore(o.db, async (store) => {
        await flagCase(store.db, { caseId, flag, by: o.by, reason: o.reason, evidenceRef: o.evidence, date: o.date }, changeContext());
        out([`case ${caseId}: ${flag} recorded`]);
      });
    });

  cases
    .command('followup')
    .description('write the follow-up list of open cases: days open, notice sent, deadline of 30 working days (CSV)')
    .requiredOption('--out <file>', 'CSV file to write')
    .option('--as-of <date>', 'business date (default today, Asia/Shanghai)')
    .option('--district <code>', 'only this district')
    .addOption(dbOption())
    .action(async (o: { out: string; asOf?: string; district?: string; db?: string }) => {
      const asOf = asOfOption(o.asOf);
      await withStore(o.db, async (store) => {
        const n = await writeFollowUpCsv(store.db, o.out === "-" ? "-" : path.resolve(o.out), { asOf, calendar: loadHolidayCalendar(), district: o.district, timeZone: timeZone() });
        process.stderr.write(`fundguard: ${n} open case(s) written to ${o.out}\n`);
      });
    });

  cases
    .command('dishonesty')
    .description('write the serious-dishonesty candidates (more than 6 months or ¥10,000, and refused to repay or broke an agreement) (CSV)')
    .requiredOption('--out <file>', 'CSV file to write')
    .addOption(dbOption())
    .action(async (o: { out: string; db?: string }) => {
      await withStore(o.db, async (store) => {
        const n = await writeDishonestyCsv(store.db, o.out === "-" ? "-" : path.resolve(o.out), timeZone());
        process.stderr.write(`fundguard: ${n} candidate(s) written to ${o.out}\n`);
      });
    });

  return cases;
}

function toUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CaseError) throw new UsageError(e.message);
    throw e;
  }
}
