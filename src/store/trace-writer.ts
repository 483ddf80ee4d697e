import {existsSync, statSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {StoreError, UnderstudyError} from '../errors.js'
import type {RequestTrace} from '../trace/schema.js'
import {rebuilt, type SentError} from '../util/thread-error.js'
import type {TraceDatabase} from './api.js'
import {type PackedRows, RowPacker} from './row-pack.js'
import {traceRows} from './traces-repo.js'

/**
 * Writes a run's trace batches, each in one transaction (all sides of a request stay together).
 * For a store file on disk the inserts run on a worker thread with its own connection, so SQLite's
 * work overlaps the replay instead of adding to it; an in-memory store (or running from the
 * TypeScript sources, where there is no compiled worker) writes synchronously, as before.
 * The worker is handed each batch as bytes (row-pack.ts): every trace is encoded into its row once,
 * here, and the buffer is transferred, not copied; a trace that cannot be encoded fails the write
 * at once, with the error the store would have given.
 */
export interface TraceWriter {
  /**
   * Adds traces to the next batch, each encoded into its row now (see flush). Throws the first
   * error of an earlier batch, or the encoders' error for a trace they refuse, which drops the
   * batch so far: a batch is stored whole or not at all.
   */
  add(traces: RequestTrace[]): void
  /**
   * Whether addRows works: rows encoded elsewhere (a replay worker thread) are handed on as they
   * are only to the writer thread; the synchronous writer stores trace objects.
   */
  readonly takesRows: boolean
  /**
   * Adds `traces` traces already encoded into their rows (encodeRows) to the next batch; the part
   * holds every trace of each request in it. Throws as add does.
   */
  addRows(part: PackedRows | unknown[][], traces: number): void
  /** Traces added since the last flush. */
  readonly queued: number
  /** Hands the traces added so far over as one batch (one transaction); nothing when none was added. Throws as add does. */
  flush(): void
  /** add() then flush(): one batch. */
  write(traces: RequestTrace[]): void
  /** Batches handed over and not yet committed. */
  readonly backlog: number
  /** Resolves once at most `max` batches are outstanding; rejects with the first write error. */
  waitBelow(max: number): Promise<void>
  /** Every batch committed (or the first write error thrown). */
  drain(): Promise<void>
  /** Drains, then releases the worker and its connection. Never throws. */
  close(): Promise<void>
}

/**
 * `traces` encoded into their rows (traceRows; `label` names the store in its errors) and packed
 * by `packer` into one transferable buffer at its exact size, or the rows themselves when a value
 * cannot be packed. Throws the encoders' error for a trace they refuse (the packer keeps nothing).
 */
export function encodeRows(label: string, runId: string, traces: readonly RequestTrace[], packer: RowPacker): PackedRows | unknown[][] {
  const rows = traceRows(label, runId, traces)
  if (!packer.append(rows)) return rows
  return packer.take()!
}

const WORKER = new URL('./trace-writer-worker.js', import.meta.url)

/** A failed batch's error as the run reads it: a StoreError (SQLite's code kept), anything else one line of ours. */
function writerError(sent: SentError): Error {
  const e = rebuilt(sent)
  return e instanceof StoreError ? e : new UnderstudyError(e.message)
}

export function openTraceWriter(store: TraceDatabase, runId: string): TraceWriter {
  const file = store.path
  const workerFile = WORKER.protocol === 'file:' ? fileURLToPath(WORKER) : ''
  const onDisk = file !== ':memory:' && existsSync(file) && statSync(file).isFile()
  if (onDisk && workerFile !== '' && existsSync(workerFile)) return new WorkerTraceWriter(file, runId)
  return new SyncTraceWriter(store, runId)
}

class SyncTraceWriter implements TraceWriter {
  readonly backlog = 0
  readonly takesRows = false
  private batch: RequestTrace[] = []
  constructor(
    private readonly store: TraceDatabase,
    private readonly runId: string,
  ) {}
  get queued(): number {
    return this.batch.length
  }
  add(traces: RequestTrace[]): void {
    for (const t of traces) this.batch.push(t)
  }
  addRows(): void {
    throw new UnderstudyError('internal: the synchronous trace writer stores trace objects, not encoded rows')
  }
  flush(): void {
    if (this.batch.length === 0) return
    const batch = this.batch
    this.batch = []
    this.store.writeTraces(this.runId, batch)
  }
  write(traces: RequestTrace[]): void {
    this.add(traces)
    this.flush()
  }
  async waitBelow(): Promise<void> {}
  async drain(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * One batch for the worker: per add() call, in order, its packed rows, or (a value packRows cannot
 * carry) the rows themselves.
 */
export type WriterMessage = {runId: string; parts: (PackedRows | unknown[][])[]}

type Reply = {ok: true} | {ok: false; error: SentError} | {ready: true}

class WorkerTraceWriter implements TraceWriter {
  readonly takesRows = true
  private readonly worker: Worker
  private outstanding = 0
  private failure: Error | null = null
  /** A waiter that is not `strict` waits for the batches out even after a failure (close). */
  private waiters: {max: number; strict: boolean; resolve: () => void; reject: (e: Error) => void}[] = []
  private closed = false
  /** The next batch: what add() encoded since the last flush, and the buffers to transfer with it. */
  private parts: (PackedRows | unknown[][])[] = []
  private transfer: ArrayBuffer[] = []
  /** The batch's packed rows since the last part: one buffer, reused from batch to batch. */
  private readonly packer = new RowPacker()
  private queuedTraces = 0
  /** The worker has stopped: nothing outstanding will ever be answered. */
  private dead = false
  /** Settles once the worker has loaded its modules and opened the store, or has stopped. */
  private readonly started: Promise<void>
  private markStarted: () => void = () => {}

  constructor(
    private readonly file: string,
    private readonly runId: string,
  ) {
    // A small young generation: the worker only holds one batch at a time, and every MB here is RSS.
    this.worker = new Worker(WORKER, {workerData: {file}, resourceLimits: {maxYoungGenerationSizeMb: 6}})
    this.started = new Promise((resolve) => (this.markStarted = resolve))
    this.worker.on('message', (reply: Reply) => {
      if ('ready' in reply) return this.markStarted()
      this.outstanding--
      if (!reply.ok) this.fail(writerError(reply.error))
      this.wake()
    })
    this.worker.on('error', (e) => {
      this.dead = true
      this.markStarted()
      this.fail(e instanceof UnderstudyError ? e : new StoreError(`${file}: trace writer failed: ${e.message}`, {cause: e}))
    })
    this.worker.on('exit', (code) => {
      this.dead = true
      this.markStarted()
      if (!this.closed) this.fail(new StoreError(`${file}: trace writer stopped unexpectedly (exit ${code})`))
      else this.wake()
    })
  }

  get backlog(): number {
    return this.outstanding
  }

  get queued(): number {
    return this.queuedTraces
  }

  add(traces: RequestTrace[]): void {
    if (this.failure) throw this.failure
    if (traces.length === 0) return
    let rows: unknown[][]
    try {
      rows = traceRows(this.file, this.runId, traces)
    } catch (e) {
      this.parts = []
      this.transfer = []
      this.packer.clear()
      this.queuedTraces = 0
      this.fail(e as Error)
      throw e
    }
    // Packed now, not at the flush: until then the batch is off-heap bytes rather than objects that
    // every scavenge copies and then promotes into the old generation (which grows RSS). Rows the
    // packer cannot carry go as they are, after the packed rows before them, so the order holds.
    if (!this.packer.append(rows)) {
      this.takePacked()
      this.parts.push(rows)
    }
    this.queuedTraces += traces.length
  }

  addRows(part: PackedRows | unknown[][], traces: number): void {
    if (this.failure) throw this.failure
    if (traces === 0) return
    // After the rows packed here so far, so a batch keeps the order its parts were added in.
    this.takePacked()
    this.parts.push(part)
    if (!Array.isArray(part)) this.transfer.push(part.buffer)
    this.queuedTraces += traces
  }

  /** The packed rows so far as the batch's next part: the packer's buffer itself (handOver), not a copy. */
  private takePacked(): void {
    const packed = this.packer.handOver()
    if (packed === null) return
    this.parts.push(packed)
    this.transfer.push(packed.buffer)
  }

  flush(): void {
    if (this.failure) throw this.failure
    if (this.queuedTraces === 0) return
    this.takePacked()
    const message: WriterMessage = {runId: this.runId, parts: this.parts}
    const transfer = this.transfer
    this.parts = []
    this.transfer = []
    this.queuedTraces = 0
    this.outstanding++
    this.worker.postMessage(message, transfer)
  }

  write(traces: RequestTrace[]): void {
    this.add(traces)
    this.flush()
  }

  waitBelow(max: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    if (this.outstanding <= max) return Promise.resolve()
    return new Promise((resolve, reject) => this.waiters.push({max, strict: true, resolve, reject}))
  }

  drain(): Promise<void> {
    return this.waitBelow(0)
  }

  async close(): Promise<void> {
    // Batches handed over before a failure found here (a trace the encoders refused) are still
    // committed: the worker is stopped only once it has answered every one.
    if (this.outstanding > 0 && !this.dead) await new Promise<void>((resolve, reject) => this.waiters.push({max: 0, strict: false, resolve, reject}))
    this.closed = true
    // A run that ends before its first batch (a model server that answers garbage) would otherwise
    // stop the worker while it still reads its modules, and those reads' files stayed open for good.
    await this.started
    await this.worker.terminate()
  }

  private fail(e: Error): void {
    // The first error is the one worth reporting; later batches were refused because of it.
    this.failure ??= e
    this.wake()
  }

  private wake(): void {
    const still: typeof this.waiters = []
    for (const w of this.waiters) {
      if (this.failure && w.strict) w.reject(this.failure)
      else if (this.outstanding <= w.max || this.dead) w.resolve()
      else still.push(w)
    }
    this.waiters = still
  }
}
