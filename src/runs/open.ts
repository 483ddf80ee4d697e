import {existsSync} from 'node:fs'
import {StoreError} from '../errors.js'
import type {RunInfo, TraceDatabase, TraceStore} from '../store/api.js'
import {openStore} from '../store/sqlite.js'

/**
 * The one way a stored run is opened, by every command and library call that takes a run id, with
 * one set of errors: no store file at the path given, no run matching the id, or an id prefix that
 * matches several runs (the store's error, listing them). A command that only reads never creates
 * a store where there was none.
 */

export type OpenRun = {store: TraceDatabase; run: RunInfo}

/** Opens the existing store at `db` and finds the run `idOrPrefix` (a full id or a unique prefix) in it. */
export function openRun(db: string, idOrPrefix: string, opts: {readonly?: boolean} = {}): OpenRun {
  if (!existsSync(db)) throw new StoreError(`${db}: no trace store there, so no run ${idOrPrefix}`)
  const store = openStore(db, {readonly: opts.readonly ?? true})
  try {
    return {store, run: findRun(store, idOrPrefix, db)}
  } catch (e) {
    store.close()
    throw e
  }
}

/** Opens the existing store at `db`, for a command that reads or adds to what is there but never starts one. */
export function openExistingStore(db: string, opts: {readonly?: boolean} = {}): TraceDatabase {
  if (!existsSync(db)) throw new StoreError(`${db}: no trace store there (pass --db, or run \`understudy shadow\` first)`)
  return openStore(db, {readonly: opts.readonly ?? false})
}

/** The store at `db` opened read-only, or null when there is none (a listing shows nothing rather than failing). */
export function openStoreIfExists(db: string): TraceDatabase | null {
  return existsSync(db) ? openStore(db, {readonly: true}) : null
}

/**
 * The run `idOrPrefix` names in an open store; `label` is the store as the user named it (its
 * path by default). A prefix matching several runs is the store's StoreError, naming them.
 */
export function findRun(store: Pick<TraceStore, 'getRun' | 'path'>, idOrPrefix: string, label: string = store.path): RunInfo {
  const run = store.getRun(idOrPrefix)
  if (run === undefined) throw new StoreError(`${label}: no run matches "${idOrPrefix}"`)
  return run
}
