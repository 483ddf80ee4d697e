import type {Bundle, ToolContract} from '../bundle/schema.js'
import {type RecordedToolCall, type TrafficRecord, turnOfRecordedCall} from '../traffic/schema.js'
import {hashJson} from '../util/canonical.js'
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

  // Production may log a decision for a call it never answered (denied, awaiting approval).
  const midRun = new Map<string, {decision: string; reason: string}>()
  for (const d of prod.policy_decisions) {
    if (d.stage === 'mid_run' && d.tool_call_id !== undefined && d.decision !== 'allow') midRun.set(d.tool_call_id, d)
  }
  const budgetHits: string[] = []

  const steps: StepTrace[] = []
  const toolCalls: ToolCallTrace[] = []
  const seqById = new Map<string, number>()
  prod.tool_calls.forEach((call, seq) => {
    const contract = contracts.get(call.name)
    const refusal = midRun.get(call.id)
    const outcome = recordedOutcome(call, refusal)
    const hit = outcome === 'budget_exceeded' ? recordedBudgetHit(call.name, refusal!.reason) : null
    if (hit !== null && !budgetHits.includes(hit)) budgetHits.push(hit)
    const step = steps.length
    steps.push(
      {index: step, state: 'act', detail: `${call.name} (attempt ${call.attempt})`, input_tokens: 0, output_tokens: 0, latency_ms: call.latency_ms},
      {index: step + 1, state: 'observe', detail: `${call.name}: ${outcome}`, input_tokens: 0, output_tokens: 0, latency_ms: 0},
    )
    if (!seqById.has(call.id)) seqById.set(call.id, seq)
    const turn = turnOfRecordedCall(record.turns, seq)
    const trace: ToolCallTrace = {
      seq,
      step,
      name: call.name,
      risk: contract?.risk ?? 'unknown',
      args: redactor.redactArgs(call.args, contract?.sensitive_fields ?? []),
      args_hash: hashJson(call.args),
      idempotency_key: call.idempotency_key ?? null,
      attempt: call.attempt,
      outcome,
      executed: outcome === 'ok' || outcome === 'error',
      result: call.result === undefined ? null : redactor.redactValue(call.result),
      error: call.error ? redactor.redactText(`${call.error.code}: ${call.error.message}`) : null,
      latency_ms: call.latency_ms,
    }
    // Last, as the runtime's own calls carry it; a literal and one assignment, not a spread.
    if (turn > 0) trace.turn = turn
    toolCalls.push(trace)
  })
  const finishStep = steps.length
  steps.push({
    index: finishStep,
    state: 'finish',
    detail: `production outcome: ${prod.outcome}`,
    input_tokens: prod.usage.input_tokens,
    output_tokens: prod.usage.output_tokens,
    latency_ms: 0,
  })

  const decisions: PolicyDecisionTrace[] = prod.policy_decisions.map((d, seq) => {
    const callSeq = d.tool_call_id !== undefined ? seqById.get(d.tool_call_id) : undefined
    const call = callSeq !== undefined ? toolCalls[callSeq] : undefined
    return {
      seq,
      // Before any call for pre_model; at the call it was about; at the end for the answer.
      step: call ? call.step : d.stage === 'pre_model' ? 0 : finishStep,
      stage: d.stage,
      tool_call_seq: callSeq ?? null,
      tool: d.tool ?? call?.name ?? null,
      decision: d.decision,
      reason: d.reason,
      // Production logs the reason, not the rule that gave it.
      rule: null,
    }
  })

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
function recordedOutcome(call: RecordedToolCall, refusal: {decision: string; reason: string} | undefined): ToolCallOutcome {
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
