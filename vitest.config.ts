import { defineConfig } from 'vitest/config';

// `npm test`: everything that needs only `npm ci` (no system services or programs).
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/integration/**', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
