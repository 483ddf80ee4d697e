import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {loadBundle} from '../bundle/load.js'
import type {Bundle} from '../bundle/schema.js'
import {validateBundle} from '../bundle/validate.js'
import {CauseTally, causeId, causeKey, describeSignature, matchesCause, signatureOfKey} from '../diff/cause.js'
import {baseSideOf, compareGroup} from '../diff/compare.js'
import type {DiffClass} from '../diff/types.js'
import {UnderstudyError, ValidationError} from '../errors.js'
import {traceGolden} from '../eval/golden.js'
import type {ModelCallCount} from '../model/exchange-cache.js'
import type {AgentDeps} from '../runtime/agent.js'
import {runRequest} from '../runtime/agent.js'
import {groupByRequest} from '../runs/group.js'
import {replayShared, sideRuntime, type ReplayShared} from '../shadow/replay.js'
import type {RunInfo, TraceDatabase} from '../store/api.js'
import {ShadowOptions} from '../store/run-config.js'
import type {RequestTrace, TraceSide} from '../trace/schema.js'
import {digestTraffic, readTraffic} from '../traffic/reader.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {type AtomicChange, atomicChanges, type ChangeSet, hybridBundle, modelVisible} from './changes.js'
import {ddmin} from './ddmin.js'

/**
 * `understudy bisect <run>`: which part of the bundle change caused which cause group. The bundle
 * diff between the run's baseline and candidate is cut into atomic changes (./changes.ts); for
 * each cause group of the run, delta debugging (./ddmin.ts) replays a sample of the group's
 * requests with hybrid bundles (the baseline with a subset of the changes made) until the smallest
 * subset that still gives every sampled request the group's cause is found. That subset is then
 * replayed alone over every request of the group (the verifying replay), and when it holds more
 * than one change, each of its changes alone too: requests one change reproduces alone are that
 * change's; those only the whole subset reproduces are an interaction.
 *
 * A replay goes through the run's own runtime setup (src/shadow/run.ts `sideRuntime`: the same
 * model, options, skills, fixtures, approver, faults) and is compared with the run's stored base
 * trace as `diff` compares it, so a request reproduces its group when its cause key is the same.
 * Model calls go through the store's model-call cache: the tried subsets of one group ask the model
 * mostly the same things, and the run itself already asked the candidate's.
 */

export type BisectOptions = {
  /** The baseline bundle directory, for a run compared with the recording (which has no baseline bundle). */
  baseline?: string
  /** Only the group of this cause id (or id prefix). */
  cause?: string
  /** Only groups of these classes (default: every class but `same`). */
  classes?: readonly Exclude<DiffClass, 'same'>[]
  /** Requests of each group the search replays (default 8); the verifying replay takes every request of the group. */
  sample?: number
  /** Requests replayed at once (default: the run's concurrency). */
  concurrency?: number
  /** One line per step, for a progress display. */
  onStep?: (text: string) => void
}

/** A group's part in an attribution, with the verifying replay that shows it. */
export type GroupAttribution = {
  cause: string
  class: Exclude<DiffClass, 'same'>
  description: string
  /** Requests of the group this attribution accounts for. */
  requests: number
  /** Requests in the group. */
  of: number
  /** The verifying replay: `applied` alone, over every request of the group; how many got the group's cause. */
  verified: {applied: string[]; replayed: number; reproduced: number}
}

export type Attribution = {
  /** One atomic change's id, or the ids of a set that only together give the groups (an interaction). */
  change: string | string[]
  interaction: boolean
  labels: string[]
  groups: GroupAttribution[]
  /** Requests over all its groups. */
  requests: number
}

export type Unattributed = {cause: string; class: Exclude<DiffClass, 'same'>; description: string; requests: number; why: string}

export type BisectResult = {
  run: {id: string; baseline: string; candidate: string; base_side: TraceSide}
  changes: AtomicChange[]
  attributions: Attribution[]
  unattributed: Unattributed[]
  /** Subsets that made no valid bundle, with the loader's problems: tried, skipped, reported. */
  invalid: {changes: string[]; problems: string[]}[]
  /**
   * `requests`: request replays run (each subset and request once); `model_calls`: the calls they
   * made and those the store's cache answered; `naive_model_calls`: what replaying every tried
   * subset's requests without the cache or the memo would have asked of the model.
   */
  replays: {requests: number; hybrids: number; model_calls: ModelCallCount; naive_model_calls: number; wall_s: number}
  /** The run's requests that differ, and the model calls its candidate made for them: what one replay of them all costs. */
  differing: Differing
}

