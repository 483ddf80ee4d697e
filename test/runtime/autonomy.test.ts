import {describe, expect, it} from 'vitest'
import {bundleRef, hashBundle} from '../../src/bundle/hash.js'
import {BundleManifest} from '../../src/bundle/schema.js'
import type {ChatRequest, ChatResponse, ModelClient, ModelToolCall} from '../../src/model/types.js'
import {AUTONOMY_DRAFT, AUTONOMY_HIGH_RISK, AUTONOMY_READ_ONLY, autonomyGate, autonomyOf, FLAG_OFF} from '../../src/runtime/autonomy.js'
import {validateBundle} from '../../src/bundle/validate.js'
import {runRequest, type ApprovalBook} from '../../src/runtime/agent.js'
import {createMockTools} from '../../src/tools/mock-tools.js'
import {parseFixtures} from '../../src/tools/fixtures.js'
import {agentDeps, bundle as makeBundle, bundleDir, manifest as makeManifest, trafficRecord} from '../factories/index.js'

// A library-lending domain: one read, a low-risk write (renew a loan), a high-risk one (waive a fine).
const ROLES = {'*': ['librarian']}
const TOOLS = [
  {name: 'find_loan', description: 'Find a loan', risk: 'read' as const, args: {type: 'object'}, roles: ROLES},
  {name: 'renew_loan', description: 'Renew a loan', risk: 'write_low' as const, args: {type: 'object'}, roles: ROLES},
  {name: 'waive_fine', description: 'Waive a fine', risk: 'write_high' as const, args: {type: 'object'}, roles: ROLES},
]
const FIXTURES = parseFixtures(
  'fixtures.yaml',
  'tools:\n  find_loan: {default: {result: {loan: L1}}}\n  renew_loan: {default: {result: {renewed: true}}}\n  waive_fine: {default: {result: {waived: true}}}\n',
)

/** Proposes `calls` on every model call until it has been asked `turns` times, then answers. */
function stubborn(calls: ModelToolCall[], turns = 5): ModelClient & {asked: number; offered: string[][]} {
  const model = {
    id: 'stub:lending',
    asked: 0,
    offered: [] as string[][],
    async chat(request: ChatRequest): Promise<ChatResponse> {
      model.asked++
      model.offered.push(request.tools.map((t) => t.function.name))
      const tool_calls = model.asked <= turns ? calls : []
      return {message: {role: 'assistant', content: tool_calls.length ? '' : 'done', tool_calls}, input_tokens: 10, output_tokens: 2, latency_ms: 1, done_reason: 'stop'}
    },
  }
  return model
}

async function lend(autonomy: unknown, calls: ModelToolCall[], tenant = 'city', flags?: unknown, approvals?: ApprovalBook) {
  const extra = {...(autonomy === undefined ? {} : {autonomy}), ...(flags === undefined ? {} : {flags})}
  const b = makeBundle({manifest: {name: 'lending', tools: TOOLS, budgets: {max_steps: 12, max_tool_calls: 20}, ...extra} as never})
  const model = stubborn(calls)
  const trace = await runRequest(trafficRecord({tenant, role: 'librarian'}), 1, agentDeps(b, model, {tools: createMockTools(FIXTURES), ...(approvals === undefined ? {} : {approvals})}))
  return {trace, model}
}

const outcomes = (t: {tool_calls: {name: string; outcome: string}[]}) => t.tool_calls.map((c) => `${c.name}:${c.outcome}`)
const read = {name: 'find_loan', arguments: {}}
const renew = {name: 'renew_loan', arguments: {loan: 'L1'}}
const waive = {name: 'waive_fine', arguments: {loan: 'L1'}}

