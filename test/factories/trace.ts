import type {Bundle} from '../../src/bundle/schema.js'
import {recordedTrace} from '../../src/runtime/recorded.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {RequestTrace, StepTrace, type TraceSide, type ToolCallTrace} from '../../src/trace/schema.js'
import type {TrafficRecord} from '../../src/traffic/schema.js'
import {toolCall} from './tool-call.js'

/** Overrides for trace(): any top-level field; arrays replace the default whole. */
export type TraceOverrides = Partial<RequestTrace>

/** One agent step (checked by the real schema): no tokens, no latency, its state as detail. trace() numbers `index`. */
export function step(state: StepTrace['state'], overrides: Partial<StepTrace> = {}): StepTrace {
  return StepTrace.parse({index: 0, state, detail: state, input_tokens: 0, output_tokens: 0, latency_ms: 0, ...overrides})
}

/**
 * A candidate's trace of request `req-1` on line 1 (checked by the real schema): completed after
 * plan → act → finish, with no tool calls, decisions or guardrails. Overrides apply in turn; steps,
 * tool calls and decisions are numbered (`index`, `seq`) in the order given.
 */
export function trace(...overrides: TraceOverrides[]): RequestTrace {
  const t: RequestTrace = Object.assign(
    {
      request_id: 'req-1',
      line: 1,
      side: 'candidate',
      repeat: 0,
      tenant: 'acme',
      user: 'u-1',
      role: 'agent',
      status: 'completed',
      final_answer: 'Your order ORD-1 has shipped.',
      steps: [step('plan'), step('act'), step('finish')],
      tool_calls: [],
      policy_decisions: [],
      guardrails: [],
      budget_hits: [],
      input_tokens: 100,
      output_tokens: 50,
      model_calls: 2,
      cost_usd: 0.001,
      latency_ms: 1000,
      error: null,
    } satisfies RequestTrace,
    ...overrides,
  )
  return RequestTrace.parse({
    ...t,
    steps: t.steps.map((s, index) => ({...s, index})),
    tool_calls: t.tool_calls.map((c, seq) => ({...c, seq})),
    policy_decisions: t.policy_decisions.map((d, seq) => ({...d, seq})),
  })
}

/** trace() on the recorded side: what production did, the base a candidate is compared with. */
export function baseTrace(...overrides: TraceOverrides[]): RequestTrace {
  return trace({side: 'recorded'}, ...overrides)
}

/**
 * `steps` with the totals a trace of them has: their tokens summed, one model call per plan step.
 * Spread into trace() where a test reads the totals, e.g. `trace(fromSteps([...]), {tool_calls})`.
 */
export function fromSteps(steps: StepTrace[]): Pick<RequestTrace, 'steps' | 'input_tokens' | 'output_tokens' | 'model_calls'> {
  return {
    steps,
    input_tokens: steps.reduce((n, s) => n + s.input_tokens, 0),
    output_tokens: steps.reduce((n, s) => n + s.output_tokens, 0),
    model_calls: steps.filter((s) => s.state === 'plan').length,
  }
}

/**
 * A looping request: retrieve, then `rounds` of model call (100 in, 10 out) → executed call of
 * `tool`, then a last model call and finish; totals follow the steps.
 */
export function loopingTrace(rounds: number, overrides: TraceOverrides = {}, tool = 'lookup_order'): RequestTrace {
  const modelCall = () => step('plan', {detail: 'model call', input_tokens: 100, output_tokens: 10})
  const steps: StepTrace[] = [step('retrieve')]
  const calls: ToolCallTrace[] = []
  for (let r = 0; r < rounds; r++) {
    steps.push(modelCall(), step('act'))
    calls.push(toolCall(tool, {}, {step: steps.length - 1}))
    steps.push(step('observe'), step('decide'))
  }
  steps.push(modelCall(), step('decide'), step('finish'))
  return trace(fromSteps(steps), {tool_calls: calls}, overrides)
}

/**
 * A trace with every field populated, for storage round trips: nested JSON args and results, nulls
 * next to values, booleans both ways, unicode (combining marks, emoji, RTL), fractional numbers,
 * a retried write that timed out, decisions of each kind and guardrails of each stage. Its status,
 * budget hits and error vary with `line`.
 */
