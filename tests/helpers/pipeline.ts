/**
 * Helpers to drive the real pipeline in tests: generate an inbox, run the job in-process or through the
 * CLI, read the case export.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { generateInbox, type GenerateResult, type Layout } from '../../sample-data/lib/generator.ts';
import { loadSettings } from '../../src/config/settings.ts';
import { runNightly, type RunResult } from '../../src/jobs/nightly-run.ts';
import { exportCasesCsv } from '../../src/cases/export.ts';
import { silentLogger } from '../../src/log.ts';
import type { Store } from '../../src/db/connection.ts';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(REPO, 'bin/fundguard.js');

/**
 * Generates a synthetic inbox into `dir/gen` (deterministic). `layout` `plain` (default): header and data rows,
 * CSV only; `messy`: title rows, repeated headers, summary rows, notes, blank lines and XLSX files
 * (sample-data/README.md).
 */
export async function generate(dir: string, recipients = 400, months = 15, seed = 20240101, start = '2024-01', layout: Layout = 'plain'): Promise<GenerateResult> {
  return generateInbox({ seed, recipients, months, start, layout, outDir: path.join(dir, 'gen') });
}

/** Runs the job in-process with the shipped settings. */
export async function runJob(store: Store, inbox: string, outDir: string, asOf = '2025-12-31'): Promise<RunResult> {
  return runNightly({ store, inbox, outDir, asOf, settings: loadSettings(undefined, '/nonexistent'), logger: silentLogger });
}

/** The case export as text (BOM and CRLF included). */
export async function exportText(store: Store, dir: string): Promise<string> {
  const file = path.join(dir, `export-${Date.now()}-${Math.random().toString(36).slice(2)}.csv`);
  await exportCasesCsv(store.db, file);
  return fs.readFileSync(file, 'utf8');
}

/** Parses a CSV made of simple cells (no quotes needed by the data compared here). */
export function csvRecords(text: string): Record<string, string>[] {
  const lines = text.replace(/^\ufeff/, '').split(/\r?\n/).filter((l) => l !== '');
  const head = lines[0]!.split(',');
  return lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i]!, v])));
}

/** Runs the CLI synchronously. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, FUNDGUARD_LOG_LEVEL: 'warn', ...env }, encoding: 'utf8' });
}

/** Starts the CLI and resolves when stderr shows `marker` (or the process ends). */
export function cliUntil(args: string[], marker: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, FUNDGUARD_LOG_LEVEL: 'warn', ...env } });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const reached = new Promise<boolean>((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes(marker)) resolve(true);
    });
    child.on('exit', () => resolve(false));
  });
  return { child, reached, exited, output: () => ({ stdout, stderr }) };
}
