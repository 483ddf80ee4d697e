import {describe, expect, it} from 'vitest'
import {compareTraces, groupByRequest} from '../../src/runs/group.js'
import {baseSideOf} from '../../src/diff/compare.js'
import {percentile, SummaryBuilder, summarizeRun} from '../../src/runs/summary.js'
import {summaryTask, type SummaryTaskTotal} from '../../src/runs/summary-task.js'
import type {TraceFilter} from '../../src/store/api.js'
import {baseTrace, recordedRun, toolCall, trace} from '../factories/index.js'
import {MemoryStore} from './memory-store.js'
import {smallRun} from './small-run.js'

describe('summarizeRun', () => {
  const {store, runId} = smallRun()
  const s = summarizeRun(store, runId.slice(0, 5))

  it('counts requests per class and the ones not compared', () => {
    expect(s.requests).toMatchObject({total: 8, compared: 7, missing_cand: 1, missing_base: 0})
    expect(s.classes).toEqual({same: 1, benign: 1, behaviour_change: 0, regression: 4, improvement: 1})
    expect(s.regressions.ids).toEqual(['r-deny', 'r-inject-bad', 'r-steps', 'r-idem'])
    expect(s.improvements.ids).toEqual(['r-inject-ok'])
  })

  it('keeps the regressions diffs, with the answer word diff filled in', () => {
    const deny = s.regressions.diffs.find((d) => d.diff.request_id === 'r-deny')!
    expect(deny.classification.reasons.map((r) => r.code)).toEqual(expect.arrayContaining(['new_denial', 'status_worse']))
    expect(deny.diff.answer.parts!.some((p) => p.added)).toBe(true)
  })

  it('leaves the word diffs to the end: a part of the run hands its regressions over without them', () => {
    const run = store.getRun(runId)!
    const builder = new SummaryBuilder(run, baseSideOf(run))
    for (const r of compareTraces(store.iterateTraces(run.id), baseSideOf(run), {answerParts: false})) builder.add(r)
    const partial = builder.partial()
    expect(partial.regressions.diffs.map((d) => d.diff.request_id)).toEqual(s.regressions.ids)
    expect(partial.regressions.diffs.every((d) => d.diff.answer.parts === undefined)).toBe(true)
    const whole = new SummaryBuilder(run, baseSideOf(run))
    whole.absorb(partial)
    expect(whole.finish()).toEqual(s)
  })

  it('lists policy decision deltas with reason codes', () => {
    expect(s.policy_deltas).toEqual(
      expect.arrayContaining([
        {stage: 'mid_run', tool: 'issue_refund', from: 'allow', from_reason: 'POLICY_DEFAULT', to: 'deny', to_reason: 'REFUND_OVER_LIMIT', count: 1},
        {stage: 'mid_run', tool: 'send_email', from: 'allow', from_reason: 'POLICY_DEFAULT', to: 'deny', to_reason: 'UNTRUSTED_INSTRUCTION', count: 1},
      ]),
    )
  })

  it('ranks the tools that changed', () => {
    const names = s.top_changed_tools.map((t) => t.tool)
    expect(names).toEqual(expect.arrayContaining(['issue_refund', 'send_email', 'lookup_order']))
    expect(s.top_changed_tools.find((t) => t.tool === 'issue_refund')!.requests).toBe(2)
  })

  it('aggregates budgets, tool errors, tokens and latency per side', () => {
    expect(s.budget_hits).toEqual([{budget: 'max_steps', base: 0, cand: 1}])
    const lookupErrors = s.tool_errors.find((t) => t.tool === 'lookup_order')!
    expect(lookupErrors).toEqual({tool: 'lookup_order', base: {calls: 2, errors: 0}, cand: {calls: 2, errors: 1}})
    // executed candidate calls: lookup x2, email x1, refund x2 (the partial write and its retry)
    expect(s.sides.cand.tool_errors).toEqual({calls: 5, errors: 2, rate: 0.4})
    expect(s.sides.base.requests).toBe(8)
    expect(s.sides.cand.requests).toBe(7)
    expect(s.sides.cand.means.tokens).toBe(150)
    // base latencies 100..700 and 1000 (the missing request's default): nearest rank
    expect(s.latency.base.p50).toBe(400)
    expect(s.latency.cand.p95).toBe(1200)
    expect(s.latency.delta_p95).toBe(s.latency.cand.p95 - s.latency.base.p95)
  })

  it('reports injection requests and whether a disallowed call executed', () => {
    expect(s.injection.requests).toBe(2)
    expect(s.injection.cand_disallowed_executed).toBe(1)
    expect(s.injection.base_disallowed_executed).toBe(1)
    expect(s.injection.listed.find((i) => i.request_id === 'r-inject-bad')!.cand_disallowed).toEqual(['send_email'])
  })

  it('finds an idempotency key executed twice, within a request or across requests', () => {
    // candidate: the partial write and its retry in r-idem both executed
    expect(s.idempotency.cand).toBe(1)
    expect(s.idempotency.listed).toContainEqual({request_id: 'r-idem', line: 7, side: 'candidate', key: 'refund-O1', tool: 'issue_refund', count: 2})
    // base: r-idem executed the key r-deny had already executed
    expect(s.idempotency.base).toBe(1)
    expect(s.idempotency.listed).toContainEqual({request_id: 'r-idem', line: 7, side: 'recorded', key: 'refund-O1', tool: 'issue_refund', count: 2})
  })

  it('does not count a write retried after an error answer as an idempotency violation', () => {
    const key = 'refund-err'
    const refund = (over: Record<string, unknown>) => ({...toolCall('issue_refund', {order_id: 'O9'}, {risk: 'write_high', idempotency_key: key}), ...over})
    const traces = [
      baseTrace({request_id: 'r-err', line: 1, tool_calls: [refund({})]}),
      trace({request_id: 'r-err', line: 1, tool_calls: [refund({outcome: 'error', error: 'server_error', result: null}), refund({attempt: 2, seq: 1})]}),
    ]
    const store = new MemoryStore()
    const run = store.createRun(recordedRun())
    store.writeTraces(run.id, traces)
    const summary = summarizeRun(store, run.id)
    expect(summary.idempotency.cand).toBe(0)
    expect(summary.idempotency.base).toBe(0)
  })

  it('checks idempotency keys over the whole run when it is summarised in parts and absorbed in order', () => {
    const write = (key: string, over: Record<string, unknown> = {}) => ({...toolCall('issue_refund', {order_id: key}, {risk: 'write_high', idempotency_key: key}), ...over})
    const lines: [string, string[], string[]][] = [
      ['a', ['k1'], ['k1']],
      ['b', ['k2', 'k3'], ['k2', 'k2', 'k3']],
      ['c', [], ['k1', 'k4']],
      // Part two from here: keys first executed in part one by other requests (violations) and by the
      // same request id on another line (not one), a key the base side first executes here (not one).
      ['d', ['k2'], ['k4', 'k5', 'k5']],
      ['a', ['k1'], ['k1', 'k6']],
      ['e', [], []],
      ['f', ['k6'], ['k6']],
    ]
    const traces = lines.flatMap(([id, base, cand], i) => [
      baseTrace({request_id: id, line: i + 1, tool_calls: base.map((k, seq) => write(k, {seq}))}),
      trace({request_id: id, line: i + 1, tool_calls: cand.map((k, seq) => write(k, {seq}))}),
    ])
    const store = new MemoryStore()
    const run = store.createRun(recordedRun())
    store.writeTraces(run.id, traces)
    const one = summarizeRun(store, run.id)
    expect(one.idempotency.base).toBeGreaterThan(0)
    expect(one.idempotency.cand).toBeGreaterThan(2)
    const compared = [...compareTraces(store.iterateTraces(run.id), 'recorded', {answerParts: false})]
    const parts = [compared.slice(0, 3), compared.slice(3)].map((requests) => {
      const part = new SummaryBuilder(run, 'recorded')
      for (const r of requests) part.add(r)
      // As a worker hands it over: cloned.
      return structuredClone(part.partial())
    })
    const whole = new SummaryBuilder(run, 'recorded')
    for (const p of parts) whole.absorb(p)
    expect(whole.finish()).toEqual(one)
    expect(one.idempotency.listed.map((v) => [v.request_id, v.line, v.side, v.key, v.count])).toEqual([
      ['b', 2, 'candidate', 'k2', 2],
      ['c', 3, 'candidate', 'k1', 2],
      ['d', 4, 'recorded', 'k2', 2],
      ['d', 4, 'candidate', 'k4', 2],
      ['d', 4, 'candidate', 'k5', 2],
      ['f', 7, 'candidate', 'k6', 2],
    ])
  })

  it('measures quality and safety', () => {
    expect(s.quality.status_match).toBe(5)
    expect(s.safety.new_denial_requests).toBe(1)
    expect(s.safety.violations_avoided_requests).toBe(1)
    expect(s.sides.base.completed_rate).toBe(1)
    expect(s.sides.cand.completed_rate).toBeCloseTo(5 / 7)
  })

  it('fails with a one-line error for an unknown run', () => {
    expect(() => summarizeRun(store, 'nope')).toThrow(/no run matches "nope"/)
  })
})

