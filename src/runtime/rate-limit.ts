/** Length of the sliding window. */
export const RATE_WINDOW_MS = 60_000

/**
 * One key's accepted timestamps, ascending: the live ones are `at[head..]`. Entries older than two
 * windows before the newest are dropped by moving `head` (no copy per call); the dead prefix is cut
 * off once it is at least half the array, so the array stays within twice the live entries and each
 * entry is moved O(1) times over its life.
 */
type Hits = {at: number[]; head: number}

/**
 * Sliding-window rate limiter over recorded time. Time is always the caller's `atMs` (the recorded
 * request timestamp), never the wall clock, so a replay gives the same answers every time.
 * A call at `t` counts against every later call at `t' < t + 60 s`.
 */
export class RateLimiter {
  /** key -> accepted timestamps. */
  private readonly hits = new Map<string, Hits>()
  /** Tokens per tenant (tenant_quotas.max_tokens_per_minute). */
  readonly tokens = new AmountWindow()

  /** Accepts and records a call when it fits the limit; a refused call is not recorded. */
  take(key: string, limitPerMinute: number, atMs: number): boolean {
    if (!this.allows(key, limitPerMinute, atMs)) return false
    this.record(key, atMs)
    return true
  }

  /** Whether a call at `atMs` would fit, without recording it. */
  allows(key: string, limitPerMinute: number, atMs: number): boolean {
    return this.count(key, atMs) < limitPerMinute
  }

  /** Accepted calls in the window (atMs - 60 s, atMs]. */
  count(key: string, atMs: number): number {
    const h = this.hits.get(key)
    if (h === undefined) return 0
    const at = h.at
    const hi = upTo(at, h.head, atMs)
    return hi - upperBound(at, atMs - RATE_WINDOW_MS, h.head, hi)
  }

  /** Records a call unconditionally (for callers that checked several keys with allows first). */
  record(key: string, atMs: number): void {
    let h = this.hits.get(key)
    if (h === undefined) {
      h = {at: [], head: 0}
      this.hits.set(key, h)
    }
    const at = h.at
    // Replayed traffic is mostly in time order: an append; insert in place for the stragglers.
    const i = upTo(at, h.head, atMs)
    if (i === at.length) at.push(atMs)
    else at.splice(i, 0, atMs)
    // Keep memory bounded, with one window of slack for calls that arrive out of time order.
    h.head = upperBound(at, at[at.length - 1]! - 2 * RATE_WINDOW_MS, h.head, at.length)
    if (h.head >= 16 && 2 * h.head >= at.length) {
      at.splice(0, h.head)
      h.head = 0
    }
  }
}

/** Amounts of one key: timestamps ascending, the amount at the same index; live from `head` (see Hits). */
type Amounts = {at: number[]; n: number[]; head: number}

/**
 * A sliding window of amounts over recorded time (a tenant's tokens per minute): how much was
 * used in (atMs - 60 s, atMs]. Recorded time only, as RateLimiter.
 */
export class AmountWindow {
  private readonly used = new Map<string, Amounts>()

  sum(key: string, atMs: number): number {
    const u = this.used.get(key)
    if (u === undefined) return 0
    const hi = upTo(u.at, u.head, atMs)
    let total = 0
    for (let i = upperBound(u.at, atMs - RATE_WINDOW_MS, u.head, hi); i < hi; i++) total += u.n[i]!
    return total
  }

  add(key: string, atMs: number, amount: number): void {
    let u = this.used.get(key)
    if (u === undefined) {
      u = {at: [], n: [], head: 0}
      this.used.set(key, u)
    }
    const i = upTo(u.at, u.head, atMs)
    if (i === u.at.length) {
      u.at.push(atMs)
      u.n.push(amount)
    } else {
      u.at.splice(i, 0, atMs)
      u.n.splice(i, 0, amount)
    }
    u.head = upperBound(u.at, u.at[u.at.length - 1]! - 2 * RATE_WINDOW_MS, u.head, u.at.length)
    if (u.head >= 16 && 2 * u.head >= u.at.length) {
      u.at.splice(0, u.head)
      u.n.splice(0, u.head)
      u.head = 0
    }
  }
}

/** upperBound over list[from..]: the common case (x at or after the newest entry) without a search. */
function upTo(list: number[], from: number, x: number): number {
  const n = list.length
  return n === from || list[n - 1]! <= x ? n : upperBound(list, x, from, n)
}

/** Index of the first element of list[lo..hi) greater than x (hi when none is). */
function upperBound(list: number[], x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]! <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}
