import path from 'node:path'
import type {RequestTrace} from '../../src/trace/schema.js'
import {NewRun, type RunInfo, type RunStatus} from '../../src/store/api.js'
import {openStore, type SqliteTraceStore} from '../../src/store/sqlite.js'
import {removeTempDirs, tempDir} from './temp-dir.js'

/**
 * A run's metadata with every field set (checked by the real schema): a candidate against a
 * baseline bundle, repeat 2, faults and a nested config. Overrides replace fields whole.
 */
export function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return NewRun.parse({
    name: 'nightly refunds',
    candidate_ref: 'support@2.0.0#0123456789ab',
    candidate_hash: '0123456789ab'.padEnd(64, 'c'),
    baseline_ref: 'support@1.4.2#ba5e11ae0000',
    baseline_hash: 'ba5e11ae0000'.padEnd(64, 'b'),
    traffic_file: 'scenarios/support-refunds/traffic.jsonl',
    traffic_hash: 'f'.repeat(64),
    model: 'scripted:support-v2',
    repeat: 2,
    faults: 'timeouts@0.1',
    seed: 42,
    config: {concurrency: 4, approver: 'pending', nested: {list: [1, 'two', null, true]}},
    ...overrides,
  })
}

/** newRun() for a run against recorded traffic: no baseline bundle, one pass, no faults, no config. */
export function recordedRun(overrides: Partial<NewRun> = {}): NewRun {
  return newRun({baseline_ref: 'recorded', baseline_hash: null, repeat: 1, faults: null, config: {}, ...overrides})
}

export type TempStore = {
  /** The temp directory, for other files of the test (traffic, bundles). */
  dir: string
  /** The SQLite file. */
  file: string
  /** The store, open for writing. */
  store: SqliteTraceStore
  /** Closes the store (if still open) and removes the directory. */
  cleanup(): void
}

/**
 * A real SQLite trace store in a fresh temp directory (`file` names it inside, default
 * `understudy.db`). Call cleanup(), or removeTempDirs() after closing the store yourself.
 */
export function tempStore(options: {prefix?: string; file?: string} = {}): TempStore {
  const dir = tempDir(options.prefix ?? 'understudy-store-')
  const file = path.join(dir, options.file ?? 'understudy.db')
  const store = openStore(file)
  return {
    dir,
    file,
    store,
    cleanup() {
      store.close()
      removeTempDirs()
    },
  }
}

/**
 * Writes one run holding `traces` into the store at `file` (created if missing) and closes it:
 * the run's metadata is recordedRun(options.run), its status `completed` unless said otherwise.
 */
export function writeRun(
  file: string,
  traces: RequestTrace[],
  options: {run?: Partial<NewRun>; status?: RunStatus; requestsTotal?: number} = {},
): RunInfo {
  const store = openStore(file)
  try {
    const run = store.createRun(recordedRun(options.run))
    store.writeTraces(run.id, traces)
    if (options.requestsTotal !== undefined) store.setRequestsTotal(run.id, options.requestsTotal)
    const status = options.status ?? 'completed'
    if (status !== 'running') store.finishRun(run.id, status)
    return store.getRun(run.id)!
  } finally {
    store.close()
  }
}
