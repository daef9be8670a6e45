/**
 * Crash-test hooks. `FUNDGUARD_TEST_PAUSE_AT=<point>` makes the process announce `PAUSED <point>` on stderr
 * and block at that point, so a test can SIGKILL it in the middle of a step (issue: crash-safe runs).
 * Inert unless the variable is set.
 */
export function pausePoint(point: string): void {
  if (process.env.FUNDGUARD_TEST_PAUSE_AT !== point) return;
  process.stderr.write(`PAUSED ${point}\n`);
  const ms = Number(process.env.FUNDGUARD_TEST_PAUSE_MS ?? 60_000);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
