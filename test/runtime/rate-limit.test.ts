import {describe, expect, it} from 'vitest'
import {AmountWindow, RATE_WINDOW_MS, RateLimiter} from '../../src/runtime/rate-limit.js'

const T0 = Date.parse('2024-05-01T10:00:00Z')

describe('RateLimiter', () => {
  it('allows up to the limit within a minute and refuses the next', () => {
    const rl = new RateLimiter()
    expect(rl.take('u', 3, T0)).toBe(true)
    expect(rl.take('u', 3, T0 + 1_000)).toBe(true)
    expect(rl.take('u', 3, T0 + 2_000)).toBe(true)
    expect(rl.take('u', 3, T0 + 3_000)).toBe(false)
  })

  it('slides: a call leaves the window exactly 60 s later', () => {
    const rl = new RateLimiter()
    expect(rl.take('u', 1, T0)).toBe(true)
    expect(rl.take('u', 1, T0 + 59_999)).toBe(false)
    expect(rl.take('u', 1, T0 + 60_000)).toBe(true)
    expect(rl.take('u', 1, T0 + 60_001)).toBe(false)
  })

  it('does not count refused calls against the window', () => {
    const rl = new RateLimiter()
    expect(rl.take('u', 1, T0)).toBe(true)
    expect(rl.take('u', 1, T0 + 30_000)).toBe(false)
    // Had the refused call counted, it would block this one until T0 + 90 s.
    expect(rl.take('u', 1, T0 + 60_000)).toBe(true)
  })

  it('keeps keys apart', () => {
    const rl = new RateLimiter()
    expect(rl.take('a', 1, T0)).toBe(true)
    expect(rl.take('b', 1, T0)).toBe(true)
    expect(rl.take('a', 1, T0)).toBe(false)
  })

  it('gives the same answers for the same sequence, whatever the wall clock', () => {
    const times = [0, 5_000, 10_000, 61_000, 62_000, 63_000, 200_000].map((t) => T0 + t)
    const run = () => {
      const rl = new RateLimiter()
      return times.map((t) => rl.take('k', 2, t))
    }
    // At 61 s the call of 0 s has left the window but the one of 5 s has not.
    expect(run()).toEqual([true, true, false, true, false, false, true])
    expect(run()).toEqual(run())
  })

  it('counts by recorded time even when calls arrive out of order', () => {
    const rl = new RateLimiter()
    expect(rl.take('k', 2, T0 + 50_000)).toBe(true)
    expect(rl.take('k', 2, T0 + 10_000)).toBe(true)
    expect(rl.count('k', T0 + 55_000)).toBe(2)
    expect(rl.count('k', T0 + 70_000)).toBe(1)
    expect(rl.allows('k', 2, T0 + 70_000)).toBe(true)
    expect(rl.allows('k', 2, T0 + 55_000)).toBe(false)
  })

  it('allows checks without recording', () => {
    const rl = new RateLimiter()
    expect(rl.allows('k', 1, T0)).toBe(true)
    expect(rl.allows('k', 1, T0)).toBe(true)
    rl.record('k', T0)
    expect(rl.allows('k', 1, T0 + 1)).toBe(false)
  })

  it('answers as a plain sorted list would over a long, mostly ordered sequence (stale entries dropped lazily)', () => {
    // Reference: every timestamp kept, counted by a scan. The limiter drops entries older than two
    // windows before its newest and compacts its arrays now and then; neither may change an answer
    // about times within a window of the newest.
    let seed = 7
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const rl = new RateLimiter()
    const tokens = new AmountWindow()
    const ref: {t: number; n: number}[] = []
    let now = T0
    for (let i = 0; i < 5_000; i++) {
      now += Math.floor(rand() * 4_000)
      // One call in ten arrives up to 90 s late.
      const t = rand() < 0.1 ? now - Math.floor(rand() * 90_000) : now
      const n = 1 + Math.floor(rand() * 100)
      rl.record('k', t)
      tokens.add('k', t, n)
      ref.push({t, n})
      const q = now - Math.floor(rand() * 30_000)
      const live = ref.filter((r) => r.t > q - RATE_WINDOW_MS && r.t <= q)
      expect(rl.count('k', q)).toBe(live.length)
      expect(tokens.sum('k', q)).toBe(live.reduce((a, r) => a + r.n, 0))
    }
  })
})
