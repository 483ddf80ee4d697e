import type {BudgetCheckReport} from './check.js'
import type {EffectiveBudgets, Limit} from './effective.js'
import type {QuotaReport} from './quotas.js'
import type {BudgetSimulation} from './simulate.js'
import {terminalText as t} from '../util/terminal-text.js'
import type {Distribution} from './usage.js'

/**
 * Plain-text renderings of the budget reports (the --json output is the report objects themselves).
 * Tenants, request ids, tool names and refs are data: each is escaped onto one line (src/util/terminal-text.ts).
 */

const fmt = (l: Limit) => `${t(l.name)} = ${l.value === null ? '—' : l.value}  (${t(l.source)})`
const ids = (xs: readonly string[]) => xs.map((x) => t(x)).join(', ')
const dist = (name: string, d: Distribution) => `${name.padEnd(11)} p50 ${d.p50}  p95 ${d.p95}  max ${d.max}`

export function renderEffective(ref: string, e: EffectiveBudgets): string[] {
  const out = [`Budgets of ${t(ref)}`, '', 'Per request:']
  for (const l of e.request) out.push(`  ${fmt(l)}`)
  out.push('', 'Per tool:')
  for (const tool of e.tools) {
    out.push(`  ${t(tool.tool)} (${tool.risk}${tool.enabled ? '' : ', DISABLED'}): at most ${tool.effective_max_calls_per_request} call(s) per request`)
    for (const l of tool.limits) out.push(`    ${fmt(l)}`)
  }
  out.push('', 'Per tenant:')
  if (e.tenants.length === 0) out.push('  (no tenant named in the bundle)')
  for (const tenant of e.tenants) {
    out.push(`  ${t(tenant.tenant)}`)
    for (const l of tenant.limits) out.push(`    ${fmt(l)}`)
  }
  return out
}

export function renderCheck(runId: string, side: string, r: BudgetCheckReport): string[] {
  const out = [`Budget check of run ${t(runId)} (${side} side, near = ${Math.round(r.near * 100)}% of a limit): ${r.requests} requests`]
  out.push(`  ${dist('steps', r.distribution.steps)}`, `  ${dist('tool calls', r.distribution.tool_calls)}`, `  ${dist('tokens', r.distribution.tokens)}`)
  for (const tenant of r.tenants) {
    out.push('', `${t(tenant.tenant)}: ${tenant.requests} requests`)
    out.push(`  ${dist('steps', tenant.distribution.steps)}`, `  ${dist('tool calls', tenant.distribution.tool_calls)}`, `  ${dist('tokens', tenant.distribution.tokens)}`)
    for (const b of tenant.budgets) {
      if (b.hit === 0 && b.near === 0) continue
      out.push(`  ${b.budget} (limit ${b.limit}): ${b.hit} hit, ${b.near} near`)
      if (b.hit_ids.length) out.push(`    hit:  ${ids(b.hit_ids)}${b.hit > b.hit_ids.length ? ', …' : ''}`)
      if (b.near_ids.length) out.push(`    near: ${ids(b.near_ids)}${b.near > b.near_ids.length ? ', …' : ''}`)
    }
    if (tenant.budgets.every((b) => b.hit === 0 && b.near === 0)) out.push('  no budget hit or nearly hit')
  }
  return out
}

export function renderSimulation(runId: string, s: BudgetSimulation, limit = 30): string[] {
  const l = s.limits
  const out = [
    `What-if over run ${t(runId)}: max_steps ${l.max_steps}, max_tool_calls ${l.max_tool_calls}, max_total_tokens ${l.max_total_tokens}, max_retries ${l.max_retries}`,
    `  ${s.cut} of ${s.requests} requests would have been cut; ${s.lost_actions} executed action(s) would not have happened (${s.lost_writes} write(s))`,
    `  saved: ${s.saved.steps} model step(s), ${s.saved.tool_calls} tool call(s), ${s.saved.tokens} tokens`,
    `  runaway requests (ended on a budget in the run): ${s.runaway}; stopped earlier: ${s.stopped_earlier}; need a re-run to judge: ${s.needs_rerun}`,
  ]
  for (const r of s.changed.slice(0, limit)) {
    const lost = r.lost_actions.length ? `; would not have run: ${r.lost_actions.map((a) => `${t(a.tool)}#${a.seq}${a.risk === 'read' ? '' : ' (write)'}`).join(', ')}` : ''
    out.push(`  line ${r.line} ${t(r.request_id)} [${t(r.tenant)}]${r.stops_earlier ? ' runaway, stops earlier:' : ':'} ${t(r.cut!.detail)} at step ${r.cut!.step}${lost}`)
  }
  if (s.changed.length > limit) out.push(`  … ${s.changed.length - limit} more (see --json)`)
  return out
}

export function renderQuotas(runId: string, q: QuotaReport): string[] {
  const out = [`Tenant quotas over run ${t(runId)} (sliding 60 s windows on the recorded timeline)`]
  for (const tenant of q.tenants) {
    out.push(`  ${t(tenant.tenant)}: ${tenant.requests} requests${tenant.flooding ? '  FLOODING' : ''}`)
    for (const r of tenant.rows) {
      const over = r.over_requests > 0 ? `, ${r.over_requests} request(s) over (first ${t(r.first_over!.request_id)} at ${t(r.first_over!.at)})` : ''
      out.push(`    ${r.metric}: peak ${r.peak}${r.peak_at ? ` (minute ending ${t(r.peak_at)})` : ''}, limit ${r.limit ?? 'not set'}${over}`)
    }
  }
  out.push(q.flooding.length ? `Flooding: ${ids(q.flooding)}` : 'No tenant floods its quotas.')
  if (q.untimed.length) out.push(`${q.untimed.length} request(s) without a timestamp in the traffic file were left out`)
  return out
}
