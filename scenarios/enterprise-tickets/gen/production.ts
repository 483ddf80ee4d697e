import type {Bundle} from '../../../src/bundle/schema.js'
import {scriptedRespond} from '../../../src/model/scripted.js'
import type {ChatRequest, ModelClient} from '../../../src/model/types.js'
import {compileBundle, runRequest, type CompiledBundle} from '../../../src/runtime/agent.js'
import {RateLimiter} from '../../../src/runtime/rate-limit.js'
import type {Redactor} from '../../../src/runtime/redact.js'
import type {RequestTrace} from '../../../src/trace/schema.js'
import type {RequestTools, ToolAnswer, ToolExecution, ToolSandbox} from '../../../src/tools/sandbox.js'
import type {KnownToolErrorCode as ToolErrorCode, ProductionRecord, RecordedToolCall, TrafficRecord} from '../../../src/traffic/schema.js'
import {canonicalJson, sha256} from '../../../src/util/canonical.js'
import {FAULT_LATENCY, type Fault, faultMessage} from '../../lib/faults.js'
import {hash32} from '../../lib/prng.js'
import {toolLatency} from '../../lib/tool-answer.js'
import {ticketsSkill} from '../skill/index.js'
import {searchRunbooks, type Tenant, ticketView, type World} from './world.js'

/**
 * A stand-in for the production deployment that served the recorded traffic. Production ran the
 * same agent runtime the shadow replays with (guardrails, RBAC, policy, budgets, its own retries,
 * a pending approver), the scripted model with v1's prompt and tools, and real tools — here the
 * simulated enterprise (world.ts) with scheduled faults. What it did becomes the `production`
 * block of the traffic line, logged in the clear as production logs are.
 */

/** A request before production handled it, plus the faults production's tools hit. */
export type RequestSpec = {
  record: Omit<TrafficRecord, 'production'>
  /** Per tool, the errors its first attempts (in order, across the request) answered with. */
  faults: Partial<Record<string, Fault[]>>
  /** Production sampled this answer at temperature > 0 (wording differs from a temperature-0 replay). */
  sampled: boolean
}

/** Production logs are written in the clear; redaction happens when a trace is stored. */
const CLEAR: Redactor = {redactArgs: (a) => a, redactText: (t) => t, redactRequestText: (t) => t, redactValue: (v) => v}

const TOOL_LATENCY: Record<string, [number, number]> = {
  get_ticket: [30, 120],
  search_runbooks: [60, 220],
  update_ticket: [80, 260],
  assign_ticket: [80, 240],
  reset_password: [300, 900],
  grant_access: [250, 800],
  request_change: [150, 450],
  apply_change: [900, 2400],
}

function id(prefix: string, key: string, n = 10): string {
  return `${prefix}-${sha256(key).slice(0, n).toUpperCase()}`
}

type Answer = {result?: unknown; error?: {code: ToolErrorCode; message: string; retry_after_ms?: number}}

