import { defineConfig } from 'vitest/config';

// `npm run test:integration`: tests that need system services or programs (PostgreSQL, Chromium, LibreOffice).
export default defineConfig({
  test: {
    include: ['tests/integration/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    passWithNoTests: true,
  },
});
