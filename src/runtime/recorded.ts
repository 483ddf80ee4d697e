import type {Bundle, ToolContract} from '../bundle/schema.js'
import {type RecordedPolicyDecision, type RecordedToolCall, type TrafficRecord, turnOfRecordedCall} from '../traffic/schema.js'
import {hashArgs} from '../util/canonical.js'
import {perToolBudget} from './budget.js'
import {RATE_LIMITED_TENANT, RATE_LIMITED_USER, SCHEMA_INVALID, TOOL_NOT_ALLOWED} from './guardrails/mid-run.js'
import type {Redactor} from './redact.js'
import type {PolicyDecisionTrace, RequestTrace, StepTrace, ToolCallOutcome, ToolCallTrace} from '../trace/schema.js'

/**
 * What production did with a request, in the shape the shadow runtime produces (side `recorded`),
 * so both sides of a diff read alike. Production logs no steps, so each tool call becomes one
 * act/observe pair (call i at steps 2i and 2i+1), followed by a finish step. On a multi-turn
 * record each call made after a later user turn carries that turn, as the runtime marks its own.
 */
export function recordedTrace(record: TrafficRecord, line: number, redactor: Redactor, bundle?: Bundle): RequestTrace {
  const prod = record.production
  const contracts = bundle ? contractsOf(bundle) : NO_CONTRACTS
  const calls = prod.tool_calls
  const decisionsIn = prod.policy_decisions
  const turns = record.turns

  // Production may log a decision for a call it never answered (denied, awaiting approval). Most
  // records have none: the map is made only for one that does.
  let midRun: Map<string, RecordedPolicyDecision> | null = null
  for (let i = 0; i < decisionsIn.length; i++) {
    const d = decisionsIn[i]!
    if (d.stage === 'mid_run' && d.tool_call_id !== undefined && d.decision !== 'allow') (midRun ??= new Map()).set(d.tool_call_id, d)
  }
  const budgetHits: string[] = []

  const steps: StepTrace[] = []
  const toolCalls: ToolCallTrace[] = []
  for (let seq = 0; seq < calls.length; seq++) {
    const call = calls[seq]!
    const contract = contracts.get(call.name)
    const refusal = midRun === null ? undefined : midRun.get(call.id)
    const outcome = recordedOutcome(call, refusal)
    if (outcome === 'budget_exceeded') {
      const hit = recordedBudgetHit(call.name, refusal!.reason)
      if (hit !== null && !budgetHits.includes(hit)) budgetHits.push(hit)
    }
    const step = steps.length
    steps.push(
      {index: step, state: 'act', detail: `${call.name} (attempt ${call.attempt})`, input_tokens: 0, output_tokens: 0, latency_ms: call.latency_ms},
      {index: step + 1, state: 'observe', detail: `${call.name}: ${outcome}`, input_tokens: 0, output_tokens: 0, latency_ms: 0},
    )
    const trace: ToolCallTrace = {
      seq,
      step,
      name: call.name,
      risk: contract?.risk ?? 'unknown',
      args: redactor.redactArgs(call.args, contract?.sensitive_fields ?? NO_PATHS),
      args_hash: hashArgs(call.args),
      idempotency_key: call.idempotency_key ?? null,
      attempt: call.attempt,
      outcome,
      executed: outcome === 'ok' || outcome === 'error',
      result: call.result === undefined ? null : redactor.redactValue(call.result),
      error: call.error ? redactor.redactText(`${call.error.code}: ${call.error.message}`) : null,
      latency_ms: call.latency_ms,
    }
    // Last, as the runtime's own calls carry it; a literal and one assignment, not a spread.
    if (turns !== undefined) {
      const turn = turnOfRecordedCall(turns, seq)
      if (turn > 0) trace.turn = turn
    }
    toolCalls.push(trace)
  }
  const finishStep = steps.length
  steps.push({
    index: finishStep,
    state: 'finish',
    detail: `production outcome: ${prod.outcome}`,
    input_tokens: prod.usage.input_tokens,
    output_tokens: prod.usage.output_tokens,
    latency_ms: 0,
  })

  const decisions: PolicyDecisionTrace[] = []
  // A long record's calls get a map of id → first seq; a short one's are scanned (cheaper than the map).
  const seqById = calls.length > SCAN_CALLS ? firstSeqById(calls) : null
  for (let seq = 0; seq < decisionsIn.length; seq++) {
    const d = decisionsIn[seq]!
    const callSeq = d.tool_call_id === undefined ? -1 : seqById === null ? firstCallWithId(calls, d.tool_call_id) : (seqById.get(d.tool_call_id) ?? -1)
    const call = callSeq >= 0 ? toolCalls[callSeq] : undefined
    decisions.push({
      seq,
      // Before any call for pre_model; at the call it was about; at the end for the answer.
      step: call ? call.step : d.stage === 'pre_model' ? 0 : finishStep,
      stage: d.stage,
      tool_call_seq: callSeq >= 0 ? callSeq : null,
      tool: d.tool ?? call?.name ?? null,
      decision: d.decision,
      reason: d.reason,
      // Production logs the reason, not the rule that gave it.
      rule: null,
    })
  }

  return {
    request_id: redactor.redactText(record.id),
    line,
    side: 'recorded',
    repeat: 0,
    tenant: record.tenant,
    user: record.user,
    role: record.role,
    status: prod.outcome,
    final_answer: redactor.redactText(prod.final_answer),
    steps,
    tool_calls: toolCalls,
    policy_decisions: decisions,
    guardrails: [],
    budget_hits: budgetHits,
    input_tokens: prod.usage.input_tokens,
    output_tokens: prod.usage.output_tokens,
    // Production does not log how many model calls it made.
    model_calls: 0,
    cost_usd: prod.cost_usd ?? 0,
    latency_ms: prod.latency_ms,
    error: null,
  }
}

