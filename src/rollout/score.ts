import {scorecardForRun} from '../scorecard/for-run.js'
import type {Scorecard} from '../scorecard/scorecard.js'
import type {Thresholds} from '../scorecard/thresholds.js'
import type {TraceStore} from '../store/api.js'
import type {TenantInput} from './plan.js'
import {runTenants, tenantView} from './tenant-view.js'

/**
 * The cards `rollout plan` decides on: the whole run's and each tenant's (tenants sorted, as
 * runTenants gives them). Scored through scorecardForRun, golden expectations included, so the plan
 * is never greener than what `understudy scorecard` and `report` show for the same run or tenant.
 */
export async function scoreRunForPlan(store: TraceStore, runId: string, thresholds: Thresholds): Promise<{overall: Scorecard; tenants: TenantInput[]}> {
  const overall = (await scorecardForRun(store, runId, thresholds)).card
  const tenants: TenantInput[] = []
  // One tenant at a time: each reads the run's traffic file through its own cursor.
  for (const t of runTenants(store, runId)) {
    const {card} = await scorecardForRun(tenantView(store, t.tenant), runId, thresholds)
    tenants.push({...t, card})
  }
  return {overall, tenants}
}
