/**
 * LibreOffice Calc headless (Debian's libreoffice-calc, installed by .ci/run) for the integration tests.
 * Each call uses its own temporary user profile, so parallel or leftover instances never lock each other.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** CSV export filter: comma, double quote, UTF-8 (76), data from line 1. */
export const CSV_FILTER = 'csv:Text - txt - csv (StarCalc):44,34,76,1';

/**
 * Converts spreadsheet files (first sheet) to CSV with `soffice --headless --convert-to`.
 * @returns the CSV path of each input, in order
 * @throws Error with LibreOffice's output when a file was not converted
 */
export async function convertToCsv(files: readonly string[], outDir: string): Promise<string[]> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lo-'));
  try {
    const { stdout, stderr } = await run(
      'soffice',
      [`-env:UserInstallation=${pathToFileURL(profile).href}`, '--headless', '--norestore', '--convert-to', CSV_FILTER, '--outdir', outDir, ...files],
      { timeout: 180_000 },
    );
    const out = files.map((f) => path.join(outDir, `${path.basename(f, path.extname(f))}.csv`));
    for (const f of out) if (!fs.existsSync(f)) throw new Error(`LibreOffice did not write ${f}:\n${stdout}\n${stderr}`);
    return out;
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
