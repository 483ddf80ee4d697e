/**
 * The seeded PRNGs and the string hash the scenario generators draw from. Nothing here touches
 * Math.random, so one seed writes the same traffic byte for byte on every machine and Node version.
 * Each scenario keeps the algorithm its committed traffic was drawn with (support-refunds and
 * enterprise-tickets: mulberry32; coding-agent: splitmix32): swapping one would rewrite its file.
 */
export type Rng = {
  /** Uniform in [0, 1). */
  next(): number
  /** Integer in [min, max], both included. */
  int(min: number, max: number): number
  pick<T>(items: readonly T[]): T
  chance(p: number): boolean
  weighted<T>(items: readonly (readonly [T, number])[]): T
}

/** The draws every generator uses, all from one uniform stream. */
function rngFrom(next: () => number): Rng {
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list')
      return items[Math.floor(next() * items.length)]!
    },
    chance: (p) => next() < p,
    weighted: (items) => {
      const total = items.reduce((sum, [, w]) => sum + w, 0)
      let r = next() * total
      for (const [item, w] of items) {
        r -= w
        if (r < 0) return item
      }
      return items[items.length - 1]![0]
    },
  }
}

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0
  return rngFrom(() => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  })
}

export function splitmix32(seed: number): Rng {
  let state = seed >>> 0
  return rngFrom(() => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    z ^= z >>> 16
    return (z >>> 0) / 4294967296
  })
}

/** FNV-1a, 32 bits: ids, latencies and jitter that must not draw from the main random stream. */
export function hash32(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
