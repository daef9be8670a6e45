/** `fundguard cases ...`: the recovery queue. */
import path from 'node:path';
import { Option, type Command } from 'commander';
import { openStore } from '../../db/connection.ts';
import { exportCasesCsv } from '../../cases/export.ts';
import { DEFAULT_DB, dbTarget } from '../common.ts';

export function registerCases(program: Command): Command {
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

  return cases;
}
