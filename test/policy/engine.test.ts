import {describe, expect, it} from 'vitest'
import {PolicyRule, type PolicyCondition} from '../../src/bundle/schema.js'
import {ValidationError} from '../../src/errors.js'
import {
  compileCondition,
  compilePolicy,
  deepEqual,
  policyRuleProblems,
  type PolicyContext,
} from '../../src/policy/engine.js'

function ctx(over: Partial<PolicyContext> = {}): PolicyContext {
  return {
    tool: 'issue_refund',
    risk: 'write_high',
    tenant: 'acme',
    user: 'u1',
    role: 'agent',
    step: 2,
    tool_calls: 1,
    args: {order_id: 'ORD-100234', amount: 750, tags: ['vip', 'eu'], meta: {channel: 'chat', items: [{sku: 'A1'}]}},
    signals: {injection_in_retrieved: false, pii_in_input: true, score: 0.4},
    ...over,
  }
}

function rule(over: Partial<PolicyRule> & {id: string}): PolicyRule {
  return PolicyRule.parse({effect: 'deny', reason: 'TEST_REASON', ...over})
}

const holds = (cond: PolicyCondition, c: PolicyContext = ctx()) => compileCondition(cond)(c)

describe('conditions', () => {
  it('eq / ne compare deeply', () => {
    expect(holds({field: 'args.amount', op: 'eq', value: 750})).toBe(true)
    expect(holds({field: 'args.amount', op: 'eq', value: '750'})).toBe(false)
    expect(holds({field: 'args.tags', op: 'eq', value: ['vip', 'eu']})).toBe(true)
    expect(holds({field: 'args.tags', op: 'eq', value: ['eu', 'vip']})).toBe(false)
    expect(holds({field: 'args.meta', op: 'eq', value: {items: [{sku: 'A1'}], channel: 'chat'}})).toBe(true)
    expect(holds({field: 'args.meta', op: 'ne', value: {channel: 'chat'}})).toBe(true)
    expect(holds({field: 'tool', op: 'ne', value: 'issue_refund'})).toBe(false)
    expect(holds({field: 'signals.pii_in_input', op: 'eq', value: true})).toBe(true)
  })

  it('ordering ops need a number field; anything else is false', () => {
    expect(holds({field: 'args.amount', op: 'gt', value: 500})).toBe(true)
    expect(holds({field: 'args.amount', op: 'gt', value: 750})).toBe(false)
    expect(holds({field: 'args.amount', op: 'gte', value: 750})).toBe(true)
    expect(holds({field: 'args.amount', op: 'lt', value: 750})).toBe(false)
    expect(holds({field: 'args.amount', op: 'lte', value: 750})).toBe(true)
    expect(holds({field: 'step', op: 'lt', value: 3})).toBe(true)
    expect(holds({field: 'signals.score', op: 'gte', value: 0.4})).toBe(true)
    // A string that looks like a number is not one.
    expect(holds({field: 'args.amount', op: 'gt', value: 1}, ctx({args: {amount: '750'}}))).toBe(false)
    expect(holds({field: 'args.amount', op: 'lt', value: 1000}, ctx({args: {}}))).toBe(false)
  })

  it('in / not_in test membership in the value list', () => {
    expect(holds({field: 'tenant', op: 'in', value: ['acme', 'globex']})).toBe(true)
    expect(holds({field: 'tenant', op: 'in', value: ['globex']})).toBe(false)
    expect(holds({field: 'tenant', op: 'not_in', value: ['globex']})).toBe(true)
    expect(holds({field: 'tenant', op: 'not_in', value: ['acme']})).toBe(false)
    expect(holds({field: 'args.meta.items.0', op: 'in', value: [{sku: 'A1'}, {sku: 'B2'}]})).toBe(true)
  })

  it('contains / not_contains: substring for strings, membership for arrays', () => {
    expect(holds({field: 'args.order_id', op: 'contains', value: '1002'})).toBe(true)
    expect(holds({field: 'args.order_id', op: 'contains', value: 'XYZ'})).toBe(false)
    expect(holds({field: 'args.tags', op: 'contains', value: 'vip'})).toBe(true)
    expect(holds({field: 'args.tags', op: 'contains', value: 'vi'})).toBe(false)
    expect(holds({field: 'args.tags', op: 'not_contains', value: 'gold'})).toBe(true)
    expect(holds({field: 'args.amount', op: 'contains', value: '7'})).toBe(false)
  })

  it('matches / not_matches are case-insensitive regexes', () => {
    expect(holds({field: 'args.order_id', op: 'matches', value: '^ord-\\d+$'})).toBe(true)
    expect(holds({field: 'args.order_id', op: 'not_matches', value: '^ord-\\d+$'})).toBe(false)
    expect(holds({field: 'args.meta.channel', op: 'matches', value: 'email'})).toBe(false)
    expect(holds({field: 'args.amount', op: 'matches', value: '^7\\d\\d$'})).toBe(true)
    expect(holds({field: 'args.missing', op: 'matches', value: '.*'})).toBe(false)
  })

  it('exists / missing', () => {
    expect(holds({field: 'args.meta.items.0.sku', op: 'exists'})).toBe(true)
    expect(holds({field: 'args.meta.items.1.sku', op: 'exists'})).toBe(false)
    expect(holds({field: 'args.reason', op: 'missing'})).toBe(true)
    expect(holds({field: 'args.reason', op: 'missing'}, ctx({args: {reason: null}}))).toBe(true)
    expect(holds({field: 'signals.injection_in_retrieved', op: 'exists'})).toBe(true)
    expect(holds({field: 'signals.nope', op: 'missing'})).toBe(true)
  })

  it('does not read inherited properties through a path', () => {
    expect(holds({field: 'args.constructor', op: 'exists'})).toBe(false)
    expect(holds({field: 'signals.toString', op: 'exists'})).toBe(false)
  })
})