const DEFAULT_SAMPLE = 8

type Member = {line: number; request_id: string; base: RequestTrace}
type Group = {key: string; cause: string; class: Exclude<DiffClass, 'same'>; description: string; members: Member[]}
type Hybrid = {deps: AgentDeps} | {problems: string[]}

export async function bisectRun(store: TraceDatabase, run: RunInfo, options: BisectOptions = {}): Promise<BisectResult> {
  const started = performance.now()
  const step = options.onStep ?? (() => {})
  const parsed = ShadowOptions.safeParse(run.config)
  if (!parsed.success) throw new UnderstudyError(`run ${run.id} was not started by \`understudy shadow\` (its config cannot be read back), so it cannot be replayed`)
  const opts = parsed.data
  const baseSide = baseSideOf(run)
  const {base, cand} = await runBundles(run, opts, options.baseline)
  const set = atomicChanges(base, cand)
  if (set.changes.length === 0) throw new UnderstudyError(`run ${run.id}: the baseline and candidate bundles make the same requests and decisions (no change to bisect)`)
  step(`${set.changes.length} atomic changes: ${set.changes.map((c) => c.id).join(', ')}`)

  const {groups, differing} = runGroups(store, run, baseSide, options)
  const records = await trafficRecords(opts.traffic, run, new Set(groups.flatMap((g) => g.members.map((m) => m.line))))

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'understudy-bisect-'))
  const shared = replayShared(opts, store)
  const concurrency = options.concurrency ?? opts.concurrency
  const hybrids = new Map<string, Promise<Hybrid>>()
  const replays = new Map<string, Promise<Replayed>>()
  /** Model calls every replay asked for, each tried subset and request counted each time it is tried: what a bisect without the cache and the memo would pay. */
  let naive = 0
  const invalid: BisectResult['invalid'] = []
  let replayed = 0
  const order = new Map(set.changes.map((c, i) => [c.id, i]))
  const subsetKey = (ids: readonly string[]): string => [...ids].sort((a, b) => order.get(a)! - order.get(b)!).join('\n')

  const hybrid = (ids: readonly string[]): Promise<Hybrid> => {
    const key = subsetKey(ids)
    let h = hybrids.get(key)
    if (h === undefined) hybrids.set(key, (h = buildHybrid(set, ids, path.join(tmp, String(hybrids.size)), opts, shared, invalid)))
    return h
  }
  /** The cause key of a request replayed with `ids` applied, compared with the run's base trace; memoised. */
  const replay = (ids: readonly string[], m: Member, h: {deps: AgentDeps}): Promise<Replayed> => {
    const key = `${subsetKey(ids)}\u0000${m.line}`
    let r = replays.get(key)
    if (r === undefined) {
      replays.set(key, (r = replayOne(records.get(m.line)!, m, h.deps, shared, baseSide)))
      replayed++
    }
    return r
  }
  /** For each member, whether `ids` applied alone gives it the group's cause; null when `ids` make no valid bundle. */
  const reproduces = async (ids: readonly string[], g: Group, members: readonly Member[]): Promise<boolean[] | null> => {
    const h = await hybrid(ids)
    if (!('deps' in h)) return null
    return mapPool(members, concurrency, async (m) => {
      const r = await replay(ids, m, h)
      naive += r.calls
      return r.key === g.key
    })
  }

  const all = set.changes.map((c) => c.id)
  // The first cut separates what the model sees from what it does not: each half then asks the
  // model what the candidate or the baseline asked, until a decision differs, and those answers
  // are in the cache from the run itself. Changes keep their order within each half.
  const visible = new Set(all.filter((id) => modelVisible(set, id)))
  const firstSplit = [all.filter((id) => visible.has(id)), all.filter((id) => !visible.has(id))]
  // The parts ddmin cuts later are runs of this order, so a model-visible run stays together.
  all.sort((a, b) => Number(visible.has(b)) - Number(visible.has(a)))
  const attributions = new Map<string, Attribution>()
  const unattributed: Unattributed[] = []
  const attribute = (ids: string[], g: Group, requests: number, verified: GroupAttribution['verified']): void => {
    const key = subsetKey(ids)
    let a = attributions.get(key)
    if (a === undefined) {
      const labels = ids.map((id) => set.changes.find((c) => c.id === id)!.label)
      attributions.set(key, (a = {change: ids.length === 1 ? ids[0]! : ids, interaction: ids.length > 1, labels, groups: [], requests: 0}))
    }
    a.groups.push({cause: g.cause, class: g.class, description: g.description, requests, of: g.members.length, verified})
    a.requests += requests
  }

  try {
    for (const g of groups) {
      const sample = g.members.slice(0, options.sample ?? DEFAULT_SAMPLE)
      step(`group ${g.cause} (${g.class}, ${g.members.length} requests): ${g.description}`)
      const full = await reproduces(all, g, sample)
      if (full === null) throw new UnderstudyError(`run ${run.id}: the candidate's changes applied to the baseline make no valid bundle: ${invalid.at(-1)?.problems.join('; ')}`)
      const stable = sample.filter((_, i) => full[i])
      if (stable.length === 0) {
        unattributed.push({...summary(g), why: `not reproduced: the candidate replayed again does not give this cause (0 of ${sample.length} sampled requests)`})
        continue
      }
      const test = async (ids: readonly string[]): Promise<boolean | null> => {
        const r = await reproduces(ids, g, stable)
        return r === null ? null : r.every(Boolean)
      }
      if ((await test([])) === true) {
        unattributed.push({...summary(g), why: 'present with no change applied: the baseline bundle itself gives it against the run\'s base side'})
        continue
      }
      const minimal = await ddmin(all, test, firstSplit)
      // The verifying replay: the minimal set alone over every request of the group.
      const together = (await reproduces(minimal, g, g.members))!
      const reproduced = together.filter(Boolean).length
      if (minimal.length === 1) {
        attribute(minimal, g, reproduced, {applied: minimal, replayed: g.members.length, reproduced})
        if (reproduced < g.members.length) step(`  ${g.members.length - reproduced} requests of ${g.cause} not reproduced by ${minimal[0]} alone`)
        continue
      }
      // More than one change: requests one change gives alone are that change's; the rest need them together.
      const alone = await Promise.all(minimal.map(async (id) => ({id, hits: (await reproduces([id], g, g.members)) ?? g.members.map(() => false)})))
      const taken = g.members.map(() => false)
      for (const {id, hits} of alone) {
        let n = 0
        hits.forEach((hit, i) => {
          if (hit && !taken[i]) {
            taken[i] = true
            n++
          }
        })
        if (n > 0) attribute([id], g, n, {applied: [id], replayed: g.members.length, reproduced: hits.filter(Boolean).length})
      }
      const jointly = together.filter((hit, i) => hit && !taken[i]).length
      if (jointly > 0) attribute(minimal, g, jointly, {applied: minimal, replayed: g.members.length, reproduced})
    }
  } finally {
    for (const h of hybrids.values()) {
      const x = await h.catch(() => null)
      if (x !== null && 'deps' in x) await x.deps.model.close?.().catch(() => {})
    }
    await rm(tmp, {recursive: true, force: true})
  }

  return {
    run: {id: run.id, baseline: base.ref, candidate: cand.ref, base_side: baseSide},
    changes: set.changes,
    attributions: [...attributions.values()].sort((a, b) => b.requests - a.requests),
    unattributed,
    invalid,
    differing,
    replays: {requests: replayed, hybrids: hybrids.size, model_calls: {...shared.calls}, naive_model_calls: naive, wall_s: (performance.now() - started) / 1000},
  }
}

