import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {percentile, trafficStats} from '../../src/traffic/stats.js'
import {formatTrafficStats} from '../../src/traffic/format-stats.js'
import {repoRoot} from '../helpers/cli.js'

// small.jsonl: 5 valid requests (req-1..4, req-6) and one schema-invalid line (req-5, empty input).
const fixture = path.join(repoRoot, 'test/fixtures/traffic/small.jsonl')

describe('trafficStats', () => {
  it('matches the hand-computed numbers for the small fixture', async () => {
    const s = await trafficStats(fixture)
    expect(s.requests).toBe(5)
    expect(s.invalidLines).toBe(1)
    expect(s.byTenant).toEqual({acme: 2, globex: 2, initech: 1})
    expect(s.byRole).toEqual({agent: 3, admin: 1, viewer: 1})
    expect(s.byOutcome).toEqual({completed: 2, escalated: 1, refused: 1, failed: 1})
    expect(s.byCategory).toEqual({refund: 2, email: 1, other: 1, '(none)': 1})
    expect(s.tools).toEqual({
      lookup_order: {calls: 3, errors: 1, errorsByCode: {not_found: 1}, retries: 0},
      send_email: {calls: 3, errors: 2, errorsByCode: {rate_limited: 2}, retries: 2},
      issue_refund: {calls: 2, errors: 1, errorsByCode: {timeout: 1}, retries: 1},
    })
    expect(s.policy.decisions).toBe(4)
    expect(s.policy.byDecision).toEqual({allow: 2, deny: 1, require_approval: 1})
    expect(s.policy.byReason).toEqual([
      {decision: 'allow', reason: 'POLICY_DEFAULT', count: 2},
      {decision: 'deny', reason: 'PII_IN_ARGS', count: 1},
      {decision: 'require_approval', reason: 'REFUND_OVER_LIMIT', count: 1},
    ])
    expect(s.tokens).toEqual({input: 100 + 50 + 300 + 10 + 0, output: 20 + 10 + 0 + 5 + 0})
    // Latencies 1000, 200, 3000, 500, 50 → sorted 50, 200, 500, 1000, 3000.
    expect(s.latencyMs).toEqual({p50: 500, p95: 3000, max: 3000})
  })

  it('renders aligned tables', async () => {
    const lines = formatTrafficStats(await trafficStats(fixture))
    expect(lines[0]).toBe(`${fixture}: 5 requests, 1 invalid line`)
    const toolHeader = lines.findIndex((l) => l.startsWith('TOOL'))
    expect(lines.slice(toolHeader, toolHeader + 4)).toEqual([
      'TOOL          CALLS  ERRORS  RETRIES  ERROR CODES',
      'lookup_order      3       1        0  not_found=1',
      'send_email        3       2        2  rate_limited=2',
      'issue_refund      2       1        1  timeout=1',
    ])
    expect(lines).toContain('latency (ms): p50 500, p95 3000, max 3000')
  })
})

describe('percentile (nearest rank)', () => {
  it('picks the smallest value covering the fraction', () => {
    const ten = Array.from({length: 10}, (_, i) => i + 1)
    expect(percentile(ten, 0.5)).toBe(5)
    expect(percentile(ten, 0.95)).toBe(10)
    expect(percentile(ten, 0.9)).toBe(9)
    expect(percentile([7], 0.5)).toBe(7)
    expect(percentile([], 0.5)).toBeNull()
  })
})
