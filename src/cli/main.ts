/**
 * The `fundguard` command (ARCHITECTURE.md floor 7): parses flags and calls jobs and cases; each command
 * lives in `commands/`. Exit codes (README "Exit codes"): 0 success; 1 the run or command failed; 2 bad
 * usage, flags or settings (a `run` dated before a run that read extracts too); 3 another run holds the lock. Failures print one line `fundguard: <reason>`
 * on stderr.
 */
import { Command, CommanderError } from 'commander';
import { maskIdsInText } from '../identity/resident-id.ts';
import { UsageError } from './common.ts';
import { registerRun } from './commands/run.ts';
import { registerCases } from './commands/cases.ts';
import { registerStatus } from './commands/status.ts';
import { registerSchedule } from './commands/schedule.ts';
import { registerFeedback } from './commands/feedback.ts';

const program = new Command();
program
  .name('fundguard')
  .description('Cross-matches benefit payments with death records, finds overpayments, keeps recovery cases and writes reports.')
  .showHelpAfterError()
  .exitOverride();

registerRun(program);
registerCases(program);
registerStatus(program);
registerSchedule(program);
registerFeedback(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exitCode = e.exitCode === 0 ? 0 : 2;
  else await reportFailure(e);
}

/**
 * Prints a failure on stderr and sets the exit code (see the header). The job's error classes are loaded here,
 * on the failure path only, so that commands that do not run the job (`--help`, `status`) do not load it.
 */
async function reportFailure(e: unknown): Promise<void> {
  if (e instanceof UsageError) {
    process.stderr.write(`fundguard: ${e.message}\n`);
    process.exitCode = 2;
    return;
  }
  const [{ EXIT_LOCKED, EarlierDateError, RunLockedError, RunStoppedError }, { SettingsError }] = await Promise.all([import('../jobs/nightly-run.ts'), import('../config/settings.ts')]);
  if (e instanceof RunStoppedError) {
    process.stderr.write(`fundguard: ${e.message}\n`);
    process.exitCode = 0;
  } else if (e instanceof RunLockedError || (e instanceof Error && e.name === 'StoreBusyError')) {
    process.stderr.write(`fundguard: ${e.message}\n`);
    process.exitCode = EXIT_LOCKED;
  } else if (e instanceof SettingsError || e instanceof EarlierDateError) {
    process.stderr.write(`fundguard: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`fundguard: ${maskIdsInText(msg.split('\n')[0]!)}\n`);
    if (process.env.FUNDGUARD_DEBUG && e instanceof Error) process.stderr.write(maskIdsInText(e.stack ?? '') + '\n');
    process.exitCode = 1;
  }
}
