import type {AutonomyLevel, BundleManifest, FeatureFlag, ToolContract} from '../bundle/schema.js'

/**
 * Progressive autonomy (the bundle's `autonomy:`), as a pure decision on one proposed call: what the
 * tenant's level does to it, on top of what the policy decided. Only writes are ever limited.
 */

export const AUTONOMY_READ_ONLY = 'AUTONOMY_READ_ONLY'
export const AUTONOMY_DRAFT = 'AUTONOMY_DRAFT'
export const AUTONOMY_HIGH_RISK = 'AUTONOMY_HIGH_RISK'

/** The rule id autonomy decisions carry on the trace. */
export const AUTONOMY_RULE = 'autonomy'

/** Reason code of a call to a tool a feature flag turns off for the tenant. */
export const FLAG_OFF = 'FLAG_OFF'

const NONE: ReadonlyMap<string, string> = new Map()

/**
 * The tools feature flags turn off for `tenant`, each with the (first) flag that does, in name
 * order. Empty when the bundle has no flags: then nothing is filtered and no request changes.
 */
export function toolsFlaggedOff(manifest: Pick<BundleManifest, 'flags'>, tenant: string): ReadonlyMap<string, string> {
  if (manifest.flags === undefined) return NONE
  const off = new Map<string, string>()
  for (const name of Object.keys(manifest.flags).sort()) {
    const flag = manifest.flags[name]!
    if (flagState(flag, tenant) === 'off') for (const tool of flag.tools ?? []) if (!off.has(tool)) off.set(tool, name)
  }
  return off
}

/**
 * The prompt sections feature flags turn off for `tenant`. Empty when the bundle has no flags (or
 * none names a section): then every template renders as written.
 */
export function sectionsFlaggedOff(manifest: Pick<BundleManifest, 'flags'>, tenant: string): ReadonlySet<string> {
  const off = new Set<string>()
  for (const flag of Object.values(manifest.flags ?? {})) {
    if (flag.sections !== undefined && flagState(flag, tenant) === 'off') for (const s of flag.sections) off.add(s)
  }
  return off
}

function flagState(flag: FeatureFlag, tenant: string): 'on' | 'off' {
  return Object.hasOwn(flag.tenants, tenant) ? flag.tenants[tenant]! : flag.default
}

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
