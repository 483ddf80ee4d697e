import {existsSync} from 'node:fs'
import {StoreError} from '../errors.js'
import {resolveRun} from '../report/summary.js'
import type {RunInfo, TraceDatabase} from '../store/api.js'
import {openStore} from '../store/sqlite.js'

/** Opens an existing store (never creating one for a command that only reads) and resolves a run id or prefix. */
export function openRun(db: string, runId: string): {store: TraceDatabase; run: RunInfo} {
  const store = openExisting(db)
  try {
    return {store, run: resolveRun(store, runId)}
  } catch (e) {
    store.close()
    throw e
  }
}

export function openExisting(db: string): TraceDatabase {
  if (!existsSync(db)) throw new StoreError(`${db}: no trace store there (pass --db, or run \`understudy shadow\` first)`)
  return openStore(db)
}
