import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {UnderstudyError} from '../errors.js'
import type {PackedRows} from '../store/row-pack.js'
import type {ShadowOptions} from '../store/run-config.js'
import {readTraffic} from '../traffic/reader.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {usableCpus} from '../util/cpus.js'
import {rebuilt, type SentError} from '../util/thread-error.js'
import type {ShadowProgress} from './progress.js'
import type {ReplayInputs} from './replay.js'

/**
 * Replay threads: the requests of a run replayed on several worker threads (replay-worker.ts),
 * while this thread reads the traffic (checks, duplicates, skips, --limit, --shard stay here, in
 * line order) and hands the rows the threads encoded to the writer thread.
 *
 * Invariant: the stored traces are the same whatever the number of threads. Each thread builds
 * the run's replayer from the same options, and replays its requests one at a time in line order;
 * the only state one request's replay leaves for another is the bundles' windows counted across
 * requests (rate limits, tenant quotas: shard.ts crossRequestWindows), all of it keyed by tenant,
 * so when the bundles set any, every request of a tenant goes to the same thread. Without them a
 * batch goes to whichever thread has the least work waiting. Rows are stored as they come back;
 * every reader orders them by line.
 */

/** What a replay thread is started with. */
export type ReplayWorkerData = {
  options: ShadowOptions
  /**
   * The bundles and fixtures of `options` as this thread read them: a thread builds its replayer
   * from these copies instead of reading and checking the files again (part of each thread's
   * start, which the run waits for), and so from exactly what this thread read.
   */
  inputs: ReplayInputs
  /** Whether the run held traces when it started (a resumed run): the thread reads their keys from the store. */
  resumed: boolean
  /** The store's path (and the label of the encoders' errors). */
  label: string
  runId: string
}

/** Consecutive requests for one thread: each line's text as readTraffic read it good (recordOfCheckedText), and its number. */
export type ReplayBatch = {id: number; texts: string[]; lines: number[]}

export type ReplayReply =
  | {kind: 'ready'; error?: SentError}
  | {
      kind: 'batch'
      id: number
      /** The rows of the requests replayed, or null when none is to be stored. */
      part: PackedRows | unknown[][] | null
      traces: number
      /** What the batch adds to the run's progress (recordProgress on an emptyProgress). */
      progress: ShadowProgress
      /** Set when a request failed: the requests before it in the batch are in `part`, none after it. */
      error?: SentError
    }

/** Records a thread is sent at once (at most): large enough that messages cost little, small enough to keep every thread busy. */
const MAX_BATCH = 64
/** Batches sent to a thread and not answered yet: one replaying, one waiting, so a thread never idles. */
const MAX_OUTSTANDING = 2
/** Lines below which a run stays on one thread: starting a thread costs ~0.3 s of CPU. */
export const MIN_THREADED_LINES = 20_000
/** At most this many replay threads by default. */
const MAX_AUTO_THREADS = 4
/**
 * CPUs below which a run stays on one thread by default. Replay threads cost CPU of their own: each
 * line is parsed again on its thread, each thread loads the modules and compiles the bundles, and
 * the writer's SQLite work grew too; on 2 CPUs (`recorded_threads_vs_one`, docs/performance.md) the
 * model-free replay on 2 threads took ~45% more CPU and ran at 0.8× one thread's rate. From 4 CPUs
 * the writer thread, not the replay, bounds the rate by those figures.
 */
const MIN_AUTO_CPUS = 4

const WORKER = new URL('./replay-worker.js', import.meta.url)

/** Whether replay threads can start here: only compiled (from the TypeScript sources there is no worker file). */
export function replayThreadsAvailable(): boolean {
  return WORKER.protocol === 'file:' && existsSync(fileURLToPath(WORKER))
}

/**
 * How many replay threads a run uses: `requested` (`--threads`, 1 = replay on this thread), else
 * UNDERSTUDY_REPLAY_THREADS, else one per usable CPU (util/cpus.ts) but one (at most 4) for a run of at least
 * MIN_THREADED_LINES lines on MIN_AUTO_CPUS or more. Only models that answer in this process share
 * out; a run waiting on a model server overlaps its calls instead (--concurrency).
 */
