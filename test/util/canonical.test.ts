import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {canonicalJson, hashJson, sha256} from '../../src/util/canonical.js'

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
