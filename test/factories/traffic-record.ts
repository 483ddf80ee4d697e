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
