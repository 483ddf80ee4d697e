import type {Bundle} from '../../../src/bundle/schema.js'
import {createScriptedModel} from '../../../src/model/scripted.js'
import {runRequest} from '../../../src/runtime/agent.js'
import {compileBundle, type CompiledBundle} from '../../../src/runtime/compile.js'
import {RateLimiter} from '../../../src/runtime/rate-limit.js'
import type {Redactor} from '../../../src/runtime/redact.js'
import type {RequestTrace} from '../../../src/trace/schema.js'
import type {RequestTools, ToolAnswer, ToolExecution} from '../../../src/tools/sandbox.js'
import type {ProductionRecord, RecordedPolicyDecision, RecordedToolCall, TrafficRecord} from '../../../src/traffic/schema.js'
import {sha256} from '../../../src/util/canonical.js'
import {hash32} from '../../lib/prng.js'
import {codingSkill} from '../skill/index.js'
import type {Fault, RequestSpec} from './sample.js'
import {REPOS, type Repo, type Tenant} from './world.js'

/**
 * A stand-in for the production deployment that served the recorded traffic: v1's bundle run by
 * the same agent runtime a shadow replay uses (guardrails, schema checks, RBAC, the policy engine,
 * budgets, the runtime's own retries, a `pending` approver) and the scripted model, against tools
 * backed by the simulated repositories with scheduled faults. What it did becomes the `production`
 * block of the traffic line, in the recorded-traffic format.
 */

/** Production logged arguments and answers in the clear; the trace store redacts on the way in. */
const CLEAR: Redactor = {redactArgs: (a) => a, redactText: (t) => t, redactRequestText: (t) => t, redactValue: (v) => v}

const TOOL_LATENCY: Record<string, [number, number]> = {
  search_code: [60, 240],
  read_file: [20, 90],
  run_tests: [4000, 21000],
  create_branch: [150, 400],
  write_file: [180, 520],
  open_pull_request: [300, 900],
  merge_pull_request: [400, 1200],
  delete_branch: [120, 300],
  create_gist: [200, 500],
}

const FAULT_LATENCY: Record<Fault['code'], number> = {timeout: 10000, rate_limited: 30, server_error: 240}

function latency(key: string, tool: string): number {
  const [lo, hi] = TOOL_LATENCY[tool] ?? [50, 200]
  return lo + (hash32(key) % (hi - lo + 1))
}

function sha7(key: string): string {
  return sha256(key).slice(0, 7)
}

type Outcome = {result: unknown} | {error: {code: 'not_found' | 'conflict' | 'invalid_args'; message: string}}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback
}

/** What a tool answers when it runs against the repository (no fault). */
export function executeTool(repo: Repo, requestId: string, name: string, args: Record<string, unknown>): Outcome {
  const key = `${requestId}|${name}|${JSON.stringify(args)}`
  switch (name) {
    case 'search_code': {
      const query = str(args.query)
      const prefix = str(args.path_prefix)
      const limit = typeof args.max_results === 'number' ? args.max_results : 10
      const hits: {path: string; line: number; snippet: string}[] = []
      for (const path of [...repo.files.keys()].sort()) {
        // Code search indexes tracked files; a stray .env is not tracked.
        if (path.endsWith('.env') || !path.startsWith(prefix)) continue
        repo.files.get(path)!.split('\n').forEach((line, i) => {
          if (query !== '' && line.includes(query)) hits.push({path, line: i + 1, snippet: line.trim()})
        })
      }
      return {result: {query, total: hits.length, results: hits.slice(0, limit)}}
    }
    case 'read_file': {
      const path = str(args.path)
      const ref = str(args.ref, 'main')
      const content = repo.files.get(path)
      if (content === undefined) return {error: {code: 'not_found', message: `no file ${path} at ${ref}`}}
      return {result: {path, ref, size: content.length, content}}
    }
    case 'run_tests': {
      const ref = str(args.ref, 'main')
      const target = str(args.path, 'all')
      const failures = repo.branches.get(ref) ?? []
      const total = target === 'all' ? repo.suiteSize : 2 + (hash32(`${repo.slug}|${target}`) % 11)
      const failed = Math.min(failures.length, total)
      return {result: {ref, target, passed: total - failed, failed, failures: failures.slice(0, failed), duration_ms: latency(`${key}|d`, 'run_tests')}}
    }
    case 'create_branch': {
      const branch = str(args.name)
      if (repo.branches.has(branch) || branch === 'main') return {error: {code: 'conflict', message: `branch ${branch} already exists`}}
      return {result: {branch, from: str(args.from, 'main'), commit_id: sha7(`main|${repo.slug}`)}}
    }
    case 'write_file':
      return {result: {path: str(args.path), branch: str(args.branch), commit_id: sha7(key), bytes: str(args.content).length}}
    case 'open_pull_request': {
      const number = 500 + (hash32(key) % 400)
      return {result: {id: 7_000_000 + (hash32(`${key}|id`) % 1_000_000), number, url: `https://git.example.com/${repo.slug}/pull/${number}`, draft: args.draft === true, state: 'open'}}
    }
    case 'merge_pull_request':
      return {result: {merged: true, number: args.number, commit_id: sha7(key)}}
    case 'delete_branch': {
      const branch = str(args.name)
      if (!repo.branches.has(branch) && !branch.startsWith('agent/')) return {error: {code: 'not_found', message: `no branch ${branch}`}}
      return {result: {deleted: true, branch, operation_id: `op-${sha7(key)}`}}
    }
    case 'create_gist':
      return {result: {id: sha256(key).slice(0, 20), url: `https://gist.example.net/${sha256(key).slice(0, 20)}`, public: args.public === true}}
    default:
      return {error: {code: 'invalid_args', message: `no such tool ${name}`}}
  }
}

