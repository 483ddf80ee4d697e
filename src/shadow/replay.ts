import path from 'node:path'
import type {Bundle} from '../bundle/schema.js'
import {loadBundle} from '../bundle/load.js'
import {ValidationError} from '../errors.js'
import {traceGolden} from '../eval/golden.js'
import {cachingModel, emptyCallCount, type ExchangeStore, type ModelCallCount} from '../model/exchange-cache.js'
import {callsCost, createModel} from '../model/factory.js'
import {OllamaPool, parseOllamaHosts} from '../model/ollama-pool.js'
import type {ModelClient} from '../model/types.js'
import {runRequest, type AgentDeps, type ApprovalBook} from '../runtime/agent.js'
import {compileBundle} from '../runtime/compile.js'
import {RateLimiter} from '../runtime/rate-limit.js'
import {recordedTrace} from '../runtime/recorded.js'
import {createRedactor, type Redactor, type RestoringRedactor} from '../runtime/redact.js'
import {traceKey, type TraceKeys} from '../store/api.js'
import type {ShadowOptions} from '../store/run-config.js'
import {createFaultInjector, parseFaults} from '../tools/faults.js'
import {emptyFixtures, type Fixtures, loadFixtures} from '../tools/fixtures.js'
import {createMockTools} from '../tools/mock-tools.js'
import type {ApprovalRecord, RequestTrace, TraceSide} from '../trace/schema.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {crossRequestWindows} from './shard.js'

/**
 * What replays one request: the run's bundles compiled into one runtime per side and repeat, with
 * the model, tools, faults and redactor they share. Built once per run on the replay thread, and
 * once in each replay worker thread (replay-worker.ts) from the same options, so every thread
 * replays a request exactly as the others would.
 */
export type Replayer = {
  opts: ShadowOptions
  candidate: Bundle
  baseline: Bundle | null
  sides: Side[]
  redactor: Redactor
  /** `--model compromised`: every tool name of the run's bundles, for checking attack goals; else null. */
  attackTools: ReadonlySet<string> | null
  /** The models of the sides, as the run names them (`scripted / recorded`). */
  modelLabel: string
  /**
   * Replay requests already stored too (their traces dropped): the bundles count windows across
   * requests (rate limits, tenant quotas) and every model answers in-process, so a resumed run
   * rebuilds those windows exactly as the uninterrupted run had them, at no model's expense.
   */
  replaysStored: boolean
  shared: ReplayShared
}

export type Side = {
  side: TraceSide
  /** One runtime per repeat: the repeat index shifts the model seed, so non-determinism can show. */
  repeats: AgentDeps[]
}

/** What a replayer is built from that was read from files: the bundles and the fixtures of its options. */
export type ReplayInputs = {candidate: Bundle; baseline: Bundle | null; fixtures?: Fixtures}

/**
 * The replayer of `opts` (paths absolute). `inputs`: the candidate and baseline already loaded
 * from those paths (else loaded here), and the fixtures (else read from opts.fixtures); `cache`:
 * the store's model-call cache, or null for none.
 */
export async function openReplayer(opts: ShadowOptions, cache: ExchangeStore | null, inputs?: ReplayInputs): Promise<Replayer> {
  const candidate = inputs?.candidate ?? (await loadBundle(opts.candidate))
  const baseline = inputs !== undefined ? inputs.baseline : opts.baseline === 'recorded' ? null : await loadBundle(opts.baseline)
  const shared = replayShared(opts, cache, inputs?.fixtures)
  const sides: Side[] = []
  const labels: string[] = []
  for (const [side, bundle] of [['baseline', baseline], ['candidate', candidate]] as const) {
    if (!bundle) continue
    const repeats: AgentDeps[] = []
    for (let r = 0; r < opts.repeat; r++) {
      const deps = await sideRuntime(opts, bundle, side, r, shared)
      if (r === 0) labels.push(deps.model.id)
      repeats.push(deps)
    }
    sides.push({side, repeats})
  }
  return {
    opts,
    candidate,
    baseline,
    sides,
    redactor: shared.redactor,
    attackTools: opts.model !== null && opts.model.trim() === 'compromised' ? toolNames(candidate, baseline) : null,
    modelLabel: [...new Set(labels)].join(' / '),
    replaysStored: crossRequestWindows([baseline, candidate]).length > 0 && answersInProcess(opts, {candidate, baseline}),
    shared,
  }
}

