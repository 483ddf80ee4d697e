import {stat} from 'node:fs/promises'
import path from 'node:path'
import {formatFaults, parseFaults} from '../tools/faults.js'
import {diffBundles} from '../bundle/diff.js'
import {loadBundle} from '../bundle/load.js'
import {modelOnlyChanges} from '../bundle/model-only.js'
import type {Bundle} from '../bundle/schema.js'
import {FileWriteError, ModelError, StoreError, UnderstudyError, ValidationError} from '../errors.js'
import {GENERIC_SKILL, isModelFree} from '../model/factory.js'
import type {ModelCallCount} from '../model/exchange-cache.js'
import type {OllamaPool, ServerCalls} from '../model/ollama-pool.js'
import type {RequestTrace} from '../trace/schema.js'
import {findRun} from '../runs/open.js'
import {traceKey, type RunInfo, type RunStatus, type RunWriter, type TraceDatabase, type TraceKeys} from '../store/api.js'
import {HEARTBEAT_MS} from '../store/run-writer.js'
import {openTraceWriter} from '../store/trace-writer.js'
import {digestTraffic, formatProblem, readTraffic, type LineKeys, type TrafficProblem} from '../traffic/reader.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {tuneHeapForReplay} from '../util/gc.js'
import {IdLineSet} from '../util/id-set.js'
import {notRegular} from '../util/regular-file.js'
import {ShadowOptions, type ShadowOptionsInput} from '../store/run-config.js'
import {emptyProgress, mergeProgress, recordProgress, type ShadowProgress} from './progress.js'
import {answersInProcess, closeReplayer, openReplayer, replayRequest, type Replayer} from './replay.js'
import {ReplayThreads, replayThreadCount, tenantSample} from './replay-threads.js'
import {crossRequestWindows, crossSessionNotice, keysShardKey, lineShardKey, shardOfKey} from './shard.js'

/** A traffic line the run skipped (malformed, or repeating an earlier request id), with every problem of it. */
export type SkippedLine = {file: string; line: number; request_id: string; problems: TrafficProblem[]}

/** A skipped line's problems as `traffic validate` prints them: `file:LINE: field: message`, one each. */
export function skippedLineProblems(s: SkippedLine): string[] {
  return s.problems.map((p) => formatProblem(s.file, s.line, p))
}

export type ShadowHooks = {
  /** Aborting stops reading new requests; in-flight ones finish and are stored, then the run is `interrupted`. */
  signal?: AbortSignal
  onProgress?: (progress: ShadowProgress) => void
  /** Each line skipped by this process, as it is met (lines stored as skipped before a resume are not met again). */
  onSkipped?: (skipped: SkippedLine) => void
  /** Called once the run row exists, before any request runs (so a UI can show the id to resume). */
  onRunCreated?: (run: RunInfo) => void
  /** Things the user should know before reading the results (what a model-free replay cannot measure), before any request runs. */
  onNotice?: (notice: string) => void
  /**
   * Replay threads this process uses (`--threads`; 1 replays on this thread); default: one per
   * usable CPU but one, at most 4, from 4 CPUs, for a long run whose models answer in-process
   * (replay-threads.ts replayThreadCount). Not part of the run: the stored traces are the same
   * whatever the number.
   */
  threads?: number
}

export type ShadowResult = {
  run: RunInfo
  progress: ShadowProgress
  interrupted: boolean
  resumed: boolean
  /** What hooks.onNotice was told, in order. */
  notices: string[]
  /** The first MAX_SKIPPED_LISTED lines this process skipped (progress.skipped counts them all). */
  skipped_lines: SkippedLine[]
  /** Model calls this process made, and those answered from the store's model-call cache instead. */
  model_calls: ModelCallCount
  /** `--ollama-host a,b,c`: the model calls each server answered in this process; [] with one server. */
  servers: ServerCalls[]
  /** The replay threads this process used (1: the requests were replayed on the calling thread). */
  threads: number
}

const MAX_SKIPPED_LISTED = 1000

/** Traces are written in batches: one SQLite transaction each, whichever bound is reached first. */
const FLUSH_TRACES = 512
const FLUSH_MS = 250
/** Batches handed to the background writer and not yet committed before reading pauses (bounds memory). */
const MAX_WRITE_BACKLOG = 2

