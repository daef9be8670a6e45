/**
 * Sample-data generator CLI.
 *
 *   node bin/run-ts.js sample-data/generate.ts [--seed N] [--recipients N] [--months N] [--start YYYY-MM] [--layout plain|messy] [--out DIR]
 *   npm run generate -- --recipients 100000 --months 12 --layout plain --out /tmp/big
 *
 * Writes DIR/inbox/ (payment and death-record extracts) and DIR/expected/ (cases.csv, rejects.csv,
 * summary.json). Defaults: seed 20240101, 3000 recipients, 18 months from 2024-01, layout messy, DIR = this
 * folder. See sample-data/README.md.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OPTIONS, generateInbox, type GenerateOptions } from './lib/generator.ts';

const USAGE = 'usage: generate.ts [--seed N] [--recipients N] [--months N] [--start YYYY-MM] [--layout plain|messy] [--out DIR]';

function parseArgs(argv: string[]): GenerateOptions {
  const opts: GenerateOptions = { ...DEFAULT_OPTIONS, outDir: path.dirname(fileURLToPath(import.meta.url)) };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    const int = () => {
      if (!/^\d+$/.test(value)) throw new Error(`${flag} must be a non-negative integer, got "${value}"`);
      return Number(value);
    };
    switch (flag) {
      case '--seed':
        opts.seed = int();
        break;
      case '--recipients':
        opts.recipients = int();
        break;
      case '--months':
        opts.months = int();
        break;
      case '--start':
        opts.start = value;
        break;
      case '--layout':
        if (value !== 'plain' && value !== 'messy') throw new Error(`--layout must be "plain" or "messy", got "${value}"`);
        opts.layout = value;
        break;
      case '--out':
        opts.outDir = path.resolve(value);
        break;
      default:
        throw new Error(`unknown option "${arg}"\n${USAGE}`);
    }
  }
  return opts;
}

try {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const { summary, inboxDir, expectedDir } = await generateInbox(opts);
  const secs = (performance.now() - t0) / 1000;
  const t = summary.totals;
  const cases = Object.entries(t.cases).map(([d, n]) => `${d} ${n}`).join(', ');
  console.log(
    `generated ${t.paymentRows} payment rows in ${t.paymentFiles} files (${summary.options.layout}, ${t.xlsxFiles} XLSX), ` +
      `${Object.values(t.deathRecords).reduce((a, b) => a + b, 0)} death records in ${t.deathFiles} files ` +
      `(${t.deceasedRecipients} deceased recipients, ¥${t.totalOverpaid} overpaid, ${t.paymentRowsRejected} rows to reject) ` +
      `in ${secs.toFixed(1)} s (${Math.round(t.paymentRows / secs)} payment rows/s)\n` +
      `  expected cases: ${cases}\n` +
      `  inbox:    ${inboxDir}\n  expected: ${expectedDir}`,
  );
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}
