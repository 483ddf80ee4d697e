import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import type {BundleManifest} from '../../src/bundle/schema.js'
import {type Exposure, tenantExposure} from '../../src/rollout/exposure.js'
import {planRollout} from '../../src/rollout/plan.js'
import {renderPlan} from '../../src/rollout/render.js'
import {planRunRollout} from '../../src/rollout/score.js'
import type {Colour, DimensionName, Scorecard} from '../../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS} from '../../src/scorecard/thresholds.js'
import {openStore} from '../../src/store/sqlite.js'
import {goldenFailingRun} from './golden-failing-run.js'

// The shipped enterprise-tickets bundle (IT service desk: ticket writes are write_low; password
// resets, access grants and changes write_high) and banking-assistant (two banks, one write_low).
let tickets: BundleManifest
let banking: BundleManifest
beforeAll(async () => {
  ;[tickets, banking] = await Promise.all([loadBundle('scenarios/enterprise-tickets/v1'), loadBundle('scenarios/banking-assistant/v1')]).then((b) =>
    b.map((x) => x.manifest),
  )
})

const HIGH = ['apply_change', 'grant_access', 'reset_password']
const LOW = ['assign_ticket', 'request_change', 'update_ticket']
const pace = (e: Exposure) => [e.autonomy, e.risk, e.tools, e.max_step, e.full_needs_window]

function green(): Scorecard {
  const names: DimensionName[] = ['safety', 'reliability', 'cost', 'quality']
  return {run_id: 'r1', colour: 'green' as Colour, dimensions: names.map((name) => ({name, colour: 'green' as Colour, reason: 'ok', metrics: []})), red: []}
}

describe('tenant exposure (shipped bundles)', () => {
  it('as shipped (no autonomy: full), every tenant can run the riskiest tools unattended', () => {
    expect(pace(tenantExposure(tickets, 'contoso'))).toEqual(['full', 'write_high', HIGH, 1, true])
    expect(pace(tenantExposure(banking, 'northmere'))).toEqual(['full', 'write_high', ['schedule_transaction', 'send_money', 'update_password', 'update_scheduled_transaction'], 1, true])
    // A tenant no tool grants reaches nothing.
    expect(pace(tenantExposure(banking, 'elsewhere'))).toEqual(['full', 'read', [], 2, false])
  })

  it('per-tenant autonomy overrides set the pace: read_only and draft run no write, low_risk_writes holds the high-risk ones', () => {
    const m = {...tickets, autonomy: {default: 'full' as const, tenants: {contoso: 'read_only' as const, fabrikam: 'low_risk_writes' as const, northwind: 'draft' as const}}}
    expect(pace(tenantExposure(m, 'contoso'))).toEqual(['read_only', 'read', [], 2, false])
    expect(pace(tenantExposure(m, 'northwind'))).toEqual(['draft', 'read', [], 2, false])
    expect(pace(tenantExposure(m, 'fabrikam'))).toEqual(['low_risk_writes', 'write_low', LOW, 1, false])
    expect(pace(tenantExposure(m, 'other'))).toEqual(['full', 'write_high', HIGH, 1, true])
  })

  it('a tenant a flag turns high-risk tools on for is gated like them; the others, with them off, are not', () => {
    const m = {...tickets, flags: {privileged: {tools: HIGH, default: 'off' as const, tenants: {fabrikam: 'on' as const}}}}
    expect(pace(tenantExposure(m, 'contoso'))).toEqual(['full', 'write_low', LOW, 1, false])
    expect(pace(tenantExposure(m, 'fabrikam'))).toEqual(['full', 'write_high', HIGH, 1, true])
  })
})

describe('rollout plan by exposure', () => {
  const tenants = ['contoso', 'fabrikam', 'northwind'].map((tenant) => ({tenant, requests: 100, card: green()}))
  let exposures: Record<string, Exposure>
  beforeAll(() => {
    const m = {
      ...tickets,
      autonomy: {default: 'full' as const, tenants: {contoso: 'read_only' as const}},
      flags: {privileged: {tools: HIGH, default: 'off' as const, tenants: {fabrikam: 'on' as const}}},
    }
    exposures = Object.fromEntries(tenants.map((t) => [t.tenant, tenantExposure(m, t.tenant)]))
  })

  it('read-only moves two stages, low-risk writes one; unattended high-risk writes stop before full until a window is checked', () => {
    const from = (current: Record<string, 'shadow' | 'ramp-10' | 'ramp-50'>, fullBlockers?: Record<string, string | null>) =>
      planRollout({overall: green(), tenants, current, exposures, ...(fullBlockers ? {fullBlockers} : {})}).tenants.map((t) => [t.tenant, t.recommended])
    expect(from({})).toEqual([
      ['contoso', 'ramp-10'],
      ['fabrikam', 'canary-1'],
      ['northwind', 'canary-1'],
    ])
    expect(from({contoso: 'ramp-10', fabrikam: 'ramp-50', northwind: 'ramp-50'})).toEqual([
      ['contoso', 'full'],
      ['fabrikam', 'ramp-50'],
      ['northwind', 'full'],
    ])
    // The window checked and clean: fabrikam may go to full too.
    expect(from({fabrikam: 'ramp-50'}, {contoso: null, fabrikam: null, northwind: null})[1]).toEqual(['fabrikam', 'full'])
    const plan = planRollout({overall: green(), tenants, current: {fabrikam: 'ramp-50'}, exposures})
    expect(plan.tenants[1]!.blockers).toEqual([
      'exposure: high-risk writes run unattended for this tenant (apply_change, grant_access, reset_password); full only after an incident-free window (--incident-free-window)',
    ])
    const text = renderPlan('enterprise-tickets@x', plan).join('\n')
    expect(text).toContain('contoso (100 requests, green): shadow (0%) → ramp-10 (10%)  [advance]\n  exposure: autonomy read_only: no write runs unattended, so up to two stages at a time')
    expect(JSON.parse(JSON.stringify(plan)).tenants[0].exposure).toEqual(exposures.contoso)
  })

  it('without exposures (no bundle) the plan is as before: one stage at a time', () => {
    const plan = planRollout({overall: green(), tenants, current: {contoso: 'ramp-10'}})
    expect(plan.tenants.map((t) => t.recommended)).toEqual(['ramp-50', 'canary-1', 'canary-1'])
    expect(plan.tenants[0]!.exposure).toBeUndefined()
  })
})

describe('planRunRollout reads the candidate from the store', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'understudy-exposure-'))
  })
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('uses the stored candidate manifest per tenant, and says so when the store lacks it', async () => {
    const {db, runId} = goldenFailingRun(dir)
    const store = openStore(db)
    try {
      const run = store.getRun(runId)!
      const without = await planRunRollout(store, run, {thresholds: DEFAULT_THRESHOLDS, minRequests: 0})
      expect(without.note).toMatch(/not in the store/)
      expect(without.tenants.every((t) => t.exposure === undefined)).toBe(true)
      store.recordBundle(run.candidate_hash, run.candidate_ref, {...tickets, autonomy: {default: 'read_only', tenants: {globex: 'full'}}})
      const plan = await planRunRollout(store, run, {thresholds: DEFAULT_THRESHOLDS, minRequests: 0})
      expect(plan.note).toBeUndefined()
      expect(plan.tenants.map((t) => [t.tenant, t.exposure?.risk, t.recommended])).toEqual([
        ['acme', 'read', 'ramp-10'],
        ['globex', 'write_high', 'canary-1'],
      ])
    } finally {
      store.close()
    }
  })
})
