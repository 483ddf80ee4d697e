import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {runCli} from '../helpers/cli.js'
import {goldenFailingRun} from '../rollout/golden-failing-run.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-rollout-plan-cli-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

describe('understudy rollout plan', () => {
  it('shows the same Quality colour as `understudy scorecard` for the run', async () => {
    const {db, runId} = goldenFailingRun(dir)
    // The candidate equals the recording: golden failures redden only under an absolute floor (#15).
    const floor = path.join(dir, 'floor.yaml')
    writeFileSync(floor, 'quality:\n  golden_pass_rate: {amber: 0.95, red: 0.9}\n')
    const json = async (args: string[]) => JSON.parse((await runCli([...args, '--db', db, '--thresholds', floor, '--json'], {cwd: dir})).stdout)
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
