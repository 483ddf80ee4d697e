import {describe, expect, it} from 'vitest'
import {summarizeRun} from '../../src/runs/summary.js'
import {planRollout, type TenantInput} from '../../src/rollout/plan.js'
import {runTenants, tenantView} from '../../src/runs/tenant-view.js'
import type {Colour, DimensionName, Scorecard} from '../../src/scorecard/scorecard.js'
import {openStore} from '../../src/store/sqlite.js'
import {toolCall, trace} from '../factories/index.js'

function card(colours: Partial<Record<DimensionName, Colour>>, run_id = 'r1'): Scorecard {
  const names: DimensionName[] = ['safety', 'reliability', 'cost', 'quality']
  const dimensions = names.map((name) => ({name, colour: colours[name] ?? ('green' as Colour), reason: `${name} is ${colours[name] ?? 'green'}`, metrics: []}))
  const rank = {green: 0, amber: 1, red: 2}
  const colour = dimensions.reduce<Colour>((w, d) => (rank[d.colour] > rank[w] ? d.colour : w), 'green')
  return {run_id, colour, dimensions, red: dimensions.filter((d) => d.colour === 'red').map((d) => d.name)}
}

const tenant = (name: string, c: Scorecard, requests = 100): TenantInput => ({tenant: name, requests, card: c})

describe('rollout plan', () => {
  it('is a per-tenant canary when one tenant is red and the others green', () => {
    const plan = planRollout({
      overall: card({safety: 'red'}),
      tenants: [tenant('acme', card({safety: 'red'})), tenant('globex', card({})), tenant('initech', card({}))],
      current: {},
    })
    expect(plan.strategy).toBe('per-tenant-canary')
    expect(plan.tenants.map((t) => [t.tenant, t.recommended, t.action])).toEqual([
      ['acme', 'shadow', 'stay-in-shadow'],
      ['globex', 'canary-1', 'advance'],
      ['initech', 'canary-1', 'advance'],
    ])
    expect(plan.tenants[0]!.blockers).toEqual(['safety: safety is red'])
    expect(plan.summary).toMatch(/globex → canary-1.*acme stays in shadow/)
  })

  it('advances green tenants one stage from where they are, and pulls a red one back to shadow', () => {
    const plan = planRollout({
      overall: card({}),
      tenants: [tenant('acme', card({})), tenant('globex', card({})), tenant('initech', card({quality: 'red'}))],
      current: {acme: 'ramp-10', globex: 'full', initech: 'ramp-50'},
    })
    expect(plan.tenants.map((t) => [t.recommended, t.action])).toEqual([
      ['ramp-50', 'advance'],
      ['full', 'hold'],
      ['shadow', 'roll-back-to-shadow'],
    ])
  })

  it('caps an amber tenant, and a tenant with too little evidence, at canary 1%', () => {
    const plan = planRollout({
      overall: card({cost: 'amber'}),
      tenants: [tenant('acme', card({cost: 'amber'})), tenant('globex', card({}), 5), tenant('initech', card({cost: 'amber'}))],
      current: {acme: 'shadow', globex: 'canary-1', initech: 'ramp-10'},
      minRequests: 30,
    })
    expect(plan.tenants.map((t) => [t.tenant, t.recommended, t.action])).toEqual([
      ['acme', 'canary-1', 'advance'],
      ['globex', 'canary-1', 'hold'],
      ['initech', 'ramp-10', 'hold'],
    ])
    expect(plan.tenants[0]!.blockers).toEqual(['cost: cost is amber'])
    expect(plan.tenants[1]!.blockers[0]).toMatch(/only 5 of this tenant's requests/)
    expect(plan.strategy).toBe('advance-all')
  })

  it('holds everyone when the whole run is red but no tenant alone is', () => {
    const plan = planRollout({overall: card({safety: 'red'}), tenants: [tenant('acme', card({})), tenant('globex', card({}))], current: {}})
    expect(plan.strategy).toBe('hold-all')
    expect(plan.tenants.every((t) => t.recommended === 'shadow')).toBe(true)
    expect(plan.blockers).toEqual(['whole run: safety: safety is red'])
  })
})

describe('tenant view', () => {
  it('scores one tenant over only its own traces', () => {
    const store = openStore(':memory:')
    try {
      const run = store.createRun({
        name: null, candidate_ref: 'c@1#x', candidate_hash: 'x', baseline_ref: 'recorded', baseline_hash: null, traffic_file: 't.jsonl',
        traffic_hash: 'h', model: 'scripted', repeat: 1, faults: null, seed: 1, config: {},
      })
      const denied = toolCall('issue_refund', {}, {step: 1, outcome: 'denied', executed: false, risk: 'write_high'})
      const traces = [
        trace({request_id: 'a1', line: 1, tenant: 'acme', side: 'recorded'}),
        trace({request_id: 'a1', line: 1, tenant: 'acme', status: 'refused', tool_calls: [denied]}),
        trace({request_id: 'g1', line: 2, tenant: 'globex', side: 'recorded'}),
        trace({request_id: 'g1', line: 2, tenant: 'globex'}),
        trace({request_id: 'g2', line: 3, tenant: 'globex', side: 'recorded'}),
        trace({request_id: 'g2', line: 3, tenant: 'globex'}),
      ]
      store.writeTraces(run.id, traces)
      expect(runTenants(store, run.id)).toEqual([
        {tenant: 'acme', requests: 1},
        {tenant: 'globex', requests: 2},
      ])
      const acme = summarizeRun(tenantView(store, 'acme'), run.id)
      const globex = summarizeRun(tenantView(store, 'globex'), run.id)
      expect(acme.requests.compared).toBe(1)
      expect(acme.quality.status_match_rate).toBe(0)
      expect(globex.requests.compared).toBe(2)
      expect(globex.quality.status_match_rate).toBe(1)
      expect(tenantView(store, 'globex').countTraces(run.id)).toBe(4)
    } finally {
      store.close()
    }
  })
})
