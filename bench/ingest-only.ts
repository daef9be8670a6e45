/**
 * Ingest-only timing (issue 10): ingests an inbox into a fresh SQLite file and prints wall time, CPU time,
 * rows and the run's ingest timings; no detectors or reports.
 *
 *     node bin/run-ts.js bench/ingest-only.ts INBOX DB [AS_OF]
 */
import os from 'node:os';
import pino from 'pino';
import { openStore } from '../src/db/connection.ts';
import { loadSettings } from '../src/config/settings.ts';
import { ingestInbox } from '../src/ingest/ingest.ts';

const [inbox, dbFile, asOf = '2025-12-31'] = process.argv.slice(2);
if (!inbox || !dbFile) throw new Error('usage: ingest-only.ts INBOX DB [AS_OF]');
const store = await openStore(dbFile);
const settings = loadSettings();
const begun = await store.beginRun(asOf, os.hostname(), process.pid, new Date().toISOString());
if (!('runId' in begun)) throw new Error('locked');
const t = Date.now();
const cpu = process.cpuUsage();
const timings: Record<string, number> = {};
const files = await ingestInbox({ store, inbox, settings, runId: begun.runId, asOf, logger: pino({ level: 'warn' }), timings });
const c = process.cpuUsage(cpu);
const rows = files.reduce((s, f) => s + f.rowsRead, 0);
const sum = (k: 'rowsAccepted' | 'rowsRejected' | 'rowsRepeated' | 'rowsSkipped') => files.reduce((s, f) => s + f[k], 0);
console.log(JSON.stringify({ wallS: (Date.now() - t) / 1000, cpuUserS: c.user / 1e6, cpuSysS: c.system / 1e6, rows, accepted: sum('rowsAccepted'), rejected: sum('rowsRejected'), repeated: sum('rowsRepeated'), skipped: sum('rowsSkipped'), maxRssMiB: process.resourceUsage().maxRSS / 1024, timings }));
await store.db.updateTable('run').set({ status: 'abandoned', ended_at: new Date().toISOString(), error: 'ingest-only bench' }).where('id', '=', begun.runId).execute();
await store.close();
