/**
 * `npm run bench -- [--recipients N] [--months N] [--scales 0.25,0.5,1] [--runs 3] [--engine sqlite,postgres]`
 *
 * City-scale benchmark of the whole job (issue 10). For each scale it generates (once, cached under
 * bench-out/) an inbox with the sample-data generator — plain UTF-8 CSV, realistic death records — then,
 * `--runs` times each:
 * - the full first run on every month but the last, in a fresh process with a fresh database;
 * - an incremental run after adding the last month's payment file;
 * timed from outside with /usr/bin/time -v (wall time, peak RSS of the process) and, inside, per step from the
 * run record (ingest, death facts, each detector, reports). Prints a table (medians) and writes every figure
 * to bench-out/bench-<timestamp>.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { generateInbox } from '../sample-data/lib/generator.ts';
import { openStore } from '../src/db/connection.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const recipients = Number(opt('recipients', '100000'));
const months = Number(opt('months', '12'));
const scales = opt('scales', '0.25,0.5,1').split(',').map(Number);
const runs = Number(opt('runs', '3'));
const engines = opt('engine', 'sqlite').split(',');
let engine = engines[0]!;
const seed = Number(opt('seed', '20240101'));
const outRoot = path.resolve(REPO, opt('out', 'bench-out'));
const pgAdmin = process.env.FUNDGUARD_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

interface Measure {
  wallS: number;
  peakRssMiB: number;
  rows: number;
  rowsPerS: number;
  steps: Record<string, number>;
  detectors: Record<string, number>;
  exit: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function freshDb(tag: string): Promise<string> {
  if (engine === 'sqlite') {
    const f = path.join(outRoot, `bench-${tag}.db`);
    for (const x of [f, f + '-wal', f + '-shm']) fs.rmSync(x, { force: true });
    return f;
  }
  const pg = (await import('pg')).default;
  const name = `fg_bench_${tag.replace(/[^a-z0-9_]/gi, '_')}`.toLowerCase();
  const c = new pg.Client({ connectionString: pgAdmin });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(pgAdmin);
  u.pathname = '/' + name;
  return u.toString();
}

async function timedRun(inbox: string, db: string, asOf: string): Promise<Measure> {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, path.join(REPO, 'bin/fundguard.js'), 'run', '--inbox', inbox, '--db', db, '--out', path.join(outRoot, 'reports'), '--as-of', asOf], {
    encoding: 'utf8', env: { ...process.env, FUNDGUARD_LOG_LEVEL: 'warn' }, maxBuffer: 1 << 26,
  });
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const wallS = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN;
  if (r.status !== 0) process.stderr.write(r.stdout + r.stderr);
  const store = await openStore(db);
  const run = await store.db.selectFrom('run').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
  await store.close();
  const stats = JSON.parse(run.stats) as { files?: { rowsRead: number }[]; timings?: Record<string, number>; detectors?: { id: string; ms: number }[] };
  const rows = (stats.files ?? []).reduce((s, f) => s + f.rowsRead, 0);
  return {
    wallS, peakRssMiB: rss ? Number(rss[1]) / 1024 : NaN, rows, rowsPerS: rows / wallS,
    steps: Object.fromEntries(Object.entries(stats.timings ?? {}).map(([k, v]) => [k, v / 1000])),
    detectors: Object.fromEntries((stats.detectors ?? []).map((d) => [d.id, d.ms / 1000])),
    exit: r.status ?? -1,
  };
}

function linkOrCopy(src: string, dst: string): void {
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}

const results: Record<string, unknown>[] = [];
fs.mkdirSync(outRoot, { recursive: true });
for (const e of engines) {
engine = e;
for (const scale of scales) {
  const n = Math.round(recipients * scale);
  const genDir = path.join(outRoot, `gen-${seed}-${n}-${months + 1}`);
  if (!fs.existsSync(path.join(genDir, 'expected', 'summary.json'))) {
    const t = Date.now();
    process.stderr.write(`generating ${n} recipients × ${months + 1} months into ${genDir} ...\n`);
    await generateInbox({ seed, recipients: n, months: months + 1, start: '2024-01', outDir: genDir });
    process.stderr.write(`  generated in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
  }
  // Initial inbox: every file but the last month's payments (and the re-export); incremental: add it.
  const payments = fs.readdirSync(path.join(genDir, 'inbox', 'payments')).sort();
  const monthly = payments.filter((f) => /_\d{6}\.csv$/.test(f) && !f.includes('补充'));
  const last = monthly.at(-1)!;
  const initial = path.join(outRoot, `inbox-${n}`);
  fs.rmSync(initial, { recursive: true, force: true });
  for (const f of monthly.slice(0, -1)) linkOrCopy(path.join(genDir, 'inbox', 'payments', f), path.join(initial, 'payments', f));
  for (const src of fs.readdirSync(path.join(genDir, 'inbox', 'deaths'))) {
    for (const f of fs.readdirSync(path.join(genDir, 'inbox', 'deaths', src))) linkOrCopy(path.join(genDir, 'inbox', 'deaths', src, f), path.join(initial, 'deaths', src, f));
  }
  const full: Measure[] = [];
  const incr: Measure[] = [];
  for (let i = 0; i < runs; i++) {
    fs.rmSync(path.join(initial, 'payments', last), { force: true });
    const db = await freshDb(`${n}`);
    full.push(await timedRun(initial, db, '2025-12-31'));
    linkOrCopy(path.join(genDir, 'inbox', 'payments', last), path.join(initial, 'payments', last));
    incr.push(await timedRun(initial, db, '2026-01-31'));
    process.stderr.write(`  ${n} recipients, run ${i + 1}/${runs}: full ${full.at(-1)!.wallS.toFixed(1)} s, incremental ${incr.at(-1)!.wallS.toFixed(1)} s\n`);
  }
  results.push({ scale, recipients: n, months, engine, full, incremental: incr });
  const f = (m: Measure[], k: keyof Measure) => median(m.map((x) => x[k] as number));
  const steps = Object.keys(full[0]!.steps);
  console.log(`\n${engine}: ${n} recipients × ${months} months (medians of ${runs})`);
  console.log(`| run | rows read | wall s | rows/s | peak RSS MiB | ${steps.join(' s | ')} s |`);
  console.log(`|---|---|---|---|---|${steps.map(() => '---').join('|')}|`);
  for (const [label, m] of [['full', full], ['incremental', incr]] as const) {
    console.log(`| ${label} | ${f(m, 'rows')} | ${f(m, 'wallS').toFixed(2)} | ${Math.round(f(m, 'rowsPerS'))} | ${f(m, 'peakRssMiB').toFixed(0)} | ${steps.map((s) => median(m.map((x) => x.steps[s] ?? 0)).toFixed(2)).join(' | ')} |`);
  }
  for (const [label, m] of [['full', full], ['incremental', incr]] as const) {
    const dets = Object.keys(m[0]!.detectors);
    console.log(`detectors (${label} run, s): ${dets.map((d) => `${d} ${median(m.map((x) => x.detectors[d] ?? 0)).toFixed(2)}`).join(', ')}`);
  }
  const fullS = f(full, 'wallS');
  const incrS = f(incr, 'wallS');
  const rss = Math.max(...[...full, ...incr].map((x) => x.peakRssMiB));
  console.log(`cost per row: full ${((fullS / f(full, 'rows')) * 1e6).toFixed(2)} µs, incremental ${((incrS / f(incr, 'rows')) * 1e6).toFixed(2)} µs`);
  if (n === 1_000_000) {
    const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met');
    console.log(`targets (issue 10, at 1M recipients): full ≤ 60 s: ${fullS.toFixed(1)} s ${mark(fullS <= 60)}; incremental ≤ 7 s: ${incrS.toFixed(1)} s ${mark(incrS <= 7)}; peak RSS ≤ 1024 MiB: ${rss.toFixed(0)} MiB ${mark(rss <= 1024)}`);
  }
}
}
const file = path.join(outRoot, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(file, JSON.stringify({ recipients, months, scales, runs, engines, results }, null, 2));
console.log(`\nfigures written to ${file}`);
