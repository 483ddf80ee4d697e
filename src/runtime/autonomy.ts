import type {AutonomyLevel, BundleManifest, ToolContract} from '../bundle/schema.js'

/**
 * Progressive autonomy (the bundle's `autonomy:`), as a pure decision on one proposed call: what the
 * tenant's level does to it, on top of what the policy decided. Only writes are ever limited.
 */

export const AUTONOMY_READ_ONLY = 'AUTONOMY_READ_ONLY'
export const AUTONOMY_DRAFT = 'AUTONOMY_DRAFT'
export const AUTONOMY_HIGH_RISK = 'AUTONOMY_HIGH_RISK'

/** The rule id autonomy decisions carry on the trace. */
export const AUTONOMY_RULE = 'autonomy'

export type AutonomyGate = {effect: 'deny' | 'draft' | 'hold'; reason: string; message: string}

/** The tenant's level: its own override, else the bundle's default, else `full`. */
export function autonomyOf(manifest: Pick<BundleManifest, 'autonomy'>, tenant: string): AutonomyLevel {
  const a = manifest.autonomy
  if (a === undefined) return 'full'
  return Object.hasOwn(a.tenants, tenant) ? a.tenants[tenant]! : a.default
}

/** What `level` does to a call of a tool of risk `risk`; null when it lets the call through to the policy's decision. */
export function autonomyGate(level: AutonomyLevel, risk: ToolContract['risk'] | undefined): AutonomyGate | null {
  if (level === 'full' || risk === undefined || risk === 'read') return null
  switch (level) {
    case 'read_only':
      return {effect: 'deny', reason: AUTONOMY_READ_ONLY, message: 'autonomy is read_only: no write runs; tell the user what you would do instead'}
    case 'draft':
      return {effect: 'draft', reason: AUTONOMY_DRAFT, message: 'autonomy is draft: the write was recorded as a draft for a person to review, not run'}
    case 'low_risk_writes':
      return risk === 'write_high'
        ? {effect: 'hold', reason: AUTONOMY_HIGH_RISK, message: 'autonomy is low_risk_writes: a high-risk write waits for approval'}
        : null
  }
}
