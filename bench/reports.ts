/**
 * Reports-only timing (issue 10): writes the run folder of the latest run of a store again, as the nightly
 * job's `reports` step does (same run id, business date, start instant and detector outcomes, read from the
 * run's row), and prints wall and CPU time and the process's peak RSS before and after. Run it on a COPY of a
 * bench store (the step refreshes `scheme_period`).
 *
 *     node bin/run-ts.js bench/reports.ts DB OUT [--warm] [SINK_ID ...]
 *
 * `--warm` writes the reports once before the measured pass, so that SQLite's page cache (bounded at 128 MiB,
 * src/db/sqlite.ts) and the JIT are warm as they are in the nightly job after the detectors; the peak RSS
 * of the measured pass over the RSS before it is then what the reports themselves add.
 */
import { openStore } from '../src/db/connection.ts';
import { loadSettings } from '../src/config/settings.ts';
import { writeRunReports, type DetectorOutcome } from '../src/reports/run-reports.ts';

const [dbFile, outDir, ...rest] = process.argv.slice(2);
const warm = rest.includes('--warm');
const sinks = rest.filter((a) => a !== '--warm');
if (!dbFile || !outDir) throw new Error('usage: reports.ts DB OUT [SINK_ID ...]');
const store = await openStore(dbFile);
const run = await store.db.selectFrom('run').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();
const stats = JSON.parse(run.stats ?? '{}') as { detectors?: DetectorOutcome[] };
const settings = loadSettings();
const rss = (): number => Math.round(process.memoryUsage().rss / 2 ** 20);
const input = { db: store.db, runId: Number(run.id), asOf: run.as_of, startedAt: run.started_at, outDir, settings, detectors: stats.detectors ?? [], ...(sinks.length ? { sinks } : {}) };
if (warm) await writeRunReports(input);
const rssBefore = rss();
const peakBefore = process.resourceUsage().maxRSS / 1024;
let sampled = rssBefore;
const sampler = setInterval(() => (sampled = Math.max(sampled, rss())), 10);
const t = Date.now();
const cpu = process.cpuUsage();
const timings: Record<string, number> = {};
await writeRunReports({ ...input, timings });
const c = process.cpuUsage(cpu);
clearInterval(sampler);
sampled = Math.max(sampled, rss());
console.log(JSON.stringify({
  runId: Number(run.id), asOf: run.as_of, wallS: (Date.now() - t) / 1000, cpuUserS: c.user / 1e6, cpuSysS: c.system / 1e6,
  warm, rssBeforeMiB: rssBefore, peakRssBeforeMiB: Math.round(peakBefore), sampledPeakRssMiB: sampled, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), timings,
}));
await store.close();
