import {existsSync, statSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {StoreError, UnderstudyError} from '../errors.js'
import type {RequestTrace} from '../trace/schema.js'
import type {TraceDatabase} from './api.js'
import {packRows, type PackedRows} from './row-pack.js'
import {traceRow} from './traces-repo.js'

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
  /** Queues one batch. Throws the first error of an earlier batch, if any, so a failed store stops the run. */
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

const WORKER = new URL('./trace-writer-worker.js', import.meta.url)

export function openTraceWriter(store: TraceDatabase, runId: string): TraceWriter {
  const file = store.path
  const workerFile = WORKER.protocol === 'file:' ? fileURLToPath(WORKER) : ''
  const onDisk = file !== ':memory:' && existsSync(file) && statSync(file).isFile()
  if (onDisk && workerFile !== '' && existsSync(workerFile)) return new WorkerTraceWriter(file, runId)
  return new SyncTraceWriter(store, runId)
}

class SyncTraceWriter implements TraceWriter {
  readonly backlog = 0
  constructor(
    private readonly store: TraceDatabase,
    private readonly runId: string,
  ) {}
  write(traces: RequestTrace[]): void {
    this.store.writeTraces(this.runId, traces)
  }
  async waitBelow(): Promise<void> {}
  async drain(): Promise<void> {}
  async close(): Promise<void> {}
}

/** One batch for the worker: packed rows, or (a value packRows cannot carry) the rows themselves. */
export type WriterMessage = {runId: string; packed: PackedRows} | {runId: string; rows: unknown[][]}

type Reply = {ok: true} | {ok: false; message: string; store: boolean; sqliteCode: string | null}

class WorkerTraceWriter implements TraceWriter {
  private readonly worker: Worker
  private outstanding = 0
  private failure: Error | null = null
  /** A waiter that is not `strict` waits for the batches out even after a failure (close). */
  private waiters: {max: number; strict: boolean; resolve: () => void; reject: (e: Error) => void}[] = []
  private closed = false
  /** The worker has stopped: nothing outstanding will ever be answered. */
  private dead = false

  constructor(
    private readonly file: string,
    private readonly runId: string,
  ) {
    // A small young generation: the worker only holds one batch at a time, and every MB here is RSS.
    this.worker = new Worker(WORKER, {workerData: {file}, resourceLimits: {maxYoungGenerationSizeMb: 6}})
    this.worker.on('message', (reply: Reply) => {
      this.outstanding--
      if (!reply.ok) this.fail(reply.store ? new StoreError(reply.message, {sqliteCode: reply.sqliteCode}) : new UnderstudyError(reply.message))
      this.wake()
    })
    this.worker.on('error', (e) => {
      this.dead = true
      this.fail(e instanceof UnderstudyError ? e : new StoreError(`${file}: trace writer failed: ${e.message}`, {cause: e}))
    })
    this.worker.on('exit', (code) => {
      this.dead = true
      if (!this.closed) this.fail(new StoreError(`${file}: trace writer stopped unexpectedly (exit ${code})`))
      else this.wake()
    })
  }

  get backlog(): number {
    return this.outstanding
  }

  write(traces: RequestTrace[]): void {
    if (this.failure) throw this.failure
    if (traces.length === 0) return
    let rows: unknown[][]
    try {
      rows = traces.map((t) => traceRow(this.file, this.runId, t))
    } catch (e) {
      this.fail(e as Error)
      throw e
    }
    const packed = packRows(rows)
    this.outstanding++
    if (packed === null) this.worker.postMessage({runId: this.runId, rows} satisfies WriterMessage)
    else this.worker.postMessage({runId: this.runId, packed} satisfies WriterMessage, [packed.buffer])
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
