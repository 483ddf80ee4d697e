import {cpSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {loadFixtures} from '../../src/tools/fixtures.js'
import {createMockTools} from '../../src/tools/mock-tools.js'
import {loadBundle} from '../../src/bundle/load.js'
import type {ArgSchema, Bundle, BundleManifest, ToolContract} from '../../src/bundle/schema.js'
import {createScriptedModel} from '../../src/model/scripted.js'
import {loadSkills} from '../../src/model/scripted/skill-modules.js'
import type {ChatRequest, ChatResponse, ModelClient} from '../../src/model/types.js'
import {compileBundle, runRequest, type AgentDeps} from '../../src/runtime/agent.js'
import {RateLimiter} from '../../src/runtime/rate-limit.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {loadScenario} from '../../src/scenario/load.js'
import {readTraffic} from '../../src/traffic/reader.js'

/**
 * The bundle hash treats tools, policies, record keys and several lists as unordered. Whatever it
 * ignores must not reach the model or change a decision: two bundles with the same hash send
 * byte-identical model requests (as JSON, the form every model adapter serialises) and decide alike.
 */

const tmp = mkdtempSync(path.join(os.tmpdir(), 'understudy-bundle-order-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const reversedKeys = <T>(record: Record<string, T>, map: (v: T) => T = (v) => v): Record<string, T> =>
  Object.fromEntries(
    Object.entries(record)
      .reverse()
      .map(([k, v]) => [k, map(v)]),
  )

function permuteArgs(schema: ArgSchema): ArgSchema {
  const out: ArgSchema = {...schema}
  if (schema.properties) out.properties = reversedKeys(schema.properties as Record<string, ArgSchema>, permuteArgs)
  if (Array.isArray(schema.required)) out.required = [...schema.required].reverse()
  if (schema.items) out.items = permuteArgs(schema.items as ArgSchema)
  return out
}

function permuteTool(tool: ToolContract): ToolContract {
  return {
    ...tool,
    args: permuteArgs(tool.args),
    roles: reversedKeys(tool.roles, (roles) => [...roles].reverse()),
    sensitive_fields: [...tool.sensitive_fields].reverse(),
  }
}

/** Every reordering the hash ignores, all at once. */
function permute(m: BundleManifest): BundleManifest {
  return {
    ...m,
    model: {...m.model, options: reversedKeys(m.model.options)},
    tools: [...m.tools].reverse().map(permuteTool),
    policies: [...m.policies].reverse().map((p) => ({
      ...p,
      tools: p.tools && [...p.tools].reverse(),
      risk: p.risk && [...p.risk].reverse(),
      tenants: p.tenants && [...p.tenants].reverse(),
      roles: p.roles && [...p.roles].reverse(),
    })),
    tenant_quotas: reversedKeys(m.tenant_quotas),
    memory: m.memory && {...m.memory, fields: [...m.memory.fields].reverse(), owners: [...m.memory.owners].reverse()},
  }
}

/** Writes `manifest` as bundle.json next to a copy of the source bundle's prompts. */
async function writeBundle(source: Bundle, name: string, manifest: BundleManifest): Promise<Bundle> {
  const dir = path.join(tmp, name)
  cpSync(source.dir, dir, {recursive: true})
  rmSync(path.join(dir, source.manifestFile))
  writeFileSync(path.join(dir, 'bundle.json'), JSON.stringify(manifest, null, 2))
  return loadBundle(dir)
}

/** The scripted model, keeping every request exactly as an adapter would serialise it. */
function recording(inner: ModelClient, sent: string[]): ModelClient {
  return {
    id: inner.id,
    chat(request: ChatRequest, signal?: AbortSignal): Promise<ChatResponse> {
      sent.push(JSON.stringify(request))
      return inner.chat(request, signal)
    },
  }
}

type Replay = {requests: string[]; traces: string[]}

async function replay(bundle: Bundle, scenarioDir: string, limit: number): Promise<Replay> {
  const scenario = loadScenario(scenarioDir)
  const requests: string[] = []
  const traces: string[] = []
  const tools = createMockTools(scenario.fixtures === null ? null : loadFixtures(scenario.fixtures))
  const deps: AgentDeps = {
    bundle,
    compiled: compileBundle(bundle),
    model: recording(
      createScriptedModel({
        name: bundle.manifest.model.name,
        seed: bundle.manifest.model.seed,
        skills: await loadSkills(scenario.skill === null ? [] : [scenario.skill]),
      }),
      requests,
    ),
    tools,
    approver: scenario.approver,
    faults: null,
    redactor: createRedactor(),
    limiter: new RateLimiter(),
    side: 'candidate',
    repeat: 0,
  }
  for await (const line of readTraffic(scenario.traffic)) {
    if (line.line > limit) break
    if (!line.ok) throw new Error(line.error)
    const trace = await runRequest(line.record, line.line, deps)
    // Everything the request did except wall-clock timings.
    traces.push(JSON.stringify(trace, (key, value: unknown) => (key === 'latency_ms' ? undefined : value)))
  }
  return {requests, traces}
}

/** null when equal; else the first differing entry, cut to the text around its first differing character. */
function firstDifference(a: string[], b: string[]): {index: number; a: string; b: string} | null {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? '<none>'
    const y = b[i] ?? '<none>'
    if (x === y) continue
    let at = 0
    while (x[at] === y[at]) at++
    const around = (t: string) => t.slice(Math.max(0, at - 80), at + 120)
    return {index: i, a: around(x), b: around(y)}
  }
  return null
}

const CASES = [
  {scenario: 'scenarios/support-refunds', side: 'v2', mode: 'react'},
  {scenario: 'scenarios/support-refunds', side: 'v1', mode: 'plan_first'},
  {scenario: 'scenarios/enterprise-tickets', side: 'v2', mode: 'react'},
  {scenario: 'scenarios/coding-agent', side: 'v2', mode: 'react'},
] as const

describe('same bundle hash, same model input', () => {
  it.each(CASES)('$scenario/$side ($mode): reordered tools, policies, schemas and records', async ({scenario, side, mode}) => {
    const source = await loadBundle(path.join(scenario, side))
    const base: BundleManifest = {
      ...source.manifest,
      agent: {mode},
      prompts: mode === 'plan_first' ? {...source.manifest.prompts, plan: source.manifest.prompts.plan ?? 'prompts/plan.md'} : source.manifest.prompts,
      // Pass-through options are a record whose key order the hash ignores; give it more than one key.
      model: {...source.manifest.model, options: {num_ctx: 8192, top_k: 40, ...source.manifest.model.options}},
    }
    const label = `${path.basename(scenario)}-${side}-${mode}`
    const a = await writeBundle(source, `${label}-a`, base)
    const b = await writeBundle(source, `${label}-b`, permute(base))
    expect(b.manifest.tools.map((t) => t.name)).not.toEqual(a.manifest.tools.map((t) => t.name))
    expect(b.hash).toBe(a.hash)

    const ra = await replay(a, scenario, 150)
    const rb = await replay(b, scenario, 150)
    expect(ra.requests.length).toBeGreaterThan(150)
    expect(firstDifference(rb.requests, ra.requests), 'model requests').toBeNull()
    expect(firstDifference(rb.traces, ra.traces), 'traces').toBeNull()
  })
})
