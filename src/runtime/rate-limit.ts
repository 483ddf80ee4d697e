/** Length of the sliding window. */
export const RATE_WINDOW_MS = 60_000

/**
 * Sliding-window rate limiter over recorded time. Time is always the caller's `atMs` (the recorded
 * request timestamp), never the wall clock, so a replay gives the same answers every time.
 * A call at `t` counts against every later call at `t' < t + 60 s`.
 */
export class RateLimiter {
  /** key -> accepted timestamps, ascending. */
  private readonly hits = new Map<string, number[]>()
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
    const list = this.hits.get(key)
    if (!list) return 0
    return upperBound(list, atMs) - upperBound(list, atMs - RATE_WINDOW_MS)
  }

  /** Records a call unconditionally (for callers that checked several keys with allows first). */
  record(key: string, atMs: number): void {
    let list = this.hits.get(key)
    if (!list) {
      list = []
      this.hits.set(key, list)
    }
    // Replayed traffic is mostly in time order; insert in place for the stragglers.
    const at = upperBound(list, atMs)
    list.splice(at, 0, atMs)
    // Keep memory bounded, with one window of slack for calls that arrive out of time order.
    const newest = list[list.length - 1]!
    const stale = upperBound(list, newest - 2 * RATE_WINDOW_MS)
    if (stale > 0) list.splice(0, stale)
  }
}

/**
 * A sliding window of amounts over recorded time (a tenant's tokens per minute): how much was
 * used in (atMs - 60 s, atMs]. Recorded time only, as RateLimiter.
 */
export class AmountWindow {
  /** key -> [timestamps ascending, amounts at the same index]. */
  private readonly used = new Map<string, {at: number[]; n: number[]}>()

  sum(key: string, atMs: number): number {
    const u = this.used.get(key)
    if (!u) return 0
    let total = 0
    for (let i = upperBound(u.at, atMs - RATE_WINDOW_MS); i < upperBound(u.at, atMs); i++) total += u.n[i]!
    return total
  }

  add(key: string, atMs: number, amount: number): void {
    let u = this.used.get(key)
    if (!u) {
      u = {at: [], n: []}
      this.used.set(key, u)
    }
    const i = upperBound(u.at, atMs)
    u.at.splice(i, 0, atMs)
    u.n.splice(i, 0, amount)
    const stale = upperBound(u.at, u.at[u.at.length - 1]! - 2 * RATE_WINDOW_MS)
    if (stale > 0) {
      u.at.splice(0, stale)
      u.n.splice(0, stale)
    }
  }
}

/** Index of the first element greater than x. */
function upperBound(list: number[], x: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]! <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}