function summary(g: Group): Omit<Unattributed, 'why'> {
  return {cause: g.cause, class: g.class, description: g.description, requests: g.members.length}
}

/** The run's bundles, checked unchanged since the run (a bisect of other bundles would explain other differences). */
async function runBundles(run: RunInfo, opts: ShadowOptions, baselineDir: string | undefined): Promise<{base: Bundle; cand: Bundle}> {
  const cand = await loadBundle(opts.candidate)
  if (cand.hash !== run.candidate_hash) throw new UnderstudyError(`cannot bisect ${run.id}: candidate bundle ${opts.candidate} changed since the run`)
  if (opts.baseline === 'recorded') {
    if (baselineDir === undefined) {
      throw new ValidationError([
        `run ${run.id} compared the candidate with what production recorded, which is no bundle: name the bundle production ran with --baseline <dir> (a scenario's baseline)`,
      ])
    }
    return {base: await loadBundle(baselineDir), cand}
  }
  if (baselineDir !== undefined) throw new ValidationError([`run ${run.id} has its own baseline bundle (${run.baseline_ref}); --baseline is only for a run compared with the recording`])
  const base = await loadBundle(opts.baseline)
  if (base.hash !== run.baseline_hash) throw new UnderstudyError(`cannot bisect ${run.id}: baseline bundle ${opts.baseline} changed since the run`)
  return {base, cand}
}

