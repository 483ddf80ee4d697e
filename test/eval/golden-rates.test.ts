import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
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
import {decision, replayed, toolCall, trace, trafficRecord, writeRun} from '../factories/index.js'

/**
 * A run against a baseline bundle (so recorded traces are stored too but judged by nobody), with
 * repeats, a known issue, a line without expectations and a malformed line, each trace stored with
 * its record's expectations as the replay stores them.
 */
function goldenStore(): {db: string; traffic: string; runId: string} {
  const dir = mkdtempSync(path.join(tmpdir(), 'understudy-golden-rates-'))
  const traffic = path.join(dir, 'traffic.jsonl')
  const db = path.join(dir, 'u.db')
  const records = new Map([
    ['a', trafficRecord({id: 'a', expect: {tools: ['lookup_order']}})],
    ['b', trafficRecord({id: 'b', expect: {answer_contains: ['refund']}, labels: {known_issue: 'BUG-1'}})],
    ['c', trafficRecord({id: 'c'})],
    ['e', trafficRecord({id: 'e', expect: {decision: 'deny'}})],
    ['f', trafficRecord({id: 'f', expect: {forbidden_tools: ['send_email']}})],
    ['g', trafficRecord({id: 'g', expect: {decision: 'deny'}})],
  ])
  const lines = [...records.values()].map((r) => JSON.stringify(r))
  // Line 4 does not validate: the run replayed nothing from it, so its traces carry no expectations.
  lines.splice(3, 0, JSON.stringify({...trafficRecord({id: 'd'}), expect: {tools: 'lookup_order'}}))
  writeFileSync(traffic, lines.join('\n') + '\n')
  const lookup = toolCall('lookup_order', {order_id: 'ORD-1'})
  const email = toolCall('send_email', {to: 'x@example.com'}, {risk: 'write_low'})
  const deny = decision('mid_run', 'issue_refund', 'deny', 'RBAC_ROLE_NOT_ALLOWED')
  const traces: RequestTrace[] = []
  const add = (request_id: string, line: number, spec: {base?: Partial<RequestTrace>; cand?: Partial<RequestTrace>; cand1?: Partial<RequestTrace>}): void => {
    const r = records.get(request_id)
    const stored = (t: RequestTrace): RequestTrace => (r === undefined ? t : replayed(r, t))
    traces.push(stored(trace({request_id, line, side: 'recorded'})))
    traces.push(stored(trace({request_id, line, side: 'baseline', ...spec.base})))
    traces.push(stored(trace({request_id, line, side: 'candidate', ...spec.cand})))
    if (spec.cand1) traces.push(stored(trace({request_id, line, side: 'candidate', repeat: 1, ...spec.cand1})))
  }
  add('a', 1, {cand: {tool_calls: [lookup]}})
  add('b', 2, {base: {final_answer: 'refund issued'}})
  add('c', 3, {})
  add('d', 4, {})
  add('e', 5, {cand: {policy_decisions: [deny]}})
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
      const rates = goldenRates(store, run)
      // Judged: a, e, f, g (b is a known issue; c has no expect; d was malformed).
      // Candidate: a, e and g pass, f fails on its second repeat. Baseline: g passes, a, e and f fail.
      expect(rates).toEqual({cand: 3 / 4, base: 1 / 4})
      expect(rates).toEqual({cand: await alone('candidate'), base: await alone('baseline')})

      const {card} = await scoreRun(store, runId, DEFAULT_THRESHOLDS)
      const quality = card.dimensions.find((d) => d.name === 'quality')!
      expect(quality.metrics.find((m) => m.name === 'golden_pass_rate')).toMatchObject({value: 3 / 4, base: 1 / 4, cand: 3 / 4})
      expect(quality.metrics.find((m) => m.name === 'golden_pass_rate_drop')?.value).toBeCloseTo(1 / 4 - 3 / 4)
    } finally {
      store.close()
    }
  })

  it('judges the expectations stored with the traces, whatever became of the traffic file', async () => {
    const {db, traffic, runId} = goldenStore()
    const store = openStore(db, {readonly: true})
    try {
      const run = store.getRun(runId)!
      const judged = async () => ({
        rates: goldenRates(store, run),
        eval: await evaluateRun(store, run, null, {suites: ['golden']}),
        card: (await scoreRun(store, runId, DEFAULT_THRESHOLDS)).card,
      })
      const before = await judged()
      expect(before.rates).toEqual({cand: 3 / 4, base: 1 / 4})
      expect(before.eval).toMatchObject({evaluated: 7, unmatched: 0, skipped: 0})
      expect(before.card.dimensions.find((d) => d.name === 'quality')!.metrics.map((m) => m.name)).toContain('golden_pass_rate')
      // Every expectation dropped from the file, then the file gone: the same scores.
      writeFileSync(traffic, JSON.stringify(trafficRecord({id: 'a'})) + '\n')
      expect(await judged()).toEqual(before)
      rmSync(traffic)
      expect(await judged()).toEqual(before)
    } finally {
      store.close()
    }
  })
})
