import {parentPort, workerData} from 'node:worker_threads'
import {StoreError} from '../errors.js'
import type {RequestTrace} from '../trace/schema.js'
import {openStore} from './sqlite.js'

/**
 * The worker behind openTraceWriter: its own connection to the store file, one transaction per
 * batch, one reply per batch in order. After a failed batch every later one is refused, so the
 * store never holds a request that came after a lost one.
 */
const port = parentPort!
const store = openStore((workerData as {file: string}).file)
let failed: {ok: false; message: string; store: boolean; sqliteCode: string | null} | null = null

port.on('message', (m: {runId: string; traces: RequestTrace[]}) => {
  if (failed !== null) {
    port.postMessage(failed)
    return
  }
  try {
    store.traces.write(m.runId, m.traces)
    port.postMessage({ok: true})
  } catch (e) {
    // The SQLite code travels with the message: the run tells a full store (resumable) from others.
    failed = {ok: false, message: e instanceof Error ? e.message : String(e), store: e instanceof StoreError, sqliteCode: e instanceof StoreError ? e.sqliteCode : null}
    port.postMessage(failed)
  }
})
port.on('close', () => store.close())
