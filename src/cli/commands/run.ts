/** `fundguard run`: the nightly job once (ingest → match → detect → cases → reports). */
import path from 'node:path';
import type { Command } from 'commander';
import { loadSettings } from '../../config/settings.ts';
import { isIsoDate, todayIn, formatFen } from '../../calendar/values.ts';
import { openStore } from '../../db/connection.ts';
import { createLogger } from '../../log.ts';
import { runNightly } from '../../jobs/nightly-run.ts';
import { DEFAULT_DB, UsageError, dbTarget } from '../common.ts';

export function registerRun(program: Command): void {
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

}
