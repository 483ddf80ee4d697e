import {checkBudgets, type BudgetCheckReport} from '../budget/check.js'
import {evaluateTenantQuotas, quotaEvents, type QuotaReport} from '../budget/quotas.js'
import {simulateBudgets, type BudgetSimulation, type SimLimits} from '../budget/simulate.js'
import type {TraceSide} from '../trace/schema.js'
import type {RunInfo, TraceDatabase} from '../store/api.js'
import {sideManifest} from './bundles.js'
import {readRequestTimes, requireRunTrafficFile} from './traffic-join.js'

/**
 * The budget reports over one side of a stored run (repeat 0 of each request), judged by the
 * limits that side's bundle had when the run started (src/runs/bundles.ts); the judgement itself
 * is src/budget/, per trace.
 */

export type SideReport<R> = R & {run_id: string; side: TraceSide}

/** Which requests hit each budget or came within `near` (a share of the limit) of it. */
export function checkRunBudgets(store: TraceDatabase, run: RunInfo, opts: {side: TraceSide; near: number}): SideReport<BudgetCheckReport> {
  const manifest = sideManifest(store, run, opts.side)
  const report = checkBudgets(store.iterateTraces(run.id, {side: opts.side, repeat: 0}), manifest, {near: opts.near})
  return {run_id: run.id, side: opts.side, ...report}
}

/** What-if: the side's traces replayed under `limits`, each limit not given being the bundle's own. */
export function simulateRunBudgets(store: TraceDatabase, run: RunInfo, opts: {side: TraceSide; limits: Partial<SimLimits>}): SideReport<BudgetSimulation> {
  const b = sideManifest(store, run, opts.side).budgets
  const limits: SimLimits = {
    max_steps: opts.limits.max_steps ?? b.max_steps,
    max_tool_calls: opts.limits.max_tool_calls ?? b.max_tool_calls,
    max_total_tokens: opts.limits.max_total_tokens ?? b.max_total_tokens,
    max_retries: opts.limits.max_retries ?? b.max_retries,
  }
  const sim = simulateBudgets(store.iterateTraces(run.id, {side: opts.side, repeat: 0}), limits)
  return {run_id: run.id, side: opts.side, ...sim}
}

/** Per-tenant quotas over the recorded timeline (the traffic file's timestamps: `traffic`, else the run's own). */
export async function runTenantQuotas(store: TraceDatabase, run: RunInfo, opts: {side: TraceSide; traffic?: string}): Promise<SideReport<QuotaReport>> {
  const manifest = sideManifest(store, run, opts.side)
  const times = await readRequestTimes(requireRunTrafficFile(run, opts.traffic))
  const {events, untimed} = quotaEvents(store.iterateTraces(run.id, {side: opts.side, repeat: 0}), times)
  const report = evaluateTenantQuotas(events, manifest.tenant_quotas, untimed)
  return {run_id: run.id, side: opts.side, ...report}
}
