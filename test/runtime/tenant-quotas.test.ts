import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import type {TenantQuota} from '../../src/bundle/schema.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import type {TrafficRecord} from '../../src/traffic/schema.js'
import {repoRoot} from '../helpers/cli.js'
import {replayScenario, withManifest} from '../helpers/scenario-replay.js'

/**
 * tenant_quotas enforced during the run, per tenant, over the recorded timestamps (#18): support-refunds
 * v1 with globex's quota lowered, its first 240 requests re-stamped 10 s apart (the recording spaces a
 * tenant's requests minutes apart: a burst is what a quota is for); acme's and initech's are untouched.
 */

const START = Date.parse('2025-07-01T09:00:00Z')
const burst = (r: TrafficRecord, i: number): TrafficRecord => ({...r, timestamp: new Date(START + i * 10_000).toISOString()})

const support = path.join(repoRoot, 'scenarios', 'support-refunds')

async function replayWith(globex: TenantQuota, limit: number) {
  const v1 = await loadBundle(path.join(support, 'v1'))
  const bundle = withManifest(v1, (m) => ({...m, tenant_quotas: {...m.tenant_quotas, globex}}))
  return (await replayScenario(support, bundle, {limit, edit: burst})).traces
}

const quotaRefused = (t: RequestTrace) => t.error?.startsWith('RATE_LIMITED_TENANT') === true

describe('tenant quotas during the run (RATE_LIMITED_TENANT)', () => {
  it('max_requests_per_minute: a globex request within a minute of recorded time after the last one admitted never starts', async () => {
    const traces = await replayWith({max_requests_per_minute: 1}, 240)
    const v1 = (await replayScenario(support, await loadBundle(path.join(support, 'v1')), {limit: 240, edit: burst})).traces
    // Expected from the timestamps alone: one admitted request per sliding minute.
    const admitted: number[] = []
    const expected = new Set<string>()
    for (const [i, t] of v1.entries()) {
      if (t.tenant !== 'globex') continue
      const ms = START + i * 10_000
      if (admitted.some((a) => a > ms - 60_000 && a <= ms)) expected.add(t.request_id)
      else admitted.push(ms)
    }
    expect(expected.size).toBeGreaterThan(0)
    const refused = traces.filter(quotaRefused)
    expect(new Set(refused.map((t) => t.request_id))).toEqual(expected)
    for (const t of refused) {
      expect(t.status).toBe('refused')
      expect(t.model_calls).toBe(0)
      expect(t.policy_decisions).toEqual([expect.objectContaining({stage: 'pre_model', decision: 'deny', reason: 'RATE_LIMITED_TENANT', rule: 'tenant_quota'})])
    }
    // Every other request is as v1 replays it.
    const others = traces.filter((t) => !expected.has(t.request_id))
    expect(others.map((t) => t.status)).toEqual(v1.filter((t) => !expected.has(t.request_id)).map((t) => t.status))
  })

  it('max_tokens_per_minute: once globex has used its tokens for the minute, its next model call is refused', async () => {
    const traces = await replayWith({max_tokens_per_minute: 4000}, 240)
    const refused = traces.filter(quotaRefused)
    expect(refused.length).toBeGreaterThan(0)
    for (const t of refused) {
      expect(t.tenant).toBe('globex')
      expect(t.status).toBe('budget_exceeded')
      expect(t.budget_hits).toContain('tenant_quota.max_tokens_per_minute')
    }
    expect(traces.filter((t) => t.tenant !== 'globex').some(quotaRefused)).toBe(false)
    // Deterministic: recorded time, not the wall clock.
    const again = await replayWith({max_tokens_per_minute: 4000}, 240)
    expect(again.filter(quotaRefused).map((t) => t.request_id)).toEqual(refused.map((t) => t.request_id))
  })
})
