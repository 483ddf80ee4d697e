import type {ModelClient} from '../../src/model/types.js'
import {type CompiledBundle, runRequest} from '../../src/runtime/agent.js'
import type {RateLimiter} from '../../src/runtime/rate-limit.js'
import type {Redactor} from '../../src/runtime/redact.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import type {RequestTools, ToolAnswer} from '../../src/tools/sandbox.js'
import type {ProductionRecord, RecordedToolCall, TrafficRecord} from '../../src/traffic/schema.js'

/** Production logs are written in the clear; redaction happens when a trace is stored. */
const CLEAR: Redactor = {redactArgs: (a) => a, redactText: (t) => t, redactRequestText: (t) => t, redactValue: (v) => v}

/**
 * Plays one request through the simulated production deployment: the runtime on the production
 * bundle, with production's model and the scenario's simulated tools, on the record with nothing
 * recorded yet (no attacks, an empty production block; `turns` as the caller gives them).
 */
export function playProduction(record: Omit<TrafficRecord, 'production' | 'attacks'>, prod: {compiled: CompiledBundle; limiter: RateLimiter}, model: ModelClient, tools: RequestTools): Promise<RequestTrace> {
  const empty: TrafficRecord = {
    ...record,
    attacks: [],
    production: {tool_calls: [], policy_decisions: [], final_answer: '', outcome: 'completed', usage: {input_tokens: 0, output_tokens: 0}, latency_ms: 0},
  }
  return runRequest(empty, 1, {
    bundle: {dir: '', manifestFile: 'bundle.yaml', manifest: prod.compiled.manifest, templates: {}, hash: '', ref: prod.compiled.ref},
    compiled: prod.compiled,
    model,
    tools: {forRequest: () => tools},
    approver: 'pending',
    faults: null,
    redactor: CLEAR,
    limiter: prod.limiter,
    side: 'recorded',
    repeat: 0,
  })
}

/**
 * What production recorded for one request, from the trace of the runtime that played production
 * and the answers its simulated tools gave, in order: every executed call with its result or error,
 * every refused call without one (it never ran), the decisions, the answer, usage and cost.
 */
export function productionRecord(recordId: string, compiled: CompiledBundle, trace: RequestTrace, log: readonly {name: string; answer: ToolAnswer}[]): ProductionRecord {
  let next = 0
  const callId = (seq: number) => `${recordId}-call-${seq + 1}`
  const calls: RecordedToolCall[] = trace.tool_calls.map((c) => {
    const base: RecordedToolCall = {id: callId(c.seq), name: c.name, args: c.args, latency_ms: c.latency_ms, attempt: c.attempt}
    if (c.idempotency_key !== null) base.idempotency_key = c.idempotency_key
    if (c.outcome === 'ok' || c.outcome === 'error') {
      const answer = log[next++]!.answer
      if (answer.error) return {...base, error: {code: answer.error.code, message: answer.error.message}}
      return {...base, result: answer.result}
    }
    // Refused (policy, schema, allowlist, budget, approval): never executed, so nothing answered.
    return base
  })
  const pricing = compiled.manifest.model.pricing
  const cost = (trace.input_tokens / 1000) * pricing.input_per_1k + (trace.output_tokens / 1000) * pricing.output_per_1k
  if (trace.status === 'skipped') throw new Error(`${recordId}: production skipped the request`)
  return {
    bundle: compiled.ref.replace(/#.*$/, ''),
    tool_calls: calls,
    policy_decisions: trace.policy_decisions.map((d) => ({
      stage: d.stage,
      ...(d.tool_call_seq !== null ? {tool_call_id: callId(d.tool_call_seq)} : {}),
      ...(d.tool !== null ? {tool: d.tool} : {}),
      decision: d.decision,
      reason: d.reason,
    })),
    final_answer: trace.final_answer,
    outcome: trace.status,
    usage: {input_tokens: trace.input_tokens, output_tokens: trace.output_tokens},
    latency_ms: trace.latency_ms,
    cost_usd: Math.round(cost * 1e6) / 1e6,
  }
}
