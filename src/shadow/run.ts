import {stat} from 'node:fs/promises'
import path from 'node:path'
import {createFaultInjector, formatFaults, parseFaults} from '../tools/faults.js'
import {emptyFixtures, loadFixtures} from '../tools/fixtures.js'
import {createMockTools} from '../tools/mock-tools.js'
import {loadBundle} from '../bundle/load.js'
import type {Bundle} from '../bundle/schema.js'
import {StoreError, UnderstudyError, ValidationError} from '../errors.js'
import {traceGolden} from '../eval/golden.js'
import {createModel} from '../model/factory.js'
import type {ModelClient} from '../model/types.js'
import {runRequest, type AgentDeps} from '../runtime/agent.js'
import {compileBundle} from '../runtime/compile.js'
import {RateLimiter} from '../runtime/rate-limit.js'
import {recordedTrace} from '../runtime/recorded.js'
import {createRedactor, type Redactor} from '../runtime/redact.js'
import type {RequestTrace, TraceSide} from '../trace/schema.js'
import {findRun} from '../runs/open.js'
import {traceKey, type RunInfo, type RunStatus, type RunWriter, type TraceDatabase, type TraceKeys} from '../store/api.js'
import {HEARTBEAT_MS} from '../store/run-writer.js'
import {openTraceWriter} from '../store/trace-writer.js'
import {digestTraffic, readTraffic} from '../traffic/reader.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {fullGc} from '../util/gc.js'
import {IdLineSet} from '../util/id-set.js'
import {ShadowOptions, type ShadowOptionsInput} from '../store/run-config.js'
import {emptyProgress, recordProgress, type ShadowProgress} from './progress.js'

export type ShadowHooks = {
  /** Aborting stops reading new requests; in-flight ones finish and are stored, then the run is `interrupted`. */
  signal?: AbortSignal
  onProgress?: (progress: ShadowProgress) => void
  /** Called once the run row exists, before any request runs (so a UI can show the id to resume). */
  onRunCreated?: (run: RunInfo) => void
}

export type ShadowResult = {
  run: RunInfo
  progress: ShadowProgress
  interrupted: boolean
  resumed: boolean
}

/** Requests between full garbage collections (see util/gc.ts): keeps a long replay's RSS flat. */
const GC_EVERY = 25_000

/** Traces are written in batches: one SQLite transaction each, whichever bound is reached first. */
const FLUSH_TRACES = 512
const FLUSH_MS = 250
/** Batches handed to the background writer and not yet committed before reading pauses (bounds memory). */
const MAX_WRITE_BACKLOG = 2

type Side = {
  side: TraceSide
  /** One runtime per repeat: the repeat index shifts the model seed, so non-determinism can show. */
  repeats: AgentDeps[]
}

/** Starts a new shadow run and replays the whole traffic file through it. */
export async function startShadow(input: ShadowOptionsInput, store: TraceDatabase, hooks: ShadowHooks = {}): Promise<ShadowResult> {
  const opts = ShadowOptions.parse(input)
  const setup = await prepare(opts)
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
  } catch (e) {
    releaseQuietly(store, run.id, writer)
    throw e
  }
  return execute(opts, setup, store, run, writer, new Set(), hooks, false)
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
    setup = await prepare(opts)
    const changed: string[] = []
    if (setup.trafficHash !== claimed.traffic_hash) changed.push(`traffic file ${opts.traffic}`)
    if (setup.candidate.hash !== claimed.candidate_hash) changed.push(`candidate bundle ${opts.candidate}`)
    if ((setup.baseline?.hash ?? null) !== claimed.baseline_hash) changed.push(`baseline bundle ${opts.baseline}`)
    if (changed.length > 0) {
      throw new UnderstudyError(`cannot resume ${claimed.id}: ${changed.join(', ')} changed since the run started; start a new run instead`)
    }
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

type Setup = {
  candidate: Bundle
  baseline: Bundle | null
  trafficHash: string
  /** Requests in the traffic file (its non-blank lines). */
  trafficRequests: number
  modelLabel: string
  sides: Side[]
  redactor: Redactor
}

async function prepare(opts: ShadowOptions): Promise<Setup> {
  const trafficStat = await stat(opts.traffic).catch(() => null)
  if (!trafficStat?.isFile()) throw new ValidationError([`${opts.traffic}: no such traffic file`])
  const candidate = await loadBundle(opts.candidate)
  const baseline = opts.baseline === 'recorded' ? null : await loadBundle(opts.baseline)
  const {sha256: trafficHash, lines: trafficRequests} = await digestTraffic(opts.traffic)
  const fixtures = opts.fixtures === null ? emptyFixtures() : loadFixtures(opts.fixtures)
  const faults = opts.faults === null ? null : createFaultInjector(parseFaults(opts.faults), opts.seed)
  const tools = createMockTools(fixtures)
  const redactor = createRedactor()

  const sides: Side[] = []
  const labels: string[] = []
  for (const [side, bundle] of [['baseline', baseline], ['candidate', candidate]] as const) {
    if (!bundle) continue
    const repeats: AgentDeps[] = []
    for (let r = 0; r < opts.repeat; r++) {
      const shifted = withSeed(bundle, bundle.manifest.model.seed + r)
      const model: ModelClient = await createModel({
        spec: opts.model,
        bundleModel: shifted.manifest.model,
        ollamaHost: opts.ollama_host ?? undefined,
        recordCassette: cassettePath(opts.record_cassette, side),
        replayCassette: cassettePath(opts.replay_cassette, side),
        skills: opts.skills,
      })
      if (r === 0) labels.push(model.id)
      repeats.push({
        bundle: shifted,
        compiled: compileBundle(shifted),
        model,
        tools,
        approver: opts.approver,
        faults,
        redactor,
        // Each side and repeat is its own world: one side's calls never use up another's rate limit.
        limiter: new RateLimiter(),
        side,
        repeat: r,
      })
    }
    sides.push({side, repeats})
  }
  return {
    candidate,
    baseline,
    trafficHash,
    trafficRequests,
    modelLabel: [...new Set(labels)].join(' / '),
    sides,
    redactor,
  }
}

