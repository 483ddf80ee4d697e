import {describe, expect, it} from 'vitest'
import {ToolContract} from '../../src/bundle/schema.js'
import {checkRbac} from '../../src/policy/rbac.js'

const tool = (roles: Record<string, string[]>) =>
  ToolContract.parse({name: 'issue_refund', description: 'Refund', risk: 'write_high', args: {type: 'object'}, roles})

describe('checkRbac', () => {
  it('uses the "*" entry for tenants without their own', () => {
    const t = tool({'*': ['agent', 'supervisor']})
    expect(checkRbac(t, 'acme', 'agent')).toEqual({allowed: true, reason: 'RBAC_ALLOWED'})
    expect(checkRbac(t, 'globex', 'supervisor').allowed).toBe(true)
    expect(checkRbac(t, 'acme', 'viewer')).toEqual({allowed: false, reason: 'RBAC_ROLE_NOT_ALLOWED'})
  })

  it('lets a tenant entry replace the "*" entry rather than add to it', () => {
    const t = tool({'*': ['agent'], acme: ['supervisor']})
    expect(checkRbac(t, 'acme', 'supervisor').allowed).toBe(true)
    expect(checkRbac(t, 'acme', 'agent').allowed).toBe(false)
    expect(checkRbac(t, 'globex', 'agent').allowed).toBe(true)
    expect(checkRbac(t, 'globex', 'supervisor').allowed).toBe(false)
  })

  it('allows nobody when neither the tenant nor "*" is listed', () => {
    const t = tool({acme: ['agent']})
    expect(checkRbac(t, 'globex', 'agent').allowed).toBe(false)
    // Tenant ids come from traffic: prototype names must not resolve to anything.
    expect(checkRbac(t, 'constructor', 'agent').allowed).toBe(false)
    expect(checkRbac(t, '__proto__', 'agent').allowed).toBe(false)
  })
})
