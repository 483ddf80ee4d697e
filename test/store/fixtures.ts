import type {RequestTrace, TraceSide} from '../../src/runtime/trace.js'
import type {NewRun} from '../../src/store/api.js'

/** A run's metadata with every field set. */
export function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    name: 'nightly refunds',
    candidate_ref: 'support@2.0.0#0123456789ab',
    candidate_hash: '0123456789ab'.padEnd(64, 'c'),
    baseline_ref: 'support@1.4.2#ba5e11ae0000',
    baseline_hash: 'ba5e11ae0000'.padEnd(64, 'b'),
    traffic_file: 'scenarios/support-refunds/traffic.jsonl',
    traffic_hash: 'f'.repeat(64),
    model: 'scripted:support-v2',
    repeat: 2,
    faults: 'timeouts@0.1',
    seed: 42,
    config: {concurrency: 4, approver: 'pending', nested: {list: [1, 'two', null, true]}},
    ...overrides,
  }
}

/**
 * A realistic trace with every field populated: nested JSON args and results, nulls next to
 * values, booleans both ways, unicode (combining marks, emoji, RTL), fractional numbers.
 */
export function trace(requestId: string, line: number, side: TraceSide = 'candidate', repeat = 0): RequestTrace {
  return {
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
  }
}

/** A bare trace: no children, empty strings. */
export function emptyTrace(requestId: string, line: number, side: TraceSide = 'recorded', repeat = 0): RequestTrace {
  return {
    request_id: requestId, line, side, repeat, tenant: '', user: '', role: '', status: 'skipped', final_answer: '',
    steps: [], tool_calls: [], policy_decisions: [], guardrails: [], budget_hits: [],
    input_tokens: 0, output_tokens: 0, model_calls: 0, cost_usd: 0, latency_ms: 0, error: 'malformed JSON at column 3',
  }
}

const SIDE_RANK = {recorded: 0, baseline: 1, candidate: 2} as const

/** The store contract's trace order: line, then recorded/baseline/candidate, then repeat. */
function contractOrder(a: RequestTrace, b: RequestTrace): number {
  return a.line - b.line || SIDE_RANK[a.side] - SIDE_RANK[b.side] || a.repeat - b.repeat
}

/** A copy of `traces` in the store contract's order. */
export const inOrder = (traces: readonly RequestTrace[]): RequestTrace[] => [...traces].sort(contractOrder)

/** `line/side/repeat` of each trace, to compare orders readably. */
export const orderKeys = (traces: Iterable<RequestTrace>): string[] => [...traces].map((t) => `${t.line}/${t.side}/${t.repeat}`)
