import type {Colour, Scorecard} from '../scorecard/scorecard.js'
import type {Exposure} from './exposure.js'
import {describeStage, nextStage, stageRank, type Stage} from './stages.js'

const BEFORE_FULL: Stage = 'ramp-50'

function lowerOf(a: Stage, b: Stage): Stage {
  return stageRank(a) <= stageRank(b) ? a : b
}

/**
 * `understudy rollout plan`: the next stage per tenant from the run's scorecard and each tenant's
 * own scorecard. Pure. Rules, per tenant:
 * - red (the tenant's own card, or the whole run's when no tenant alone explains it): stay in
 *   shadow, or go back to shadow when already further; blockers are the red dimensions;
 * - amber: at most canary 1% (a tenant already further holds where it is);
 * - green: one stage further than it is now, but no further than canary 1% while the run holds
 *   fewer than `minRequests` of its requests (too little evidence to ramp on).
 * One tenant red and others not is a per-tenant canary: the others move, the red one stays.
 * When the candidate bundle is known, each tenant's exposure (src/rollout/exposure.ts: its autonomy
 * level and flags) sets its pace: `read` exposure moves up to two stages at once, writes one, and
 * unattended high-risk writes never reach full without a checked incident-free window.
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
  /** What the tenant can do unattended under the candidate, and the pace that allows; absent when the plan had no bundle. */
  exposure?: Exposure
}

export type RolloutPlan = {
  run_id: string
  colour: Colour
  strategy: 'advance-all' | 'per-tenant-canary' | 'hold-all'
  summary: string
  blockers: string[]
  tenants: TenantPlan[]
  /** Why the plan could not use the candidate bundle's exposure, when it could not. */
  note?: string
}

function blockersOf(card: Scorecard, colour: Colour, prefix = ''): string[] {
  return card.dimensions.filter((d) => d.colour === colour).map((d) => `${prefix}${d.name}: ${d.reason}`)
}

export function planTenant(
  t: TenantInput,
  current: Stage,
  overallRedBlockers: string[],
  minRequests: number,
  fullBlocker: string | null = null,
  exposure?: {exposure: Exposure; windowChecked: boolean},
): TenantPlan {
  const base = {tenant: t.tenant, requests: t.requests, colour: t.card.colour, current, ...(exposure ? {exposure: exposure.exposure} : {})}
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
  const wanted = nextStage(current, exposure?.exposure.max_step ?? 1)
  // The incident-free window holds a tenant just before full; unattended high-risk writes need it checked.
  const mustWait =
    fullBlocker ??
    (exposure?.exposure.full_needs_window === true && !exposure.windowChecked
      ? `exposure: high-risk writes run unattended for this tenant (${exposure.exposure.tools.join(', ')}); full only after an incident-free window (--incident-free-window)`
      : null)
  if (mustWait !== null && wanted === 'full') {
    cap = lowerOf(cap, stageRank(current) >= stageRank(BEFORE_FULL) ? current : BEFORE_FULL)
    blockers.push(mustWait)
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
  /** Per tenant, why it may not go to full yet (the incident-free window); absent: no window was checked. */
  fullBlockers?: Readonly<Record<string, string | null>>
  /** Per tenant, its exposure under the candidate bundle; absent: one stage at a time for everyone. */
  exposures?: Readonly<Record<string, Exposure>>
}): RolloutPlan {
  const minRequests = input.minRequests ?? DEFAULT_MIN_REQUESTS
  const anyTenantRed = input.tenants.some((t) => t.card.colour === 'red')
  // A red run with no red tenant: the problem only shows in aggregate, so no tenant is safe to move.
  const overallRed = input.overall.colour === 'red' && !anyTenantRed ? blockersOf(input.overall, 'red', 'whole run: ') : []
  const tenants = input.tenants.map((t) =>
    planTenant(
      t,
      input.current[t.tenant] ?? 'shadow',
      overallRed,
      minRequests,
      input.fullBlockers?.[t.tenant] ?? null,
      input.exposures?.[t.tenant] === undefined ? undefined : {exposure: input.exposures[t.tenant]!, windowChecked: input.fullBlockers !== undefined},
    ),
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
