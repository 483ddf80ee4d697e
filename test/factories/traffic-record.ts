import type {z} from 'zod'
import {ProductionRecord, TrafficRecord} from '../../src/traffic/schema.js'
import {merge, type LooseOverrides, type Overrides} from './merge.js'

/** A traffic line as a recorder writes it, before the schema fills in its defaults. */
export type TrafficRecordInput = z.input<typeof TrafficRecord>
export type TrafficRecordOverrides = Overrides<TrafficRecordInput>
export type ProductionInput = z.input<typeof ProductionRecord>

const PRODUCTION: ProductionInput = {
  final_answer: 'It has shipped.',
  outcome: 'completed',
  usage: {input_tokens: 100, output_tokens: 20},
  latency_ms: 500,
}

const RECORD: TrafficRecordInput = {
  id: 'req-1',
  timestamp: '2025-07-01T10:00:00Z',
  tenant: 'acme',
  user: 'acme-agent-01',
  role: 'agent',
  input: [{role: 'user', content: 'Where is ORD-100001?'}],
  production: PRODUCTION,
}

/** What production did with a request (valid: checked by the real schema), with any field replaced. */
export function production(...overrides: Overrides<ProductionInput>[]): ProductionInput {
  const input = merge(PRODUCTION, ...overrides)
  ProductionRecord.parse(input)
  return input
}

/**
 * A valid traffic line as written to a file (checked by the real schema, returned as written: the
 * schema's defaults not filled in), with any field replaced at any depth.
 */
export function trafficRecordInput(...overrides: TrafficRecordOverrides[]): TrafficRecordInput {
  const input = merge(RECORD, ...overrides)
  TrafficRecord.parse(input)
  return input
}

/** A valid traffic record as the reader returns it (parsed by the real schema), with any field replaced. */
export function trafficRecord(...overrides: TrafficRecordOverrides[]): TrafficRecord {
  return TrafficRecord.parse(merge(RECORD, ...overrides))
}

/** One valid JSONL line of traffic (no newline). */
export function trafficLine(...overrides: TrafficRecordOverrides[]): string {
  return JSON.stringify(trafficRecordInput(...overrides))
}

/**
 * A traffic line that the schema rejects, as a plain object: the defaults with `overrides` merged in
 * (`undefined` removes a field). Throws if the result is valid after all, so a test of rejection
 * cannot silently test an accepted record.
 */
export function invalidTrafficRecordInput(...overrides: LooseOverrides[]): Record<string, unknown> {
  const input = merge(RECORD as Record<string, unknown>, ...overrides)
  if (TrafficRecord.safeParse(input).success) throw new Error(`invalidTrafficRecordInput: the record is valid: ${JSON.stringify(input)}`)
  return input
}

/** invalidTrafficRecordInput as one JSONL line (no newline). */
export function invalidTrafficLine(...overrides: LooseOverrides[]): string {
  return JSON.stringify(invalidTrafficRecordInput(...overrides))
}

/**
 * A recorded refund with everything an exporter must carry: a session, a lookup, a refund that
 * timed out and was retried under the same idempotency key, a denied email to an outside address,
 * a pre-model decision, cost and labels. Overrides as for trafficRecord().
 */
export function retriedRefundRecord(...overrides: TrafficRecordOverrides[]): TrafficRecord {
  return trafficRecord(
    {
      id: 'req-000054',
      timestamp: '2025-07-02T00:59:01Z',
      user: 'acme-agent-04',
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
    },
    ...overrides,
  )
}
