import {defineConfig} from 'vitest/config'

/**
 * Files that need a module registry of their own: they mock a module (`vi.mock`) or set the
 * environment before a library reads it once at load (chalk's FORCE_COLOR); each starts from a fresh
 * registry and, in its afterAll, resets it and undoes its mock or variable for the files after it. Every other file shares
 * its worker's registry (`isolate: false`): measured here, the whole suite 254 s → ~110 s, most of
 * the difference the same modules imported again for each of ~180 files. A test file must therefore
 * leave no module state behind that another relies on; one that cannot goes in this list.
 */
const OWN_REGISTRY = ['test/model/factory.test.ts', 'test/tui/no-color.test.tsx']

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Workers are reused across files; whether a file gets a fresh module registry is its project's setting below.
    poolOptions: {forks: {isolate: false}},
    // Two test files at a time: on the 2-core CI host the default (cores - 1 = one worker) left a core
    // idle while files import and CLI children start; measured here, 280 s → 183 s for the whole suite.
    maxWorkers: 2,
    projects: [
      {extends: true, test: {name: 'shared', include: ['test/**/*.test.ts', 'test/**/*.test.tsx'], exclude: OWN_REGISTRY, poolOptions: {forks: {isolate: false}}}},
      {extends: true, test: {name: 'isolated', include: OWN_REGISTRY, poolOptions: {forks: {isolate: true}}}},
    ],
  },
})
