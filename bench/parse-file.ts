/**
 * Micro-benchmark of the reading half of ingest (issue 10): fingerprint, read (decode + split) and parse
 * (layout + parse + packing) of payment CSV files, in-process, the writer replaced by a sink that keeps
 * only a digest of the batches (so two versions can be checked to give identical messages).
 *
 *     node bin/run-ts.js bench/parse-file.ts FILE... [--repeat N] [--no-digest]
 *
 * Prints per file: rows, µs/row of fingerprint, read and parse (thread-time clocks of parseFile, i.e.
 * performance.now around the phases), process CPU µs/row of parseFile less one fingerprint (it runs one), and a sha256 of every message but `end`'s
 * timings — equal digests mean identical results (`--no-digest` leaves the hashing out of the CPU time).
 * `readOnlyCpuUs` is a separate pass of csvRowChunks alone (read + decode + split); `cpuUs` is parseFile's
 * process CPU time less one fingerprint. Wall clocks are meaningless on a loaded machine: compare CPU.
 */
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { loadSettings } from '../src/config/settings.ts';
import { fingerprintFile } from '../src/ingest/encoding.ts';
import { csvRowChunks, parseFile, parseSettings, vocabularyOf, type FileJob, type ParsedMessage } from '../src/ingest/file-parser.ts';

const args = process.argv.slice(2);
let repeat = 1;
let withDigest = true;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--repeat') repeat = Number(args[++i]);
  else if (args[i] === '--no-digest') withDigest = false;
  else files.push(args[i]!);
}
const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
const ps = parseSettings(loadSettings(), '2026-01-31');
const vocab = vocabularyOf(ps);

for (const file of files) {
  for (let r = 0; r < repeat; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const fp = await fingerprintFile(file);
    const fpMs = performance.now() - t0;
    const fpCpu = process.cpuUsage(c0);
    // Read only (decode + split), for the CPU split between reading and parsing.
    const r0 = process.cpuUsage();
    let records = 0;
    for (const chunk of csvRowChunks(file, fp.encoding, file, { ms: 0 })) records += chunk.length;
    const readCpu = cpuMs(process.cpuUsage(r0));
    const digest = crypto.createHash('sha256');
    let end: Extract<ParsedMessage, { t: 'end' }> | null = null;
    let fail: string | null = null;
    const job: FileJob = { fid: 1, abs: file, rel: file.split('/').pop()!, kind: 'payments', source: 'payments', format: 'csv' };
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await parseFile(job, ps, vocab, (m) => {
      if (!withDigest) {
        if (m.t === 'end') end = m;
        if (m.t === 'fail') fail = m.message;
        return;
      }
      if (m.t === 'end') {
        end = m;
        const { readMs: _r, parseMs: _p, ...rest } = m;
        digest.update(JSON.stringify(rest));
      } else {
        if (m.t === 'fail') fail = m.message;
        if (m.t === 'batch') {
          const { pay, ...rest } = m;
          digest.update(pay);
          digest.update(JSON.stringify(rest));
        } else digest.update(JSON.stringify(m));
      }
    });
    const wall = performance.now() - w0;
    const cpu = process.cpuUsage(cpu0);
    const e = end as Extract<ParsedMessage, { t: 'end' }> | null;
    if (!e) throw new Error(`no end: ${fail}`);
    const rows = e.rowsRead;
    const us = (ms: number): string => ((ms * 1000) / rows).toFixed(3);
    console.log(
      JSON.stringify({
        file: job.rel, encoding: fp.encoding, rows, rejected: e.rowsRejected,
        fpUs: us(fpMs), fpCpuUs: us(cpuMs(fpCpu)), readOnlyCpuUs: us(readCpu), records, readUs: us(e.readMs), parseUs: us(e.parseMs), readParseUs: us(e.readMs + e.parseMs),
        wallUs: us(wall - fpMs), cpuUs: us(cpuMs(cpu) - cpuMs(fpCpu)), digest: withDigest ? digest.digest('hex').slice(0, 16) : null,
      }),
    );
  }
}
