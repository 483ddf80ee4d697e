import {describe, expect, it} from 'vitest'
import {compilePolicy, type CompiledPolicy, PolicyCall, type PolicyContext} from '../../src/policy/engine.js'
import {emptyUsage, type BudgetUsage} from '../../src/runtime/budget.js'
import {compileTools, midRunGuardrails, rateKeys, type MidRunInput} from '../../src/runtime/guardrails/mid-run.js'
import {RateLimiter} from '../../src/runtime/rate-limit.js'
import {manifest, trafficRecord} from '../factories/index.js'

const M = manifest({
  tools: [
    {
      name: 'issue_refund',
      description: 'Refund',
      risk: 'write_high',
      args: {
        type: 'object',
        properties: {order_id: {type: 'string', pattern: '^ORD-\\d{6}$'}, amount: {type: 'number', maximum: 500}, reason: {type: 'string'}},
        required: ['order_id', 'amount', 'reason'],
      },
      roles: {'*': ['agent'], vip: ['supervisor']},
      budget: {max_calls_per_request: 1},
      rate_limits: {per_user_per_minute: 2, per_tenant_per_minute: 3},
    },
    {name: 'lookup_order', description: 'Look up', risk: 'read', args: {type: 'object'}, roles: {'*': ['agent', 'customer']}},
    {name: 'delete_account', description: 'Delete', risk: 'write_high', args: {type: 'object'}, roles: {'*': ['agent']}, enabled: false},
  ],
  policies: [
    {id: 'refund-limit', effect: 'deny', reason: 'REFUND_OVER_LIMIT', tools: ['issue_refund'], when: [{field: 'args.amount', op: 'gt', value: 200}]},
    {id: 'refund-approval', effect: 'require_approval', reason: 'REFUND_NEEDS_APPROVAL', tools: ['issue_refund'], when: [{field: 'args.amount', op: 'gt', value: 100}]},
    {id: 'injection-writes', effect: 'deny', reason: 'INJECTION_RISK', risk: ['write_high'], when: [{field: 'signals.injection_in_retrieved', op: 'eq', value: true}]},
  ],
  budgets: {max_tool_calls: 3},
})

const REC = trafficRecord({user: 'u1'})
const NOW = Date.parse(REC.timestamp)
const GOOD = {order_id: 'ORD-100234', amount: 50, reason: 'damaged'}

function input(over: Partial<MidRunInput> & {name?: string; args?: Record<string, unknown>} = {}): MidRunInput {
  const {name, args, ...rest} = over
  return {
    call: {name: name ?? 'issue_refund', arguments: args ?? GOOD},
    tools: compileTools(M),
    policy: compilePolicy(M.policies, M.policy_default),
    record: REC,
    usage: emptyUsage(),
    budgets: M.budgets,
    signals: {},
    step: 1,
    limiter: new RateLimiter(),
    nowMs: NOW,
    ...rest,
  }
}

/** A policy that records whether it was asked. */
function spyPolicy(): CompiledPolicy & {calls: PolicyContext[]} {
  const calls: PolicyContext[] = []
  const inner = compilePolicy(M.policies, M.policy_default)
  return Object.assign((ctx: PolicyContext) => {
    calls.push(ctx)
    return inner(ctx)
  }, {calls})
}

const checks = (v: ReturnType<typeof midRunGuardrails>) => v.guardrails.map((g) => `${g.check}:${g.passed ? 'pass' : 'fail'}`)

