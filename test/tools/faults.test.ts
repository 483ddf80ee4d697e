import {describe, expect, it} from 'vitest'
import {createFaultInjector, FAULT_RETRY_AFTER_MS, faultRoll, formatFaults, parseFaults} from '../../src/tools/faults.js'
import {ValidationError} from '../../src/errors.js'
import type {FaultPoint} from '../../src/tools/sandbox.js'

function points(n: number, risk: FaultPoint['risk'] = 'write_low'): FaultPoint[] {
  const out: FaultPoint[] = []
  for (let i = 0; i < n; i++) out.push({requestId: `req-${i % 97}`, call: i % 7, attempt: 1 + (i % 3), tool: 'issue_refund', risk})
  return out
}

describe('parseFaults', () => {
  it('reads every kind, with the plural spellings', () => {
    expect(parseFaults('timeouts=0.05,rate_limit=0.02,partial_write=0.01')).toEqual({
      timeout: 0.05,
      rate_limit: 0.02,
      partial_write: 0.01,
    })
    expect(parseFaults(' timeout = 0.5 ')).toEqual({timeout: 0.5, rate_limit: 0, partial_write: 0})
  })

  it('round-trips through formatFaults', () => {
    const spec = parseFaults('rate_limit=0.25,partial_write=0.125')
    expect(parseFaults(formatFaults(spec))).toEqual(spec)
  })

  it.each([
    ['explode=0.1', 'unknown fault kind "explode" (known: timeouts, rate_limit, partial_write)'],
    ['timeouts=1.5', 'timeouts=1.5 must be a probability between 0 and 1'],
    ['timeouts=-0.1', 'must be a probability between 0 and 1'],
    ['timeouts=abc', 'timeouts=abc must be a probability'],
    ['timeouts=', 'must be a probability'],
    ['timeouts', '"timeouts" is not kind=probability'],
    ['timeouts=0.1,timeout=0.2', 'given twice'],
    ['timeouts=0.6,rate_limit=0.6', 'add up to 1.2, more than 1'],
    ['', 'empty'],
    ['timeouts=0.1,,rate_limit=0.1', 'empty entry'],
  ])('rejects %j with a one-line error', (text, message) => {
    let caught: unknown
    try {
      parseFaults(text)
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(ValidationError)
    expect((caught as Error).message).toContain(message)
    expect((caught as Error).message).toMatch(/^--faults: /)
    expect((caught as Error).message).not.toContain('\n')
  })
})

describe('createFaultInjector', () => {
  const spec = parseFaults('timeouts=0.1,rate_limit=0.1,partial_write=0.1')

  it('gives the same faults for the same seed, whatever the order of the calls', () => {
    const pts = points(2000)
    const a = createFaultInjector(spec, 42)
    const b = createFaultInjector(spec, 42)
    const forward = pts.map((p) => a.decide(p))
    const backward = [...pts].reverse().map((p) => b.decide(p)).reverse()
    expect(backward).toEqual(forward)
    expect(forward.filter((f) => f !== null).length).toBeGreaterThan(0)
  })

  it('gives different faults for a different seed', () => {
    const pts = points(2000)
    const a = pts.map((p) => createFaultInjector(spec, 1).decide(p)?.kind ?? null)
    const b = pts.map((p) => createFaultInjector(spec, 2).decide(p)?.kind ?? null)
    const differing = a.filter((k, i) => k !== b[i]).length
    expect(differing).toBeGreaterThan(100)
  })

  it('depends on request id, call index and attempt', () => {
    const base = {requestId: 'r1', call: 0, attempt: 1}
    const roll = faultRoll(7, base)
    expect(faultRoll(7, {...base})).toBe(roll)
    expect(faultRoll(7, {...base, requestId: 'r2'})).not.toBe(roll)
    expect(faultRoll(7, {...base, call: 1})).not.toBe(roll)
    expect(faultRoll(7, {...base, attempt: 2})).not.toBe(roll)
  })

  it('hits each kind at about its probability', () => {
    const injector = createFaultInjector(parseFaults('timeouts=0.2,rate_limit=0.1,partial_write=0.05'), 3)
    const counts = {timeout: 0, rate_limit: 0, partial_write: 0, none: 0}
    for (let i = 0; i < 20_000; i++) {
      const f = injector.decide({requestId: `r${i}`, call: 0, attempt: 1, tool: 't', risk: 'write_high'})
      counts[f?.kind ?? 'none']++
    }
    expect(counts.timeout / 20_000).toBeCloseTo(0.2, 1)
    expect(counts.rate_limit / 20_000).toBeCloseTo(0.1, 1)
    expect(counts.partial_write / 20_000).toBeCloseTo(0.05, 1)
  })

  it('never injects a partial write into a read', () => {
    const injector = createFaultInjector(parseFaults('partial_write=1'), 9)
    for (const p of points(200, 'read')) expect(injector.decide(p)).toBeNull()
    for (const p of points(200, 'unknown')) expect(injector.decide(p)).toBeNull()
    for (const p of points(50, 'write_high')) expect(injector.decide(p)?.kind).toBe('partial_write')
  })

  it('rate limits carry a Retry-After', () => {
    const f = createFaultInjector(parseFaults('rate_limit=1'), 0).decide(points(1)[0]!)
    expect(f).toEqual({kind: 'rate_limit', latency_ms: expect.any(Number), retry_after_ms: FAULT_RETRY_AFTER_MS})
  })

  it('injects nothing at probability 0', () => {
    const injector = createFaultInjector(parseFaults('timeouts=0'), 5)
    expect(points(500).every((p) => injector.decide(p) === null)).toBe(true)
  })
})
