/**
 * `--out` targets that are not regular files (found by a new user: `--out /dev/stdout` replaced the
 * /dev/stdout symlink with a regular file, because files are written to a temporary name and renamed).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { writeCsv, writesInPlace } from '../src/reports/csv.ts';

describe('CSV output targets', () => {
  it('writes a FIFO in place instead of renaming over it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-out-'));
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    expect(writesInPlace(fifo)).toBe(true);
    const reader = new Promise<string>((resolve) => {
      let s = '';
      fs.createReadStream(fifo, 'utf8').on('data', (d) => (s += d)).on('end', () => resolve(s));
    });
    await writeCsv(fifo, ['a', 'b'], [[1, '=x']]);
    expect(await reader).toBe("\ufeffa,b\r\n1,'=x\r\n");
    expect(fs.statSync(fifo).isFIFO()).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a regular file atomically, and `-` to standard output', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-out-'));
    const f = path.join(dir, 'x.csv');
    expect(writesInPlace(f)).toBe(false);
    await writeCsv(f, ['a'], [['1']]);
    expect(fs.readFileSync(f, 'utf8')).toBe('\ufeffa\r\n1\r\n');
    expect(fs.readdirSync(dir)).toEqual(['x.csv']);
    const script = `import { writeCsv } from ${JSON.stringify(path.resolve('src/reports/csv.ts'))}; await writeCsv('-', ['h'], [['v']]);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stdout).toBe('\ufeffh\r\nv\r\n');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
