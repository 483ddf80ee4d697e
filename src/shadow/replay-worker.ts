import {parentPort, workerData} from 'node:worker_threads'
import type {TraceKeys} from '../store/api.js'
import type {ShadowOptions} from '../store/run-config.js'
import {openStore} from '../store/sqlite.js'
import {RowPacker} from '../store/row-pack.js'
import {encodeRows} from '../store/trace-writer.js'
import type {RequestTrace} from '../trace/schema.js'
import {recordOfCheckedText} from '../traffic/reader.js'
import {emptyProgress, recordProgress} from './progress.js'
import {openReplayer, replayRequest, type Replayer} from './replay.js'
import {sendable} from '../util/thread-error.js'
import type {ReplayBatch, ReplayReply, ReplayWorkerData} from './replay-threads.js'

/**
 * A replay thread (replay-threads.ts): builds the run's replayer from the run's options, exactly as
 * the main thread does, then replays each batch of records it is sent, in order, one request at a
 * time, and answers each batch with its requests' rows encoded and packed (the writer thread
 * stores them as they are) and what they add to the run's progress. After an error it answers
 * every later batch empty: the main thread stops the run.
 */
const port = parentPort!
const data = workerData as ReplayWorkerData

let replayer: Replayer | null = null
/** Traces stored before the run (re)started, read once the replayer is built: the run writes nothing before every thread is ready. */
let done: TraceKeys = new Set()
let failed = false
let queue: Promise<void> = Promise.resolve()
/** One packing buffer, reused from batch to batch (each batch is copied out at its size). */
const packer = new RowPacker()

const reply = (m: ReplayReply, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer)

async function replay(batch: ReplayBatch): Promise<void> {
  const progress = emptyProgress(0)
  if (failed || replayer === null) return reply({kind: 'batch', id: batch.id, part: null, traces: 0, progress})
  const traces: RequestTrace[] = []
  let error: unknown = null
  for (let i = 0; i < batch.texts.length; i++) {
    let got: RequestTrace[]
    try {
      got = await replayRequest(recordOfCheckedText(batch.texts[i]!), batch.lines[i]!, replayer, done)
    } catch (e) {
      error = e
      break
    }
    if (got.length === 0) progress.already_stored++
    else {
      recordProgress(progress, got)
      for (const t of got) traces.push(t)
    }
  }
  let part = null
  if (traces.length > 0) {
    try {
      part = encodeRows(data.label, data.runId, traces, packer)
    } catch (e) {
      // The requests of a batch are stored together or not at all, as one writer batch would be.
      error ??= e
      part = null
    }
  }
  if (error !== null) failed = true
  const stored = part === null ? 0 : traces.length
  const m: ReplayReply = {kind: 'batch', id: batch.id, part, traces: stored, progress, ...(error === null ? {} : {error: sendable(error)})}
  reply(m, part !== null && !Array.isArray(part) ? [part.buffer] : [])
}

port.on('message', (batch: ReplayBatch) => {
  queue = queue.then(() => replay(batch))
})

try {
  replayer = await openReplayer(data.options as ShadowOptions, null, data.inputs)
  if (data.resumed) {
    const store = openStore(data.label)
    try {
      done = store.storedTraceKeys(data.runId)
    } finally {
      store.close()
    }
  }
  reply({kind: 'ready'})
} catch (e) {
  failed = true
  reply({kind: 'ready', error: sendable(e)})
}
