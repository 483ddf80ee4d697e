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
let failed: string | null = null

port.on('message', (m: {runId: string; traces: RequestTrace[]}) => {
  if (failed !== null) {
    port.postMessage({ok: false, message: failed, store: true})
    return
  }
  try {
    store.traces.write(m.runId, m.traces)
    port.postMessage({ok: true})
  } catch (e) {
    failed = e instanceof Error ? e.message : String(e)
    port.postMessage({ok: false, message: failed, store: e instanceof StoreError})
  }
})
port.on('close', () => store.close())
