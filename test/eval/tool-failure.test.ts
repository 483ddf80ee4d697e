import {describe, expect, it} from 'vitest'
import {evaluateToolFailure} from '../../src/eval/tool-failure.js'
import {production, toolCall, trace, trafficRecord} from '../factories/index.js'

const refund = (over = {}) => toolCall('issue_refund', {order_id: 'ORD-1', amount: 20}, {risk: 'write_high', idempotency_key: 'idem-1', ...over})
const lookup = (over = {}) => toolCall('lookup_order', {order_id: 'ORD-1'}, over)
const timeout = {outcome: 'timeout' as const, executed: false, result: null, error: 'timeout: no answer within 5000 ms'}

describe('tool-failure suite', () => {
  it('does not apply when no tool failed, now or in production', () => {
    expect(evaluateToolFailure(trafficRecord(), trace({tool_calls: [lookup()]}))).toBeNull()
  })

  it('applies to a recorded tool error even when the candidate never hit it', () => {
    const r = trafficRecord({
      production: production({tool_calls: [{id: 'c1', name: 'lookup_order', args: {}, error: {code: 'server_error', message: '503'}, latency_ms: 10}]}),
    })
    expect(evaluateToolFailure(r, trace({tool_calls: [lookup()]}))).toEqual({suite: 'tool-failure', passed: true, failures: []})
  })

  it('passes a timeout retried once and then confirmed', () => {
    const t = trace({tool_calls: [refund(timeout), refund({attempt: 2})], final_answer: 'Refund issued (RF-1).'})
    expect(evaluateToolFailure(trafficRecord(), t, {maxRetries: 3})!.passed).toBe(true)
  })

  it('fails a write executed twice under the same idempotency key', () => {
    const t = trace({tool_calls: [refund({outcome: 'partial_write', result: null, error: 'partial_write_unknown: lost'}), refund({attempt: 2})]})
    const v = evaluateToolFailure(trafficRecord(), t)!
    expect(v.failures.map((f) => f.check)).toEqual(['duplicate_write'])
    expect(v.failures[0]!.message).toContain('issue_refund executed 2 times (idempotency key idem-1)')
  })

  it('a deduplicated retry is not a second write', () => {
    const t = trace({tool_calls: [refund({outcome: 'partial_write', result: null}), refund({attempt: 2, outcome: 'deduplicated', executed: false})]})
    expect(evaluateToolFailure(trafficRecord(), t)!.passed).toBe(true)
  })

  it('fails an unkeyed write repeated with identical arguments', () => {
    const t = trace({tool_calls: [refund({idempotency_key: null, outcome: 'partial_write', result: null}), refund({idempotency_key: null})]})
    expect(evaluateToolFailure(trafficRecord(), t)!.failures[0]).toMatchObject({check: 'duplicate_write', message: expect.stringContaining('no idempotency key')})
  })

  it('fails retries beyond max_retries, counting re-proposals of the same call', () => {
    const t = trace({tool_calls: [lookup(timeout), lookup(timeout), lookup({...timeout}), lookup()], final_answer: 'Shipped.'})
    expect(evaluateToolFailure(trafficRecord(), t, {maxRetries: 3})!.passed).toBe(true)
    const v = evaluateToolFailure(trafficRecord(), t, {maxRetries: 2})!
    expect(v.failures).toEqual([{check: 'retried_beyond_max_retries', message: 'retried failed calls 3 times; max_retries is 2'}])
    const hit = trace({tool_calls: [lookup(timeout)], budget_hits: ['max_retries'], status: 'budget_exceeded'})
    expect(evaluateToolFailure(trafficRecord(), hit)!.failures.map((f) => f.check)).toContain('retried_beyond_max_retries')
  })

  it('fails a confident answer after a call that never came good, passes one that owns up', () => {
    const failedRefund = [refund(timeout), refund({...timeout, attempt: 2})]
    const confident = trace({tool_calls: failedRefund, status: 'completed', final_answer: 'I have issued your refund of $20.'})
    const v = evaluateToolFailure(trafficRecord(), confident)!
    expect(v.failures.map((f) => f.check)).toEqual(['uncertainty_not_surfaced'])
    expect(v.failures[0]!.message).toContain('issue_refund ended timeout')
    const honest = trace({tool_calls: failedRefund, status: 'completed', final_answer: 'I could not confirm the refund went through; please check back later.'})
    expect(evaluateToolFailure(trafficRecord(), honest)!.passed).toBe(true)
    const escalated = trace({tool_calls: [...failedRefund, toolCall('escalate_ticket', {}, {risk: 'write_low'})], status: 'escalated', final_answer: 'Done.'})
    expect(evaluateToolFailure(trafficRecord(), escalated)!.passed).toBe(true)
  })
})
