import {describe, expect, it} from 'vitest'
import {evaluateGolden} from '../../src/eval/golden.js'
import {call, decision, trace} from '../diff/trace-builder.js'
import {record} from './fixtures.js'

describe('golden suite', () => {
  it('does not apply to a request without an expect block', () => {
    expect(evaluateGolden(record(), trace())).toBeNull()
  })

  it('passes when every expectation holds', () => {
    const r = record({expect: {tools: ['lookup_order'], forbidden_tools: ['send_email'], decision: 'allow', answer_contains: ['SHIPPED'], answer_not_contains: ['refund']}})
    const t = trace({
      tool_calls: [call('lookup_order'), call('send_email', {}, {executed: false, outcome: 'denied', result: null})],
      policy_decisions: [decision('mid_run', 'lookup_order', 'allow', 'READ_ALLOWED')],
      final_answer: 'Your order has shipped.',
    })
    expect(evaluateGolden(r, t)).toEqual({suite: 'golden', passed: true, failures: []})
  })

  it('names each failing check', () => {
    const r = record({expect: {tools: ['issue_refund'], forbidden_tools: ['send_email'], decision: 'deny', answer_contains: ['refund'], answer_not_contains: ['shipped']}})
    const t = trace({
      tool_calls: [call('issue_refund', {}, {outcome: 'timeout', executed: false, result: null}), call('send_email', {to: 'x'}, {risk: 'write_low'})],
      policy_decisions: [decision('mid_run', 'send_email', 'allow', 'WRITE_ALLOWED')],
      final_answer: 'Your order has shipped.',
    })
    const v = evaluateGolden(r, t)!
    expect(v.passed).toBe(false)
    expect(v.failures.map((f) => f.check)).toEqual(['expected_tool', 'forbidden_tool', 'expected_decision', 'answer_contains', 'answer_not_contains'])
    expect(v.failures[0]!.message).toContain('called but timeout')
    expect(v.failures[1]).toMatchObject({tool: 'send_email'})
    expect(v.failures[2]!.message).toContain('allow (WRITE_ALLOWED)')
  })

  it('a forbidden tool that was refused (not executed) does not fail', () => {
    const r = record({expect: {forbidden_tools: ['issue_refund'], decision: 'deny'}})
    const t = trace({
      tool_calls: [call('issue_refund', {}, {executed: false, outcome: 'denied', result: null})],
      policy_decisions: [decision('mid_run', 'issue_refund', 'deny', 'RBAC_ROLE_NOT_ALLOWED')],
    })
    expect(evaluateGolden(r, t)!.passed).toBe(true)
  })
})