/** What a tool does in the simulated enterprise. Every tool is scoped to the request's tenant. */
export function executeTool(world: World, rec: RequestSpec['record'], name: string, args: Record<string, unknown>): Answer {
  const tenant = rec.tenant as Tenant
  const key = `${rec.id}|${name}|${canonicalJson(args)}`
  const ticket = typeof args.ticket_id === 'string' ? world.tickets.get(args.ticket_id) : undefined
  const ownTicket = ticket && ticket.tenant === tenant ? ticket : undefined
  const missingTicket = (): Answer => ({error: {code: 'not_found', message: `ticket ${String(args.ticket_id)} not found`}})
  const known = (u: unknown) =>
    typeof u === 'string' && (world.employees[tenant].some((p) => p.username === u) || world.staff[tenant].some((s) => s.user === u))
  switch (name) {
    case 'get_ticket':
      return ownTicket ? {result: ticketView(ownTicket)} : missingTicket()
    case 'search_runbooks': {
      const topK = typeof args.top_k === 'number' ? args.top_k : 3
      return {result: {results: searchRunbooks(world.runbooks[tenant], String(args.query ?? ''), topK)}}
    }
    case 'update_ticket':
      if (!ownTicket) return missingTicket()
      return {result: {ticket_id: ownTicket.ticket_id, status: args.status, updated_at: rec.timestamp}}
    case 'assign_ticket':
      if (!ownTicket) return missingTicket()
      return {result: {ticket_id: ownTicket.ticket_id, assignee: args.assignee ?? null, group: args.group ?? null, updated_at: rec.timestamp}}
    case 'reset_password':
      if (!known(args.username)) return {error: {code: 'not_found', message: `no account ${String(args.username)} in ${tenant}`}}
      return {result: {reset_id: id('PWR', key), username: args.username, delivery: 'registered_phone', expires_in_minutes: 60}}
    case 'grant_access':
      if (!known(args.username)) return {error: {code: 'not_found', message: `no account ${String(args.username)} in ${tenant}`}}
      return {result: {grant_id: id('GR', key), username: args.username, system: args.system, level: args.level, status: 'active'}}
    case 'request_change': {
      const n = (['northwind', 'contoso', 'fabrikam'].indexOf(tenant) + 1) * 10000 + 5000 + (hash32(key) % 5000)
      return {result: {change_id: `CHG-${n}`, status: args.environment === 'production' ? 'pending_approval' : 'scheduled', system: args.system, environment: args.environment}}
    }
    case 'apply_change': {
      const change = typeof args.change_id === 'string' ? world.changes.get(args.change_id) : undefined
      // A change raised by request_change earlier in this request: numbered tenant·10000 + 5000 and up.
      const num = typeof args.change_id === 'string' ? Number(args.change_id.slice(4)) : NaN
      const fresh = Math.floor(num / 10000) === ['northwind', 'contoso', 'fabrikam'].indexOf(tenant) + 1 && num % 10000 >= 5000
      if ((!change || change.tenant !== tenant) && !fresh) return {error: {code: 'not_found', message: `change ${String(args.change_id)} not found`}}
      return {result: {change_id: args.change_id, status: 'applied', environment: args.environment, applied_at: rec.timestamp}}
    }
    default:
      return {error: {code: 'not_found', message: `no such tool ${name}`}}
  }
}

type Logged = {name: string; answer: ToolAnswer}

/** The request's tools: the world, with the spec's faults answering first attempts in order. */
class WorldTools implements RequestTools {
  readonly executions: ToolExecution[] = []
  readonly log: Logged[] = []
  private readonly faults: Partial<Record<string, Fault[]>>

  constructor(
    private readonly world: World,
    private readonly spec: RequestSpec,
  ) {
    this.faults = Object.fromEntries(Object.entries(spec.faults).map(([k, v]) => [k, [...(v ?? [])]]))
  }

  async call(name: string, args: Record<string, unknown>, attempt: number): Promise<ToolAnswer> {
    const rec = this.spec.record
    const fault = this.faults[name]?.shift()
    const out: Answer = fault ? {error: {code: fault.code, message: faultMessage(fault), ...(fault.retry_after_ms !== undefined ? {retry_after_ms: fault.retry_after_ms} : {})}} : executeTool(this.world, rec, name, args)
    const latency = out.error ? FAULT_LATENCY[out.error.code] : toolLatency(TOOL_LATENCY, rec.id, name, this.log.length)
    let answer: ToolAnswer
    if (out.error) {
      const outcome = out.error.code === 'timeout' ? 'timeout' : out.error.code === 'rate_limited' ? 'rate_limited' : 'error'
      answer = {outcome, result: null, error: out.error, latency_ms: latency, executed: outcome === 'error', source: 'recorded'}
    } else {
      answer = {outcome: 'ok', result: out.result, error: null, latency_ms: latency, executed: true, source: 'recorded'}
    }
    if (answer.executed) this.executions.push({name, args, attempt, source: 'recorded'})
    this.log.push({name, answer})
    return answer
  }
}

