import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {repoRoot} from '../helpers/cli.js'
import {replayScenario} from '../helpers/scenario-replay.js'

/**
 * plan_first on shipped scenarios, in process, with the scripted model and its skills: the planning
 * call offers no tools, so the skills plan from the tool catalog in the prompt; a departure from
 * the plan is followed by a new plan while agent.max_replans allows (#18).
 */

const count = (traces: RequestTrace[], status: RequestTrace['status']) => traces.filter((t) => t.status === status).length

describe('plan_first with replanning on shipped scenarios', () => {
  const support = path.join(repoRoot, 'scenarios', 'support-refunds')

  it('support-refunds v2-plan-first ends fewer than 1% of requests budget_exceeded; without replanning it does not', async () => {
    const bundle = await loadBundle(path.join(support, 'v2-plan-first'))
    expect(bundle.manifest.agent).toEqual({mode: 'plan_first', max_replans: 2})
    const {traces, requests} = await replayScenario(support, bundle)
    expect(traces).toHaveLength(720)
    expect(count(traces, 'budget_exceeded') / traces.length).toBeLessThan(0.01)
    // Every planning call offered no tools; some requests were replanned (a held refund escalated).
    expect(requests.every((r) => r.tools.length === 0)).toBe(true)
    expect(traces.some((t) => t.steps.some((s) => s.detail.includes('replanning (1 of 2)')))).toBe(true)

    // The same bundle without max_replans: every departure is final, and the model's next proposal
    // is refused as not in the plan until the step budget runs out.
    const noReplans = {...bundle, manifest: {...bundle.manifest, agent: {mode: 'plan_first' as const}}}
    const before = await replayScenario(support, noReplans, {limit: 120})
    expect(count(before.traces, 'budget_exceeded') / before.traces.length).toBeGreaterThan(0.05)
  })

  it('enterprise-tickets (another domain) plans from the tool catalog alone', async () => {
    const dir = path.join(repoRoot, 'scenarios', 'enterprise-tickets')
    const v1 = await loadBundle(path.join(dir, 'v1'))
    const bundle = {...v1, manifest: {...v1.manifest, agent: {mode: 'plan_first' as const, max_replans: 2}}}
    const {traces, requests, answers} = await replayScenario(dir, bundle, {limit: 120})
    expect(requests.every((r) => r.tools.length === 0)).toBe(true)
    // The skill recognised its tools from the catalog alone: plans name them.
    const planned = answers.filter((a) => (JSON.parse(a.message.content) as {plan: unknown[]}).plan.length > 0)
    expect(planned.length).toBeGreaterThan(traces.length / 2)
    expect(count(traces, 'budget_exceeded')).toBe(0)
    expect(count(traces, 'failed')).toBe(0)
  })
})