/**
 * A new run that starts from another run's traces (`approvals apply`): everything of run `from` is
 * copied into it as stored, except the candidate traces of the requests in `rerun` (stored ids),
 * which the new run replays; it then proceeds as a resumed run does, replaying only what is missing.
 */
export type Inherit = {from: RunInfo; rerun: readonly string[]}

/** Starts a new shadow run and replays the whole traffic file through it (or, with `inherit`, what it does not copy). */
export async function startShadow(input: ShadowOptionsInput, store: TraceDatabase, hooks: ShadowHooks = {}, inherit?: Inherit): Promise<ShadowResult> {
  const opts = withAbsolutePaths(ShadowOptions.parse(input))
  const setup = await prepare(opts, store)
  if (inherit !== undefined) checkUnchanged(inherit.from, setup, opts, 'apply approvals to')
  const {run, writer} = store.createClaimedRun({
    name: opts.run_name,
    candidate_ref: setup.candidate.ref,
    candidate_hash: setup.candidate.hash,
    baseline_ref: setup.baseline?.ref ?? 'recorded',
    baseline_hash: setup.baseline?.hash ?? null,
    traffic_file: opts.traffic,
    traffic_hash: setup.trafficHash,
    model: setup.modelLabel,
    repeat: opts.repeat,
    faults: opts.faults === null ? null : formatFaults(parseFaults(opts.faults)),
    seed: opts.seed,
    config: opts,
  })
  try {
    store.recordBundle(setup.candidate.hash, setup.candidate.ref, setup.candidate.manifest)
    if (setup.baseline) store.recordBundle(setup.baseline.hash, setup.baseline.ref, setup.baseline.manifest)
    if (inherit !== undefined) store.copyTraces(inherit.from.id, run.id, inherit.rerun)
  } catch (e) {
    if (inherit !== undefined) store.deleteRun(run.id)
    else releaseQuietly(store, run.id, writer)
    throw e
  }
  const done: TraceKeys = inherit === undefined ? new Set() : store.storedTraceKeys(run.id)
  return execute(opts, setup, store, run, writer, done, hooks, false)
}

/**
 * The options with every path in them absolute, resolved against the working directory the run
 * starts in. Invariant: a stored run config names no path relative to anything, so `--resume` (and
 * report, eval, incident… which read the run's traffic and bundles) work from any directory.
 */
function withAbsolutePaths(opts: ShadowOptions): ShadowOptions {
  const abs = (p: string): string => path.resolve(p)
  const absOrNull = (p: string | null): string | null => (p === null ? null : abs(p))
  return {
    ...opts,
    traffic: abs(opts.traffic),
    candidate: abs(opts.candidate),
    baseline: opts.baseline === 'recorded' ? opts.baseline : abs(opts.baseline),
    fixtures: absOrNull(opts.fixtures),
    record_cassette: absOrNull(opts.record_cassette),
    replay_cassette: absOrNull(opts.replay_cassette),
    // `generic` names the built-in behaviour, not a file.
    skills: opts.skills.map((s) => (s === GENERIC_SKILL ? s : abs(s))),
  }
}

/**
 * Continues a run that was interrupted or killed. Inputs come from the stored run, never from new
 * flags, and must be unchanged on disk (same traffic bytes, same bundle hashes): a resumed run that
 * silently replayed something else would compare apples with pears.
 */
export async function resumeShadow(runId: string, store: TraceDatabase, hooks: ShadowHooks = {}): Promise<ShadowResult> {
  const found = findRun(store, runId)
  if (found.status === 'completed') throw alreadyCompleted(found.id)
  // Claimed before anything is read back: while another process writes the run this refuses at
  // once, and the stored keys read below cannot go stale under another writer.
  const writer = store.claimRun(found.id)
  let setup: Setup
  let opts: ShadowOptions
  let done: TraceKeys
  let run: RunInfo
  try {
    // Read again under the claim: the writer just gone may have completed the run.
    const claimed = store.getRun(found.id)!
    if (claimed.status === 'completed') throw alreadyCompleted(claimed.id)
    const parsed = ShadowOptions.safeParse(claimed.config)
    if (!parsed.success) throw new UnderstudyError(`run ${claimed.id} was not started by \`understudy shadow\` (its config cannot be read back)`)
    opts = parsed.data
    setup = await prepare(opts, store)
    checkUnchanged(claimed, setup, opts, 'resume')
    done = store.storedTraceKeys(claimed.id)
    store.reopenRun(claimed.id)
    run = store.getRun(claimed.id)!
  } catch (e) {
    // Nothing was replayed: the run keeps the status it had.
    releaseQuietly(store, found.id, writer)
    throw e
  }
  return execute(opts, setup, store, run, writer, done, hooks, true)
}