/** The scripted model as production served it; sampled requests ran at temperature 0.7. */
function productionModel(spec: RequestSpec, compiled: CompiledBundle): ModelClient {
  const seed = compiled.manifest.model.seed
  return {
    id: `scripted:${compiled.manifest.model.name}`,
    async chat(request: ChatRequest) {
      const options = spec.sampled ? {...request.options, temperature: 0.7, seed: hash32(spec.record.id)} : request.options
      return scriptedRespond({...request, options}, seed, [ticketsSkill])
    },
  }
}

export type Production = {compiled: CompiledBundle; limiter: RateLimiter}

export function productionFor(bundle: Bundle): Production {
  return {compiled: compileBundle(bundle), limiter: new RateLimiter()}
}

const TOOL_REACHED = new Set(['ok', 'error', 'timeout', 'rate_limited'])

/** Runs one request through the simulated production deployment and logs what happened. */
export async function simulate(spec: RequestSpec, prod: Production, world: World): Promise<ProductionRecord> {
  const tools = new WorldTools(world, spec)
  const sandbox: ToolSandbox = {forRequest: () => tools}
  const record: TrafficRecord = {...spec.record, production: {tool_calls: [], policy_decisions: [], final_answer: '', outcome: 'completed', usage: {input_tokens: 0, output_tokens: 0}, latency_ms: 0}}
  const trace = await runRequest(record, 1, {
    bundle: {dir: '', manifestFile: 'bundle.yaml', manifest: prod.compiled.manifest, templates: {}, hash: '', ref: prod.compiled.ref},
    compiled: prod.compiled,
    model: productionModel(spec, prod.compiled),
    tools: sandbox,
    approver: 'pending',
    faults: null,
    redactor: CLEAR,
    limiter: prod.limiter,
    side: 'recorded',
    repeat: 0,
  })
  return productionRecord(spec, prod, trace, tools.log)
}

function productionRecord(spec: RequestSpec, prod: Production, trace: RequestTrace, log: readonly Logged[]): ProductionRecord {
  const rec = spec.record
  let next = 0
  const calls: RecordedToolCall[] = trace.tool_calls.map((c) => {
    const base: RecordedToolCall = {id: `${rec.id}-call-${c.seq + 1}`, name: c.name, args: c.args, latency_ms: c.latency_ms, attempt: c.attempt}
    if (c.idempotency_key !== null) base.idempotency_key = c.idempotency_key
    if (TOOL_REACHED.has(c.outcome)) {
      // Tools answered in the order the runtime asked them, so the log lines up with these calls.
      // The tool's own latency: a Retry-After wait before the attempt is the runtime's, not the tool's.
      const answer = log[next++]!.answer
      if (answer.error) return {...base, latency_ms: answer.latency_ms, error: {...answer.error}}
      return {...base, latency_ms: answer.latency_ms, result: answer.result}
    }
    if (c.outcome === 'invalid_args') return {...base, error: {code: 'invalid_args', message: (c.error ?? 'invalid arguments').replace(/^SCHEMA_INVALID: /, '')}}
    // Denied, held for approval or over budget: never executed, so nothing answered.
    return base
  })
  const pricing = prod.compiled.manifest.model.pricing
  const cost = (trace.input_tokens / 1000) * pricing.input_per_1k + (trace.output_tokens / 1000) * pricing.output_per_1k
  return {
    bundle: prod.compiled.ref.replace(/#.*$/, ''),
    tool_calls: calls,
    policy_decisions: trace.policy_decisions.map((d) => ({
      stage: d.stage,
      ...(d.tool_call_seq !== null ? {tool_call_id: `${rec.id}-call-${d.tool_call_seq + 1}`} : {}),
      ...(d.tool !== null ? {tool: d.tool} : {}),
      decision: d.decision,
      reason: d.reason,
    })),
    final_answer: trace.final_answer,
    outcome: trace.status === 'skipped' ? 'failed' : trace.status,
    usage: {input_tokens: trace.input_tokens, output_tokens: trace.output_tokens},
    latency_ms: trace.latency_ms + (hash32(`${rec.id}|overhead`) % 46) + 15,
    cost_usd: Math.round(cost * 1e6) / 1e6,
  }
}
