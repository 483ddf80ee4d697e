import type {Colour, Scorecard} from '../scorecard/scorecard.js'
import {describeStage, nextStage, stageRank, type Stage} from './stages.js'

/**
 * `understudy rollout plan`: the next stage per tenant from the run's scorecard and each tenant's
 * own scorecard. Pure. Rules, per tenant:
 * - red (the tenant's own card, or the whole run's when no tenant alone explains it): stay in
 *   shadow, or go back to shadow when already further; blockers are the red dimensions;
 * - amber: at most canary 1% (a tenant already further holds where it is);
 * - green: one stage further than it is now, but no further than canary 1% while the run holds
 *   fewer than `minRequests` of its requests (too little evidence to ramp on).
 * One tenant red and others not is a per-tenant canary: the others move, the red one stays.
 */

export const DEFAULT_MIN_REQUESTS = 30

export type TenantInput = {tenant: string; requests: number; card: Scorecard}

export type TenantPlan = {
  tenant: string
  requests: number
  colour: Colour
  current: Stage
  recommended: Stage
  action: 'advance' | 'hold' | 'stay-in-shadow' | 'roll-back-to-shadow'
  blockers: string[]
  reason: string
}

export type RolloutPlan = {
  run_id: string
  colour: Colour
  strategy: 'advance-all' | 'per-tenant-canary' | 'hold-all'
  summary: string
  blockers: string[]
  tenants: TenantPlan[]
}

function blockersOf(card: Scorecard, colour: Colour, prefix = ''): string[] {
  return card.dimensions.filter((d) => d.colour === colour).map((d) => `${prefix}${d.name}: ${d.reason}`)
}

export function planTenant(t: TenantInput, current: Stage, overallRedBlockers: string[], minRequests: number, fullBlocker: string | null = null): TenantPlan {
  const base = {tenant: t.tenant, requests: t.requests, colour: t.card.colour, current}
  const red = t.card.colour === 'red' ? blockersOf(t.card, 'red') : overallRedBlockers
  if (red.length > 0) {
    const back = current !== 'shadow'
    return {
      ...base,
      recommended: 'shadow',
      action: back ? 'roll-back-to-shadow' : 'stay-in-shadow',
      blockers: red,
      reason: back ? `red: go back from ${describeStage(current)} to shadow` : 'red: stay in shadow',
    }
  }
  const blockers: string[] = []
  let cap: Stage = 'full'
  if (t.card.colour === 'amber') {
    cap = 'canary-1'
    blockers.push(...blockersOf(t.card, 'amber'))
  }
  if (t.requests < minRequests) {
    cap = 'canary-1'
    blockers.push(`evidence: only ${t.requests} of this tenant's requests in the run (${minRequests} needed to ramp past canary)`)
  }
  const wanted = nextStage(current)
  // The incident-free window holds a tenant just before full.
  if (fullBlocker !== null && wanted === 'full') {
    cap = current
    blockers.push(fullBlocker)
  }
  const recommended = stageRank(wanted) <= stageRank(cap) ? wanted : stageRank(current) >= stageRank(cap) ? current : cap
  const advance = stageRank(recommended) > stageRank(current)
  const reason = advance
    ? `${t.card.colour}: advance from ${describeStage(current)} to ${describeStage(recommended)}`
    : current === 'full'
      ? 'green: already at full'
      : `${t.card.colour}: hold at ${describeStage(current)}`
  return {...base, recommended, action: advance ? 'advance' : 'hold', blockers, reason}
}

export function planRollout(input: {
  overall: Scorecard
  tenants: TenantInput[]
  current: Readonly<Record<string, Stage>>
  minRequests?: number
  /** Per tenant, why it may not go to full yet (the incident-free window); absent: nothing holds it. */
  fullBlockers?: Readonly<Record<string, string | null>>
}): RolloutPlan {
  const minRequests = input.minRequests ?? DEFAULT_MIN_REQUESTS
  const anyTenantRed = input.tenants.some((t) => t.card.colour === 'red')
  // A red run with no red tenant: the problem only shows in aggregate, so no tenant is safe to move.
  const overallRed = input.overall.colour === 'red' && !anyTenantRed ? blockersOf(input.overall, 'red', 'whole run: ') : []
  const tenants = input.tenants.map((t) =>
    planTenant(t, input.current[t.tenant] ?? 'shadow', overallRed, minRequests, input.fullBlockers?.[t.tenant] ?? null),
  )
  const held = tenants.filter((t) => t.recommended === 'shadow' && t.colour === 'red')
  const moving = tenants.filter((t) => t.action === 'advance')
  let strategy: RolloutPlan['strategy']
  let summary: string
  if (overallRed.length > 0 || (tenants.length > 0 && moving.length === 0 && tenants.every((t) => t.recommended === 'shadow'))) {
    strategy = 'hold-all'
    summary = 'Hold: every tenant stays in shadow until the red dimensions are fixed.'
  } else if (held.length > 0 && moving.length > 0) {
    strategy = 'per-tenant-canary'
    summary =
      `Per-tenant canary: ${moving.map((t) => `${t.tenant} → ${describeStage(t.recommended)}`).join(', ')}; ` +
      `${held.map((t) => t.tenant).join(', ')} ${held.length === 1 ? 'stays' : 'stay'} in shadow (red).`
  } else {
    strategy = 'advance-all'
    summary = tenants.length === 0 ? 'No tenant traffic in the run.' : tenants.map((t) => `${t.tenant}: ${t.reason}`).join('; ') + '.'
  }
  return {
    run_id: input.overall.run_id,
    colour: input.overall.colour,
    strategy,
    summary,
    blockers: overallRed,
    tenants,
  }
}
