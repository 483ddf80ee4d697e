import type {RolloutPlan} from './plan.js'
import {describeStage} from './stages.js'

export function renderPlan(bundleRef: string, plan: RolloutPlan): string[] {
  const out = [`Rollout plan for ${bundleRef} (run ${plan.run_id}, overall ${plan.colour})`, plan.summary, '']
  for (const b of plan.blockers) out.push(`  blocker: ${b}`)
  for (const t of plan.tenants) {
    out.push(`${t.tenant} (${t.requests} requests, ${t.colour}): ${describeStage(t.current)} → ${describeStage(t.recommended)}  [${t.action}]`)
    for (const b of t.blockers) out.push(`  blocker: ${b}`)
  }
  return out
}
