import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {goldenPassRate} from '../../src/eval/evaluate.js'
import {goldenRates} from '../../src/runs/golden-rates.js'
import {evaluateRun} from '../../src/runs/evaluate.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {scoreRun} from '../../src/rollout/score.js'
import {DEFAULT_THRESHOLDS} from '../../src/scorecard/thresholds.js'
import {openStore} from '../../src/store/sqlite.js'
import {decision, toolCall, trace, trafficRecord, writeRun} from '../factories/index.js'

/**
 * A run against a baseline bundle (so recorded traces are stored too but judged by nobody), with
 * repeats, a known issue, a line without expectations, a malformed line and a line edited since.
 */
function goldenStore(): {db: string; traffic: string; runId: string} {
  const dir = mkdtempSync(path.join(tmpdir(), 'understudy-golden-rates-'))
  const traffic = path.join(dir, 'traffic.jsonl')
  const db = path.join(dir, 'u.db')
  const lines = [
    JSON.stringify(trafficRecord({id: 'a', expect: {tools: ['lookup_order']}})),
    JSON.stringify(trafficRecord({id: 'b', expect: {answer_contains: ['refund']}, labels: {known_issue: 'BUG-1'}})),
    JSON.stringify(trafficRecord({id: 'c'})),
    JSON.stringify({...trafficRecord({id: 'd'}), expect: {tools: 'lookup_order'}}),
    JSON.stringify(trafficRecord({id: 'e-edited', expect: {decision: 'deny'}})),
    JSON.stringify(trafficRecord({id: 'f', expect: {forbidden_tools: ['send_email']}})),
    JSON.stringify(trafficRecord({id: 'g', expect: {decision: 'deny'}})),
  ]
  writeFileSync(traffic, lines.join('\n') + '\n')
  const lookup = toolCall('lookup_order', {order_id: 'ORD-1'})
  const email = toolCall('send_email', {to: 'x@example.com'}, {risk: 'write_low'})
  const deny = decision('mid_run', 'issue_refund', 'deny', 'RBAC_ROLE_NOT_ALLOWED')
  const traces: RequestTrace[] = []
  const add = (request_id: string, line: number, spec: {base?: Partial<RequestTrace>; cand?: Partial<RequestTrace>; cand1?: Partial<RequestTrace>}): void => {
    traces.push(trace({request_id, line, side: 'recorded'}))
    traces.push(trace({request_id, line, side: 'baseline', ...spec.base}))
    traces.push(trace({request_id, line, side: 'candidate', ...spec.cand}))
    if (spec.cand1) traces.push(trace({request_id, line, side: 'candidate', repeat: 1, ...spec.cand1}))
  }
  add('a', 1, {cand: {tool_calls: [lookup]}})
  add('b', 2, {base: {final_answer: 'refund issued'}})
  add('c', 3, {})
  add('d', 4, {})
  add('e', 5, {})
  add('f', 6, {base: {tool_calls: [email]}, cand1: {tool_calls: [email]}})
  add('g', 7, {base: {policy_decisions: [deny]}, cand: {policy_decisions: [deny]}})
  const run = writeRun(db, traces, {
    run: {
      name: 'golden rates',
      candidate_ref: 'support-refunds@2.0.0#0123456789ab',
      candidate_hash: '0'.repeat(64),
      baseline_ref: 'support-refunds@1.0.0#ba5e00000000',
      baseline_hash: '1'.repeat(64),
      traffic_file: traffic,
      model: 'scripted:support-agent',
      repeat: 2,
      seed: 1,
    },
  })
  return {db, traffic, runId: run.id}
}

describe('goldenRates', () => {
  it('gives each side the pass rate evaluateRun gives it alone, from one pass', async () => {
    const {db, traffic, runId} = goldenStore()
    const store = openStore(db, {readonly: true})
    try {
      const run = store.getRun(runId)!
      const alone = async (side: 'candidate' | 'baseline'): Promise<number | null> =>
        goldenPassRate(await evaluateRun(store, run, traffic, {suites: ['golden']}, side))
      const rates = await goldenRates(store, run)
      // Judged: a, f, g (b is a known issue; c has no expect; d is malformed; e was edited).
      // Candidate: a and g pass, f fails on its second repeat. Baseline: g passes, a and f fail.
      expect(rates).toEqual({cand: 2 / 3, base: 1 / 3})
      expect(rates).toEqual({cand: await alone('candidate'), base: await alone('baseline')})

      const {card} = await scoreRun(store, runId, DEFAULT_THRESHOLDS)
      const quality = card.dimensions.find((d) => d.name === 'quality')!
      expect(quality.metrics.find((m) => m.name === 'golden_pass_rate')).toMatchObject({value: 2 / 3, base: 1 / 3, cand: 2 / 3})
      expect(quality.metrics.find((m) => m.name === 'golden_pass_rate_drop')?.value).toBeCloseTo(1 / 3 - 2 / 3)
    } finally {
      store.close()
    }
  })

  it('is null for both sides when the traffic file is gone', async () => {
    const {db, runId} = goldenStore()
    const store = openStore(db, {readonly: true})
    try {
      const run = {...store.getRun(runId)!, traffic_file: path.join(tmpdir(), 'understudy-no-such-traffic.jsonl')}
      expect(await goldenRates(store, run)).toEqual({base: null, cand: null})
    } finally {
      store.close()
    }
  })
})
