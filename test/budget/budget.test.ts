import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import type {BundleManifest} from '../../src/bundle/schema.js'
import {checkBudgets} from '../../src/budget/check.js'
import {effectiveBudgets, NOT_SET} from '../../src/budget/effective.js'
import {evaluateTenantQuotas, quotaEvents} from '../../src/budget/quotas.js'
import {simulateBudgets, simulateTrace} from '../../src/budget/simulate.js'
import {distribution, traceUsage} from '../../src/budget/usage.js'
import {fromSteps, loopingTrace, step, toolCall, trace} from '../factories/index.js'

const repo = path.resolve(import.meta.dirname, '..', '..')
const manifest = async (): Promise<BundleManifest> => (await loadBundle(path.join(repo, 'scenarios', 'drill-refund-regression', 'good'))).manifest

describe('budget show', () => {
  it('names the manifest field behind every limit, or says it is not set', async () => {
    const m = await manifest()
    const e = effectiveBudgets(m)
    expect(e.request.find((l) => l.name === 'max_steps')).toEqual({name: 'max_steps', value: 8, source: 'budgets.max_steps'})
    const refund = e.tools.find((t) => t.tool === 'issue_refund')!
    expect(refund.limits[0]).toEqual({name: 'max_calls_per_request', value: 3, source: 'tools.1.budget.max_calls_per_request'})
    expect(refund.effective_max_calls_per_request).toBe(3)
    const lookup = e.tools.find((t) => t.tool === 'lookup_order')!
    expect(lookup.limits[0]).toEqual({name: 'max_calls_per_request', value: null, source: NOT_SET})
    // Without its own budget a tool is capped by the request's max_tool_calls.
    expect(lookup.effective_max_calls_per_request).toBe(6)
    const acme = e.tenants.find((t) => t.tenant === 'acme')!
    expect(acme.limits.map((l) => l.source)).toEqual([
      'tenant_quotas.acme.max_requests_per_minute',
      'tenant_quotas.acme.max_tool_calls_per_minute',
      'tenant_quotas.acme.max_tokens_per_minute',
    ])
  })

  it('lists a tenant that has roles but no quota as not set', async () => {
    const m = await manifest()
    const e = effectiveBudgets({...m, tenant_quotas: {acme: {max_requests_per_minute: 5}}})
    const globex = e.tenants.find((t) => t.tenant === 'globex')!
    expect(globex.limits.every((l) => l.value === null && l.source === NOT_SET)).toBe(true)
  })
})

describe('usage as the runtime counts it', () => {
  it('counts model calls as steps, allowed first attempts as tool calls, later attempts as retries', () => {
    const modelCall = (input_tokens: number, output_tokens: number) => step('plan', {input_tokens, output_tokens})
    const steps = [step('retrieve'), modelCall(300, 30), step('act'), step('observe'), step('decide'), modelCall(200, 10), step('finish')]
    const t = trace(fromSteps(steps), {
      tool_calls: [
        toolCall('lookup_order', {}, {step: 2, outcome: 'timeout', executed: false}),
        toolCall('lookup_order', {}, {step: 2, attempt: 2}),
        toolCall('issue_refund', {}, {step: 2, outcome: 'denied', executed: false}),
      ],
    })
    const u = traceUsage(t)
    expect(u).toMatchObject({steps: 2, tool_calls: 1, retries: 1, total_tokens: 540, calls_by_tool: {lookup_order: 1}})
  })

  it('computes nearest-rank percentiles', () => {
    expect(distribution([5, 1, 3, 2, 4])).toEqual({p50: 3, p95: 5, max: 5, mean: 3})
    expect(distribution([])).toEqual({p50: 0, p95: 0, max: 0, mean: 0})
  })
})

describe('budget check', () => {
  it('separates requests that hit a budget from those near it, per tenant', async () => {
    const m = await manifest() // max_tool_calls 6
    const traces = [
      loopingTrace(1, {request_id: 'small', tenant: 'acme'}),
      loopingTrace(5, {request_id: 'near', tenant: 'acme'}),
      loopingTrace(6, {request_id: 'hit', tenant: 'globex', budget_hits: ['max_tool_calls'], status: 'budget_exceeded'}),
    ]
    const r = checkBudgets(traces, m, {near: 0.8})
    const row = (tenant: string) => r.tenants.find((t) => t.tenant === tenant)!.budgets.find((b) => b.budget === 'max_tool_calls')!
    expect(row('acme')).toMatchObject({hit: 0, near: 1, near_ids: ['near']})
    expect(row('globex')).toMatchObject({hit: 1, hit_ids: ['hit'], near: 0})
    expect(r.distribution.tool_calls).toMatchObject({p50: 5, max: 6})
    expect(r.requests).toBe(3)
  })

  it('counts a per-tool budget by calls of that tool', async () => {
    const m = await manifest() // send_email max 2 per request
    const t = loopingTrace(2, {request_id: 'mail'}, 'send_email')
    const r = checkBudgets([t], m, {near: 0.8})
    const row = r.tenants[0]!.budgets.find((b) => b.budget === 'tool:send_email.max_calls_per_request')!
    expect(row).toMatchObject({limit: 2, hit: 0, near: 1})
  })
})

