import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * A shadow run stores each request's golden expectations with its traces, so what `report`,
 * `scorecard`, `eval --suite golden` and `rollout plan` say of the run does not depend on the
 * traffic file once the replay is done: the same bytes with the file as replayed, edited, or gone.
 */

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const LINES = 150

let dir: string
let db: string
let traffic: string
let runId: string

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-stored-golden-'))
  db = path.join(dir, 'u.db')
  traffic = path.join(dir, 'traffic.jsonl')
  const lines = readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').slice(0, LINES)
  writeFileSync(traffic, lines.join('\n') + '\n')
  const r = await runCli(['shadow', traffic, '--scenario', scenario, '--baseline', 'recorded', '--db', db, '--json'], {cwd: dir})
  expect(r.code, r.stderr).toBe(0)
  runId = JSON.parse(r.stdout).run.id
}, 120_000)

afterAll(() => rmSync(dir, {recursive: true, force: true}))

async function outputs(): Promise<string[]> {
  const out: string[] = []
  for (const args of [
    ['report', runId, '--format', 'json'],
    ['report', runId, '--format', 'md'],
    ['scorecard', runId, '--json'],
    ['eval', runId, '--suite', 'golden', '--json'],
    ['rollout', 'plan', runId, '--json'],
  ]) {
    const r = await runCli([...args, '--db', db], {cwd: dir})
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    out.push(r.stdout)
  }
  return out
}

describe('golden expectations stored with the run', () => {
  it('report, scorecard, eval --suite golden and rollout plan say the same once the traffic file is edited or gone', async () => {
    const before = await outputs()
    // The test means something only if the run's requests carried expectations that were judged.
    const golden = JSON.parse(before[3]!).results.golden
    expect(golden.applicable).toBeGreaterThan(20)
    expect(golden.failed).toBeGreaterThan(0)
    expect(before[2]).toContain('golden_pass_rate')

    // Every expectation dropped and the requests reordered: nothing of it may reach the scores.
    const edited = readFileSync(traffic, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => {
        const record = JSON.parse(l) as Record<string, unknown>
        delete record.expect
        return JSON.stringify(record)
      })
    writeFileSync(traffic, edited.reverse().join('\n') + '\n')
    expect(await outputs()).toEqual(before)

    rmSync(traffic)
    expect(await outputs()).toEqual(before)
  }, 120_000)
})