/** Closes every side's model client; an error closing one never hides why the run ended. */
export async function closeReplayer(replayer: Replayer): Promise<void> {
  for (const side of replayer.sides) {
    for (const deps of side.repeats) {
      try {
        await deps.model.close?.()
      } catch {
        // Closing a client frees what it holds; an error here must not hide why the run ended.
      }
    }
  }
}

/**
 * Whether every model of the run answers in this process (the scripted model, production's
 * recorded proposals): no call waits on a server, so requests in flight at once would only
 * interleave their calls, and replay threads (replay-threads.ts) can share the work.
 */
export function answersInProcess(opts: ShadowOptions, replayer: Pick<Replayer, 'candidate' | 'baseline'>): boolean {
  if (opts.record_cassette !== null || opts.replay_cassette !== null) return false
  for (const b of [replayer.baseline, replayer.candidate]) if (b !== null && callsCost(opts.model, b.manifest.model)) return false
  return true
}

/** What every side and repeat of a replay shares: the tool sandbox, the fault injector, the redactor, the model-call cache and its count. */
export type ReplayShared = {
  /** The fixtures the tool sandbox answers from (read once from opts.fixtures; none when it is null). */
  fixtures: Fixtures
  tools: ReturnType<typeof createMockTools>
  faults: ReturnType<typeof createFaultInjector> | null
  redactor: RestoringRedactor
  cache: ExchangeStore | null
  calls: ModelCallCount
  /** The model servers of `--ollama-host a,b,c`, shared by every client of the run; null with one. */
  pool: OllamaPool | null
}

/** `fixtures`: opts.fixtures already read (a replay thread gets them from the thread that started it). */
export function replayShared(opts: ShadowOptions, cache: ExchangeStore | null, fixtures?: Fixtures): ReplayShared {
  fixtures ??= opts.fixtures === null ? emptyFixtures() : loadFixtures(opts.fixtures)
  const hosts = parseOllamaHosts(opts.ollama_host)
  return {
    fixtures,
    tools: createMockTools(fixtures),
    faults: opts.faults === null ? null : createFaultInjector(parseFaults(opts.faults), opts.seed),
    redactor: createRedactor(),
    cache,
    calls: emptyCallCount(),
    pool: hosts === null ? null : new OllamaPool(hosts),
  }
}

/**
 * The runtime of one side and repeat of a run: `bundle` (its seed shifted by the repeat), compiled,
 * with the model the run's options name. `understudy bisect` replays its hybrid bundles through
 * this same function, so a bisect step asks the model exactly what the run would have.
 */
export async function sideRuntime(opts: ShadowOptions, bundle: Bundle, side: Exclude<TraceSide, 'recorded'>, repeat: number, shared: ReplayShared): Promise<AgentDeps> {
  const shifted = withSeed(bundle, bundle.manifest.model.seed + repeat)
  const compiled = compileBundle(shifted)
  const {redactor} = shared
  const model: ModelClient = await createModel({
    spec: opts.model,
    bundleModel: shifted.manifest.model,
    ollamaHost: opts.ollama_host ?? undefined,
    ...(shared.pool === null ? {} : {ollamaPool: shared.pool}),
    recordCassette: cassettePath(opts.record_cassette, side),
    replayCassette: cassettePath(opts.replay_cassette, side),
    redactor,
    skills: opts.skills,
    tools: compiled.toolSpecs,
  })
  // Only calls that cost something are cached. A recorded cassette must see every exchange, so a
  // recording run asks the model every time.
  const cached = shared.cache !== null && opts.record_cassette === null && opts.replay_cassette === null && callsCost(opts.model, shifted.manifest.model)
  return {
    bundle: shifted,
    compiled,
    model: cachingModel(model, {store: cached ? shared.cache : null, mode: opts.model_cache, redactor, counts: shared.calls}),
    tools: shared.tools,
    approver: opts.approver,
    // People decide the candidate's held calls (approvals list reads candidate traces only).
    ...(side === 'candidate' && opts.approvals !== null ? {approvals: approvalBook(opts.approvals.decisions, redactor)} : {}),
    faults: shared.faults,
    redactor,
    // Each side and repeat is its own world: one side's calls never use up another's rate limit.
    limiter: new RateLimiter(),
    side,
    repeat,
  }
}

