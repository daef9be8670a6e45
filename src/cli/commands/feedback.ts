/**
 * `fundguard feedback import FILE.xlsx --by NAME [--approved-by NAME]`: applies the investigators' feedback
 * of a work list (WORKLIST-FORMAT.md) — all rows or none (src/cases/feedback.ts). Exit 0 when applied or
 * when nothing was new; 1 when bad rows refused the file (each listed on stderr); 2 for bad flags.
 *
 * Test hook: `FUNDGUARD_TEST_PAUSE_AFTER_ROWS=n` makes the import sleep inside its transaction after n
 * applied rows (printing `fundguard: paused ...` on stderr), so a test can kill it mid-import.
 */
import path from 'node:path';
import fs from 'node:fs';
import type { Command } from 'commander';
import { importFeedback } from '../../cases/feedback.ts';
import { maskIdsInText } from '../../identity/resident-id.ts';
import { DB_HELP, UsageError } from '../common.ts';
import { changeContext, withStore } from './cases.ts';

export function registerFeedback(program: Command): void {
  const feedback = program.command('feedback').description("investigators' feedback from work lists");
  feedback
    .command('import')
    .description('apply the feedback columns (核查结果, 追回金额, 追回渠道, 追回日期, 备注) of a work list: every row or none')
    .argument('<file>', 'work list .xlsx')
    .requiredOption('--by <name>', 'who imports it (the actor of the events)')
    .option('--approved-by <name>', 'second person approving the rows that need it (误报, 核销)')
    .option('--db <path>', DB_HELP)
    .action(async (file: string, o: { by: string; approvedBy?: string; db?: string }) => {
      if (!fs.existsSync(file)) throw new UsageError(`no such file: ${file}`);
      const pauseAfter = Number(process.env.FUNDGUARD_TEST_PAUSE_AFTER_ROWS ?? 0);
      await withStore(o.db, async (store) => {
        const ctx = changeContext();
        const r = await importFeedback(store.db, {
          file: path.resolve(file), by: o.by, approvedBy: o.approvedBy, now: ctx.now, today: ctx.today,
          afterRowApplied: pauseAfter > 0
            ? async (n) => {
                if (n !== pauseAfter) return;
                process.stderr.write(`fundguard: paused after ${n} applied row(s) (FUNDGUARD_TEST_PAUSE_AFTER_ROWS)\n`);
                await new Promise((resolve) => setTimeout(resolve, 600_000));
              }
            : undefined,
        });
        const counts = `${r.rowsRead} row(s) read: ${r.applied} applied, ${r.unchanged} unchanged, ${r.skipped} already imported, ${r.ignored} without feedback`;
        if (r.status === 'rejected') {
          for (const p of r.problems) {
            process.stderr.write(maskIdsInText(`  ${p.line ? `line ${p.line}` : 'file'}${p.caseId ? ` (case ${p.caseId})` : ''}${p.column ? ` ${p.column}` : ''}: ${p.message}`) + '\n');
          }
          process.stderr.write(`fundguard: ${path.basename(file)}: ${r.problems.length} bad row(s); nothing was applied — fix them and import the file again\n`);
          process.exitCode = 1;
          return;
        }
        process.stdout.write(r.status === 'applied'
          ? `feedback import ${r.importId} of ${path.basename(file)}: ${counts}\n`
          : `${path.basename(file)}: nothing new to apply (${counts})\n`);
      });
    });
}
