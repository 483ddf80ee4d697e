import {describe, expect, it} from 'vitest'
import {mulberry32} from '../../scenarios/lib/prng.js'
import {mayHoldSecret, SECRET_SCREEN} from '../../src/runtime/guardrails/patterns.js'
import {shippedTrafficStrings} from '../factories/index.js'

// Pieces of the screen's words, whole, cut short, in other cases, and what sits around them.
const PIECES = [
  '@', '1', '12', '123', '+', '+1', '+a', ':', ':/', '://', '/', 's', 'S', 'k', 'K', '-', '_', ' ', 'sk-', 'SK-', 'sk', 'Sk_',
  'akia', 'AKIA', 'aKi', 'asia', 'ASIA', 'as', 'gh', 'GH', 'ghp_', 'GHO_', 'ghu', 'ghx_', 'gh_', 'github_pat_', 'GITHUB_PAT_', 'github_pa',
  'xox', 'xoxb-', 'XOXS-', 'xoxc-', 'xoxb', 'eyJ', 'EYJ', 'ey', 'eyj', 'bearer', 'BEARER', 'beare', 'key', 'KeY', 'ke', 'token', 'TOKEN',
  'toke', 'secret', 'SeCrEt', 'secre', 'passw', 'PASSW', 'pass', 'pwd', 'PWD', 'pw', 'private key', 'PRIVATE KEY', 'private  key',
  'private_key', 'status', 'order_id', 'ORD-', 'req-', 'x', 'a', 'e', 't', 'p', 'g', 'b', '[', '`', '{', '~', '\u0000',
]

const isAscii = (s: string): boolean => [...s].every((ch) => ch.charCodeAt(0) < 128)

describe('mayHoldSecret (the short-text secret screen)', () => {
  it('is SECRET_SCREEN.test on generated ASCII texts under 40 characters', () => {
    const rng = mulberry32(21)
    let matched = 0
    for (let i = 0; i < 60_000; i++) {
      let text = ''
      const parts = rng.int(1, 6)
      for (let p = 0; p < parts; p++) text += rng.pick(PIECES)
      if (text.length >= 40) text = text.slice(0, 39)
      const want = SECRET_SCREEN.test(text)
      if (want) matched++
      expect(mayHoldSecret(text), JSON.stringify(text)).toBe(want)
    }
    // Both answers are well represented, so the comparison means something either way.
    expect(matched).toBeGreaterThan(10_000)
    expect(matched).toBeLessThan(50_000)
  })

  it('is SECRET_SCREEN.test on every short ASCII string of the shipped traffic, keys included', () => {
    let checked = 0
    for (const s of shippedTrafficStrings()) {
      if (s.length >= 40 || !isAscii(s)) continue
      checked++
      expect(mayHoldSecret(s), JSON.stringify(s)).toBe(SECRET_SCREEN.test(s))
    }
    expect(checked).toBeGreaterThan(1000)
  })

  it('counts a text of 40 characters or more, or with a character past ASCII, as a possible secret', () => {
    expect(mayHoldSecret('a'.repeat(40))).toBe(true)
    expect(mayHoldSecret('status é')).toBe(true)
    expect(mayHoldSecret('status')).toBe(false)
    expect(mayHoldSecret('ticket TCK-12')).toBe(false)
    expect(mayHoldSecret('ticket TCK-123')).toBe(true)
    expect(mayHoldSecret('Bearer')).toBe(true)
    expect(mayHoldSecret('monkey')).toBe(true)
  })
})