/** The traffic file and bundles must be the ones `run` replayed: anything else would compare apples with pears. */
function checkUnchanged(run: RunInfo, setup: Setup, opts: ShadowOptions, verb: string): void {
  const changed: string[] = []
  if (setup.trafficHash !== run.traffic_hash) changed.push(`traffic file ${opts.traffic}`)
  if (setup.candidate.hash !== run.candidate_hash) changed.push(`candidate bundle ${opts.candidate}`)
  if ((setup.baseline?.hash ?? null) !== run.baseline_hash) changed.push(`baseline bundle ${opts.baseline}`)
  if (changed.length > 0) {
    throw new UnderstudyError(`cannot ${verb} ${run.id}: ${changed.join(', ')} changed since the run started; start a new run instead`)
  }
}

function alreadyCompleted(runId: string): UnderstudyError {
  return new UnderstudyError(`run ${runId} already completed; nothing to resume`)
}

function releaseQuietly(store: TraceDatabase, runId: string, writer: RunWriter): void {
  try {
    store.releaseRun(runId, writer.token)
  } catch {
    // The error being thrown is the one worth reporting; a claim left behind is stale once this process ends.
  }
}

type Setup = Replayer & {
  trafficHash: string
  /** Requests in the traffic file (its non-blank lines). */
  trafficRequests: number
  /** Model calls made and answered from the cache, by every side (this process only). */
  calls: ModelCallCount
  notices: string[]
  /** The model servers of `--ollama-host a,b,c`, shared by every client of the run; null with one. */
  pool: OllamaPool | null
}

async function prepare(opts: ShadowOptions, store: TraceDatabase): Promise<Setup> {
  const trafficStat = await stat(opts.traffic).catch(() => null)
  if (trafficStat === null) throw new ValidationError([`${opts.traffic}: no such traffic file`])
  const notFile = notRegular(trafficStat)
  if (notFile !== null) throw new ValidationError([`${opts.traffic}: ${notFile}, not a traffic file`])
  const candidate = await loadBundle(opts.candidate)
  const baseline = opts.baseline === 'recorded' ? null : await loadBundle(opts.baseline)
  const {sha256: trafficHash, lines: trafficRequests} = await digestTraffic(opts.traffic)
  const replayer = await openReplayer(opts, store, {candidate, baseline})
  return {
    ...replayer,
    trafficHash,
    trafficRequests,
    calls: replayer.shared.calls,
    notices: [
      ...modelFreeNotices(opts, baseline, candidate),
      ...(opts.shard === null ? [] : [crossSessionNotice([baseline, candidate], opts.shard)].filter((n) => n !== null)),
    ],
    pool: replayer.shared.pool,
  }
}

/** A model-free replay cannot measure what only a model shows: say which of the bundle's changes those are. */
function modelFreeNotices(opts: ShadowOptions, baseline: Bundle | null, candidate: Bundle): string[] {
  if (!isModelFree(opts.model)) return []
  const mode = opts.model!.trim()
  if (baseline === null) {
    return [`--model ${mode} replays production's own proposals: the candidate's prompts and model settings are not exercised; compare with --baseline <bundle> to see which changes that leaves unmeasured, or run with --model ollama:<name>`]
  }
  const changes = modelOnlyChanges(diffBundles(baseline, candidate))
  if (changes.length === 0) return []
  const n = changes.length === 1 ? '1 change' : `${changes.length} changes`
  return [`--model ${mode} does not measure ${n} only a model can show: ${changes.join('; ')}; run with --model ollama:<name> to see their effect`]
}

