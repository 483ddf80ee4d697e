import type {AutonomyLevel, BundleManifest, RiskLevel} from '../bundle/schema.js'
import {autonomyOf, toolsFlaggedOff} from '../runtime/autonomy.js'

/**
 * How much a tenant's traffic can do unattended under the candidate bundle, which sets how fast
 * `rollout plan` may move that tenant. Pure; from the manifest only (autonomy level and its
 * per-tenant override, feature flags, tool grants), never from traffic.
 *
 * The tools that can run for a tenant are the enabled tools granted to it (its own roles entry or
 * `*`) and not flagged off for it. Of those, what runs without a person depends on its autonomy:
 * - `read_only`, `draft`: no write ever runs, so the exposure is `read`;
 * - `low_risk_writes`: `write_high` calls wait for a person, so at most `write_low`;
 * - `full`: the riskiest tool it can reach.
 * Policies are left out on purpose: what they hold or deny shows in the run's scorecard already.
 *
 * The pace rule (`paceOf`): `read` may advance two stages per plan (nothing it does changes any
 * state, so a wider slice costs little); `write_low` one stage; `write_high` one stage and never to
 * full until an incident-free window has been checked (`--incident-free-window`): a tenant for whom
 * a flag turns a high-risk tool on is gated exactly like that tool's risk, whatever other tenants get.
 */
export type Exposure = {
  autonomy: AutonomyLevel
  /** The riskiest kind of call that can run for the tenant without a person. */
  risk: RiskLevel
  /** The tools of that risk that can run unattended (empty for `read`), sorted. */
  tools: string[]
  /** Stages the plan may move the tenant at once. */
  max_step: 1 | 2
  /** Full only after an incident-free window was checked. */
  full_needs_window: boolean
  /** The rule as one line, for the plan's output. */
  rule: string
}

const RANK: Record<RiskLevel, number> = {read: 0, write_low: 1, write_high: 2}

export function tenantExposure(manifest: Pick<BundleManifest, 'autonomy' | 'flags' | 'tools'>, tenant: string): Exposure {
  const autonomy = autonomyOf(manifest, tenant)
  const off = toolsFlaggedOff(manifest, tenant)
  const reachable = manifest.tools.filter((t) => t.enabled && (Object.hasOwn(t.roles, tenant) || Object.hasOwn(t.roles, '*')) && !off.has(t.name))
  const runsUnattended = (risk: RiskLevel): boolean =>
    risk === 'read' || autonomy === 'full' || (autonomy === 'low_risk_writes' && risk === 'write_low')
  let risk: RiskLevel = 'read'
  for (const t of reachable) if (runsUnattended(t.risk) && RANK[t.risk] > RANK[risk]) risk = t.risk
  const tools = risk === 'read' ? [] : reachable.filter((t) => t.risk === risk).map((t) => t.name).sort()
  return {autonomy, risk, tools, ...paceOf(autonomy, risk, tools)}
}

function paceOf(autonomy: AutonomyLevel, risk: RiskLevel, tools: string[]): Pick<Exposure, 'max_step' | 'full_needs_window' | 'rule'> {
  switch (risk) {
    case 'read':
      return {max_step: 2, full_needs_window: false, rule: `autonomy ${autonomy}: no write runs unattended, so up to two stages at a time`}
    case 'write_low':
      return {max_step: 1, full_needs_window: false, rule: `autonomy ${autonomy}: low-risk writes run unattended (${tools.join(', ')}), so one stage at a time`}
    case 'write_high':
      return {
        max_step: 1,
        full_needs_window: true,
        rule: `autonomy ${autonomy}: high-risk writes run unattended (${tools.join(', ')}), so one stage at a time and full only after an incident-free window`,
      }
  }
}
