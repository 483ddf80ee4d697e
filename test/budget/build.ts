import {RequestTrace, type PolicyDecisionTrace, type StepTrace, type ToolCallTrace} from '../../src/runtime/trace.js'
import {hashJson} from '../../src/util/canonical.js'

/** Hand-made traces for the budget, incident, rollout and drill tests; each is validated by the real schema. */

export function plan(input_tokens = 100, output_tokens = 20): StepTrace {
  return {index: 0, state: 'plan', detail: 'model call', input_tokens, output_tokens, latency_ms: 0}
}

export function st(state: StepTrace['state']): StepTrace {
  return {index: 0, state, detail: state, input_tokens: 0, output_tokens: 0, latency_ms: 0}
}

export function call(name: string, step: number, over: Partial<ToolCallTrace> = {}): ToolCallTrace {
  const args = over.args ?? {}
  return {
    seq: 0, step, name, risk: 'read', args, args_hash: hashJson(args), idempotency_key: null, attempt: 1,
    outcome: 'ok', executed: true, result: {ok: true}, error: null, latency_ms: 5, ...over,
  }
}

export function decision(toolCallSeq: number, tool: string, d: PolicyDecisionTrace['decision'], reason: string): PolicyDecisionTrace {
  return {seq: 0, step: 0, stage: 'mid_run', tool_call_seq: toolCallSeq, tool, decision: d, reason, rule: null}
}

export function trace(spec: Partial<RequestTrace> = {}): RequestTrace {
  const steps = (spec.steps ?? [st('retrieve'), plan(), st('decide'), st('finish')]).map((s, index) => ({...s, index}))
  const t = {
    request_id: 'req-1', line: 1, side: 'candidate' as const, repeat: 0, tenant: 'acme', user: 'u1', role: 'agent',
    status: 'completed' as const, final_answer: 'ok', tool_calls: [], policy_decisions: [], guardrails: [], budget_hits: [],
    error: null, cost_usd: 0, latency_ms: 10,
    ...spec,
    steps,
    input_tokens: spec.input_tokens ?? steps.reduce((a, s) => a + s.input_tokens, 0),
    output_tokens: spec.output_tokens ?? steps.reduce((a, s) => a + s.output_tokens, 0),
    model_calls: spec.model_calls ?? steps.filter((s) => s.state === 'plan').length,
  }
  t.tool_calls = t.tool_calls.map((c, seq) => ({...c, seq}))
  t.policy_decisions = t.policy_decisions.map((d, seq) => ({...d, seq}))
  return RequestTrace.parse(t)
}

/** A looping request: `rounds` of model call → tool call, each round's call executed. */
export function looping(rounds: number, over: Partial<RequestTrace> = {}, tool = 'lookup_order'): RequestTrace {
  const steps: StepTrace[] = [st('retrieve')]
  const calls: ToolCallTrace[] = []
  for (let r = 0; r < rounds; r++) {
    steps.push(plan(100, 10))
    steps.push(st('act'))
    calls.push(call(tool, steps.length - 1))
    steps.push(st('observe'), st('decide'))
  }
  steps.push(plan(100, 10), st('decide'), st('finish'))
  return trace({steps, tool_calls: calls, ...over})
}
