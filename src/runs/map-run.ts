import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {MessageChannel, receiveMessageOnPort, Worker, type MessagePort} from 'node:worker_threads'
import {UnderstudyError} from '../errors.js'
import {usableCpus} from '../util/cpus.js'
import {rebuilt} from '../util/thread-error.js'
import type {TraceDatabase, TraceFilter, TraceStore} from '../store/api.js'
import {groupByRequest} from './group.js'
import type {GroupTask, TaskRef} from './task.js'
import type {WorkerReply, WorkerJob} from './map-run-worker.js'

/**
 * Runs a task over every request of a run and folds what it hands back, in line order, as if one
 * pass had read the whole run. Reading a run back is CPU-bound (SQLite stepping cursors, decoding,
 * diffing: ~35 µs a trace), so a large run stored in a file is cut into line ranges of about equal
 * trace counts: this thread takes the first, a worker thread with its own read-only connection
 * takes each other one, and their facts are folded after this thread's, range by range. A small
 * run, an in-memory store, a store view without `lineSplits`, or the TypeScript sources (no
 * compiled worker) run the task here, in one range.
 *
 * Each connection reads its own snapshot: a run still being written while it is read may show one
 * range a few traces further on than another, as two separate reads would.
 */

export type MapRunOptions = {
  /** Ranges at most (threads, this one included); default: the CPUs available, at most 4, or UNDERSTUDY_READ_THREADS. */
  threads?: number
  /** Fewest traces worth a range of its own (default 20,000: starting a thread costs ~0.2 s). */
  minTracesPerRange?: number
}

const MIN_TRACES_PER_RANGE = 20_000
const MAX_DEFAULT_THREADS = 4

const WORKER = new URL('./map-run-worker.js', import.meta.url)

export async function mapRun<A, F, P>(
  store: TraceStore,
  runId: string,
  task: TaskRef<A, F, P>,
  onFact: (fact: F) => void,
  options: MapRunOptions = {},
): Promise<P[]> {
  // Each range is read as the task asks (TaskRef.read), within its lines.
  const ranges = planRanges(store, runId, options).map((range): TraceFilter => ({...task.read, ...range}))
  if (ranges.length === 1) return [await runHere(store, runId, task, ranges[0]!, onFact)]
  const workers = ranges.slice(1).map((range) => new RangeWorker<F>(store.path, runId, range, task as TaskRef<unknown, F, unknown>))
  try {
    const partials: P[] = [await runHere(store, runId, task, ranges[0]!, onFact)]
    for (const w of workers) partials.push((await w.drainInto(onFact)) as P)
    return partials
  } finally {
    await Promise.all(workers.map((w) => w.stop()))
  }
}

/** The task's factory as a worker would call it, over one range read through `store`. */
async function runHere<A, F, P>(store: TraceStore, runId: string, ref: TaskRef<A, F, P>, range: TraceFilter, onFact: (fact: F) => void): Promise<P> {
  const task: GroupTask<F, P> = ref.factory(ref.args, range)
  try {
    for (const group of groupByRequest(store.iterateTraces(runId, range))) {
      let fact = task.map(group)
      // Most tasks answer synchronously; await only a promise, not every request.
      if (fact instanceof Promise) fact = await fact
      if (fact !== undefined) onFact(fact)
    }
    return await task.finish()
  } finally {
    await task.close?.()
  }
}

/** How many threads a large run is read on: `threads`, else UNDERSTUDY_READ_THREADS, else the CPUs usable (util/cpus.ts; at most 4). */
export function readThreads(options: MapRunOptions = {}): number {
  if (options.threads !== undefined) return options.threads
  const env = process.env.UNDERSTUDY_READ_THREADS
  if (env !== undefined && /^\d+$/.test(env)) return Number(env)
  return Math.min(usableCpus(), MAX_DEFAULT_THREADS)
}

function canSplit(store: TraceStore): store is TraceDatabase {
  if (typeof (store as Partial<TraceDatabase>).lineSplits !== 'function' || store.path === ':memory:') return false
  return WORKER.protocol === 'file:' && existsSync(fileURLToPath(WORKER))
}

