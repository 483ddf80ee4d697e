import {existsSync, statSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {StoreError, UnderstudyError} from '../errors.js'
import type {RequestTrace} from '../trace/schema.js'
import type {TraceDatabase} from './api.js'

/**
 * Writes a run's trace batches, each in one transaction (all sides of a request stay together).
 * For a store file on disk the inserts run on a worker thread with its own connection, so SQLite's
 * work overlaps the replay instead of adding to it; an in-memory store (or running from the
 * TypeScript sources, where there is no compiled worker) writes synchronously, as before.
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

type Reply = {ok: true} | {ok: false; message: string; store: boolean; sqliteCode: string | null}

class WorkerTraceWriter implements TraceWriter {
  private readonly worker: Worker
  private outstanding = 0
  private failure: Error | null = null
  private waiters: {max: number; resolve: () => void; reject: (e: Error) => void}[] = []
  private closed = false

  constructor(file: string, private readonly runId: string) {
    // A small young generation: the worker only holds one batch at a time, and every MB here is RSS.
    this.worker = new Worker(WORKER, {workerData: {file}, resourceLimits: {maxYoungGenerationSizeMb: 6}})
    this.worker.on('message', (reply: Reply) => {
      this.outstanding--
      if (!reply.ok) this.fail(reply.store ? new StoreError(reply.message, {sqliteCode: reply.sqliteCode}) : new UnderstudyError(reply.message))
      this.wake()
    })
    this.worker.on('error', (e) => this.fail(e instanceof UnderstudyError ? e : new StoreError(`${file}: trace writer failed: ${e.message}`, {cause: e})))
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new StoreError(`${file}: trace writer stopped unexpectedly (exit ${code})`))
    })
  }

  get backlog(): number {
    return this.outstanding
  }

  write(traces: RequestTrace[]): void {
    if (this.failure) throw this.failure
    if (traces.length === 0) return
    this.outstanding++
    this.worker.postMessage({runId: this.runId, traces})
  }

  waitBelow(max: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    if (this.outstanding <= max) return Promise.resolve()
    return new Promise((resolve, reject) => this.waiters.push({max, resolve, reject}))
  }

  drain(): Promise<void> {
    return this.waitBelow(0)
  }

  async close(): Promise<void> {
    await this.drain().catch(() => {})
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
      if (this.failure) w.reject(this.failure)
      else if (this.outstanding <= w.max) w.resolve()
      else still.push(w)
    }
    this.waiters = still
  }
}