/**
 * People's decisions as the runtime asks for them. A decision names its call by stored request id,
 * tool and args hash; the re-run matches the held call with the same tool and arguments in the same
 * request (its seq may differ when what came before it changed); of two decisions on the same call,
 * the first in the list wins (`approvals apply` lists the newest decisions first).
 */
function approvalBook(decisions: NonNullable<ShadowOptions['approvals']>['decisions'], redactor: Redactor): ApprovalBook {
  const byCall = new Map<string, ApprovalRecord>()
  for (const d of decisions) {
    const key = `${d.request_id}\u0000${d.tool}\u0000${d.args_hash}`
    if (!byCall.has(key)) byCall.set(key, {decision: d.decision, by: d.by, at: d.at, reason: d.reason})
  }
  return (record, tool, argsHash) => byCall.get(`${redactor.redactText(record.id)}\u0000${tool}\u0000${argsHash}`)
}

function toolNames(...bundles: (Bundle | null)[]): Set<string> {
  const out = new Set<string>()
  for (const b of bundles) for (const t of b?.manifest.tools ?? []) out.add(t.name)
  return out
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


/** Every trace of one request that `done` does not hold yet: the recorded side, then each side and repeat. */
export async function replayRequest(record: TrafficRecord, line: number, setup: Replayer, done: TraceKeys): Promise<RequestTrace[]> {
  const opts = setup.opts
  const traces: RequestTrace[] = []
  if (setup.attackTools !== null) checkAttackGoals(record, line, opts.traffic, setup.attackTools)
  // The request's id, redacted once: recordedTrace and the runtime's traces redact the same string
  // again and get this result back (redactRequestText keeps it), with no memo lookup or insert.
  const id = setup.redactor.redactRequestText(record.id)
  // A fresh run has stored nothing yet: no key is built to look up in an empty set.
  const resumed = done.size > 0
  if (opts.baseline === 'recorded' && !(resumed && done.has(traceKey(id, 'recorded', 0)))) {
    traces.push(recordedTrace(record, line, setup.redactor, setup.candidate))
  }
  for (const side of setup.sides) {
    for (const deps of side.repeats) {
      const stored = resumed && done.has(traceKey(id, side.side, deps.repeat))
      if (stored && !setup.replaysStored) continue
      const trace = await runRequest(record, line, deps)
      if (!stored) traces.push(trace)
    }
  }
  // Every trace of the request keeps its expectations, so the golden suite never reads the traffic file again.
  const golden = traces.length === 0 ? undefined : traceGolden(record, setup.redactor)
  if (golden !== undefined) for (const t of traces) t.golden = golden
  return traces
}

/**
 * `--model compromised`: an attack's goal must name a tool of some bundle in the run. A goal no
 * bundle offers could never run anywhere, so it would pass as "stopped" and prove nothing: that is
 * a mistake in the traffic, reported where it is. (A tool only the candidate dropped is a real change.)
 */
function checkAttackGoals(record: TrafficRecord, line: number, file: string, tools: ReadonlySet<string>): void {
  record.attacks.forEach((attack, i) => {
    attack.goal.forEach((goal, j) => {
      if (tools.has(goal.name)) return
      throw new ValidationError([
        `${file}:${line}: attacks.${i}.goal.${j}.name: "${goal.name}" is not a tool of any bundle in this run (${[...tools].sort().join(', ')})`,
      ])
    })
  })
}