async function execute(
  opts: ShadowOptions,
  setup: Setup,
  store: TraceDatabase,
  run: RunInfo,
  claim: RunWriter,
  done: TraceKeys,
  hooks: ShadowHooks,
  resumed: boolean,
): Promise<ShadowResult> {
  hooks.onRunCreated?.(run)
  const windows = crossRequestWindows([setup.baseline, setup.candidate])
  if (done.size > 0 && windows.length > 0 && !setup.replaysStored) {
    setup.notices.push(
      `${windows.join(', ')} count calls across requests, and the requests stored before this run resumed are not asked of the model again: ` +
        'their calls count in no window here (a limit the uninterrupted run would reach may not be reached)',
    )
  }
  for (const notice of setup.notices) hooks.onNotice?.(notice)
  const lines = opts.limit === null ? setup.trafficRequests : Math.min(opts.limit, setup.trafficRequests)
  // A shard's own line count is known only once read: until then, its even share.
  const progress = emptyProgress(opts.shard === null ? lines : Math.ceil(lines / opts.shard.count))
  // --shard: every line is read (ids, duplicates and --limit count over the whole file, as in one
  // process), and only the lines of this shard are replayed or skipped here.
  const shard = opts.shard
  const mine = (key: string): boolean => shard === null || shardOfKey(key, shard.count) === shard.index
  let owned = 0
  /** The last line `keep` let through: a bad line yielded by the reader is this shard's when it is this one. */
  let keptLine = 0
  // Another shard's line is dropped before its schema check (before it is even parsed where the
  // reader's scan can read its keys), its id still counted for duplicates and the line for --limit
  // (the one past the limit is let through to stop the loop).
  const keep =
    shard === null
      ? undefined
      : (keys: LineKeys, line: number): boolean => {
          if ((opts.limit !== null && requests >= opts.limit) || mine(keysShardKey(keys, line))) {
            keptLine = line
            return true
          }
          requests++
          if (keys.id !== null && seenIds.get(keys.id) === undefined) seenIds.set(keys.id, line)
          return false
        }
  const inFlight = new Set<Promise<void>>()
  /** Resumes the reading loop once a request in flight settles (set while it waits for a free slot). */
  let slotFreed: (() => void) | null = null
  // Sized for every line up front: growing doubles the table with both copies alive (+50% at its peak).
  const seenIds = new IdLineSet(lines)
  let lastFlush = Date.now()
  let failure: unknown = null
  let requests = 0

  // The final status is set together with releasing the claim, and only while this process still
  // holds it: a run taken over by another writer is that writer's to finish.
  const finish = (status: Exclude<RunStatus, 'running'>): void => {
    store.releaseRun(run.id, claim.token, status)
  }
  /** finish() after an error: true when the status was written (a full store may refuse even that). */
  const finishQuietly = (status: Exclude<RunStatus, 'running'>): boolean => {
    try {
      return store.releaseRun(run.id, claim.token, status)
    } catch {
      return false
    }
  }
  const writer = openTraceWriter(store, run.id)
  // A model that answers in-process makes nothing wait: requests are replayed one at a time in line
  // order (interleaving their calls would only make rate limits depend on --concurrency), on this
  // thread or shared out among replay threads.
  const inProcess = answersInProcess(opts, setup)
  const concurrency = inProcess ? 1 : opts.concurrency
  const threadCount = writer.takesRows ? replayThreadCount(hooks.threads, lines, inProcess) : 1
  const threads =
    threadCount < 2
      ? null
      : new ReplayThreads({
          count: threadCount,
          lines,
          data: {
            options: opts,
            inputs: {candidate: setup.candidate, baseline: setup.baseline, fixtures: setup.shared.fixtures},
            resumed: done.size > 0,
            label: store.path,
            runId: run.id,
          },
          byTenant: windows.length > 0,
          ...(windows.length > 0 ? {tenantShares: await tenantSample(opts.traffic)} : {}),
          onBatch: (b) => {
            try {
              mergeProgress(progress, b.progress)
              if (b.part !== null) writer.addRows(b.part, b.traces)
              if (writer.queued >= FLUSH_TRACES || Date.now() - lastFlush >= FLUSH_MS) flush()
              hooks.onProgress?.(progress)
            } catch (e) {
              failure ??= e
            }
          },
          onError: (e) => {
            failure ??= e
          },
        })
  const restoreHeap = tuneHeapForReplay()
  // Keeps the claim fresh for claimants on other hosts, which cannot see whether this pid lives.
  const heartbeat = setInterval(() => {
    try {
      if (!store.heartbeatRun(run.id, claim.token)) failure ??= new StoreError(`${store.path}: run ${run.id} was taken over by another writer or deleted; stopped writing it`)
    } catch {
      // A store busy for longer than its timeout delays this heartbeat; the next one retries.
    }
  }, HEARTBEAT_MS)
  heartbeat.unref()
  const flush = (): void => {
    if (writer.queued === 0) return
    writer.flush()
    lastFlush = Date.now()
  }
  const collect = (traces: RequestTrace[]): void => {
    recordProgress(progress, traces)
    // All sides of one request go into the same batch, so a kill never leaves a request half-stored.
    writer.add(traces)
    if (writer.queued >= FLUSH_TRACES || Date.now() - lastFlush >= FLUSH_MS) flush()
    hooks.onProgress?.(progress)
  }

  const skippedLines: SkippedLine[] = []
  /**
   * A line that cannot be replayed. Invariant: it is told (onSkipped, the result) and stored as a
   * `skipped` trace with its reason, which every figure of the run leaves out; or, under --strict,
   * it stops the run, which then fails naming it.
   */
  const skip = (id: string, line: number, problems: TrafficProblem[], error: string, record?: TrafficRecord): void => {
    if (opts.strict) {
      failure ??= new ValidationError(
        problems.map((p) => formatProblem(opts.traffic, line, p)),
        `${error}; run ${run.id} failed: --strict stops at the first traffic line it would skip (the requests before it are stored)`,
      )
      return
    }
    const skipped = {file: opts.traffic, line, request_id: id, problems}
    hooks.onSkipped?.(skipped)
    if (skippedLines.length < MAX_SKIPPED_LISTED) skippedLines.push(skipped)
    collect([skippedTrace(id, line, error, record)])
  }

  // Whatever stops the run early (a fatal model error, a full store, a bad line under --strict)
  // lands in `failure`; the run then ends below, on one path, with what was stored kept.
  try {
    await threads?.started()
    for await (const item of readTraffic(opts.traffic, {...(keep === undefined ? {} : {keep}), withText: threads !== null})) {
      if (hooks.signal?.aborted || failure !== null) break
      if (opts.limit !== null && requests >= opts.limit) break
      requests++

      // Ids and messages are stored as traces store any text of the request: redacted.
      const redact = setup.redactor.redactText
      if (!item.ok) {
        const id = item.id === null ? `line-${item.line}` : uniqueId(seenIds, item.id, item.line, redact)
        if (item.line !== keptLine && !mine(lineShardKey(item.id, item.line))) continue
        owned++
        const problems = item.problems.map((p) => ({field: p.field, message: redact(p.message)}))
        if (!done.has(traceKey(id, 'candidate', 0))) skip(id, item.line, problems, redact(item.error))
        else progress.already_stored++
        continue
      }
      const first = seenIds.get(item.record.id)
      // Every record yielded passed `keep`: it is this shard's.
      owned++
      if (first !== undefined) {
        const id = `${redact(item.record.id)}#line${item.line}`
        const problem = {field: 'id', message: `duplicate request id "${redact(item.record.id)}" (first on line ${first})`}
        if (!done.has(traceKey(id, 'candidate', 0))) skip(id, item.line, [problem], formatProblem(opts.traffic, item.line, problem), item.record)
        else progress.already_stored++
        continue
      }
      seenIds.set(item.record.id, item.line)

      if (threads !== null) {
        const room = threads.submit(item.record, item.text!, item.line)
        if (room !== null) await room
        if (writer.backlog > MAX_WRITE_BACKLOG) await writer.waitBelow(MAX_WRITE_BACKLOG)
        continue
      }
      const task = replayRequest(item.record, item.line, setup, done)
        .then((traces) => {
          if (traces.length === 0) progress.already_stored++
          else collect(traces)
        })
        .catch((e: unknown) => {
          failure ??= e
        })
        .finally(() => {
          inFlight.delete(task)
          const wake = slotFreed
          slotFreed = null
          wake?.()
        })
      inFlight.add(task)
      // Waits for the first request to settle, as Promise.race(inFlight) did, without attaching a
      // handler to every request in flight for every request read.
      if (inFlight.size >= concurrency) await new Promise<void>((resolve) => (slotFreed = resolve))
      if (writer.backlog > MAX_WRITE_BACKLOG) await writer.waitBelow(MAX_WRITE_BACKLOG)
    }
    await Promise.all(inFlight)
    await threads?.drain()
    flush()
    await writer.drain()
  } catch (e) {
    failure ??= e
  }
  if (failure !== null) {
    await Promise.allSettled(inFlight)
    await threads?.drain(false)
    flushQuietly(flush)
  }
  await threads?.close()
  await writer.close()
  restoreHeap()
  clearInterval(heartbeat)
  await closeReplayer(setup)

  if (failure !== null) {
    // A cause that leaves every stored trace right (the model server, a full store or disk) ends
    // the run `interrupted`, to be resumed once it is fixed; any other ends it `failed`.
    if (!resumable(failure)) {
      finishQuietly('failed')
      throw failure
    }
    throw new ShadowStopped(run.id, failure, finishQuietly('interrupted'))
  }

  const interrupted = hooks.signal?.aborted === true
  if (!interrupted && opts.limit === null) store.setRequestsTotal(run.id, shard === null ? requests : owned)
  if (shard !== null && !interrupted) progress.requests_total = owned
  finish(interrupted ? 'interrupted' : 'completed')
  hooks.onProgress?.(progress)
  return {run: store.getRun(run.id)!, progress, interrupted, resumed, notices: setup.notices, skipped_lines: skippedLines, model_calls: {...setup.calls}, servers: setup.pool?.stats() ?? [], threads: threadCount}
}

