import type {BundleManifest} from '../bundle/schema.js'
import type {RequestTrace} from '../trace/schema.js'
import {perToolBudget} from '../runtime/budget.js'
import {distribution, traceUsage, type Distribution, type RequestUsage} from './usage.js'

/**
 * `understudy budget check`: per tenant, which requests hit each budget and which came within
 * `near` of it, plus the distribution of what requests consume. A request "hits" a budget when the
 * runtime recorded the hit or its usage is over the limit; it is "near" when it used at least
 * `near` × limit without hitting. Pure over traces.
 */

/** At most this many request ids are listed per budget; the counts are always complete. */
export const MAX_LISTED_IDS = 20

export type BudgetRow = {
  budget: string
  limit: number
  hit: number
  near: number
  hit_ids: string[]
  near_ids: string[]
}

export type UsageDistribution = {steps: Distribution; tool_calls: Distribution; tokens: Distribution}

export type TenantBudgetCheck = {tenant: string; requests: number; budgets: BudgetRow[]; distribution: UsageDistribution}

export type BudgetCheckReport = {
  near: number
  requests: number
  distribution: UsageDistribution
  tenants: TenantBudgetCheck[]
}

type Meter = {budget: string; limit: number; used: (u: RequestUsage) => number}

function meters(manifest: BundleManifest): Meter[] {
  const b = manifest.budgets
  const out: Meter[] = [
    {budget: 'max_steps', limit: b.max_steps, used: (u) => u.steps},
    {budget: 'max_tool_calls', limit: b.max_tool_calls, used: (u) => u.tool_calls},
    {budget: 'max_total_tokens', limit: b.max_total_tokens, used: (u) => u.total_tokens},
    {budget: 'max_retries', limit: b.max_retries, used: (u) => u.retries},
  ]
  if (b.max_cost_usd !== undefined) out.push({budget: 'max_cost_usd', limit: b.max_cost_usd, used: (u) => u.cost_usd})
  for (const tool of manifest.tools) {
    const max = tool.budget?.max_calls_per_request
    if (max === undefined) continue
    out.push({budget: perToolBudget(tool.name), limit: max, used: (u) => (Object.hasOwn(u.calls_by_tool, tool.name) ? u.calls_by_tool[tool.name]! : 0)})
  }
  return out
}

type Acc = {requests: number; rows: BudgetRow[]; steps: number[]; toolCalls: number[]; tokens: number[]}

function newAcc(ms: Meter[]): Acc {
  return {requests: 0, rows: ms.map((m) => ({budget: m.budget, limit: m.limit, hit: 0, near: 0, hit_ids: [], near_ids: []})), steps: [], toolCalls: [], tokens: []}
}

function add(acc: Acc, ms: Meter[], t: RequestTrace, u: RequestUsage, near: number): void {
  acc.requests++
  acc.steps.push(u.steps)
  acc.toolCalls.push(u.tool_calls)
  acc.tokens.push(u.total_tokens)
  ms.forEach((m, i) => {
    const row = acc.rows[i]!
    const used = m.used(u)
    if (t.budget_hits.includes(m.budget) || used > m.limit) {
      row.hit++
      if (row.hit_ids.length < MAX_LISTED_IDS) row.hit_ids.push(t.request_id)
    } else if (m.limit > 0 && used >= near * m.limit) {
      row.near++
      if (row.near_ids.length < MAX_LISTED_IDS) row.near_ids.push(t.request_id)
    }
  })
}

function dist(acc: Acc): UsageDistribution {
  return {steps: distribution(acc.steps), tool_calls: distribution(acc.toolCalls), tokens: distribution(acc.tokens)}
}

/** `traces` should be one side, repeat 0 (the caller filters); skipped lines are left out. */
export function checkBudgets(traces: Iterable<RequestTrace>, manifest: BundleManifest, options: {near: number}): BudgetCheckReport {
  const ms = meters(manifest)
  const all = newAcc(ms)
  const byTenant = new Map<string, Acc>()
  for (const t of traces) {
    if (t.status === 'skipped') continue
    const u = traceUsage(t)
    add(all, ms, t, u, options.near)
    let acc = byTenant.get(t.tenant)
    if (!acc) byTenant.set(t.tenant, (acc = newAcc(ms)))
    add(acc, ms, t, u, options.near)
  }
  return {
    near: options.near,
    requests: all.requests,
    distribution: dist(all),
    tenants: [...byTenant.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([tenant, acc]) => ({tenant, requests: acc.requests, budgets: acc.rows, distribution: dist(acc)})),
  }
}
