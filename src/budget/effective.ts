import type {BundleManifest} from '../bundle/schema.js'

/**
 * `understudy budget show`: every limit a bundle puts on a request, a tool and a tenant, each with
 * the manifest path it comes from (or "not set"), so an operator can see which number is in force
 * and where to change it. Pure.
 */

export const NOT_SET = 'not set'

export type Limit = {name: string; value: number | null; source: string}

export type ToolLimits = {
  tool: string
  risk: string
  enabled: boolean
  limits: Limit[]
  /** Calls of this tool one request may make: its own budget capped by budgets.max_tool_calls. */
  effective_max_calls_per_request: number
}

export type TenantLimits = {tenant: string; limits: Limit[]}

export type EffectiveBudgets = {
  request: Limit[]
  tools: ToolLimits[]
  tenants: TenantLimits[]
}

const REQUEST_BUDGETS = ['max_steps', 'max_tool_calls', 'max_total_tokens', 'max_retries', 'max_cost_usd'] as const
const QUOTAS = ['max_requests_per_minute', 'max_tool_calls_per_minute', 'max_tokens_per_minute'] as const

function limit(name: string, value: number | undefined, source: string): Limit {
  return value === undefined ? {name, value: null, source: NOT_SET} : {name, value, source}
}

export function effectiveBudgets(manifest: BundleManifest): EffectiveBudgets {
  const request = REQUEST_BUDGETS.map((name) => limit(name, manifest.budgets[name], `budgets.${name}`))
  const tools = manifest.tools.map((tool, i): ToolLimits => {
    const perRequest = tool.budget?.max_calls_per_request
    return {
      tool: tool.name,
      risk: tool.risk,
      enabled: tool.enabled,
      limits: [
        limit('max_calls_per_request', perRequest, `tools.${i}.budget.max_calls_per_request`),
        limit('per_user_per_minute', tool.rate_limits?.per_user_per_minute, `tools.${i}.rate_limits.per_user_per_minute`),
        limit('per_tenant_per_minute', tool.rate_limits?.per_tenant_per_minute, `tools.${i}.rate_limits.per_tenant_per_minute`),
      ],
      effective_max_calls_per_request: Math.min(perRequest ?? Infinity, manifest.budgets.max_tool_calls),
    }
  })
  // Tenants named anywhere in the bundle: quotas, tool roles and policy selectors. A tenant with
  // roles but no quota is exactly the gap this command exists to show.
  const names = new Set(Object.keys(manifest.tenant_quotas))
  for (const tool of manifest.tools) for (const t of Object.keys(tool.roles)) if (t !== '*') names.add(t)
  for (const rule of manifest.policies) for (const t of rule.tenants ?? []) names.add(t)
  const tenants = [...names].sort().map((tenant): TenantLimits => {
    const quota = Object.hasOwn(manifest.tenant_quotas, tenant) ? manifest.tenant_quotas[tenant] : undefined
    return {tenant, limits: QUOTAS.map((q) => limit(q, quota?.[q], `tenant_quotas.${tenant}.${q}`))}
  })
  return {request, tools, tenants}
}