describe('compilePolicy', () => {
  const rules = [
    rule({id: 'allow-reads', effect: 'allow', reason: 'READ_OK', risk: ['read']}),
    rule({id: 'refund-approval', effect: 'require_approval', reason: 'REFUND_NEEDS_APPROVAL', tools: ['issue_refund'], when: [{field: 'args.amount', op: 'gt', value: 100}]}),
    rule({id: 'refund-limit', effect: 'deny', reason: 'REFUND_OVER_LIMIT', tools: ['issue_refund'], when: [{field: 'args.amount', op: 'gt', value: 500}]}),
    rule({id: 'refund-allow', effect: 'allow', reason: 'REFUND_OK', tools: ['issue_refund']}),
  ]

  it('deny beats approval beats allow, whatever the rule order', () => {
    for (const order of [rules, [...rules].reverse(), [rules[2]!, rules[0]!, rules[3]!, rules[1]!]]) {
      const policy = compilePolicy(order, 'deny')
      expect(policy(ctx({args: {amount: 750}}))).toEqual({
        decision: 'deny',
        reason: 'REFUND_OVER_LIMIT',
        rule: 'refund-limit',
        fired: ['refund-allow', 'refund-approval', 'refund-limit'],
      })
      expect(policy(ctx({args: {amount: 300}}))).toMatchObject({decision: 'require_approval', rule: 'refund-approval'})
      expect(policy(ctx({args: {amount: 50}}))).toMatchObject({decision: 'allow', reason: 'REFUND_OK', fired: ['refund-allow']})
    }
  })

  it('reports the smallest id among rules with the winning effect', () => {
    const a = rule({id: 'b-rule', reason: 'B'})
    const b = rule({id: 'a-rule', reason: 'A'})
    expect(compilePolicy([a, b], 'allow')(ctx())).toMatchObject({rule: 'a-rule', reason: 'A', fired: ['a-rule', 'b-rule']})
    expect(compilePolicy([b, a], 'allow')(ctx())).toMatchObject({rule: 'a-rule', reason: 'A'})
  })

  it('falls back to the default effect when nothing fires', () => {
    const none = ctx({tool: 'lookup_order', risk: 'read'})
    const onlyRefund = rules.slice(1)
    expect(compilePolicy(onlyRefund, 'require_approval')(none)).toEqual({decision: 'require_approval', reason: 'POLICY_DEFAULT', rule: 'default', fired: []})
    expect(compilePolicy([], 'allow')(none)).toEqual({decision: 'allow', reason: 'POLICY_DEFAULT', rule: 'default', fired: []})
    expect(compilePolicy([], 'deny')(none).decision).toBe('deny')
  })

  it('needs every listed selector to match', () => {
    const r = rule({id: 'r', tools: ['issue_refund'], risk: ['write_high'], tenants: ['acme'], roles: ['agent']})
    const policy = compilePolicy([r], 'allow')
    expect(policy(ctx()).decision).toBe('deny')
    expect(policy(ctx({tool: 'cancel_order'})).decision).toBe('allow')
    expect(policy(ctx({risk: 'write_low'})).decision).toBe('allow')
    expect(policy(ctx({tenant: 'globex'})).decision).toBe('allow')
    expect(policy(ctx({role: 'supervisor'})).decision).toBe('allow')
    // An empty selector list restricts nothing.
    expect(compilePolicy([rule({id: 'e', tools: []})], 'allow')(ctx()).decision).toBe('deny')
  })

  it('needs every condition to hold', () => {
    const r = rule({
      id: 'both',
      when: [
        {field: 'args.amount', op: 'gt', value: 500},
        {field: 'signals.pii_in_input', op: 'eq', value: true},
      ],
    })
    const policy = compilePolicy([r], 'allow')
    expect(policy(ctx()).decision).toBe('deny')
    expect(policy(ctx({signals: {pii_in_input: false}})).decision).toBe('allow')
    expect(policy(ctx({args: {amount: 20}})).decision).toBe('allow')
  })

  it('tests signals by name and tool_calls / step counters', () => {
    const r = rule({id: 'inj', reason: 'INJECTION_RISK', risk: ['write_high'], when: [{field: 'signals.injection_in_retrieved', op: 'eq', value: true}]})
    const cap = rule({id: 'cap', reason: 'TOO_MANY', when: [{field: 'tool_calls', op: 'gte', value: 3}]})
    const policy = compilePolicy([r, cap], 'allow')
    expect(policy(ctx()).decision).toBe('allow')
    expect(policy(ctx({signals: {injection_in_retrieved: true}}))).toMatchObject({decision: 'deny', reason: 'INJECTION_RISK'})
    expect(policy(ctx({tool_calls: 3}))).toMatchObject({decision: 'deny', reason: 'TOO_MANY'})
  })

  it('refuses rules it cannot compile, naming the field', () => {
    const bad = [
      rule({id: 'x', when: [{field: 'args.note', op: 'matches', value: '(unclosed'}]}),
      rule({id: 'y', when: [{field: 'tenant', op: 'in', value: 'acme'}]}),
      rule({id: 'z', when: [{field: 'amount', op: 'gt', value: 1}]}),
      rule({id: 'x', when: [{field: 'step', op: 'gt', value: 'two'}]}),
    ]
    const problems = policyRuleProblems(bad).map((p) => p.path)
    expect(problems).toEqual(['0.when.0.value', '1.when.0.value', '2.when.0.field', '3.id', '3.when.0.value'])
    expect(() => compilePolicy(bad, 'allow')).toThrow(ValidationError)
    try {
      compilePolicy(bad, 'allow')
    } catch (e) {
      expect((e as ValidationError).problems[0]).toMatch(/^policies\.0\.when\.0\.value: .*not a valid regular expression/)
    }
  })
})

describe('deepEqual', () => {
  it('treats key order as irrelevant and undefined keys as absent', () => {
    expect(deepEqual({a: 1, b: [1, {c: 2}]}, {b: [1, {c: 2}], a: 1})).toBe(true)
    expect(deepEqual({a: 1, b: undefined}, {a: 1})).toBe(true)
    expect(deepEqual([1, 2], {0: 1, 1: 2})).toBe(false)
    expect(deepEqual(null, {})).toBe(false)
    expect(deepEqual({a: 1}, {a: 1, b: 2})).toBe(false)
  })
})
