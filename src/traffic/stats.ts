import {readTraffic} from './reader.js'
import type {TrafficRecord} from './schema.js'

/** Counts keyed by name, ordered by count (descending), then name. */
export type Counts = Record<string, number>

export type ToolStats = {
  /** Recorded calls, retries included. */
  calls: number
  /** Calls that ended in a tool error. */
  errors: number
  errorsByCode: Counts
  /** Calls with attempt > 1. */
  retries: number
}

export type PolicyReasonCount = {decision: string; reason: string; count: number}

export type TrafficStats = {
  file: string
  /** Valid requests; everything below is over these. */
  requests: number
  invalidLines: number
  byTenant: Counts
  byRole: Counts
  byOutcome: Counts
  tools: Record<string, ToolStats>
  policy: {
    decisions: number
    byDecision: Counts
    /** One row per (decision, reason), most frequent first. */
    byReason: PolicyReasonCount[]
  }
  /** labels.category; requests without one count under `(none)`. */
  byCategory: Counts
  tokens: {input: number; output: number}
  costUsd: number
  /** Production latency per request, exact nearest-rank percentiles; null when there are no requests. */
  latencyMs: {p50: number | null; p95: number | null; max: number | null}
}

export const NO_CATEGORY = '(none)'

/** Summarises a traffic file in one streaming pass; memory is the counters plus one number per request. */
export async function trafficStats(file: string, opts: {signal?: AbortSignal; maxLineBytes?: number} = {}): Promise<TrafficStats> {
  const acc = new StatsAccumulator()
  for await (const line of readTraffic(file, opts)) {
    if (line.ok) acc.add(line.record)
    else acc.invalidLines++
  }
  return acc.result(file)
}

/** The pure part of trafficStats: feed it records, read the totals. */
export class StatsAccumulator {
  invalidLines = 0
  private requests = 0
  private readonly tenants = new Map<string, number>()
  private readonly roles = new Map<string, number>()
  private readonly outcomes = new Map<string, number>()
  private readonly categories = new Map<string, number>()
  private readonly decisions = new Map<string, number>()
  private readonly reasons = new Map<string, PolicyReasonCount>()
  private readonly tools = new Map<string, {calls: number; errors: number; codes: Map<string, number>; retries: number}>()
  private policyDecisions = 0
  private inputTokens = 0
  private outputTokens = 0
  private costUsd = 0
  // Float64Array doubling: 8 bytes per request instead of a boxed number in an array.
  private latencies = new Float64Array(1024)

  add(r: TrafficRecord): void {
    const p = r.production
    if (this.requests === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2)
      grown.set(this.latencies)
      this.latencies = grown
    }
    this.latencies[this.requests] = p.latency_ms
    this.requests++
    bump(this.tenants, r.tenant)
    bump(this.roles, r.role)
    bump(this.outcomes, p.outcome)
    bump(this.categories, r.labels['category'] ?? NO_CATEGORY)
    this.inputTokens += p.usage.input_tokens
    this.outputTokens += p.usage.output_tokens
    this.costUsd += p.cost_usd ?? 0

    for (const call of p.tool_calls) {
      let t = this.tools.get(call.name)
      if (!t) {
        t = {calls: 0, errors: 0, codes: new Map(), retries: 0}
        this.tools.set(call.name, t)
      }
      t.calls++
      if (call.attempt > 1) t.retries++
      if (call.error) {
        t.errors++
        bump(t.codes, call.error.code)
      }
    }
    for (const d of p.policy_decisions) {
      this.policyDecisions++
      bump(this.decisions, d.decision)
      const key = JSON.stringify([d.decision, d.reason])
      const row = this.reasons.get(key)
      if (row) row.count++
      else this.reasons.set(key, {decision: d.decision, reason: d.reason, count: 1})
    }
  }

  result(file: string): TrafficStats {
    const lat = this.latencies.subarray(0, this.requests).slice().sort()
    const toolRows = [...this.tools.entries()].sort((a, b) => b[1].calls - a[1].calls || compare(a[0], b[0]))
    return {
      file,
      requests: this.requests,
      invalidLines: this.invalidLines,
      byTenant: sortedCounts(this.tenants),
      byRole: sortedCounts(this.roles),
      byOutcome: sortedCounts(this.outcomes),
      tools: Object.fromEntries(
        toolRows.map(([name, t]) => [
          name,
          {calls: t.calls, errors: t.errors, errorsByCode: sortedCounts(t.codes), retries: t.retries},
        ]),
      ),
      policy: {
        decisions: this.policyDecisions,
        byDecision: sortedCounts(this.decisions),
        byReason: [...this.reasons.values()]
          .map((r) => ({...r}))
          .sort((a, b) => b.count - a.count || compare(a.decision, b.decision) || compare(a.reason, b.reason)),
      },
      byCategory: sortedCounts(this.categories),
      tokens: {input: this.inputTokens, output: this.outputTokens},
      // Summing many float costs drifts in the last digits; a report never needs more than micro-dollars.
      costUsd: Math.round(this.costUsd * 1e6) / 1e6,
      latencyMs: {p50: percentile(lat, 0.5), p95: percentile(lat, 0.95), max: lat.length ? lat[lat.length - 1]! : null},
    }
  }
}

/** Nearest-rank percentile of ascending-sorted values: the smallest value with at least q of the data at or below it. */
export function percentile(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null
  const rank = Math.max(1, Math.ceil(q * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1]!
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1)
}

// Object.fromEntries defines own properties, so a tenant named "__proto__" is counted, not swallowed.
function sortedCounts(m: Map<string, number>): Counts {
  return Object.fromEntries([...m.entries()].sort((a, b) => b[1] - a[1] || compare(a[0], b[0])))
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
