import type {TenantQuota} from '../bundle/schema.js'
import type {RequestTrace} from '../trace/schema.js'
import {traceUsage} from './usage.js'

/**
 * `understudy budget tenants`: per-tenant quotas (`tenant_quotas`) evaluated over a run on the
 * recorded timeline. For every request, the tenant's usage in the minute ending at that request
 * (a sliding 60 s window, the request itself included) is compared with each per-minute quota; a
 * request over a quota is one the quota would have throttled, and a tenant with any is flooding.
 * Pure.
 */

export const WINDOW_MS = 60_000

export type QuotaMetric = 'max_requests_per_minute' | 'max_tool_calls_per_minute' | 'max_tokens_per_minute'
export const QUOTA_METRICS: readonly QuotaMetric[] = ['max_requests_per_minute', 'max_tool_calls_per_minute', 'max_tokens_per_minute']

export type QuotaEvent = {request_id: string; tenant: string; at_ms: number; requests: number; tool_calls: number; tokens: number}

export type QuotaRow = {
  metric: QuotaMetric
  limit: number | null
  /** Highest usage in any 60 s window. */
  peak: number
  /** When the peak window ended (the request that reached it). */
  peak_at: string | null
  /** Requests that arrived with the tenant already over this quota (counting themselves). */
  over_requests: number
  first_over: {request_id: string; at: string} | null
}

export type TenantQuotaReport = {tenant: string; requests: number; flooding: boolean; rows: QuotaRow[]}

export type QuotaReport = {
  tenants: TenantQuotaReport[]
  flooding: string[]
  /** Requests with no timestamp in the traffic file (not evaluated). */
  untimed: string[]
}

const amount = (e: QuotaEvent, m: QuotaMetric): number =>
  m === 'max_requests_per_minute' ? e.requests : m === 'max_tool_calls_per_minute' ? e.tool_calls : e.tokens

export function quotaEvents(traces: Iterable<RequestTrace>, times: ReadonlyMap<string, number>): {events: QuotaEvent[]; untimed: string[]} {
  const events: QuotaEvent[] = []
  const untimed: string[] = []
  for (const t of traces) {
    if (t.status === 'skipped') continue
    const at = times.get(t.request_id)
    if (at === undefined || Number.isNaN(at)) {
      untimed.push(t.request_id)
      continue
    }
    const u = traceUsage(t)
    events.push({request_id: t.request_id, tenant: t.tenant, at_ms: at, requests: 1, tool_calls: u.tool_calls, tokens: u.total_tokens})
  }
  return {events, untimed}
}

function evaluateMetric(events: readonly QuotaEvent[], metric: QuotaMetric, limit: number | null): QuotaRow {
  const row: QuotaRow = {metric, limit, peak: 0, peak_at: null, over_requests: 0, first_over: null}
  let sum = 0
  let start = 0
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    sum += amount(e, metric)
    while (events[start]!.at_ms <= e.at_ms - WINDOW_MS) sum -= amount(events[start++]!, metric)
    if (sum > row.peak) {
      row.peak = sum
      row.peak_at = new Date(e.at_ms).toISOString()
    }
    if (limit !== null && sum > limit) {
      row.over_requests++
      row.first_over ??= {request_id: e.request_id, at: new Date(e.at_ms).toISOString()}
    }
  }
  return row
}

export function evaluateTenantQuotas(events: readonly QuotaEvent[], quotas: Readonly<Record<string, TenantQuota>>, untimed: string[] = []): QuotaReport {
  const byTenant = new Map<string, QuotaEvent[]>()
  for (const e of events) {
    let list = byTenant.get(e.tenant)
    if (!list) byTenant.set(e.tenant, (list = []))
    list.push(e)
  }
  const tenants = [...byTenant.keys()].sort().map((tenant): TenantQuotaReport => {
    // Stable sort: requests at the same instant keep traffic order.
    const list = byTenant.get(tenant)!.slice().sort((a, b) => a.at_ms - b.at_ms)
    const quota = Object.hasOwn(quotas, tenant) ? quotas[tenant] : undefined
    const rows = QUOTA_METRICS.map((m) => evaluateMetric(list, m, quota?.[m] ?? null))
    return {tenant, requests: list.length, flooding: rows.some((r) => r.over_requests > 0), rows}
  })
  return {tenants, flooding: tenants.filter((t) => t.flooding).map((t) => t.tenant), untimed}
}
