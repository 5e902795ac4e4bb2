import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file starts its own embedded stack on free ports; forks keep process.env per file.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