describe('midRunGuardrails', () => {
  it('allows a valid call and records every check it ran', () => {
    const v = midRunGuardrails(input())
    expect(v).toMatchObject({decision: 'allow', reason: 'POLICY_DEFAULT', rule: 'default', refusal: null, message: ''})
    expect(checks(v)).toEqual(['tool.allowlist:pass', 'tool.schema:pass', 'tool.rbac:pass', 'budget.tool_calls:pass', 'rate_limit.user:pass', 'rate_limit.tenant:pass', 'policy:pass'])
    expect(v.guardrails.every((g) => g.stage === 'mid_run' && g.step === 1)).toBe(true)
  })

  it('refuses an unknown tool before the policy engine sees it', () => {
    const policy = spyPolicy()
    const v = midRunGuardrails(input({name: 'transfer_funds', policy}))
    expect(v).toMatchObject({decision: 'deny', reason: 'TOOL_NOT_ALLOWED', rule: 'allowlist', refusal: 'unknown_tool'})
    expect(v.message).toContain('transfer_funds')
    expect(checks(v)).toEqual(['tool.allowlist:fail'])
    expect(policy.calls).toHaveLength(0)
  })

  it('refuses a disabled tool as unknown', () => {
    const v = midRunGuardrails(input({name: 'delete_account', args: {}}))
    expect(v).toMatchObject({decision: 'deny', reason: 'TOOL_NOT_ALLOWED', refusal: 'unknown_tool'})
    expect(v.message).toBe('tool delete_account is disabled')
  })

  it('reports schema errors before RBAC, naming the fields', () => {
    const policy = spyPolicy()
    const v = midRunGuardrails(input({args: {order_id: 'X1', amount: 750}, record: {...REC, role: 'customer'}, policy}))
    expect(v).toMatchObject({decision: 'deny', reason: 'SCHEMA_INVALID', rule: 'schema', refusal: 'invalid_args'})
    expect(v.message).toBe('invalid arguments for issue_refund: reason: required; order_id: pattern: must match ^ORD-\\d{6}$ (got "X1"); amount: maximum: must be <= 500 (got 750)')
    expect(checks(v)).toEqual(['tool.allowlist:pass', 'tool.schema:fail'])
    expect(policy.calls).toHaveLength(0)
  })

  it('denies a role RBAC does not allow, per tenant', () => {
    const v = midRunGuardrails(input({record: {...REC, role: 'customer'}}))
    expect(v).toMatchObject({decision: 'deny', reason: 'RBAC_ROLE_NOT_ALLOWED', rule: 'rbac', refusal: 'denied'})
    expect(checks(v).at(-1)).toBe('tool.rbac:fail')
    const vip = {...REC, tenant: 'vip'}
    expect(midRunGuardrails(input({record: vip})).reason).toBe('RBAC_ROLE_NOT_ALLOWED')
    expect(midRunGuardrails(input({record: {...vip, role: 'supervisor'}})).refusal).toBeNull()
  })

  it('refuses a call past the request budgets', () => {
    const full: BudgetUsage = {...emptyUsage(), tool_calls: 3}
    expect(midRunGuardrails(input({usage: full}))).toMatchObject({decision: 'deny', reason: 'BUDGET_MAX_TOOL_CALLS', rule: 'budget', refusal: 'budget_exceeded'})
    const once: BudgetUsage = {...emptyUsage(), tool_calls: 1, calls_by_tool: {issue_refund: 1}}
    expect(midRunGuardrails(input({usage: once}))).toMatchObject({reason: 'BUDGET_MAX_CALLS_PER_REQUEST', refusal: 'budget_exceeded'})
    expect(midRunGuardrails(input({name: 'lookup_order', args: {}, usage: once})).refusal).toBeNull()
  })

  it('rate-limits per user, then per tenant, over recorded time', () => {
    const limiter = new RateLimiter()
    const call = (user: string, at: number) => midRunGuardrails(input({limiter, nowMs: NOW + at, record: {...REC, user}}))
    expect(call('u1', 0).refusal).toBeNull()
    expect(call('u1', 1_000).refusal).toBeNull()
    expect(call('u1', 2_000)).toMatchObject({decision: 'deny', reason: 'RATE_LIMITED_USER', rule: 'rate_limit', refusal: 'budget_exceeded'})
    expect(call('u2', 3_000).refusal).toBeNull()
    expect(call('u3', 4_000)).toMatchObject({reason: 'RATE_LIMITED_TENANT', refusal: 'budget_exceeded'})
    // A minute after the first call, the window has room again.
    expect(call('u3', 60_000).refusal).toBeNull()
  })

  it('does not charge rate limits for calls that were refused', () => {
    const limiter = new RateLimiter()
    const denied = midRunGuardrails(input({limiter, args: {...GOOD, amount: 300}}))
    expect(denied.reason).toBe('REFUND_OVER_LIMIT')
    expect(midRunGuardrails(input({limiter, args: {order_id: 'bad'}})).refusal).toBe('invalid_args')
    expect(limiter.count(rateKeys.user('issue_refund', 'acme', 'u1'), NOW)).toBe(0)
    midRunGuardrails(input({limiter}))
    expect(limiter.count(rateKeys.user('issue_refund', 'acme', 'u1'), NOW)).toBe(1)
    expect(limiter.count(rateKeys.tenant('issue_refund', 'acme'), NOW)).toBe(1)
  })

  it("enforces the tenant's tool-call quota when given", () => {
    const limiter = new RateLimiter()
    const call = () => midRunGuardrails(input({name: 'lookup_order', args: {}, limiter, tenantQuota: {max_tool_calls_per_minute: 1}}))
    expect(call().refusal).toBeNull()
    expect(call()).toMatchObject({reason: 'RATE_LIMITED_TENANT', refusal: 'budget_exceeded'})
  })

  it('hands the policy engine the full context and follows its verdict', () => {
    const policy = spyPolicy()
    const usage: BudgetUsage = {...emptyUsage(), tool_calls: 2}
    const approval = midRunGuardrails(input({policy, usage, step: 3, args: {...GOOD, amount: 150}, signals: {pii_in_input: true}}))
    expect(approval).toMatchObject({decision: 'require_approval', reason: 'REFUND_NEEDS_APPROVAL', rule: 'refund-approval', refusal: 'needs_approval'})
    expect(policy.calls[0]).toEqual({
      tool: 'issue_refund',
      risk: 'write_high',
      tenant: 'acme',
      user: 'u1',
      role: 'agent',
      step: 3,
      tool_calls: 2,
      args: {...GOOD, amount: 150},
      signals: {pii_in_input: true},
      escalates: false,
      idempotency: 'none',
      session: '',
      labels: {},
      messages: REC.input,
      nowMs: NOW,
    })
    const denied = midRunGuardrails(input({signals: {injection_in_retrieved: true}}))
    expect(denied).toMatchObject({decision: 'deny', reason: 'INJECTION_RISK', rule: 'injection-writes', refusal: 'denied'})
    expect(checks(denied).at(-1)).toBe('policy:fail')
  })

  it('keys a tool budget and its rate limits on an expression: once per order, not once per request', () => {
    const K = manifest({
      tools: [
        {
          name: 'swap_item',
          description: 'Swap',
          risk: 'write_low',
          args: {type: 'object', properties: {order_id: {type: 'string'}}},
          roles: {'*': ['agent']},
          budget: {max_calls_per_request: 1, per: 'args.order_id'},
        },
        {
          name: 'ping_courier',
          description: 'Ping',
          risk: 'read',
          args: {type: 'object', properties: {parcel: {type: 'string'}}},
          roles: {'*': ['agent']},
          rate_limits: {per_user_per_minute: 1, per: 'args.parcel'},
        },
      ],
      budgets: {max_tool_calls: 10},
    })
    const tools = compileTools(K)
    const usage = emptyUsage()
    const swap = (order_id?: string) => {
      const v = midRunGuardrails(input({tools, usage, name: 'swap_item', args: order_id === undefined ? {} : {order_id}}))
      // What the tool loop does with an allowed call.
      if (v.refusal === null && v.budgetKey !== undefined) {
        usage.calls_by_key = {...usage.calls_by_key, [`swap_item\u0000${v.budgetKey}`]: (usage.calls_by_key?.[`swap_item\u0000${v.budgetKey}`] ?? 0) + 1}
        usage.tool_calls++
      }
      return v
    }
    expect(swap('A-1')).toMatchObject({refusal: null, budgetKey: 'A-1'})
    expect(swap('B-2')).toMatchObject({refusal: null, budgetKey: 'B-2'})
    expect(swap('A-1')).toMatchObject({refusal: 'budget_exceeded', reason: 'BUDGET_MAX_CALLS_PER_REQUEST', rule: 'budget'})
    // A key that cannot be evaluated shares one bucket: it never escapes the limit.
    expect(swap()).toMatchObject({refusal: null})
    expect(swap()).toMatchObject({refusal: 'budget_exceeded'})

    const limiter = new RateLimiter()
    const ping = (parcel: string) => midRunGuardrails(input({tools, limiter, name: 'ping_courier', args: {parcel}}))
    expect(ping('P1').refusal).toBeNull()
    expect(ping('P2').refusal).toBeNull()
    const again = ping('P1')
    expect(again).toMatchObject({refusal: 'budget_exceeded', reason: 'RATE_LIMITED_USER'})
    expect(again.message).toContain('args.parcel = P1')
  })

  it('hands the policy the request history and the taint of the arguments', () => {
    const policy = spyPolicy()
    const history = [new PolicyCall('lookup_order', {order_id: 'ORD-100234'}, {status: 'shipped'}, null, 'allow', 'ok')]
    midRunGuardrails(input({policy, history, taint: () => ['reason']}))
    expect(policy.calls[0]?.history).toBe(history)
    expect(policy.calls[0]?.taint?.()).toEqual(['reason'])
  })

  it('compiles each bundle once', () => {
    expect(compileTools(M)).toBe(compileTools(M))
    expect(compileTools(M).get('issue_refund')!.validate({order_id: 'ORD-100234', amount: 1, reason: 'r'})).toEqual([])
  })
})
