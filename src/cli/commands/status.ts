/** `fundguard status`: recent runs. */
import type { Command } from 'commander';
import { openStore } from '../../db/connection.ts';
import { DEFAULT_DB, UsageError, dbTarget } from '../common.ts';

export function registerStatus(program: Command): void {
program
  .command('status')
  .description('print the recent runs')
  .option('--db <path>', `database (default ${DEFAULT_DB}, or FUNDGUARD_DB)`)
  .option('--limit <n>', 'how many runs', '10')
  .action(async (o: { db?: string; limit: string }) => {
    const limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: got "${o.limit}", expected a whole number of runs (1 or more)`);
    const store = await openStore(dbTarget(o.db));
    try {
      const runs = await store.db.selectFrom('run').selectAll().orderBy('id', 'desc').limit(limit).execute();
      if (runs.length === 0) process.stdout.write('no runs yet\n');
      for (const r of runs) {
        process.stdout.write(`${r.id}\t${r.as_of}\t${r.status}\t${r.started_at}\t${r.ended_at ?? ''}\t${r.error ?? ''}\n`);
      }
    } finally {
      await store.close();
    }
  });

}