describe('budget simulate', () => {
  const limits = {max_steps: 8, max_tool_calls: 6, max_total_tokens: 100_000, max_retries: 3}

  it('cuts a request at the first tool call over the new limit and lists what would not have run', () => {
    const t = loopingTrace(4, {tool_calls: []})
    const withWrites = trace(fromSteps(t.steps), {
      tool_calls: loopingTrace(4).tool_calls.map((c, i) => (i >= 2 ? {...c, name: 'issue_refund', risk: 'write_high' as const} : c)),
    })
    const r = simulateTrace(withWrites, {...limits, max_tool_calls: 2})
    expect(r.cut).toMatchObject({budget: 'max_tool_calls', tool_call_seq: 2})
    expect(r.lost_actions.map((a) => [a.seq, a.tool])).toEqual([
      [2, 'issue_refund'],
      [3, 'issue_refund'],
    ])
    // The two model calls after the cut (round 4's and the final answer's) never happen either.
    expect(r.saved).toEqual({steps: 2, tool_calls: 2, tokens: 220})
  })

  it('leaves a request inside the limits alone, and reaching a limit exactly is within it', () => {
    expect(simulateTrace(loopingTrace(2), {...limits, max_tool_calls: 2, max_steps: 3}).cut).toBeNull()
    expect(simulateTrace(loopingTrace(2), {...limits, max_steps: 2}).cut).toMatchObject({budget: 'max_steps'})
  })

  it('ends the request after the model call that goes over the token budget', () => {
    const r = simulateTrace(loopingTrace(3), {...limits, max_total_tokens: 150})
    // First model call: 110 tokens; the second takes it to 220 and ends the request before its tool call.
    expect(r.cut).toMatchObject({budget: 'max_total_tokens'})
    expect(r.lost_actions.map((a) => a.seq)).toEqual([1, 2])
  })

  it('refuses a retry past max_retries', () => {
    const modelCall = step('plan', {input_tokens: 100, output_tokens: 20})
    const t = trace(fromSteps([step('retrieve'), modelCall, step('act'), step('observe'), step('decide'), modelCall, step('finish')]), {
      tool_calls: [toolCall('lookup_order', {}, {step: 2, outcome: 'timeout', executed: false}), toolCall('lookup_order', {}, {step: 2, attempt: 2})],
    })
    expect(simulateTrace(t, {...limits, max_retries: 0}).cut).toMatchObject({budget: 'max_retries', tool_call_seq: 1})
    expect(simulateTrace(t, {...limits, max_retries: 1}).cut).toBeNull()
  })

  it('reports runaway requests that stop earlier, and those a looser limit cannot judge without a re-run', () => {
    const runaway = loopingTrace(6, {request_id: 'runaway', status: 'budget_exceeded', budget_hits: ['max_tool_calls']})
    const fine = loopingTrace(1, {request_id: 'fine', line: 2})
    const tight = simulateBudgets([runaway, fine], {...limits, max_tool_calls: 3})
    expect(tight).toMatchObject({requests: 2, cut: 1, runaway: 1, stopped_earlier: 1, needs_rerun: 0})
    expect(tight.changed.map((c) => c.request_id)).toEqual(['runaway'])
    const loose = simulateBudgets([runaway, fine], {...limits, max_tool_calls: 20})
    expect(loose).toMatchObject({cut: 0, needs_rerun: 1, rerun_ids: ['runaway']})
  })
})

describe('tenant quotas', () => {
  it('flags a tenant whose requests in a 60 s window exceed its quota, on the recorded timeline', () => {
    const t0 = Date.parse('2025-07-01T00:00:00Z')
    const traces = [0, 10, 20, 30, 90].map((_s, i) => loopingTrace(1, {request_id: `a${i}`, line: i + 1, tenant: 'acme'}))
    traces.push(loopingTrace(1, {request_id: 'g0', line: 6, tenant: 'globex'}))
    const times = new Map(traces.map((t, i) => [t.request_id, t0 + [0, 10, 20, 30, 90, 5][i]! * 1000]))
    const {events, untimed} = quotaEvents(traces, times)
    expect(untimed).toEqual([])
    const r = evaluateTenantQuotas(events, {acme: {max_requests_per_minute: 3}, globex: {max_requests_per_minute: 3}})
    expect(r.flooding).toEqual(['acme'])
    const acme = r.tenants.find((t) => t.tenant === 'acme')!.rows.find((x) => x.metric === 'max_requests_per_minute')!
    expect(acme).toMatchObject({peak: 4, over_requests: 1, first_over: {request_id: 'a3'}})
    // The window ending at a4 (90 s) starts after 30 s, so a3 is outside it: a4 is not over.
    const tokens = r.tenants.find((t) => t.tenant === 'acme')!.rows.find((x) => x.metric === 'max_tokens_per_minute')!
    expect(tokens.limit).toBeNull()
    expect(tokens.over_requests).toBe(0)
  })

  it('leaves out requests without a timestamp and says so', () => {
    const {events, untimed} = quotaEvents([loopingTrace(1, {request_id: 'x'})], new Map())
    expect(events).toEqual([])
    expect(untimed).toEqual(['x'])
  })
})
