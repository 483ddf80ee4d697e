import {describe, expect, it} from 'vitest'
import {recordedTrace} from '../../src/runtime/recorded.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {RequestTrace} from '../../src/trace/schema.js'
import {hashJson} from '../../src/util/canonical.js'
import {bundle as makeBundle, trafficRecord} from '../factories/index.js'

const CARD = '4111 1111 1111 1111'

const record = trafficRecord({
  id: 'req-7',
  production: {
    tool_calls: [
      {id: 'c1', name: 'lookup_order', args: {order_id: 'A'}, result: {order_id: 'A', amount: 40}, latency_ms: 30},
      {id: 'c2', name: 'issue_refund', args: {order_id: 'A', card: CARD}, error: {code: 'timeout', message: 'slow'}, latency_ms: 5000, idempotency_key: 'k1'},
      {id: 'c2', name: 'issue_refund', args: {order_id: 'A', card: CARD}, error: {code: 'rate_limited', message: 'later', retry_after_ms: 100}, latency_ms: 5, attempt: 2},
      {id: 'c2', name: 'issue_refund', args: {order_id: 'A', card: CARD}, error: {code: 'conflict', message: 'dup'}, latency_ms: 9, attempt: 3},
      {id: 'c3', name: 'wire_money', args: {to: 'x'}, latency_ms: 0},
      {id: 'c4', name: 'close_account', args: {}, latency_ms: 0},
    ],
    policy_decisions: [
      {stage: 'pre_model', decision: 'allow', reason: 'OK'},
      {stage: 'mid_run', tool_call_id: 'c2', tool: 'issue_refund', decision: 'allow', reason: 'POLICY_DEFAULT'},
      {stage: 'mid_run', tool_call_id: 'c3', decision: 'deny', reason: 'NO_WIRES'},
      {stage: 'mid_run', tool_call_id: 'c4', decision: 'require_approval', reason: 'NEEDS_HUMAN'},
      {stage: 'post_model', decision: 'allow', reason: 'CLEAN'},
    ],
    final_answer: `Refunded to card ${CARD}`,
    outcome: 'needs_approval',
    usage: {input_tokens: 120, output_tokens: 30},
    latency_ms: 6100,
    cost_usd: 0.0042,
  },
})

const bundle = makeBundle({
  manifest: {
    tools: [
      {name: 'lookup_order', description: 'd', risk: 'read', args: {type: 'object'}, roles: {'*': ['agent']}},
      {name: 'issue_refund', description: 'd', risk: 'write_high', args: {type: 'object'}, roles: {'*': ['agent']}, sensitive_fields: ['card']},
    ],
  },
})

