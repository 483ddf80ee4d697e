import {BundleManifest} from '../bundle/schema.js'
import type {MapRunOptions} from '../runs/map-run.js'
import {findRun} from '../runs/open.js'
import {runSummary, type RunSummaryWithGolden} from '../runs/run-summary.js'
import {runTenants, tenantView} from '../runs/tenant-view.js'
import {scorecard, type Scorecard} from '../scorecard/scorecard.js'
import type {Thresholds} from '../scorecard/thresholds.js'
import type {RunInfo, TraceDatabase, TraceStore} from '../store/api.js'
import {tenantExposure} from './exposure.js'
import {currentStages, incidentFreeBlocker} from './history.js'
import {planRollout, type RolloutPlan, type TenantInput} from './plan.js'

/**
 * A run's summary, golden rates and scorecard: what `understudy scorecard` and `report` show, the
 * summary read through src/runs and scored here.
 */
export async function scoreRun(
  store: TraceStore,
  runId: string,
  thresholds: Thresholds,
  options: MapRunOptions = {},
): Promise<RunSummaryWithGolden & {card: Scorecard}> {
  const read = await runSummary(store, findRun(store, runId), options)
  return {...read, card: scorecard(read.summary, thresholds, read.golden)}
}

/**
 * The cards `rollout plan` decides on: the whole run's and each tenant's (tenants sorted, as
 * runTenants gives them). Scored through scoreRun, golden expectations included, so the plan is
 * never greener than what `understudy scorecard` and `report` show for the same run or tenant.
 */
export async function scoreRunForPlan(store: TraceStore, runId: string, thresholds: Thresholds): Promise<{overall: Scorecard; tenants: TenantInput[]}> {
  const overall = (await scoreRun(store, runId, thresholds)).card
  const tenants: TenantInput[] = []
  for (const t of runTenants(store, runId)) {
    const {card} = await scoreRun(tenantView(store, t.tenant), runId, thresholds)
    tenants.push({...t, card})
  }
  return {overall, tenants}
}

/** `rollout plan`: each tenant's recommended next stage for the run's candidate, from its cards and the bundle history. */
export async function planRunRollout(
  store: TraceDatabase,
  run: RunInfo,
  opts: {thresholds: Thresholds; minRequests: number; incidentFreeWindow?: {ms: number; label: string; nowMs: number}},
): Promise<RolloutPlan> {
  const {overall, tenants} = await scoreRunForPlan(store, run.id, opts.thresholds)
  const history = store.listBundleHistory()
  const current = currentStages(history, tenants.map((t) => t.tenant), run.candidate_hash)
  const w = opts.incidentFreeWindow
  const fullBlockers =
    w === undefined
      ? undefined
      : Object.fromEntries(tenants.map((t) => [t.tenant, incidentFreeBlocker(history, t.tenant, run.candidate_hash, w.nowMs, w.ms, w.label)]))
  const manifest = storedCandidate(store, run)
  const exposures = manifest === null ? undefined : Object.fromEntries(tenants.map((t) => [t.tenant, tenantExposure(manifest, t.tenant)]))
  const plan = planRollout({overall, tenants, current, minRequests: opts.minRequests, ...(fullBlockers ? {fullBlockers} : {}), ...(exposures ? {exposures} : {})})
  return manifest === null ? {...plan, note: `the candidate bundle ${run.candidate_ref} is not in the store: no exposure per tenant, every tenant one stage at a time`} : plan
}

/** The candidate's manifest as the run stored it; null when the store never recorded it (a run written by hand). */
function storedCandidate(store: TraceDatabase, run: RunInfo): BundleManifest | null {
  const record = store.getBundle(run.candidate_hash)
  const parsed = record === undefined ? null : BundleManifest.safeParse(record.manifest)
  return parsed?.success ? parsed.data : null
}
