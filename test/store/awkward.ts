import type {PolicyDecisionTrace, ToolCallTrace} from '../../src/trace/schema.js'

/** Tool calls whose args and results are awkward JSON: nesting, unicode, numbers that print oddly. */
export function awkwardCalls(): ToolCallTrace[] {
  return [
    {
      seq: 0, step: 1, name: 'issue_refund', risk: 'write_high',
      args: {
        amount: 92.13, big: 1e21, tiny: 5e-324, neg: -0.5, int: 9007199254740991,
        '2': 'integer-like keys come first', b: {deep: [1, [2, [3, {x: null, y: true}]]], empty: {}, none: []},
        text: 'détail — ✅ مرحبا 👩‍💻 e\u0301 "quoted" \\ back\u0000slash\nnewline\u2028', '': 'empty key',
      },
      args_hash: 'd'.repeat(64), idempotency_key: 'idem-ünï', attempt: 3, outcome: 'partial_write', executed: true,
      result: 'a plain string result ✓', error: 'response lost', latency_ms: 0.1 + 0.2,
    },
    {
      seq: 1, step: 2, name: 'lookup_order', risk: 'read', args: {order_id: 'ORD-1'},
      args_hash: 'e'.repeat(64), idempotency_key: null, attempt: 1, outcome: 'ok', executed: true,
      result: [1, 'two', null, {three: 3.5}, [], 1e21], error: null, latency_ms: 12,
    },
    {
      seq: 2, step: 2, name: 'noop', risk: 'unknown', args: {}, args_hash: '', idempotency_key: '', attempt: 1,
      outcome: 'unknown_tool', executed: false, result: 0, error: '', latency_ms: 0,
    },
    {
      seq: 3, step: 3, name: 'flag', risk: 'write_low', args: {on: false}, args_hash: 'f', idempotency_key: null,
      attempt: 2, outcome: 'ok', executed: true, result: false, error: null, latency_ms: 1e-9, attack: 'inj-ü"1',
    },
    // A decided held call without an attack (its tuple has a null attack before the approval) and one with both.
    {
      seq: 4, step: 4, name: 'pay', risk: 'write_high', args: {n: 1}, args_hash: 'p', idempotency_key: 'k', attempt: 1,
      outcome: 'ok', executed: true, result: {}, error: null, latency_ms: 2,
      approval: {decision: 'approved', by: 'ö "ops"', at: '2026-01-01T00:00:00.000Z', reason: null},
    },
    {
      seq: 5, step: 5, name: 'pay', risk: 'write_high', args: {}, args_hash: 'q', idempotency_key: null, attempt: 1,
      outcome: 'denied', executed: false, result: null, error: 'APPROVAL_REJECTED: no', latency_ms: 0, attack: 'a',
      approval: {decision: 'rejected', by: '', at: 'x', reason: ''},
    },
  ]
}

export function awkwardDecisions(): PolicyDecisionTrace[] {
  return [
    {seq: 0, step: 0, stage: 'pre_model', tool_call_seq: null, tool: null, decision: 'allow', reason: 'OK', rule: null},
    {seq: 1, step: 1, stage: 'mid_run', tool_call_seq: 0, tool: 'issue_refund', decision: 'require_approval', reason: 'HIGH_VALUE ✋', rule: 'r-010'},
    {seq: 2, step: 4, stage: 'post_model', tool_call_seq: 3, tool: '', decision: 'deny', reason: '', rule: ''},
  ]
}