describe('recordedTrace', () => {
  const trace = recordedTrace(record, 3, createRedactor(), bundle)

  it('produces a valid trace of the recorded side', () => {
    expect(RequestTrace.parse(trace)).toEqual(trace)
    expect(trace).toMatchObject({
      request_id: 'req-7',
      line: 3,
      side: 'recorded',
      repeat: 0,
      status: 'needs_approval',
      input_tokens: 120,
      output_tokens: 30,
      cost_usd: 0.0042,
      latency_ms: 6100,
      error: null,
    })
  })

  it('maps outcomes from result, error code and policy decision', () => {
    expect(trace.tool_calls.map((c) => [c.seq, c.name, c.attempt, c.outcome, c.executed])).toEqual([
      [0, 'lookup_order', 1, 'ok', true],
      [1, 'issue_refund', 1, 'timeout', false],
      [2, 'issue_refund', 2, 'rate_limited', false],
      [3, 'issue_refund', 3, 'error', true],
      [4, 'wire_money', 1, 'denied', false],
      [5, 'close_account', 1, 'needs_approval', false],
    ])
    expect(trace.tool_calls[0]!.result).toEqual({order_id: 'A', amount: 40})
    expect(trace.tool_calls[3]!.error).toBe('conflict: dup')
    expect(trace.tool_calls[1]!.idempotency_key).toBe('k1')
    expect(trace.tool_calls[0]!.idempotency_key).toBeNull()
  })

  it('takes risk from the bundle, else unknown', () => {
    expect(trace.tool_calls.map((c) => c.risk)).toEqual(['read', 'write_high', 'write_high', 'write_high', 'unknown', 'unknown'])
    expect(recordedTrace(record, 3, createRedactor()).tool_calls.every((c) => c.risk === 'unknown')).toBe(true)
  })

  it('synthesises one act/observe pair per call, then finish', () => {
    expect(trace.steps.map((s) => s.state)).toEqual([
      ...Array.from({length: 6}, () => ['act', 'observe']).flat(),
      'finish',
    ])
    expect(trace.tool_calls.map((c) => c.step)).toEqual([0, 2, 4, 6, 8, 10])
    expect(trace.steps.map((s) => s.index)).toEqual(trace.steps.map((_, i) => i))
  })

  it('places decisions at their call, with seq and stage', () => {
    expect(trace.policy_decisions.map((d) => [d.seq, d.stage, d.step, d.tool_call_seq, d.tool, d.decision, d.reason])).toEqual([
      [0, 'pre_model', 0, null, null, 'allow', 'OK'],
      [1, 'mid_run', 2, 1, 'issue_refund', 'allow', 'POLICY_DEFAULT'],
      [2, 'mid_run', 8, 4, 'wire_money', 'deny', 'NO_WIRES'],
      [3, 'mid_run', 10, 5, 'close_account', 'require_approval', 'NEEDS_HUMAN'],
      [4, 'post_model', 12, null, null, 'allow', 'CLEAN'],
    ])
  })

  it('redacts sensitive fields and secrets, hashing the real args', () => {
    const json = JSON.stringify(trace)
    expect(json).not.toContain(CARD)
    expect(json).not.toContain('4111111111111111')
    expect(trace.tool_calls[1]!.args).toEqual({order_id: 'A', card: expect.stringMatching(/^\[REDACTED:/)})
    expect(trace.tool_calls[1]!.args_hash).toBe(hashJson({order_id: 'A', card: CARD}))
    expect(trace.final_answer).toMatch(/^Refunded to card \[REDACTED:card:[0-9a-f]{8}\]$/)
  })

  it("reads production's refusals by the runtime's own checks as the outcome the runtime gives them, with the budget hit", () => {
    const refused = trafficRecord({
      id: 'req-8',
      production: {
        tool_calls: [
          {id: 'd1', name: 'swap_items', args: {n: 'x'}, latency_ms: 0},
          {id: 'd2', name: 'rush_delivery', args: {}, latency_ms: 0},
          {id: 'd3', name: 'swap_items', args: {n: 1}, result: {ok: true}, latency_ms: 5},
          {id: 'd4', name: 'swap_items', args: {n: 2}, latency_ms: 0},
          {id: 'd5', name: 'lookup_order', args: {}, latency_ms: 0},
        ],
        policy_decisions: [
          {stage: 'mid_run', tool_call_id: 'd1', tool: 'swap_items', decision: 'deny', reason: 'SCHEMA_INVALID'},
          {stage: 'mid_run', tool_call_id: 'd2', tool: 'rush_delivery', decision: 'deny', reason: 'TOOL_NOT_ALLOWED'},
          {stage: 'mid_run', tool_call_id: 'd3', tool: 'swap_items', decision: 'allow', reason: 'POLICY_DEFAULT'},
          {stage: 'mid_run', tool_call_id: 'd4', tool: 'swap_items', decision: 'deny', reason: 'BUDGET_MAX_CALLS_PER_REQUEST'},
          {stage: 'mid_run', tool_call_id: 'd5', tool: 'lookup_order', decision: 'deny', reason: 'RATE_LIMITED_USER'},
        ],
        final_answer: 'Only one swap per order.',
        outcome: 'budget_exceeded',
        usage: {input_tokens: 10, output_tokens: 5},
        latency_ms: 100,
      },
    })
    const t = recordedTrace(refused, 1, createRedactor())
    expect(t.tool_calls.map((c) => [c.name, c.outcome, c.executed])).toEqual([
      ['swap_items', 'invalid_args', false],
      ['rush_delivery', 'unknown_tool', false],
      ['swap_items', 'ok', true],
      ['swap_items', 'budget_exceeded', false],
      ['lookup_order', 'budget_exceeded', false],
    ])
    // Named as the runtime names it; a per-minute rate limit is no request budget.
    expect(t.budget_hits).toEqual(['tool:swap_items.max_calls_per_request'])
  })

  it('places a decision at the first call with its id, on a short record (scanned) and a long one (mapped) alike', () => {
    // Calls 0..n-1 with ids r0, r1, r1 (a retry), r3, …; decisions name r1, r3, a missing id, and the last call.
    const at = (n: number) => {
      const calls = Array.from({length: n}, (_, i) => ({id: `r${i === 2 ? 1 : i}`, name: 'lookup_order', args: {i}, result: {i}, latency_ms: 1, attempt: i === 2 ? 2 : 1}))
      const decisions = [
        {stage: 'mid_run' as const, tool_call_id: 'r1', decision: 'allow' as const, reason: 'OK'},
        {stage: 'mid_run' as const, tool_call_id: 'r3', decision: 'allow' as const, reason: 'OK'},
        {stage: 'mid_run' as const, tool_call_id: 'nope', decision: 'deny' as const, reason: 'NO'},
        {stage: 'mid_run' as const, tool_call_id: `r${n - 1}`, decision: 'allow' as const, reason: 'OK'},
      ]
      const t = recordedTrace(trafficRecord({...record, production: {...record.production, tool_calls: calls, policy_decisions: decisions}}), 1, createRedactor(), bundle)
      return t.policy_decisions.map((d) => [d.tool_call_seq, d.step])
    }
    expect(at(5)).toEqual([[1, 2], [3, 6], [null, 10], [4, 8]])
    expect(at(40)).toEqual([[1, 2], [3, 6], [null, 80], [39, 78]])
  })

  it('costs 0 when production did not log a cost', () => {
    const noCost = trafficRecord({...record, production: {...record.production, cost_usd: undefined}})
    expect(recordedTrace(noCost, 1, createRedactor()).cost_usd).toBe(0)
  })
})
