import {describe, expect, it} from 'vitest'
import {isCardNumberValue} from '../../src/runtime/guardrails/patterns.js'
import {createRedactor, redactionMarker} from '../../src/runtime/redact.js'

const SECRET = 'sk-live-0123456789abcdefghij'

/** The copying pass redactValue made before (every array and record copied), for comparison. */
function copying(redactText: (s: string) => string): (v: unknown) => unknown {
  const deep = (v: unknown): unknown => {
    if (typeof v === 'string') return redactText(v)
    if (typeof v === 'number') return isCardNumberValue(v) ? redactionMarker('card', String(v)) : v
    if (Array.isArray(v)) return v.map(deep)
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {}
      for (const k of Object.keys(v)) out[redactText(k)] = deep((v as Record<string, unknown>)[k])
      return out
    }
    return v
  }
  return deep
}

describe('redactValue hands back what holds nothing to redact, and copies the rest as before', () => {
  it('returns a clean plain record or array itself, at every depth', () => {
    const r = createRedactor()
    const result = {order_id: 'ORD-100021', amount: 92.13, items: [{sku: 'A-1', qty: 2}, ['x', null, true]], note: null}
    expect(r.redactValue(result)).toBe(result)
    expect(r.redactArgs(result, [])).toBe(result)
    const list = [1, 'two', {three: 3}]
    expect(r.redactValue(list)).toBe(list)
  })

  it('copies a value with a secret anywhere in it, sharing nothing it changed, equal to the copying pass', () => {
    const r = createRedactor()
    const reference = copying(r.redactText)
    const clean = {sku: 'A-1'}
    const values: unknown[] = [
      {a: 'x', b: {c: [1, 2, {d: `key ${SECRET}`}]}, e: clean},
      [clean, 'x', SECRET],
      {[SECRET]: 1, after: 'y'},
      {first: 'x', card: 4111111111111111},
      JSON.parse(`{"a": 1, "__proto__": {"polluted": true}, "z": "${SECRET}"}`),
      JSON.parse('{"a": 1, "__proto__": {"polluted": true}}'),
      {when: new Date(0), who: 'x'},
      new Date(0),
    ]
    for (const v of values) {
      const got = r.redactValue(structuredClone(v))
      expect(JSON.stringify(got)).toBe(JSON.stringify(reference(structuredClone(v))))
      expect(JSON.stringify(got)).not.toContain(SECRET)
    }
    // What changed is a new object; what did not is the original, shared.
    const v = {changed: {s: SECRET}, kept: clean}
    const got = r.redactValue(v) as typeof v
    expect(got).not.toBe(v)
    expect(got.changed).not.toBe(v.changed)
    expect(got.kept).toBe(clean)
    expect(v.changed.s).toBe(SECRET)
  })

  it('redacts each value once however deep the secret sits (no pass per level)', () => {
    const r = createRedactor()
    let nested: unknown = {s: SECRET}
    for (let i = 0; i < 60; i++) nested = [{n: i, inner: nested}, 'x']
    const started = performance.now()
    const got = JSON.stringify(r.redactValue(nested))
    expect(got).not.toContain(SECRET)
    expect(got).toContain('[REDACTED:api_key:')
    // Sixty levels, each copied once: a pass that redacted twice per level would take 2^60 steps.
    expect(performance.now() - started).toBeLessThan(2000)
  })
})
