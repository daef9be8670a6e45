/**
 * The `fundguard` command (ARCHITECTURE.md floor 7): parses flags and calls jobs and cases. Exit codes
 * (README "Exit codes"): 0 success; 1 the run or command failed; 2 bad usage, flags or settings;
 * 3 another run holds the lock. Failures print one line `fundguard: <reason>` on stderr.
 */
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { loadSettings, SettingsError } from '../config/settings.ts';
import { isIsoDate, todayIn, formatFen } from '../calendar/values.ts';
import { openStore } from '../db/connection.ts';
import { createLogger } from '../log.ts';
import { EXIT_LOCKED, RunLockedError, runNightly } from '../jobs/nightly-run.ts';
import { exportCasesCsv } from '../cases/export.ts';
import { maskIdsInText } from '../identity/resident-id.ts';

class UsageError extends Error {}

const DEFAULT_DB = 'data/fundguard.db';

function dbTarget(opt: string | undefined): string {
  return opt ?? process.env.FUNDGUARD_DB ?? DEFAULT_DB;
}

const program = new Command();
program
  .name('fundguard')
  .description('Cross-matches benefit payments with death records, finds overpayments, keeps recovery cases and writes reports.')
  .showHelpAfterError()
  .exitOverride();

program
  .command('run')
  .description('ingest new extracts from the inbox, run the detectors, update the cases and write the reports to OUT/<as-of>/')
  .requiredOption('--inbox <dir>', 'inbox folder with payments/ and deaths/<source>/')
  .option('--db <path>', `database: SQLite file (default ${DEFAULT_DB}, or FUNDGUARD_DB)`)
  .option('--out <dir>', 'folder for the run folders', 'out')
  .option('--as-of <date>', 'business date YYYY-MM-DD (default: today in the settings time zone, Asia/Shanghai)')
  .option('--settings <file>', 'settings file (default fundguard.settings.json in the working directory when present)')
  .action(async (o: { inbox: string; db?: string; out: string; asOf?: string; settings?: string }) => {
    const settings = loadSettings(o.settings);
    const asOf = o.asOf ?? todayIn(settings.timeZone);
    if (!isIsoDate(asOf)) throw new UsageError(`--as-of: got "${asOf}", expected a date YYYY-MM-DD`);
    const logger = createLogger();
    const store = await openStore(dbTarget(o.db));
    try {
      const r = await runNightly({ store, inbox: path.resolve(o.inbox), outDir: path.resolve(o.out), asOf, settings, logger });
      const ingested = r.files.filter((f) => f.status === 'ingested');
      const rejected = r.files.filter((f) => f.status === 'rejected');
      const rows = ingested.reduce((s, f) => s + f.rowsRead, 0);
      const rej = ingested.reduce((s, f) => s + f.rowsRejected, 0);
      const out: string[] = [];
      out.push(`fundguard run ${r.runId} for ${asOf}: ${ingested.length} new file(s) ingested (${rows} rows read, ${rej} rejected), ${r.files.length - ingested.length - rejected.length} already known, ${rejected.length} rejected whole`);
      for (const f of rejected) out.push(`  rejected file ${f.path}: ${f.error}`);
      for (const d of r.detectors) {
        const c = r.cases[d.id];
        out.push(`  ${d.id}: ${d.status === 'failed' ? `FAILED (${d.error})` : `${d.findings} finding(s), ${formatFen(d.amountFen)} yuan${c ? `; cases opened ${c.opened}, updated ${c.updated}, unchanged ${c.unchanged}, follow-ups ${c.followUps}` : ''}`}`);
      }
      out.push(`reports: ${r.reports.dir}${path.sep} (summary.html, findings.csv, rejects.csv)`);
      process.stdout.write(out.join('\n') + '\n');
      if (r.detectors.some((d) => d.status === 'failed')) process.exitCode = 1;
    } finally {
      await store.close();
    }
  });

const cases = program.command('cases').description('recovery cases');
cases
  .command('export')
  .description('write every case as one CSV row (UTF-8 with BOM; full IDs, for investigators)')
  .option('--db <path>', `database (default ${DEFAULT_DB}, or FUNDGUARD_DB)`)
  .addOption(new Option('--format <format>', 'output format').choices(['csv']).default('csv'))
  .requiredOption('--out <file>', 'file to write')
  .action(async (o: { db?: string; out: string }) => {
    const store = await openStore(dbTarget(o.db));
    try {
      const n = await exportCasesCsv(store.db, path.resolve(o.out));
      process.stderr.write(`fundguard: ${n} case(s) written to ${o.out}\n`);
    } finally {
      await store.close();
    }
  });

program
  .command('status')
  .description('print the recent runs')
  .option('--db <path>', `database (default ${DEFAULT_DB}, or FUNDGUARD_DB)`)
  .option('--limit <n>', 'how many runs', '10')
  .action(async (o: { db?: string; limit: string }) => {
    const store = await openStore(dbTarget(o.db));
    try {
      const runs = await store.db.selectFrom('run').selectAll().orderBy('id', 'desc').limit(Number(o.limit) || 10).execute();
      if (runs.length === 0) process.stdout.write('no runs yet\n');
      for (const r of runs) {
        process.stdout.write(`${r.id}\t${r.as_of}\t${r.status}\t${r.started_at}\t${r.ended_at ?? ''}\t${r.error ?? ''}\n`);
      }
    } finally {
      await store.close();
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (e instanceof RunLockedError) {
    process.stderr.write(`fundguard: ${e.message}\n`);
    process.exitCode = EXIT_LOCKED;
  } else if (e instanceof UsageError || e instanceof SettingsError) {
    process.stderr.write(`fundguard: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`fundguard: ${maskIdsInText(msg.split('\n')[0]!)}\n`);
    if (process.env.FUNDGUARD_DEBUG && e instanceof Error) process.stderr.write(maskIdsInText(e.stack ?? '') + '\n');
    process.exitCode = 1;
  }
}