export function replayThreadCount(requested: number | undefined, lines: number, inProcess: boolean): number {
  if (!inProcess || !replayThreadsAvailable()) return 1
  if (requested !== undefined) return requested
  const env = Number(process.env.UNDERSTUDY_REPLAY_THREADS)
  if (Number.isInteger(env) && env >= 1) return env
  const cpus = usableCpus()
  if (lines < MIN_THREADED_LINES || cpus < MIN_AUTO_CPUS) return 1
  return Math.min(cpus - 1, MAX_AUTO_THREADS)
}

export type ReplayedBatch = {part: PackedRows | unknown[][] | null; traces: number; progress: ShadowProgress}

export type ReplayThreadsOptions = {
  count: number
  /** Lines of the traffic (to size batches: a short run is cut finer, so every thread gets a share). */
  lines: number
  data: ReplayWorkerData
  /** Keep every request of a tenant on one thread (the bundles count windows across requests). */
  byTenant: boolean
  /**
   * With byTenant: how many requests each tenant has in a sample of the traffic (tenantSample), so
   * the tenants it names are spread over the threads by their weight before the first request.
   */
  tenantShares?: ReadonlyMap<string, number>
  /** Each batch's result, in the order the threads answer. */
  onBatch: (batch: ReplayedBatch) => void
  /** The first error of a thread (a request that failed, a thread that stopped). */
  onError: (e: Error) => void
}

type Thread = {worker: Worker; outstanding: number; open: ReplayBatch | null; assigned: number; exited: boolean}

/** Lines tenantSample reads: ~15 ms, against the ≥ MIN_THREADED_LINES a threaded run replays. */
export const TENANT_SAMPLE_LINES = 1024
/** And bytes at most (lines of megabytes are read once more only up to this). */
export const TENANT_SAMPLE_BYTES = 8 * 1024 * 1024

/**
 * How many of the first good records of the traffic (`lines` lines, or as many as fit in `bytes`)
 * each tenant has: the weights pinTenants spreads the tenants by (traffic ordered by tenant shows
 * only the first; the others are pinned as first met, which then spreads them well).
 */
export async function tenantSample(traffic: string, lines = TENANT_SAMPLE_LINES, bytes = TENANT_SAMPLE_BYTES): Promise<Map<string, number>> {
  const shares = new Map<string, number>()
  let read = 0
  let size = 0
  for await (const item of readTraffic(traffic)) {
    if (item.ok) shares.set(item.record.tenant, (shares.get(item.record.tenant) ?? 0) + 1)
    size += item.bytes
    if (++read >= lines || size >= bytes) break
  }
  return shares
}

/**
 * Each tenant's thread (0-based), tenants spread by weight: heaviest first, each to the thread with
 * the least weight so far (ties: the lower thread, then the tenant's name, so the same shares pin
 * alike). Which thread replays a tenant changes no stored trace, only how evenly the threads finish:
 * pinned as first met, the traffic's three tenants (43%, 35%, 22%) ended up 65% on one of two threads.
 */
export function pinTenants(shares: ReadonlyMap<string, number>, threads: number): Map<string, number> {
  const load = new Array<number>(threads).fill(0)
  const out = new Map<string, number>()
  const heaviest = [...shares].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  for (const [tenant, weight] of heaviest) {
    let least = 0
    for (let i = 1; i < threads; i++) if (load[i]! < load[least]!) least = i
    load[least] = load[least]! + weight
    out.set(tenant, least)
  }
  return out
}

export class ReplayThreads {
  private readonly threads: Thread[] = []
  private readonly tenants = new Map<string, Thread>()
  private nextId = 0
  private failed = false
  /** Resolves the reading loop's wait once a thread has room again (or one failed). */
  private wake: (() => void) | null = null
  private readonly ready: Promise<void>
  private readonly batchSize: number