describe('autonomy levels (pure)', () => {
  it('reads always pass; read_only denies writes, draft drafts them, low_risk_writes holds only write_high', () => {
    for (const level of ['read_only', 'draft', 'low_risk_writes', 'full'] as const) expect(autonomyGate(level, 'read')).toBeNull()
    expect(autonomyGate('read_only', 'write_low')?.effect).toBe('deny')
    expect(autonomyGate('draft', 'write_high')?.effect).toBe('draft')
    expect(autonomyGate('low_risk_writes', 'write_low')).toBeNull()
    expect(autonomyGate('low_risk_writes', 'write_high')?.reason).toBe(AUTONOMY_HIGH_RISK)
    expect(autonomyGate('full', 'write_high')).toBeNull()
  })

  it('a bare level applies to every tenant; a tenant override wins; absent is full', () => {
    expect(autonomyOf(makeManifest(), 'x')).toBe('full')
    const m = makeManifest({autonomy: {default: 'full', tenants: {acme: 'draft'}}} as never)
    expect([autonomyOf(m, 'acme'), autonomyOf(m, 'globex')]).toEqual(['draft', 'full'])
    expect(autonomyOf(makeManifest({autonomy: 'read_only'} as never), 'acme')).toBe('read_only')
    expect(BundleManifest.safeParse({...makeManifest(), autonomy: {default: 'yolo'}}).success).toBe(false)
  })

  it('absent autonomy leaves the bundle hash unchanged; set, it counts', () => {
    const m = makeManifest()
    const templates = {'prompts/system.md': 'x'}
    const before = hashBundle(m, templates)
    expect(hashBundle(BundleManifest.parse(JSON.parse(JSON.stringify(m))), templates)).toBe(before)
    expect(hashBundle({...m, autonomy: {default: 'full', tenants: {}}}, templates)).not.toBe(before)
    expect(bundleRef(m, before)).toMatch(/^support@1\.0\.0#/)
  })
})

describe('autonomy enforced by the runtime (a lending desk)', () => {
  it('read_only: the read runs, the write is refused AUTONOMY_READ_ONLY and never executed', async () => {
    const {trace} = await lend('read_only', [read, renew], 'city')
    expect(trace.tool_calls.filter((c) => c.name === 'renew_loan').every((c) => c.outcome === 'denied' && !c.executed)).toBe(true)
    expect(trace.policy_decisions.find((d) => d.tool === 'renew_loan')).toMatchObject({decision: 'deny', reason: AUTONOMY_READ_ONLY, rule: 'autonomy'})
    expect(trace.tool_calls.some((c) => c.name === 'find_loan' && c.outcome === 'ok')).toBe(true)
  })

  it('draft: writes are drafted, not run, and the request ends after that turn instead of looping to the step budget', async () => {
    const {trace, model} = await lend({default: 'full', tenants: {city: 'draft'}}, [read, renew, waive])
    expect(outcomes(trace)).toEqual(['find_loan:ok', 'renew_loan:needs_approval', 'waive_fine:needs_approval'])
    expect(trace.policy_decisions.filter((d) => d.rule === 'autonomy').map((d) => d.reason)).toEqual([AUTONOMY_DRAFT, AUTONOMY_DRAFT])
    expect(trace.status).toBe('needs_approval')
    expect(trace.budget_hits).toEqual([])
    expect(model.asked).toBe(1)
    // Another tenant of the same bundle is at the default: full.
    const other = await lend({default: 'full', tenants: {city: 'draft'}}, [renew], 'county')
    expect(outcomes(other.trace)[0]).toBe('renew_loan:ok')
  })

  it('draft: a drafted write a person approved (approvals apply) runs, and the request goes on', async () => {
    const book: ApprovalBook = (_record, tool) => (tool === 'renew_loan' ? {decision: 'approved', by: 'desk-lead', at: 't', reason: null} : undefined)
    const {trace, model} = await lend('draft', [renew], 'city', undefined, book)
    expect(outcomes(trace)[0]).toBe('renew_loan:ok')
    expect(trace.tool_calls[0]!.approval?.by).toBe('desk-lead')
    expect(model.asked).toBeGreaterThan(1)
    expect(trace.status).toBe('completed')
  })

  it('low_risk_writes: the low-risk write runs, the high-risk one is held (and proposed again, ends instead of looping)', async () => {
    const {trace, model} = await lend('low_risk_writes', [renew, waive])
    expect(outcomes(trace).slice(0, 2)).toEqual(['renew_loan:ok', 'waive_fine:needs_approval'])
    expect(trace.policy_decisions.find((d) => d.tool === 'waive_fine')).toMatchObject({decision: 'require_approval', reason: AUTONOMY_HIGH_RISK})
    expect(trace.status).toBe('needs_approval')
    expect(trace.budget_hits).toEqual([])
    expect(model.asked).toBe(2)
  })

  it('absent (full): every write runs', async () => {
    const {trace} = await lend(undefined, [renew, waive])
    expect(outcomes(trace).slice(0, 2)).toEqual(['renew_loan:ok', 'waive_fine:ok'])
  })
})

describe('feature flags (tools on/off per tenant)', () => {
  const flags = {waivers: {tools: ['waive_fine'], default: 'off', tenants: {city: 'on'}}}

  it('a tool flagged off for the tenant is not offered, and a call to it is refused FLAG_OFF; on for another tenant it runs', async () => {
    const off = await lend(undefined, [waive], 'county', flags)
    expect(off.model.offered[0]).toEqual(['find_loan', 'renew_loan'])
    expect(off.trace.tool_calls[0]).toMatchObject({name: 'waive_fine', outcome: 'unknown_tool', executed: false})
    expect(off.trace.policy_decisions[0]).toMatchObject({decision: 'deny', reason: FLAG_OFF, rule: 'flag:waivers'})
    const on = await lend(undefined, [waive], 'city', flags)
    expect(on.model.offered[0]).toEqual(['find_loan', 'renew_loan', 'waive_fine'])
    expect(on.trace.tool_calls[0]!.outcome).toBe('ok')
  })

  it('a flag naming an unknown tool is one located problem', async () => {
    const dir = bundleDir((m) => (m.flags = {beta: {tools: ['lookup_order', 'teleport'], default: 'on'}}))
    const v = await validateBundle(dir)
    expect(v.bundle).toBeNull()
    expect(v.problems).toHaveLength(1)
    expect(v.problems[0]).toMatch(/bundle\.yaml:\d+:\d+: flags\.beta\.tools\.1: unknown tool "teleport"$/)
  })
})
