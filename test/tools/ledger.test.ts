import {describe, expect, it} from 'vitest'
import {callSignature, idempotencyKey, isUnkeyedWrite, OutcomeLedger} from '../../src/tools/ledger.js'
import {sha256} from '../../src/util/canonical.js'

describe('idempotency ledger', () => {
  it('derives a 24-hex key from request, tool and canonical args', () => {
    const k = idempotencyKey('req-1', 'issue_refund', {order_id: 'A', amount: 5})
    expect(k).toMatch(/^[0-9a-f]{24}$/)
    expect(k).toBe(sha256('req-1\u0000issue_refund\u0000{"amount":5,"order_id":"A"}').slice(0, 24))
    expect(idempotencyKey('req-1', 'issue_refund', {amount: 5, order_id: 'A'})).toBe(k)
    expect(idempotencyKey('req-2', 'issue_refund', {order_id: 'A', amount: 5})).not.toBe(k)
    expect(idempotencyKey('req-1', 'issue_refund', {order_id: 'A', amount: 6})).not.toBe(k)
  })

  it('keeps the first outcome of a key', () => {
    const ledger = new OutcomeLedger()
    expect(ledger.lookup('k')).toBeUndefined()
    ledger.record('k', {outcome: 'partial_write', result: {refund_id: 'R1'}})
    ledger.record('k', {outcome: 'ok', result: {refund_id: 'R2'}})
    expect(ledger.lookup('k')).toEqual({outcome: 'partial_write', result: {refund_id: 'R1'}})
  })

  it('remembers ambiguous unkeyed writes by signature', () => {
    const ledger = new OutcomeLedger()
    ledger.markAmbiguous(callSignature('send_email', {to: 'a', body: 'b'}))
    expect(ledger.isAmbiguous(callSignature('send_email', {body: 'b', to: 'a'}))).toBe(true)
    expect(ledger.isAmbiguous(callSignature('send_email', {to: 'a', body: 'c'}))).toBe(false)
  })

  it('treats only writes without idempotency as unkeyed writes', () => {
    const tool = {name: 't', description: 'd', args: {type: 'object' as const}, roles: {}, sensitive_fields: [], enabled: true}
    expect(isUnkeyedWrite({...tool, risk: 'write_low', idempotency: 'none'})).toBe(true)
    expect(isUnkeyedWrite({...tool, risk: 'write_high', idempotency: 'required'})).toBe(false)
    expect(isUnkeyedWrite({...tool, risk: 'read', idempotency: 'none'})).toBe(false)
    expect(isUnkeyedWrite(undefined)).toBe(false)
  })
})
