import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two test files at a time: on the 2-core CI host the default (cores - 1 = one worker) left a core
    // idle while files import and CLI children start; measured here, 280 s → 183 s for the whole suite.
    maxWorkers: 2,
  },
})
