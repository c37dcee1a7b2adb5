import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // no test reads or writes the user's cache of compiled graphs (tests that need one pass a folder)
    env: { ATTRIB_CACHE_DIR: 'off' },
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
