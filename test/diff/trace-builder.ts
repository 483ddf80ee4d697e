import type {Decision, DecisionStage} from '../../src/traffic/schema.js'
import {
  RequestTrace,
  type GuardrailResult,
  type GuardrailSeverity,
  type PolicyDecisionTrace,
  type StepTrace,
  type ToolCallTrace,
  type TraceSide,
} from '../../src/runtime/trace.js'
import {hashJson} from '../../src/util/canonical.js'

/** Builders for hand-made traces in tests. Every built trace is validated against the real schema. */

export function call(name: string, args: Record<string, unknown> = {}, over: Partial<ToolCallTrace> = {}): ToolCallTrace {
  return {
    seq: 0,
    step: 0,
    name,
    risk: 'read',
    args,
    args_hash: hashJson(args),
    idempotency_key: null,
    attempt: 1,
    outcome: 'ok',
    executed: true,
    result: {ok: true},
    error: null,
    latency_ms: 10,
    ...over,
  }
}

export function decision(stage: DecisionStage, tool: string | null, d: Decision, reason: string, over: Partial<PolicyDecisionTrace> = {}): PolicyDecisionTrace {
  return {seq: 0, step: 0, stage, tool_call_seq: null, tool, decision: d, reason, rule: null, ...over}
}

export function guard(stage: DecisionStage, check: string, passed: boolean, severity: GuardrailSeverity = 'high', detail = check): GuardrailResult {
  return {stage, step: 0, check, passed, severity, detail}
}

export function step(state: StepTrace['state'], detail = state): StepTrace {
  return {index: 0, state, detail, input_tokens: 0, output_tokens: 0, latency_ms: 0}
}

export type TraceSpec = Partial<Omit<RequestTrace, 'side'>> & {side?: TraceSide}

export function trace(spec: TraceSpec = {}): RequestTrace {
  const t = {
    request_id: 'req-1',
    line: 1,
    side: 'candidate' as TraceSide,
    repeat: 0,
    tenant: 'acme',
    user: 'u-1',
    role: 'agent',
    status: 'completed' as const,
    final_answer: 'Your order ORD-1 has shipped.',
    steps: [step('plan'), step('act'), step('finish')],
    tool_calls: [] as ToolCallTrace[],
    policy_decisions: [] as PolicyDecisionTrace[],
    guardrails: [] as GuardrailResult[],
    budget_hits: [] as string[],
    input_tokens: 100,
    output_tokens: 50,
    model_calls: 2,
    cost_usd: 0.001,
    latency_ms: 1000,
    error: null,
    ...spec,
  }
  t.steps = t.steps.map((s, index) => ({...s, index}))
  t.tool_calls = t.tool_calls.map((c, seq) => ({...c, seq}))
  t.policy_decisions = t.policy_decisions.map((d, seq) => ({...d, seq}))
  return RequestTrace.parse(t)
}

/** The same request on the base side (recorded unless said otherwise). */
export function base(spec: TraceSpec = {}): RequestTrace {
  return trace({side: 'recorded', ...spec})
}