/** Line ranges to read, first to last; one empty filter (the whole run) when not splitting. */
function planRanges(store: TraceStore, runId: string, options: MapRunOptions): TraceFilter[] {
  const threads = readThreads(options)
  if (threads < 2 || !canSplit(store)) return [{}]
  const parts = Math.min(threads, Math.floor(store.countTraces(runId) / Math.max(1, options.minTracesPerRange ?? MIN_TRACES_PER_RANGE)))
  if (parts < 2) return [{}]
  const cuts = weightedCuts(store, runId, parts)
  const ranges: TraceFilter[] = []
  for (let i = 0; i <= cuts.length; i++) {
    const range: TraceFilter = {}
    if (i > 0) range.fromLine = cuts[i - 1]
    if (i < cuts.length) range.toLine = cuts[i]
    ranges.push(range)
  }
  return ranges
}

/**
 * This thread starts on its range at once, a worker ~0.3 s later (thread start, imports, its own
 * connection): over ranges of a few seconds that is ~10%, so the first range is that much larger.
 */
const FIRST_RANGE_WEIGHT = 1.1
/** Cuts are chosen among this many equal slices of the run. */
const SLICES = 100

/** Cuts giving the first range FIRST_RANGE_WEIGHT times the traces of each other one. */
function weightedCuts(store: TraceDatabase, runId: string, parts: number): number[] {
  const slices = store.lineSplits(runId, SLICES)
  const total = FIRST_RANGE_WEIGHT + parts - 1
  const cuts: number[] = []
  for (let i = 1; i < parts && slices.length > 0; i++) {
    const share = (FIRST_RANGE_WEIGHT + i - 1) / total
    const line = slices[Math.min(slices.length - 1, Math.max(0, Math.round(share * (slices.length + 1)) - 1))]!
    if (cuts.length === 0 || line > cuts[cuts.length - 1]!) cuts.push(line)
  }
  return cuts
}

/**
 * One range on a worker thread. Its facts come on a port of their own and stay there, serialised,
 * until the ranges before it are folded: received as they came, they would be decoded into this
 * thread's heap early and kept alive for seconds (tens of MB moved to the old generation, costly
 * to collect) while this thread reads its own range. The worker's own channel only says when a
 * batch was sent, the range ended or failed.
 */
class RangeWorker<F> {
  private readonly worker: Worker
  private readonly facts: MessagePort
  private partial: {value: unknown} | null = null
  private failure: Error | null = null
  private wake: (() => void) | null = null
  private stopped = false

  constructor(file: string, runId: string, private readonly range: TraceFilter, task: TaskRef<unknown, F, unknown>) {
    const {port1, port2} = new MessageChannel()
    this.facts = port1
    const job: WorkerJob = {file, runId, range, module: task.module, name: task.name, args: task.args, facts: port2}
    this.worker = new Worker(WORKER, {workerData: job, transferList: [port2]})
    this.worker.on('message', (m: WorkerReply) => {
      if (m.kind === 'done') this.partial = {value: m.partial}
      else if (m.kind === 'error') this.failure ??= rebuilt(m.error)
      this.notify()
    })
    this.worker.on('error', (e) => {
      this.failure ??= new UnderstudyError(`reading ${this.describe()} failed: ${e.message}`, {cause: e})
      this.notify()
    })
    this.worker.on('exit', (code) => {
      if (this.partial === null && !this.stopped) this.failure ??= new UnderstudyError(`reading ${this.describe()} stopped unexpectedly (exit ${code})`)
      this.notify()
    })
  }

  /** Hands every fact of the range to `onFact`, in order, and resolves with the task's total. */
  async drainInto(onFact: (fact: F) => void): Promise<unknown> {
    for (;;) {
      // Facts already sent go out before a failure is reported: what came before it was read. The
      // worker sends its last batch before its total, so once the total is here every batch is too.
      const ended = this.partial !== null || this.failure !== null
      for (let m = receiveMessageOnPort(this.facts); m !== undefined; m = receiveMessageOnPort(this.facts)) {
        for (const fact of m.message as F[]) onFact(fact)
      }
      if (this.failure) throw this.failure
      if (ended && this.partial) return this.partial.value
      if (!ended) await new Promise<void>((resolve) => (this.wake = resolve))
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.facts.close()
    await this.worker.terminate()
  }

  private notify(): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  private describe(): string {
    const {fromLine, toLine} = this.range
    return `lines ${fromLine ?? 1}–${toLine === undefined ? 'end' : toLine - 1} of the run`
  }
}

