import {parentPort, workerData} from 'node:worker_threads'
import {sendable, type SentError} from '../util/thread-error.js'
import {eachPackedRow, type PackedRows} from './row-pack.js'
import {openConnection} from './database.js'
import {TracesRepo} from './traces-repo.js'
import type {WriterMessage} from './trace-writer.js'

/**
 * The worker behind openTraceWriter: its own connection to the store file, one transaction per
 * batch, one reply per batch in order. After a failed batch every later one is refused, so the
 * store never holds a request that came after a lost one.
 */
const port = parentPort!
/**
 * The writer only appends (rows in line order, lists under new keys): its working set is the right
 * edge of each b-tree and the list index, a few MiB. better-sqlite3's 16 MB default cache filled up
 * anyway over a long run and was most of the peak RSS a 16 KiB-page store added (600k requests:
 * 234 → 223 MB at 4 MiB, as fast; 100k --model recorded: 196–199 → 185–186 MB, as fast).
 */
const WRITER_CACHE_KIB = 4096
// The connection and the traces table's code only: the other repositories (and zod, which their
// schemas load) would add ~0.1 s of module loading to every run's start for nothing. No foreign-key
// check per row: writeRows checks the run exists in each batch's own IMMEDIATE transaction. No CHECK
// evaluated by SQLite per row: TracesRepo makes the requests table's checks in JavaScript on this
// connection (rows.ts badRequestParam), cheaper than SQLite's evaluation of them.
const store = openConnection(
  (workerData as {file: string}).file,
  {cacheKiB: WRITER_CACHE_KIB, foreignKeys: false, checks: false},
  (conn) => ({traces: new TracesRepo(conn), close: () => conn.close()}),
)
let failed: {ok: false; error: SentError} | null = null

port.on('message', (m: WriterMessage) => {
  if (failed !== null) {
    port.postMessage(failed)
    return
  }
  try {
    store.traces.writeRows(m.runId, batchRows(m.parts))
    port.postMessage({ok: true})
  } catch (e) {
    // The SQLite code travels with the message: the run tells a full store (resumable) from others.
    failed = {ok: false, error: sendable(e)}
    port.postMessage(failed)
  }
})
port.on('close', () => store.close())

/** A batch's rows in order, each packed one decoded as the insert before it is done (eachPackedRow). */
function* batchRows(parts: readonly (PackedRows | unknown[][])[]): Generator<unknown[], void, undefined> {
  for (const part of parts) yield* Array.isArray(part) ? part : eachPackedRow(part)
}
// Modules loaded and the store open: from here a terminate() leaves no module read or file behind.
port.postMessage({ready: true})
