import type {ToolContract} from '../bundle/schema.js'

export const RBAC_ALLOWED = 'RBAC_ALLOWED'
export const RBAC_ROLE_NOT_ALLOWED = 'RBAC_ROLE_NOT_ALLOWED'

/**
 * Who may call a tool. A tenant-specific entry replaces the `*` entry entirely (it does not add
 * to it), so a tenant can be locked down tighter than the default.
 */
export function checkRbac(tool: ToolContract, tenant: string, role: string): {allowed: boolean; reason: string} {
  // hasOwn: tenant ids come from traffic, and `constructor` must not find Object's prototype.
  const roles = Object.hasOwn(tool.roles, tenant)
    ? tool.roles[tenant]
    : Object.hasOwn(tool.roles, '*')
      ? tool.roles['*']
      : undefined
  const allowed = (roles ?? []).includes(role)
  return {allowed, reason: allowed ? RBAC_ALLOWED : RBAC_ROLE_NOT_ALLOWED}
}
