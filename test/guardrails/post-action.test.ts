import {describe, expect, it} from 'vitest'
import {hasIdentifier, postActionGuardrails, type ActionRecord} from '../../src/runtime/guardrails/post-action.js'

const call = (over: Partial<ActionRecord>): ActionRecord => ({
  name: 'issue_refund',
  risk: 'write_high',
  outcome: 'ok',
  result: {refund_id: 'RF-7781', status: 'issued'},
  error: null,
  executed: true,
  ...over,
})
const verify = (c: ActionRecord) => postActionGuardrails(c, {step: 2}).guardrails.find((g) => g.check === 'action.verify')

describe('postActionGuardrails', () => {
  it('always writes an audit result, and only that for calls that did not run', () => {
    const r = postActionGuardrails(call({outcome: 'denied', executed: false, result: null}), {step: 3})
    expect(r.guardrails).toEqual([
      {stage: 'post_action', step: 3, check: 'action.audit', passed: true, severity: 'info', detail: 'issue_refund (write_high): denied, not executed'},
    ])
  })

  it('confirms a write that returned an identifier', () => {
    expect(verify(call({}))).toMatchObject({passed: true, severity: 'info'})
    expect(verify(call({result: {id: 42}}))).toMatchObject({passed: true})
    expect(verify(call({result: {refund: {id: 'RF-1'}}}))).toMatchObject({passed: true})
  })

  it('flags a write without an identifier as WRITE_UNCONFIRMED', () => {
    const v = verify(call({result: {status: 'ok'}}))
    expect(v).toMatchObject({passed: false, severity: 'high'})
    expect(v!.detail).toMatch(/^WRITE_UNCONFIRMED: /)
    expect(verify(call({risk: 'write_low', result: {refund_id: ''}}))).toMatchObject({passed: false, severity: 'medium'})
    expect(verify(call({result: {a: {b: {id: 'too deep'}}}}))!.passed).toBe(false)
  })

  it('flags a partial write with high severity', () => {
    const v = verify(call({outcome: 'partial_write', result: null}))
    expect(v).toMatchObject({passed: false, severity: 'high'})
    expect(v!.detail).toMatch(/^PARTIAL_WRITE: /)
  })

  it('flags a result that is not an object or array', () => {
    expect(verify(call({risk: 'read', result: 'ok'}))).toMatchObject({passed: false, detail: expect.stringMatching(/^RESULT_MALFORMED: .*string/)})
    expect(verify(call({risk: 'read', result: null}))!.passed).toBe(false)
    expect(verify(call({risk: 'read', result: [{sku: 'A1'}]}))!.passed).toBe(true)
    expect(verify(call({risk: 'read', result: {status: 'shipped'}}))!.passed).toBe(true)
  })

  it('treats a write that timed out as unconfirmed, and a failed read as a low finding', () => {
    expect(verify(call({outcome: 'timeout', result: null}))).toMatchObject({passed: false, detail: expect.stringMatching(/^WRITE_UNCONFIRMED: .*timeout/)})
    expect(verify(call({risk: 'read', outcome: 'error', result: null}))).toMatchObject({passed: false, severity: 'low'})
  })
})

describe('hasIdentifier', () => {
  it('wants an id on every element of an array result', () => {
    expect(hasIdentifier([{id: 1}, {order_id: 'O'}])).toBe(true)
    expect(hasIdentifier([{id: 1}, {name: 'x'}])).toBe(false)
    expect(hasIdentifier([])).toBe(false)
    expect(hasIdentifier({identity: 'x', paid: true})).toBe(false)
  })
})
