import type {HistoryView} from './history.js'
import type {RolloutPlan} from './plan.js'
import {describeStage} from './stages.js'

export function renderPlan(bundleRef: string, plan: RolloutPlan): string[] {
  const out = [`Rollout plan for ${bundleRef} (run ${plan.run_id}, overall ${plan.colour})`, plan.summary, '']
  for (const b of plan.blockers) out.push(`  blocker: ${b}`)
  if (plan.note !== undefined) out.push(`  note: ${plan.note}`)
  for (const t of plan.tenants) {
    out.push(`${t.tenant} (${t.requests} requests, ${t.colour}): ${describeStage(t.current)} → ${describeStage(t.recommended)}  [${t.action}]`)
    if (t.exposure !== undefined) out.push(`  exposure: ${t.exposure.rule}`)
    for (const b of t.blockers) out.push(`  blocker: ${b}`)
  }
  return out
}

/** The bundle history, oldest first, then the last known good (for `tenant` when given). */
export function renderHistory(view: HistoryView, tenant?: string): string[] {
  const out: string[] = []
  if (view.history.length === 0) out.push('no bundle history yet')
  for (const e of view.history) {
    const what = e.stage === 'bad' ? 'marked BAD' : `→ ${e.stage}`
    out.push(`${e.promoted_at}  ${e.bundle_ref}  ${what}  (${e.tenant})${e.note ? `  ${e.note}` : ''}`)
  }
  const lkg = view.last_known_good
  if (lkg) out.push(`last known good${tenant ? ` for ${tenant}` : ''}: ${lkg.bundle_ref} (${lkg.stage}, promoted ${lkg.promoted_at})`)
  return out
}
