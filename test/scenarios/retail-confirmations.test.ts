import {closeSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import type {Bundle} from '../../src/bundle/schema.js'
import {compareGroup} from '../../src/diff/compare.js'
import {createReplayModel} from '../../src/model/recorded.js'
import {compileBundle, runRequest} from '../../src/runtime/agent.js'
import {RateLimiter} from '../../src/runtime/rate-limit.js'
import {recordedTrace} from '../../src/runtime/recorded.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {loadScenario} from '../../src/scenario/load.js'
import {loadFixtures} from '../../src/tools/fixtures.js'
import {createMockTools} from '../../src/tools/mock-tools.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {TrafficRecord} from '../../src/traffic/schema.js'
import {DEFAULT_COUNT, DEFAULT_SEED, writeTraffic} from '../../scenarios/retail-confirmations/generate.js'
import {replayed} from '../factories/index.js'
import {repoRoot} from '../helpers/cli.js'
import {classCounts, expectedAndActual} from './class-counts.js'

// Multi-turn traffic of the retail-orders shop (τ-bench retail): the customer's yes or no is a
// later user turn. Replayed in-process with the recorded model, turn by turn.

const dir = path.join(repoRoot, 'scenarios', 'retail-confirmations')
const trafficText = readFileSync(path.join(dir, 'traffic.jsonl'), 'utf8')
const records = trafficText
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => TrafficRecord.parse(JSON.parse(l)))
const tmp = mkdtempSync(path.join(tmpdir(), 'retail-confirmations-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const v1Dir = path.join(repoRoot, 'scenarios', 'retail-orders', 'v1')
/** Loaded once: production's bundle for the generator, and the bundle replayed against the recording. */
let v1Bundle: Promise<Bundle> | null = null
const loadV1 = (): Promise<Bundle> => (v1Bundle ??= loadBundle(v1Dir))

async function replay(bundleDir: string, side: 'baseline' | 'candidate'): Promise<RequestTrace[]> {
  const scenario = await loadScenario(dir)
  const bundle = bundleDir === v1Dir ? await loadV1() : await loadBundle(bundleDir)
  const deps = {bundle, compiled: compileBundle(bundle), tools: createMockTools(loadFixtures(scenario.fixtures!)), approver: 'pending' as const, faults: null, redactor: createRedactor(), limiter: new RateLimiter(), side, repeat: 0}
  const out: RequestTrace[] = []
  for (const [i, r] of records.entries()) out.push(replayed(r, await runRequest(r, i + 1, {...deps, model: createReplayModel('recorded')})))
  return out
}

/** v1's replay, made once: the candidate against the recording, and the baseline against v2. */
let v1Replay: Promise<RequestTrace[]> | null = null
const replayV1 = (): Promise<RequestTrace[]> => (v1Replay ??= replay(v1Dir, 'baseline'))

describe('retail-confirmations', () => {
  it('regenerates byte for byte; every request is multi-turn, its writes after the customer’s reply', async () => {
    const out = path.join(tmp, 'traffic.jsonl')
    const fd = openSync(out, 'w')
    expect(await writeTraffic(fd, {count: DEFAULT_COUNT, seed: DEFAULT_SEED, bundle: await loadV1()})).toBe(DEFAULT_COUNT)
    closeSync(fd)
    expect(readFileSync(out, 'utf8')).toBe(trafficText)
    expect(records).toHaveLength(DEFAULT_COUNT)
    for (const r of records) {
      expect(r.turns, r.id).toHaveLength(1)
      const executedWrites = r.production.tool_calls.flatMap((c, i) => (c.result !== undefined && /cancel|modify/.test(c.name) ? [i] : []))
      for (const i of executedWrites) expect(i, r.id).toBeGreaterThanOrEqual(r.turns![0]!.after_calls)
    }
  })

  it('identity: retail-orders v1 (production’s bundle) with --model recorded against the recording has no regression or behaviour change', async () => {
    const bundle = await loadV1()
    const cand = await replayV1()
    for (const [i, r] of records.entries()) {
      const base = replayed(r, recordedTrace(r, i + 1, createRedactor(), bundle))
      const c = compareGroup({request_id: r.id, line: i + 1, traces: [base, {...cand[i]!, side: 'candidate'}]}, 'recorded').classification!
      expect(c.reasons.filter((x) => x.class !== 'benign'), r.id).toEqual([])
    }
  })

  it('the README’s expected counts: v1 against v2-no-confirmation, the eager cancellations now run before the yes', async () => {
    const base = await replayV1()
    const cand = await replay(path.join(dir, 'v2-no-confirmation'), 'candidate')
    const counts = classCounts(base, cand)
    expect(counts.codes['regression:write_before_confirmation']).toBe(records.filter((r) => r.labels.category === 'cancel_eager').length)
    const {expected, actual} = expectedAndActual(path.join(dir, 'README.md'), counts)
    expect(actual).toEqual(expected)
  })
})
