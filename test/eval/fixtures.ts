import {TrafficRecord} from '../../src/traffic/schema.js'

/** A valid traffic record (validated by the real schema), with any field replaced. */
export function record(over: Record<string, unknown> = {}): TrafficRecord {
  return TrafficRecord.parse({
    id: 'req-1',
    timestamp: '2025-07-01T10:00:00Z',
    tenant: 'acme',
    user: 'acme-agent-01',
    role: 'agent',
    input: [{role: 'user', content: 'Where is ORD-100001?'}],
    production: production(),
    ...over,
  })
}

export function production(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tool_calls: [],
    policy_decisions: [],
    final_answer: 'It has shipped.',
    outcome: 'completed',
    usage: {input_tokens: 100, output_tokens: 20},
    latency_ms: 500,
    ...over,
  }
}