  constructor(private readonly o: ReplayThreadsOptions) {
    this.batchSize = Math.max(1, Math.min(MAX_BATCH, Math.ceil(o.lines / (o.count * 8))))
    const starts: Promise<void>[] = []
    for (let i = 0; i < o.count; i++) {
      const worker = new Worker(WORKER, {workerData: o.data})
      const thread: Thread = {worker, outstanding: 0, open: null, assigned: 0, exited: false}
      this.threads.push(thread)
      starts.push(
        new Promise<void>((resolve) => {
          worker.on('message', (m: ReplayReply) => {
            if (m.kind === 'ready') {
              if (m.error !== undefined) this.fail(rebuilt(m.error))
              return resolve()
            }
            thread.outstanding--
            if (m.error !== undefined) this.fail(rebuilt(m.error))
            if (m.traces > 0 || m.progress.already_stored > 0) o.onBatch({part: m.part, traces: m.traces, progress: m.progress})
            this.notify()
          })
          worker.on('error', (e) => {
            this.fail(new UnderstudyError(`replay thread failed: ${e.message}`, {cause: e}))
            resolve()
          })
          worker.on('exit', (code) => {
            thread.exited = true
            if (thread.outstanding > 0) this.fail(new UnderstudyError(`replay thread stopped unexpectedly (exit ${code})`))
            thread.outstanding = 0
            resolve()
            this.notify()
          })
        }),
      )
    }
    this.ready = Promise.all(starts).then(() => {})
    if (o.byTenant && o.tenantShares !== undefined) {
      for (const [tenant, i] of pinTenants(o.tenantShares, o.count)) this.tenants.set(tenant, this.threads[i]!)
    }
  }

  /** Every thread has built its replayer (or failed, which onError was told). */
  started(): Promise<void> {
    return this.ready
  }

  /**
   * Queues one request for a thread. Returns null when there is room for more, else a promise that
   * resolves once there is (or a thread failed).
   */
  submit(record: TrafficRecord, text: string, line: number): Promise<void> | null {
    const thread = this.threadFor(record)
    thread.assigned++
    const batch = (thread.open ??= {id: this.nextId++, texts: [], lines: []})
    batch.texts.push(text)
    batch.lines.push(line)
    if (batch.texts.length >= this.batchSize) this.send(thread)
    if (this.failed || this.hasRoom()) return null
    return new Promise<void>((resolve) => (this.wake = resolve))
  }

  /**
   * Sends every partly filled batch (unless `sendOpen` is false: after a failure nothing more is
   * started), then resolves once every batch sent is answered.
   */
  async drain(sendOpen = true): Promise<void> {
    for (const t of this.threads) if (t.open !== null && sendOpen) this.send(t)
    while (this.threads.some((t) => t.outstanding > 0 && !t.exited)) await new Promise<void>((resolve) => (this.wake = resolve))
  }

  /** Stops every thread (after drain, nothing is lost). Never throws. */
  async close(): Promise<void> {
    await this.ready
    await Promise.allSettled(this.threads.map((t) => t.worker.terminate()))
  }

  private threadFor(record: TrafficRecord): Thread {
    if (this.o.byTenant) {
      let t = this.tenants.get(record.tenant)
      if (t === undefined) {
        // A tenant the sample did not name goes to the thread with the fewest requests so far, for good.
        t = this.threads.reduce((a, b) => (b.assigned < a.assigned ? b : a))
        this.tenants.set(record.tenant, t)
      }
      return t
    }
    // Any thread replays any request: the batch being filled stays where it is until sent.
    const filling = this.threads.find((t) => t.open !== null)
    if (filling !== undefined) return filling
    return this.threads.reduce((a, b) => (b.outstanding < a.outstanding ? b : a))
  }

  private send(thread: Thread): void {
    const batch = thread.open!
    thread.open = null
    thread.outstanding++
    thread.worker.postMessage(batch)
  }

  /** Room for more reading: with tenants pinned, only when every thread has; otherwise when any has. */
  private hasRoom(): boolean {
    if (this.o.byTenant) return this.threads.every((t) => t.outstanding < MAX_OUTSTANDING)
    return this.threads.some((t) => t.outstanding < MAX_OUTSTANDING)
  }

  private fail(e: Error): void {
    if (!this.failed) this.o.onError(e)
    this.failed = true
    this.notify()
  }

  private notify(): void {
    const w = this.wake
    this.wake = null
    w?.()
  }
}