describe('streaming', () => {
  it('groups consecutive traces and yields a request before reading the next one', () => {
    const {store, runId} = smallRun()
    const it = compareTraces(store.iterateTraces(runId), 'recorded')
    const first = it.next()
    expect(first.value!.request_id).toBe('r-same')
    // the two traces of request 1 and the first of request 2 (which ends group 1)
    expect(store.yielded).toBe(3)
  })

  it('keeps all repeats of one request in one group', () => {
    const groups = [...groupByRequest([baseTrace({repeat: 0}), baseTrace({repeat: 1}), trace({repeat: 0}), trace({repeat: 1}), trace({request_id: 'r2', line: 2})])]
    expect(groups.map((g) => g.traces.length)).toEqual([4, 1])
  })
})

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const v = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(percentile(v, 50)).toBe(5)
    expect(percentile(v, 95)).toBe(10)
    expect(percentile(new Float64Array(), 50)).toBe(0)
  })
})

describe('summaryTask', () => {
  it('makes the word diffs of its regressions when its range starts the run, and leaves them to the end otherwise', () => {
    const {store, runId} = smallRun()
    const run = store.getRun(runId)!
    const partOf = (range: TraceFilter) => {
      const task = summaryTask({run}, range)
      for (const g of groupByRequest(store.iterateTraces(run.id))) task.map(g)
      return (task.finish() as SummaryTaskTotal).summary.regressions.diffs
    }
    const first = partOf({toLine: 100})
    const later = partOf({fromLine: 1})
    expect(first.length).toBeGreaterThan(0)
    expect(first.some((d) => d.diff.answer.changed)).toBe(true)
    expect(first.every((d) => !d.diff.answer.changed || d.diff.answer.parts !== undefined)).toBe(true)
    expect(later.every((d) => d.diff.answer.parts === undefined)).toBe(true)
  })
})
