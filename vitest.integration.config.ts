import { defineConfig } from 'vitest/config';

// `npm run test:integration`: tests that need system services or programs (PostgreSQL, Chromium,
// LibreOffice): everything under tests/integration/, plus every database test (`*.db.test.ts`) run again
// on PostgreSQL, each in a throwaway database (tests/helpers/engines.ts).
export default defineConfig({
  test: {
    include: ['tests/integration/**/*.test.ts', 'tests/**/*.db.test.ts'],
    env: { FUNDGUARD_TEST_ENGINES: 'postgres' },
    globalSetup: ['tests/helpers/pg-teardown.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
