import {closeSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import YAML from 'yaml'
import {loadBundle} from '../../src/bundle/load.js'
import type {Bundle} from '../../src/bundle/schema.js'
import {classifyRequest} from '../../src/diff/classify.js'
import {diffRequest} from '../../src/diff/request-diff.js'
import type {DiffClass} from '../../src/diff/types.js'
import {evaluateGolden, traceGolden} from '../../src/eval/golden.js'
import {createReplayModel} from '../../src/model/recorded.js'
import {compileBundle, runRequest} from '../../src/runtime/agent.js'
import {RateLimiter} from '../../src/runtime/rate-limit.js'
import {recordedTrace} from '../../src/runtime/recorded.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {loadScenario} from '../../src/scenario/load.js'
import {loadFixtures} from '../../src/tools/fixtures.js'
import {createMockTools} from '../../src/tools/mock-tools.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {type TrafficRecord, TrafficRecord as TrafficRecordSchema} from '../../src/traffic/schema.js'
import {RULES} from '../../scenarios/retail-orders/gen/sample.js'
import {DEFAULT_COUNT, DEFAULT_SEED, renderFixtures, trafficLines, writeTraffic} from '../../scenarios/retail-orders/generate.js'
import {repoRoot} from '../helpers/cli.js'
import {classCounts, expectedAndActual} from './class-counts.js'

const dir = path.join(repoRoot, 'scenarios', 'retail-orders')
const trafficFile = path.join(dir, 'traffic.jsonl')
const fixturesFile = path.join(dir, 'fixtures.yaml')
const CANDIDATES = ['v2-broken-schema', 'v2-repeatable-item-changes', 'v2-cancel-processed-orders'] as const
type BundleName = 'v1' | (typeof CANDIDATES)[number]
/** The tool contracts or rules each candidate changes (one thing: the two item-change tools share one budget rule). */
const CHANGED: Record<(typeof CANDIDATES)[number], string[]> = {
  'v2-broken-schema': ['return_delivered_order_items'],
  'v2-repeatable-item-changes': ['modify_pending_order_items', 'exchange_delivered_order_items'],
  'v2-cancel-processed-orders': ['cancel-only-pending'],
}

const tmp = mkdtempSync(path.join(tmpdir(), 'retail-orders-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const trafficText = readFileSync(trafficFile, 'utf8')
const records: TrafficRecord[] = trafficText
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => TrafficRecordSchema.parse(JSON.parse(l)))

/** The sixteen tools of τ-bench's retail domain (tau_bench/envs/retail/tools/__init__.py). */
const TAU_RETAIL_TOOLS = [
  'calculate',
  'cancel_pending_order',
  'exchange_delivered_order_items',
  'find_user_id_by_email',
  'find_user_id_by_name_zip',
  'get_order_details',
  'get_product_details',
  'get_user_details',
  'list_all_product_types',
  'modify_pending_order_address',
  'modify_pending_order_items',
  'modify_pending_order_payment',
  'modify_user_address',
  'return_delivered_order_items',
  'think',
  'transfer_to_human_agents',
]

/** The keywords τ-bench's `parameters` objects use: standard JSON Schema, nothing of our own. */
const STANDARD_KEYWORDS = new Set(['type', 'properties', 'required', 'items', 'enum', 'description'])

/** The checks built into the runtime that carry a sentence of the policy, besides v1's own rules. */
const BUILT_IN = ['schema', 'allowlist', 'budget', 'guardrail'] as const

const firing = (rule: string) => records.filter((r) => r.labels.fires === rule)
const sparing = (rule: string) => records.filter((r) => (r.labels.spares ?? '').split(' ').includes(rule))
const ids = (rs: TrafficRecord[]) => rs.map((r) => r.id).sort()

async function replay(b: BundleName, side: 'baseline' | 'candidate'): Promise<Map<string, RequestTrace>> {
  const bundle: Bundle = await loadBundle(path.join(dir, b))
  const deps = {
    bundle,
    compiled: compileBundle(bundle),
    tools: createMockTools(loadFixtures(fixturesFile)),
    approver: 'pending' as const,
    faults: null,
    redactor: createRedactor(),
    limiter: new RateLimiter(),
    side,
    repeat: 0,
  }
  const out = new Map<string, RequestTrace>()
  for (const [i, r] of records.entries()) out.set(r.id, await runRequest(r, i + 1, {...deps, model: createReplayModel('recorded')}))
  return out
}

function classes(base: Map<string, RequestTrace>, cand: Map<string, RequestTrace>): Record<DiffClass, string[]> {
  const out: Record<DiffClass, string[]> = {same: [], benign: [], behaviour_change: [], improvement: [], regression: []}
  for (const [id, c] of cand) out[classifyRequest(diffRequest(base.get(id)!, c)).class].push(id)
  return out
}

describe('retail-orders traffic', () => {
  it('every line is valid recorded traffic, with expectations and a rule label', () => {
    expect(records).toHaveLength(DEFAULT_COUNT)
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length)
    for (const r of records) {
      expect(r.expect, r.id).toBeDefined()
      expect(r.labels.fires !== undefined || r.labels.spares !== undefined, r.id).toBe(true)
      // Every executed call carries its result (or the tool's error); a refused one neither.
      for (const c of r.production.tool_calls) {
        const d = r.production.policy_decisions.find((x) => x.tool_call_id === c.id)!
        expect(c.result !== undefined || c.error !== undefined, c.id).toBe(d.decision === 'allow')
      }
    }
  })

  it('regenerates byte for byte from the default seed, fixtures included; another seed differs', async () => {
    const out = path.join(tmp, 'traffic.jsonl')
    const fd = openSync(out, 'w')
    expect(await writeTraffic(fd, {count: DEFAULT_COUNT, seed: DEFAULT_SEED})).toBe(DEFAULT_COUNT)
    closeSync(fd)
    expect(readFileSync(out, 'utf8')).toBe(trafficText)
    expect(readFileSync(fixturesFile, 'utf8')).toBe(renderFixtures())
    const take = async (seed: number) => {
      const lines: string[] = []
      for await (const l of trafficLines({count: 6, seed})) lines.push(l)
      return lines
    }
    expect(await take(DEFAULT_SEED + 1)).not.toEqual(trafficText.split('\n').slice(0, 6))
  })

  it('v1 carries the sixteen retail tools, their `parameters` in standard JSON Schema keywords only', async () => {
    const v1 = (await loadBundle(path.join(dir, 'v1'))).manifest
    expect(v1.tools.map((t) => t.name).sort()).toEqual(TAU_RETAIL_TOOLS)
    const walk = (schema: Record<string, unknown>, at: string): void => {
      for (const [k, v] of Object.entries(schema)) {
        expect(STANDARD_KEYWORDS.has(k), `${at}.${k}`).toBe(true)
        if (k === 'properties') for (const [p, s] of Object.entries(v as Record<string, Record<string, unknown>>)) walk(s, `${at}.properties.${p}`)
        if (k === 'items') walk(v as Record<string, unknown>, `${at}.items`)
      }
    }
    for (const t of v1.tools) walk(t.args as Record<string, unknown>, t.name)
    // Written as OpenAI writes a function definition: under `parameters`, loaded as they are.
    const raw = YAML.parse(readFileSync(path.join(dir, 'v1', 'bundle.yaml'), 'utf8')) as {tools: Record<string, unknown>[]}
    for (const t of raw.tools) expect(Object.keys(t).filter((k) => k === 'parameters' || k === 'args'), String(t.name)).toEqual(['parameters'])
  })

  it('scenario.yaml: recorded model, v1 against v2-repeatable-item-changes, with fixtures', () => {
    expect(loadScenario(dir)).toMatchObject({name: 'retail-orders', model: 'recorded', baseline: path.join(dir, 'v1'), candidate: path.join(dir, 'v2-repeatable-item-changes'), fixtures: fixturesFile})
  })
})

describe('every rule of the written policy fires on one request and not on another (v1, the recorded calls replayed)', () => {
  let v1: Bundle
  let traces: Map<string, RequestTrace>
  beforeAll(async () => {
    v1 = await loadBundle(path.join(dir, 'v1'))
    traces = await replay('v1', 'candidate')
  })
  const rulesOf = (id: string) => new Set(traces.get(id)!.policy_decisions.filter((d) => d.decision !== 'allow').map((d) => d.rule))

  it('each rule v1 carries, and each built-in check that carries a sentence, has a firing and a sparing request', () => {
    const rules = [...v1.manifest.policies.map((p) => p.id), ...BUILT_IN]
    for (const rule of rules) {
      expect(firing(rule).length, `${rule} fires somewhere`).toBeGreaterThan(0)
      expect(sparing(rule).length, `${rule} is spared somewhere`).toBeGreaterThan(0)
      for (const r of firing(rule)) expect([...rulesOf(r.id)], `${r.id} fires ${rule}`).toContain(rule)
      for (const r of sparing(rule)) expect([...rulesOf(r.id)], `${r.id} spares ${rule}`).not.toContain(rule)
    }
    // The label map and v1 agree: no request is labelled with a rule v1 lacks, except those the README lists as pending.
    const labelled = new Set(Object.values(RULES).flatMap((x) => [x.fires, ...(x.spares ?? [])]).filter((x): x is string => x !== undefined))
    const pending = [...labelled].filter((x) => !rules.includes(x)).sort()
    expect(pending).toEqual(PENDING)
  })

  it('every request meets its golden expectations under v1, except those whose rule is pending', () => {
    for (const r of records) {
      if (PENDING.includes(r.labels.fires ?? '')) continue
      const t = traces.get(r.id)!
      expect(evaluateGolden({...t, golden: traceGolden(r, createRedactor())})?.failures, r.id).toEqual([])
    }
  })

  it('v1 replayed against the recording: no regression, no behaviour change (the identity law)', async () => {
    const redactor = createRedactor()
    const recorded = new Map(records.map((r, i) => [r.id, recordedTrace(r, i + 1, redactor, v1)]))
    const c = classes(recorded, traces)
    expect([c.regression, c.behaviour_change, c.improvement]).toEqual([[], [], []])
    const again = classes(traces, await replay('v1', 'baseline'))
    expect(again.same.length + again.benign.length).toBe(records.length)
  })
})

describe('the candidates: each regression it should cause, named for its harm', () => {
  let base: Map<string, RequestTrace>
  beforeAll(async () => {
    base = await replay('v1', 'baseline')
  })

  it('each candidate changes only what its description says', async () => {
    const v1 = (await loadBundle(path.join(dir, 'v1'))).manifest
    const same = (m: typeof v1) => ({...m, version: '', description: ''})
    for (const b of CANDIDATES) {
      const m = (await loadBundle(path.join(dir, b))).manifest
      expect(m.description, b).toMatch(/^Candidate\. Only change from v1: /)
      const tools = m.tools.filter((t, i) => JSON.stringify(t) !== JSON.stringify(v1.tools[i]))
      const rules = m.policies.filter((p, i) => JSON.stringify(p) !== JSON.stringify(v1.policies[i]))
      expect([...tools.map((t) => t.name), ...rules.map((p) => p.id)].sort(), b).toEqual([...CHANGED[b]].sort())
      const restored = {...m, tools: v1.tools, policies: v1.policies}
      expect(same(restored), b).toEqual(same(v1))
    }
  })

  it('v2-broken-schema: every return v1 let through now fails its schema', async () => {
    const cand = await replay('v2-broken-schema', 'candidate')
    const returned = records.filter((r) => r.production.tool_calls.some((c) => c.name === 'return_delivered_order_items' && (c.result !== undefined || c.error !== undefined)))
    expect(returned.length).toBeGreaterThanOrEqual(5)
    const c = classes(base, cand)
    expect(c.regression.sort()).toEqual(ids(returned))
    for (const r of returned) {
      const d = cand.get(r.id)!.policy_decisions.find((x) => x.tool === 'return_delivered_order_items')!
      expect([d.decision, d.reason], r.id).toEqual(['deny', 'SCHEMA_INVALID'])
    }
  })

  it('v2-cancel-processed-orders: a processed order v1 refused to cancel is cancelled', async () => {
    const cand = await replay('v2-cancel-processed-orders', 'candidate')
    // The requests v1 denies under cancel-only-pending although the order they looked up is processed.
    const processed = firing('cancel-only-pending').filter((r) =>
      r.production.tool_calls.some((c) => c.name === 'get_order_details' && (c.result as {status?: string} | undefined)?.status === 'processed'),
    )
    expect(processed.length).toBeGreaterThan(0)
    const c = classes(base, cand)
    expect(c.regression.sort()).toEqual(ids(processed))
    for (const r of processed) {
      expect(base.get(r.id)!.policy_decisions.find((d) => d.tool === 'cancel_pending_order')?.reason, r.id).toBe('ORDER_NOT_PENDING')
      expect(cand.get(r.id)!.tool_calls.find((t) => t.name === 'cancel_pending_order')?.outcome, r.id).toBe('ok')
    }
  })

  it('v2-repeatable-item-changes (the scenario as shipped): the second item change v1 refused now runs', async () => {
    const cand = await replay('v2-repeatable-item-changes', 'candidate')
    const c = classes(base, cand)
    expect(c.regression.sort()).toEqual(ids(firing('budget')))
    expect(c.improvement).toEqual([])
    // The README's counts for this run, with each record's expectations stored on its traces as a shadow run stores them.
    const byId = new Map(records.map((r) => [r.id, r]))
    const golden = (m: Map<string, RequestTrace>) => [...m.values()].map((t) => ({...t, golden: traceGolden(byId.get(t.request_id)!, createRedactor())}))
    const {expected, actual} = expectedAndActual(path.join(dir, 'README.md'), classCounts(golden(base), golden(cand)))
    expect(actual).toEqual(expected)
  })
})

/** Rules of the written policy that the request labels name but v1 does not carry (none: every rule is in v1). */
const PENDING: string[] = []