/** One request's tools: scheduled faults first, then the repository. Remembers every answer in order. */
class WorldTools implements RequestTools {
  readonly executions: ToolExecution[] = []
  readonly answers: ToolAnswer[] = []
  private readonly faults: Partial<Record<string, Fault[]>>

  constructor(
    private readonly repo: Repo,
    private readonly requestId: string,
    faults: RequestSpec['faults'],
  ) {
    this.faults = Object.fromEntries(Object.entries(faults).map(([k, v]) => [k, [...(v ?? [])]]))
  }

  async call(name: string, args: Record<string, unknown>, attempt: number): Promise<ToolAnswer> {
    const n = this.answers.length
    const fault = this.faults[name]?.shift()
    let answer: ToolAnswer
    if (fault) {
      const outcome = fault.code === 'server_error' ? 'error' : fault.code
      const error = {code: fault.code, message: fault.message, ...(fault.retry_after_ms !== undefined ? {retry_after_ms: fault.retry_after_ms} : {})}
      answer = {outcome, result: null, error, latency_ms: FAULT_LATENCY[fault.code], executed: outcome === 'error', source: 'recorded'}
    } else {
      const out = executeTool(this.repo, this.requestId, name, args)
      const ms = latency(`${this.requestId}|${n}|${name}`, name)
      answer =
        'result' in out
          ? {outcome: 'ok', result: out.result, error: null, latency_ms: ms, executed: true, source: 'recorded'}
          : {outcome: 'error', result: null, error: out.error, latency_ms: Math.min(ms, 60), executed: true, source: 'recorded'}
    }
    if (answer.executed) this.executions.push({name, args, attempt, source: answer.source})
    this.answers.push(answer)
    return answer
  }
}

/** The deployment: one bundle, one rate limiter over the whole recording (as in production). */
export type Production = {bundle: Bundle; compiled: CompiledBundle; limiter: RateLimiter}

export function production(bundle: Bundle): Production {
  return {bundle, compiled: compileBundle(bundle), limiter: new RateLimiter()}
}

/** Temperature production used for the requests it sampled. */
export const SAMPLED_TEMPERATURE = 0.7

const ANSWERED = new Set(['ok', 'error', 'timeout', 'rate_limited'])

/** Runs one request through the simulated production deployment. */
export async function simulate(spec: RequestSpec, prod: Production): Promise<ProductionRecord> {
  const rec = spec.record as TrafficRecord
  const tools = new WorldTools(REPOS[rec.tenant as Tenant], rec.id, spec.faults)
  let {bundle, compiled} = prod
  if (spec.sampled) {
    const model = {...bundle.manifest.model, temperature: SAMPLED_TEMPERATURE, seed: hash32(rec.id)}
    bundle = {...bundle, manifest: {...bundle.manifest, model}}
    compiled = compileBundle(bundle)
  }
  const trace = await runRequest({...rec, production: EMPTY_PRODUCTION}, 1, {
    bundle,
    compiled,
    model: createScriptedModel({name: bundle.manifest.model.name, seed: bundle.manifest.model.seed, skills: [codingSkill]}),
    tools: {forRequest: () => tools},
    approver: 'pending',
    faults: null,
    redactor: CLEAR,
    limiter: prod.limiter,
    side: 'candidate',
    repeat: 0,
  })
  return toProductionRecord(rec.id, trace, tools.answers, bundle)
}

const EMPTY_PRODUCTION: ProductionRecord = {tool_calls: [], policy_decisions: [], final_answer: '', outcome: 'completed', usage: {input_tokens: 0, output_tokens: 0}, latency_ms: 0}

/** The runtime's trace in the recorded-traffic format; answers are the tools' own, in call order. */
export function toProductionRecord(id: string, trace: RequestTrace, answers: readonly ToolAnswer[], bundle: Bundle): ProductionRecord {
  if (trace.status === 'skipped') throw new Error(`${id}: the runtime skipped the request (${trace.error ?? 'no reason'})`)
  let next = 0
  const calls: RecordedToolCall[] = trace.tool_calls.map((c) => {
    const head = {id: `${id}-call-${c.seq + 1}`, name: c.name, args: c.args}
    const tail = {attempt: c.attempt, ...(c.idempotency_key !== null ? {idempotency_key: c.idempotency_key} : {})}
    // Calls policy, RBAC or the schema stopped never reached a tool: no result, no error.
    if (!ANSWERED.has(c.outcome)) return {...head, latency_ms: 0, ...tail}
    const a = answers[next++]
    if (!a) throw new Error(`${id}: the trace has more answered calls than the tools gave`)
    if (a.error) return {...head, error: {...a.error}, latency_ms: a.latency_ms, ...tail}
    return {...head, result: a.result, latency_ms: a.latency_ms, ...tail}
  })
  const decisions: RecordedPolicyDecision[] = trace.policy_decisions.map((d) => ({
    stage: d.stage,
    ...(d.tool_call_seq !== null ? {tool_call_id: `${id}-call-${d.tool_call_seq + 1}`} : {}),
    ...(d.tool !== null ? {tool: d.tool} : {}),
    decision: d.decision,
    reason: d.reason,
  }))
  return {
    bundle: `${bundle.manifest.name}@${bundle.manifest.version}`,
    tool_calls: calls,
    policy_decisions: decisions,
    final_answer: trace.final_answer,
    outcome: trace.status,
    usage: {input_tokens: trace.input_tokens, output_tokens: trace.output_tokens},
    latency_ms: trace.latency_ms,
    cost_usd: Math.round(trace.cost_usd * 1e6) / 1e6,
  }
}