const NO_CONTRACTS: ReadonlyMap<string, ToolContract> = new Map()
const NO_PATHS: string[] = []

/** Up to this many recorded calls, a decision finds its call by a scan; past it, by a map (no quadratic time on a long record). */
const SCAN_CALLS = 16

/** The index of the first call with `id`, or -1. */
function firstCallWithId(calls: readonly RecordedToolCall[], id: string): number {
  for (let i = 0; i < calls.length; i++) if (calls[i]!.id === id) return i
  return -1
}

/** Each call id's first index. */
function firstSeqById(calls: readonly RecordedToolCall[]): Map<string, number> {
  const seqById = new Map<string, number>()
  for (let i = 0; i < calls.length; i++) if (!seqById.has(calls[i]!.id)) seqById.set(calls[i]!.id, i)
  return seqById
}
const contractsByBundle = new WeakMap<Bundle, ReadonlyMap<string, ToolContract>>()

/** Tool contracts by name, built once per bundle rather than once per recorded request. */
function contractsOf(bundle: Bundle): ReadonlyMap<string, ToolContract> {
  let contracts = contractsByBundle.get(bundle)
  if (contracts === undefined) {
    const byName = new Map<string, ToolContract>()
    for (const tool of bundle.manifest.tools) byName.set(tool.name, tool)
    contracts = byName
    contractsByBundle.set(bundle, contracts)
  }
  return contracts
}

/**
 * Production's refusals by the runtime's own checks carry the runtime's reason codes; read back,
 * they are the outcome the runtime gives such a call (a contract rejection, a tool not offered, a
 * budget or rate limit), not a policy denial, so a replay that refuses the call the same way
 * reads as the same.
 */
function recordedOutcome(call: RecordedToolCall, refusal: RecordedPolicyDecision | undefined): ToolCallOutcome {
  if (call.error) {
    if (call.error.code === 'timeout') return 'timeout'
    if (call.error.code === 'rate_limited') return 'rate_limited'
    return 'error'
  }
  if (call.result !== undefined || refusal === undefined) return 'ok'
  // No answer logged and production said no: the call was never made.
  if (refusal.decision === 'require_approval') return 'needs_approval'
  if (refusal.reason === SCHEMA_INVALID) return 'invalid_args'
  if (refusal.reason === TOOL_NOT_ALLOWED) return 'unknown_tool'
  if (refusal.reason.startsWith('BUDGET_') || refusal.reason === RATE_LIMITED_USER || refusal.reason === RATE_LIMITED_TENANT) return 'budget_exceeded'
  return 'denied'
}

/** The budget a recorded BUDGET_* refusal hit, named as the runtime names it (`tool:<name>.max_calls_per_request`, `max_tool_calls`); null for a rate limit. */
function recordedBudgetHit(tool: string, reason: string): string | null {
  if (!reason.startsWith('BUDGET_')) return null
  const name = reason.slice('BUDGET_'.length).toLowerCase()
  return name === 'max_calls_per_request' ? perToolBudget(tool) : name
}
