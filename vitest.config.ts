import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Packages the template the embedded stacks provision from (once, cached by its inputs);
    // compares the permissions the roles grant with those the suite's requests used.
    globalSetup: ['test/support/packagedTemplate.global.ts', 'test/support/iamUsage.global.ts'],
    // Each file starts its own embedded stack on free ports; forks keep process.env per file.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
