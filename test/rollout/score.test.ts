import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {summarizeRun} from '../../src/runs/summary.js'
import {planRollout} from '../../src/rollout/plan.js'
import {scoreRun, scoreRunForPlan} from '../../src/rollout/score.js'
import {tenantView} from '../../src/runs/tenant-view.js'
import {scorecard, type Scorecard} from '../../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS} from '../../src/scorecard/thresholds.js'
import {openStore} from '../../src/store/sqlite.js'
import {goldenFailingRun} from './golden-failing-run.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-rollout-score-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const colourOf = (card: Scorecard, name: string) => card.dimensions.find((d) => d.name === name)!.colour
const goldenRate = (card: Scorecard) =>
  card.dimensions.find((d) => d.name === 'quality')!.metrics.find((m) => m.name === 'golden_pass_rate')?.value

/** The candidate here equals the recording, so golden failures redden only with an absolute floor (issue #15). */
const FLOOR = {...DEFAULT_THRESHOLDS, quality: {...DEFAULT_THRESHOLDS.quality, golden_pass_rate: {amber: 0.95, red: 0.9}}}

describe('scoreRunForPlan', () => {
  it('an unchanged candidate is green on the default thresholds whatever its golden pass rate', async () => {
    const {db, runId} = goldenFailingRun(dir)
    const store = openStore(db, {readonly: true})
    try {
      const {overall} = await scoreRunForPlan(store, runId, DEFAULT_THRESHOLDS)
      expect(overall.colour).toBe('green')
      expect(goldenRate(overall)).toBe(0.5)
    } finally {
      store.close()
    }
  })

  it('scores the run and each tenant with the golden pass rates and an absolute floor, as `understudy scorecard` does', async () => {
    const {db, runId} = goldenFailingRun(dir)
    const store = openStore(db, {readonly: true})
    try {
      // Without the golden rates (how the plan used to score) this run looks all green.
      expect(scorecard(summarizeRun(store, runId), DEFAULT_THRESHOLDS).colour).toBe('green')
      expect(scorecard(summarizeRun(tenantView(store, 'acme'), runId), DEFAULT_THRESHOLDS).colour).toBe('green')

      const {overall, tenants} = await scoreRunForPlan(store, runId, FLOOR)
      expect(overall).toEqual((await scoreRun(store, runId, FLOOR)).card)
      expect(colourOf(overall, 'quality')).toBe('red')
      expect(goldenRate(overall)).toBe(0.5)

      expect(tenants.map((t) => [t.tenant, t.requests])).toEqual([
        ['acme', 2],
        ['globex', 2],
      ])
      for (const t of tenants) expect(t.card).toEqual((await scoreRun(tenantView(store, t.tenant), runId, FLOOR)).card)
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

  it('scores a run whose traffic file is gone the same, from the expectations stored with its traces', async () => {
    const {db, runId} = goldenFailingRun(dir)
    const score = async () => {
      const store = openStore(db, {readonly: true})
      try {
        return await scoreRunForPlan(store, runId, DEFAULT_THRESHOLDS)
      } finally {
        store.close()
      }
    }
    const before = await score()
    rmSync(path.join(dir, 'traffic.jsonl'))
    expect(await score()).toEqual(before)
    expect(goldenRate(before.overall)).toBe(0.5)
  })
})