export function fullTrace(requestId: string, line: number, side: TraceSide = 'candidate', repeat = 0): RequestTrace {
  return trace({
    request_id: requestId,
    line,
    side,
    repeat,
    tenant: 'acme',
    user: 'u-ünïcødé-👩‍💻',
    role: 'agent',
    status: line % 3 === 0 ? 'needs_approval' : 'completed',
    final_answer: `Refund for ${requestId} issued — ✅ مرحبا\n"quoted" \\ back\u0000slash`,
    steps: [
      {index: 0, state: 'plan', detail: 'planned 2 calls', input_tokens: 412, output_tokens: 57, latency_ms: 812.5},
      {index: 1, state: 'act', detail: 'lookup_order', input_tokens: 0, output_tokens: 0, latency_ms: 0},
      {index: 2, state: 'observe', detail: 'order found', input_tokens: 120, output_tokens: 0, latency_ms: 3},
      {index: 3, state: 'act', detail: 'issue_refund', input_tokens: 0, output_tokens: 0, latency_ms: 1.25},
      {index: 4, state: 'finish', detail: 'answered', input_tokens: 300, output_tokens: 88, latency_ms: 640},
    ],
    tool_calls: [
      {
        seq: 0, step: 1, name: 'lookup_order', risk: 'read',
        args: {order_id: `ORD-${line}`, include: ['items', 'payments'], opts: {deep: {deeper: [1, {x: null}]}}},
        args_hash: 'a'.repeat(64), idempotency_key: null, attempt: 1, outcome: 'ok', executed: true,
        result: {order_id: `ORD-${line}`, amount: 42.5, items: [{sku: 'SKU-1', qty: 2}], paid: true, note: null},
        error: null, latency_ms: 12.75,
      },
      {
        seq: 1, step: 3, name: 'issue_refund', risk: 'write_high',
        args: {order_id: `ORD-${line}`, amount: 42.5, email: '[REDACTED:email:1a2b3c4d]'},
        args_hash: 'b'.repeat(64), idempotency_key: `idem-${requestId}`, attempt: 2, outcome: 'timeout',
        executed: false, result: null, error: 'timeout after 5000ms', latency_ms: 5000,
      },
      {
        seq: 2, step: 3, name: 'send_email', risk: 'write_low',
        args: {}, args_hash: 'c'.repeat(64), idempotency_key: 'k', attempt: 1, outcome: 'ok', executed: true,
        result: ['queued', 0, false, 'ünï'], error: null, latency_ms: 0,
      },
    ],
    policy_decisions: [
      {seq: 0, step: 1, stage: 'mid_run', tool_call_seq: 0, tool: 'lookup_order', decision: 'allow', reason: 'POLICY_DEFAULT', rule: 'default'},
      {seq: 1, step: 3, stage: 'mid_run', tool_call_seq: 1, tool: 'issue_refund', decision: 'require_approval', reason: 'HIGH_VALUE_REFUND', rule: 'r-010'},
      {seq: 2, step: 0, stage: 'pre_model', tool_call_seq: null, tool: null, decision: 'deny', reason: 'INJECTION_IN_INPUT', rule: null},
    ],
    guardrails: [
      {stage: 'pre_model', step: 0, check: 'input_size', passed: true, severity: 'info', detail: '1200 chars'},
      {stage: 'pre_model', step: 0, check: 'injection', passed: false, severity: 'high', detail: 'ignore previous instructions'},
      {stage: 'mid_run', step: 1, check: 'schema', passed: true, severity: 'info', detail: ''},
      {stage: 'mid_run', step: 3, check: 'rbac', passed: true, severity: 'low', detail: 'agent may refund'},
      {stage: 'post_action', step: 3, check: 'write_confirmed', passed: false, severity: 'medium', detail: 'WRITE_UNCONFIRMED'},
      {stage: 'post_model', step: 4, check: 'secrets', passed: true, severity: 'info', detail: 'no secrets ✓'},
    ],
    budget_hits: line % 2 === 0 ? ['max_steps', 'tool:issue_refund.max_calls_per_request'] : [],
    input_tokens: 832,
    output_tokens: 145,
    model_calls: 3,
    cost_usd: 0.0123456789,
    latency_ms: 6470.25,
    error: line % 4 === 0 ? 'partial write: response lost' : null,
  })
}

/** The trace of a malformed traffic line: skipped, no children, empty strings. */
export function skippedTrace(requestId: string, line: number, side: TraceSide = 'recorded', repeat = 0): RequestTrace {
  return trace({
    request_id: requestId, line, side, repeat, tenant: '', user: '', role: '', status: 'skipped', final_answer: '',
    steps: [], tool_calls: [], policy_decisions: [], guardrails: [], budget_hits: [],
    input_tokens: 0, output_tokens: 0, model_calls: 0, cost_usd: 0, latency_ms: 0, error: 'malformed JSON at column 3',
  })
}

/** The recorded side of `record` on `line`, converted by the runtime itself (with a fresh redactor). */
export function recordedSide(record: TrafficRecord, options: {line?: number; bundle?: Bundle} = {}): RequestTrace {
  return recordedTrace(record, options.line ?? 1, createRedactor(), options.bundle)
}