/** The run's cause groups with their requests and base traces, most harmful first, filtered as asked. */
function runGroups(store: TraceDatabase, run: RunInfo, baseSide: TraceSide, options: BisectOptions): {groups: Group[]; differing: Differing} {
  const differing: Differing = {requests: 0, candidate_model_calls: 0}
  const tally = new CauseTally()
  const members = new Map<string, Member[]>()
  for (const group of groupByRequest(store.iterateTraces(run.id, {guardrails: 'failed'}))) {
    if (group.traces.some((t) => t.status === 'skipped')) continue
    const r = compareGroup(group, baseSide, {answerParts: false})
    if (!r.classification || !r.diff || !r.base) continue
    const key = causeKey(r.diff, r.classification)
    if (key === null) continue
    differing.requests++
    differing.candidate_model_calls += r.cand?.model_calls ?? 0
    tally.add(key, r.request_id)
    let list = members.get(key)
    if (list === undefined) members.set(key, (list = []))
    list.push({line: r.line, request_id: r.request_id, base: r.base})
  }
  const classes = new Set(options.classes ?? ['regression', 'behaviour_change', 'improvement', 'benign'])
  const keyOf = new Map([...members.keys()].map((k) => [causeId(signatureOfKey(k)), k]))
  const out: Group[] = []
  for (const g of tally.groupsSorted()) {
    if (!classes.has(g.class)) continue
    if (options.cause !== undefined && !matchesCause(g.cause, options.cause)) continue
    const key = keyOf.get(g.cause)!
    out.push({key, cause: g.cause, class: g.class, description: describeSignature(g.signature), members: members.get(key)!})
  }
  if (options.cause !== undefined && out.length === 0) throw new UnderstudyError(`run ${run.id} has no cause group "${options.cause}" (understudy diff ${run.id} --by cause lists them)`)
  return {groups: out, differing}
}

/** The run's requests that differ from the base, and the model calls the run's candidate made for them. */
type Differing = {requests: number; candidate_model_calls: number}

/** The traffic records of the lines asked for; the file must be the one the run replayed. */
async function trafficRecords(file: string, run: RunInfo, lines: ReadonlySet<number>): Promise<Map<number, TrafficRecord>> {
  const {sha256} = await digestTraffic(file).catch(() => ({sha256: null}))
  if (sha256 !== run.traffic_hash) throw new UnderstudyError(`cannot bisect ${run.id}: its traffic file ${file} is gone or changed since the run`)
  const out = new Map<number, TrafficRecord>()
  for await (const item of readTraffic(file)) if (item.ok && lines.has(item.line)) out.set(item.line, item.record)
  return out
}

/** A hybrid bundle written out and loaded as any bundle is, then its runtime; or the loader's problems. */
async function buildHybrid(set: ChangeSet, ids: readonly string[], dir: string, opts: ShadowOptions, shared: ReplayShared, invalid: BisectResult['invalid']): Promise<Hybrid> {
  const {manifest, templates} = hybridBundle(set, ids)
  await mkdir(path.join(dir, 'prompts'), {recursive: true})
  await writeFile(path.join(dir, 'bundle.json'), JSON.stringify(manifest, null, 2))
  for (const [file, text] of Object.entries(templates)) await writeFile(path.join(dir, file), text)
  const v = await validateBundle(dir)
  if (v.bundle === null) {
    const problems = v.problems.map((p) => p.replace(`${dir}${path.sep}`, ''))
    invalid.push({changes: [...ids], problems})
    return {problems}
  }
  return {deps: await sideRuntime(opts, v.bundle, 'candidate', 0, shared)}
}

/** A replayed request: its cause key against the run's base trace, and the model calls its trace made. */
type Replayed = {key: string | null; calls: number}

async function replayOne(record: TrafficRecord, m: Member, deps: AgentDeps, shared: ReplayShared, baseSide: TraceSide): Promise<Replayed> {
  const trace = await runRequest(record, m.line, deps)
  trace.golden = traceGolden(record, shared.redactor)
  // Compared as the run's diff compares: failing guardrail results only.
  trace.guardrails = trace.guardrails.filter((g) => !g.passed)
  const r = compareGroup({request_id: m.request_id, line: m.line, traces: [m.base, trace]}, baseSide, {answerParts: false})
  // A model-free replay's trace counts production's recorded turns, which no model is asked for.
  const calls = deps.model.forRequest === undefined ? trace.model_calls : 0
  return {key: r.diff && r.classification ? causeKey(r.diff, r.classification) : null, calls}
}

/** `fn` over `items`, at most `limit` at once; results in input order. */
async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return out
}
