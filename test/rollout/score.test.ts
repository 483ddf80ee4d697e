import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {summarizeRun} from '../../src/runs/summary.js'
import {planRollout} from '../../src/rollout/plan.js'
import {scoreRun, scoreRunForPlan} from '../../src/rollout/score.js'
import {tenantView} from '../../src/runs/tenant-view.js'
import type {RequestTrace} from '../../src/runtime/trace.js'
import {scorecard, type Scorecard} from '../../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS} from '../../src/scorecard/thresholds.js'
import {openStore} from '../../src/store/sqlite.js'
import {trace} from '../diff/trace-builder.js'
import {record} from '../eval/fixtures.js'
import {runCli} from '../helpers/cli.js'
import {newRun} from '../store/fixtures.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-rollout-score-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

/**
 * A run whose candidate matches the recorded traffic exactly (so safety, reliability, cost and the
 * summary's quality metrics are all green) but fails acme's golden expectations: acme's requests
 * expect a refund the answer never mentions, globex's expect the "shipped" it does mention.
 */
function goldenFailingRun(): {db: string; runId: string} {
  const traffic = path.join(dir, 'traffic.jsonl')
  const db = path.join(dir, 'u.db')
  const requests = [
    {id: 'a1', tenant: 'acme', expect: {answer_contains: ['refund']}},
    {id: 'g1', tenant: 'globex', expect: {answer_contains: ['shipped']}},
    {id: 'a2', tenant: 'acme', expect: {answer_contains: ['refund']}},
    {id: 'g2', tenant: 'globex', expect: {answer_contains: ['shipped']}},
  ]
  writeFileSync(traffic, requests.map((r) => JSON.stringify(record(r))).join('\n') + '\n')
  const traces: RequestTrace[] = requests.flatMap((r, i) => [
    trace({request_id: r.id, line: i + 1, tenant: r.tenant, side: 'recorded'}),
    trace({request_id: r.id, line: i + 1, tenant: r.tenant, side: 'candidate'}),
  ])
  const store = openStore(db)
  try {
    const run = store.createRun(newRun({name: 'golden plan', baseline_ref: 'recorded', baseline_hash: null, traffic_file: traffic, repeat: 1, faults: null, config: {}}))
    store.writeTraces(run.id, traces)
    store.finishRun(run.id, 'completed')
    return {db, runId: run.id}
  } finally {
    store.close()
  }
}

const colourOf = (card: Scorecard, name: string) => card.dimensions.find((d) => d.name === name)!.colour
const goldenRate = (card: Scorecard) =>
  card.dimensions.find((d) => d.name === 'quality')!.metrics.find((m) => m.name === 'golden_pass_rate')?.value

describe('scoreRunForPlan', () => {
  it('scores the run and each tenant with the golden pass rates, as `understudy scorecard` does', async () => {
    const {db, runId} = goldenFailingRun()
    const store = openStore(db, {readonly: true})
    try {
      // Without the golden rates (how the plan used to score) this run looks all green.
      expect(scorecard(summarizeRun(store, runId), DEFAULT_THRESHOLDS).colour).toBe('green')
      expect(scorecard(summarizeRun(tenantView(store, 'acme'), runId), DEFAULT_THRESHOLDS).colour).toBe('green')

      const {overall, tenants} = await scoreRunForPlan(store, runId, DEFAULT_THRESHOLDS)
      expect(overall).toEqual((await scoreRun(store, runId, DEFAULT_THRESHOLDS)).card)
      expect(colourOf(overall, 'quality')).toBe('red')
      expect(goldenRate(overall)).toBe(0.5)

      expect(tenants.map((t) => [t.tenant, t.requests])).toEqual([
        ['acme', 2],
        ['globex', 2],
      ])
      for (const t of tenants) expect(t.card).toEqual((await scoreRun(tenantView(store, t.tenant), runId, DEFAULT_THRESHOLDS)).card)
      expect([colourOf(tenants[0]!.card, 'quality'), goldenRate(tenants[0]!.card)]).toEqual(['red', 0])
      expect([tenants[1]!.card.colour, goldenRate(tenants[1]!.card)]).toEqual(['green', 1])

      // So the plan keeps acme in shadow on its golden failures and lets globex go to canary.
      const plan = planRollout({overall, tenants, current: {}})
      expect(plan.strategy).toBe('per-tenant-canary')
      expect(plan.tenants.map((t) => [t.tenant, t.colour, t.recommended])).toEqual([
        ['acme', 'red', 'shadow'],
        ['globex', 'green', 'canary-1'],
      ])
      expect(plan.tenants[0]!.blockers.join('\n')).toMatch(/^quality: .*golden/)
    } finally {
      store.close()
    }
  })

  it('scores a run whose traffic file is gone as before, without golden rates', async () => {
    const {db, runId} = goldenFailingRun()
    rmSync(path.join(dir, 'traffic.jsonl'))
    const store = openStore(db, {readonly: true})
    try {
      const {overall, tenants} = await scoreRunForPlan(store, runId, DEFAULT_THRESHOLDS)
      expect(overall).toEqual(scorecard(summarizeRun(store, runId), DEFAULT_THRESHOLDS))
      expect(tenants.map((t) => t.card.colour)).toEqual(['green', 'green'])
    } finally {
      store.close()
    }
  })
})

describe('understudy rollout plan', () => {
  it('shows the same Quality colour as `understudy scorecard` for the run', async () => {
    const {db, runId} = goldenFailingRun()
    const json = async (args: string[]) => JSON.parse((await runCli([...args, '--db', db, '--json'], {cwd: dir})).stdout)
    const card = await json(['scorecard', runId])
    const plan = await json(['rollout', 'plan', runId])
    expect(card.colour).toBe('red')
    expect(plan.colour).toBe(card.colour)
    expect(plan.tenants.map((t: {tenant: string; colour: string}) => [t.tenant, t.colour])).toEqual([
      ['acme', 'red'],
      ['globex', 'green'],
    ])
  }, 60_000)
})
