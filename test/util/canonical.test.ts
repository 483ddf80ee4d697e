import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {canonicalArgs, canonicalJson, hashArgs, hashJson, sha256} from '../../src/util/canonical.js'

describe('sha256', () => {
  it('gives the standard digest, as hex, for strings and buffers', () => {
    // FIPS 180-2 test vector.
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(sha256(Buffer.from('abc'))).toBe(sha256('abc'))
  })

  it('hashes a string as its UTF-8 bytes, exactly as a Hash object does', () => {
    for (const text of ['', 'naïve café ✓ 🚀', '{"amount":92.13,"order_id":"ORD-100021"}', 'x'.repeat(100_000)]) {
      expect(sha256(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'))
    }
  })
})

describe('canonicalJson / hashJson', () => {
  it('ignores key order and undefined, and changes with any value', () => {
    expect(canonicalJson({b: 1, a: {d: [2, {z: 1, y: undefined}], c: null}})).toBe('{"a":{"c":null,"d":[2,{"z":1}]},"b":1}')
    expect(hashJson({a: 1, b: 2})).toBe(hashJson({b: 2, a: 1}))
    expect(hashJson({a: 1, b: 2})).not.toBe(hashJson({a: 1, b: 3}))
  })
})

/** The definition canonicalJson keeps: JSON.stringify of a copy with every object's keys sorted. */
function reference(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted)
    if (v === null || typeof v !== 'object') return v
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(v).sort()) {
      const e = (v as Record<string, unknown>)[key]
      if (e !== undefined) out[key] = sorted(e)
    }
    return out
  }
  return JSON.stringify(sorted(value))
}

describe('canonicalJson on values its direct writer leaves to the sorted copy', () => {
  it('gives what JSON.stringify of the sorted copy gives, whatever the value', () => {
    const proto = JSON.parse('{"__proto__": {"x": 1}, "b": 2}') as unknown
    // A hole, not an undefined element: the two differ for map, which the sorted copy uses.
    const sparse: unknown[] = [1]
    sparse[2] = 3
    const values: unknown[] = [
      'ünï "q" \\ \u0000 \uD800', -0, 0.1 + 0.2, 1e21, Number.NaN, Number.POSITIVE_INFINITY, true, null, [],
      {}, {b: 1, a: [{d: 1, c: [null, false]}], 'é': 'x', A: 'upper', '': 'empty', 'a b': 1},
      {'10': 'ten', '9': 'nine', b: 1, a: 2, '1x': 'not an index'},
      proto, sparse, [undefined, () => 1], {f: () => 1, s: Symbol('s'), u: undefined, n: 1},
      {d: new Date(0), m: new Map([[1, 2]]), nested: {toJSON: () => 'own'}},
      Object.assign(Object.create(null) as object, {z: 1, y: 2}),
    ]
    for (const value of values) expect(canonicalJson(value)).toBe(reference(value))
  })

  it('orders keys as the sorted copy does, whatever their number and first order', () => {
    // 1 to 20 keys (the in-place insertion sort up to 16, the built-in one past it), shuffled, some
    // sharing prefixes, in other cases, and past ASCII: code-unit order throughout.
    const pool = ['a', 'b', 'aa', 'ab', 'A', 'B', 'Z', 'z', 'amount', 'amounts', 'order_id', 'orderId', 'é', 'e', 'ä', '_x', 'x_', 'k1', 'k10', 'k2', 'Ω', '𝒳', ' ']
    let seed = 21
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    }
    for (let round = 0; round < 2000; round++) {
      const count = 1 + next(20)
      const keys = [...pool].sort(() => next(3) - 1).slice(0, count)
      while (keys.length > count) keys.pop()
      const value: Record<string, unknown> = {}
      for (const k of keys) value[k] = next(100)
      expect(canonicalJson(value), JSON.stringify(keys)).toBe(reference(value))
    }
  })
})

describe('canonicalArgs / hashArgs: a tool call\'s arguments, kept by identity for the last few objects (#21)', () => {
  it('give canonicalJson and hashJson of the object asked, never another kept object\'s, past the bound', () => {
    // Forty objects of distinct content asked in turn, each twice in a row and again after the others
    // have pushed it out: every answer is its own object's.
    const objects = Array.from({length: 40}, (_, i) => ({z: i, a: {n: `arg-${i}`}, m: [i, i + 1]}))
    for (let round = 0; round < 3; round++) {
      for (const o of objects) {
        expect(canonicalArgs(o)).toBe(canonicalJson(o))
        expect(hashArgs(o)).toBe(hashJson(o))
        expect(canonicalArgs(o)).toBe(canonicalJson(o))
      }
    }
    // Equal content in distinct objects: the same text, whichever is kept.
    expect(canonicalArgs({b: 1, a: 2})).toBe('{"a":2,"b":1}')
    expect(hashArgs({a: 2, b: 1})).toBe(sha256('{"a":2,"b":1}'))
  })

  it('take anything that is not an object as canonicalJson does', () => {
    for (const v of [null, 'text', 42, true, [1, {b: 2, a: 1}]]) {
      expect(canonicalArgs(v)).toBe(canonicalJson(v))
      expect(hashArgs(v)).toBe(hashJson(v))
    }
  })
})