/**
 * Causes that stop a run without making anything it stored wrong: the model server cannot be
 * reached, lacks the model or does not answer in its protocol; the store or the disk is full. Each
 * request's traces are stored whole or not at all, so once the cause is fixed `--resume` replays
 * exactly the requests not stored. (A cassette miss is not one: the same cassette misses again.)
 */
function resumable(e: unknown): boolean {
  if (e instanceof ModelError) return e.code === 'unreachable' || e.code === 'model_missing' || e.code === 'malformed'
  if (e instanceof StoreError) return e.full
  if (e instanceof FileWriteError) return e.errno === 'ENOSPC' || e.errno === 'EDQUOT'
  return false
}

/**
 * A run stopped early by a resumable cause (see resumable). It is `interrupted` when that status
 * could be written; when not (a store too full even for that), it is left `running` with no live
 * writer, which `--resume` takes over as after a kill. The message is the cause's one line, then
 * what became of the run; the command adds the `--resume` line (src/shadow/summary.ts).
 */
export class ShadowStopped extends UnderstudyError {
  constructor(
    readonly runId: string,
    reason: unknown,
    /** Whether the run was marked `interrupted`. */
    readonly marked: boolean,
  ) {
    const cause = reason instanceof Error ? reason.message : String(reason)
    super(`${cause}; run ${runId} ${marked ? 'interrupted' : 'stopped (still marked running: its status could not be written)'}`, {cause: reason})
  }
}

function flushQuietly(flush: () => void): void {
  try {
    flush()
  } catch {
    // The original error is the one worth reporting; what was stored before stays stored.
  }
}

/** The stored id of a line's request: redacted, and suffixed with the line when the id was seen before. */
function uniqueId(seen: IdLineSet, id: string, line: number, redact: (text: string) => string): string {
  const first = seen.get(id)
  if (first === undefined) {
    seen.set(id, line)
    return redact(id)
  }
  return `${redact(id)}#line${line}`
}

function skippedTrace(id: string, line: number, error: string, record?: TrafficRecord): RequestTrace {
  return {
    request_id: id,
    line,
    side: 'candidate',
    repeat: 0,
    tenant: record?.tenant ?? '',
    user: record?.user ?? '',
    role: record?.role ?? '',
    status: 'skipped',
    final_answer: '',
    steps: [],
    tool_calls: [],
    policy_decisions: [],
    guardrails: [],
    budget_hits: [],
    input_tokens: 0,
    output_tokens: 0,
    model_calls: 0,
    cost_usd: 0,
    latency_ms: 0,
    error,
  }
}