function withSeed(bundle: Bundle, seed: number): Bundle {
  if (seed === bundle.manifest.model.seed) return bundle
  return {...bundle, manifest: {...bundle.manifest, model: {...bundle.manifest.model, seed}}}
}

/** Baseline and candidate exchanges differ, so each side gets its own cassette next to the one named. */
function cassettePath(file: string | null, side: TraceSide): string | undefined {
  if (file === null) return undefined
  if (side === 'candidate') return file
  const ext = path.extname(file)
  return `${file.slice(0, file.length - ext.length)}.${side}${ext || '.jsonl'}`
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
  const progress = emptyProgress(opts.limit === null ? setup.trafficRequests : Math.min(opts.limit, setup.trafficRequests))
  const inFlight = new Set<Promise<void>>()
  const seenIds = new IdLineSet()
  let pending: RequestTrace[] = []
  let lastFlush = Date.now()
  let failure: unknown = null
  let requests = 0

  // The final status is set together with releasing the claim, and only while this process still
  // holds it: a run taken over by another writer is that writer's to finish.
  const finish = (status: Exclude<RunStatus, 'running'>): void => {
    store.releaseRun(run.id, claim.token, status)
  }
  const writer = openTraceWriter(store, run.id)
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
    if (pending.length === 0) return
    const batch = pending
    pending = []
    writer.write(batch)
    lastFlush = Date.now()
  }
  const collect = (traces: RequestTrace[]): void => {
    // All sides of one request go into the same batch, so a kill never leaves a request half-stored.
    for (const t of traces) pending.push(t)
    recordProgress(progress, traces)
    if (pending.length >= FLUSH_TRACES || Date.now() - lastFlush >= FLUSH_MS) flush()
    hooks.onProgress?.(progress)
  }

  try {
    for await (const item of readTraffic(opts.traffic)) {
      if (hooks.signal?.aborted || failure !== null) break
      if (opts.limit !== null && requests >= opts.limit) break
      requests++
      if (requests % GC_EVERY === 0) fullGc()

      if (!item.ok) {
        const id = item.id === null ? `line-${item.line}` : uniqueId(seenIds, item.id, item.line)
        if (!done.has(traceKey(id, 'candidate', 0))) collect([skippedTrace(id, item.line, item.error)])
        else progress.already_stored++
        continue
      }
      const first = seenIds.get(item.record.id)
      if (first !== undefined) {
        const id = `${item.record.id}#line${item.line}`
        const message = `${opts.traffic}:${item.line}: id: duplicate request id "${item.record.id}" (first on line ${first})`
        if (!done.has(traceKey(id, 'candidate', 0))) collect([skippedTrace(id, item.line, message, item.record)])
        else progress.already_stored++
        continue
      }
      seenIds.set(item.record.id, item.line)

      const task = replayRequest(item.record, item.line, opts, setup, done)
        .then((traces) => {
          if (traces.length === 0) progress.already_stored++
          else collect(traces)
        })
        .catch((e: unknown) => {
          failure ??= e
        })
        .finally(() => {
          inFlight.delete(task)
        })
      inFlight.add(task)
      if (inFlight.size >= opts.concurrency) await Promise.race(inFlight)
      if (writer.backlog > MAX_WRITE_BACKLOG) await writer.waitBelow(MAX_WRITE_BACKLOG)
    }
    await Promise.all(inFlight)
    flush()
    await writer.drain()
  } catch (e) {
    await Promise.allSettled(inFlight)
    flushQuietly(flush)
    await writer.close()
    clearInterval(heartbeat)
    finish('failed')
    throw e
  }
  await writer.close()
  clearInterval(heartbeat)
  if (failure !== null) {
    finish('failed')
    throw failure
  }

  const interrupted = hooks.signal?.aborted === true
  if (!interrupted && opts.limit === null) store.setRequestsTotal(run.id, requests)
  finish(interrupted ? 'interrupted' : 'completed')
  for (const side of setup.sides) for (const deps of side.repeats) await deps.model.close?.()
  hooks.onProgress?.(progress)
  return {run: store.getRun(run.id)!, progress, interrupted, resumed}
}

function flushQuietly(flush: () => void): void {
  try {
    flush()
  } catch {
    // The original error is the one worth reporting; what was stored before stays stored.
  }
}

function uniqueId(seen: IdLineSet, id: string, line: number): string {
  const first = seen.get(id)
  if (first === undefined) {
    seen.set(id, line)
    return id
  }
  return `${id}#line${line}`
}

async function replayRequest(
  record: TrafficRecord,
  line: number,
  opts: ShadowOptions,
  setup: Setup,
  done: TraceKeys,
): Promise<RequestTrace[]> {
  const traces: RequestTrace[] = []
  if (opts.baseline === 'recorded' && !done.has(traceKey(record.id, 'recorded', 0))) {
    traces.push(recordedTrace(record, line, setup.redactor, setup.candidate))
  }
  for (const side of setup.sides) {
    for (const deps of side.repeats) {
      if (done.has(traceKey(record.id, side.side, deps.repeat))) continue
      traces.push(await runRequest(record, line, deps))
    }
  }
  // Every trace of the request keeps its expectations, so the golden suite never reads the traffic file again.
  const golden = traces.length === 0 ? undefined : traceGolden(record, setup.redactor)
  if (golden !== undefined) for (const t of traces) t.golden = golden
  return traces
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
