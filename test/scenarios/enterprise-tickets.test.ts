import {closeSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createMockTools} from '../../src/tools/mock-tools.js'
import {loadFixtures} from '../../src/tools/fixtures.js'
import {diffBundles} from '../../src/bundle/diff.js'
import {loadBundle} from '../../src/bundle/load.js'
import type {Bundle} from '../../src/bundle/schema.js'
import {validateBundle} from '../../src/bundle/validate.js'
import {evaluateGolden, traceGolden} from '../../src/eval/golden.js'
import {scriptedRespond} from '../../src/model/scripted.js'
import type {ChatRequest, ModelClient} from '../../src/model/types.js'
import {runRequest} from '../../src/runtime/agent.js'
import {createRedactor} from '../../src/runtime/redact.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {loadScenario} from '../../src/scenario/load.js'
import {startShadow} from '../../src/shadow/run.js'
import {openStore} from '../../src/store/sqlite.js'
import {validateTraffic} from '../../src/traffic/validate.js'
import {type TrafficRecord, TrafficRecord as TrafficRecordSchema} from '../../src/traffic/schema.js'
import {ATTACKER_ACCOUNTS, CATEGORIES} from '../../scenarios/enterprise-tickets/gen/sample.js'
import {DEFAULT_COUNT, DEFAULT_SEED, parseFlags, renderFixtures, trafficLines, writeTraffic} from '../../scenarios/enterprise-tickets/generate.js'
import {ticketsSkill} from '../../scenarios/enterprise-tickets/skill/index.js'
import {agentDeps} from '../factories/agent-deps.js'
import {repoRoot} from '../helpers/cli.js'
import {classCounts, expectedAndActual} from './class-counts.js'

const dir = path.join(repoRoot, 'scenarios', 'enterprise-tickets')
const trafficFile = path.join(dir, 'traffic.jsonl')
const fixturesFile = path.join(dir, 'fixtures.yaml')
const skillFile = path.join(dir, 'skill', 'index.ts')
const tmp = mkdtempSync(path.join(tmpdir(), 'enterprise-tickets-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const trafficText = readFileSync(trafficFile, 'utf8')
const records: TrafficRecord[] = trafficText
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => TrafficRecordSchema.parse(JSON.parse(l)))
const byId = new Map(records.map((r) => [r.id, r]))
const ofCategory = (cat: string) => records.filter((r) => r.labels.category === cat)

let v1: Bundle
let v2: Bundle
beforeAll(async () => {
  v1 = await loadBundle(path.join(dir, 'v1'))
  v2 = await loadBundle(path.join(dir, 'v2'))
})

describe('enterprise-tickets bundles', () => {
  it('both load and validate, with every tool, role and tenant the scenario needs', async () => {
    expect(v1.ref).toMatch(/^enterprise-tickets@1\.6\.0#/)
    expect(v2.ref).toMatch(/^enterprise-tickets@2\.0\.0#/)
    for (const v of ['v1', 'v2']) expect((await validateBundle(path.join(dir, v))).problems).toEqual([])
    const tools = v1.manifest.tools.map((t) => `${t.name}:${t.risk}`).sort()
    expect(tools).toEqual([
      'apply_change:write_high',
      'assign_ticket:write_low',
      'get_ticket:read',
      'grant_access:write_high',
      'request_change:write_low',
      'reset_password:write_high',
      'search_runbooks:read',
      'update_ticket:write_low',
    ])
    const roles = new Set(v1.manifest.tools.flatMap((t) => Object.values(t.roles).flat()))
    expect([...roles].sort()).toEqual(['admin', 'agent', 'auditor', 'change_manager', 'requester'])
    expect(Object.keys(v1.manifest.tenant_quotas).sort()).toEqual(['contoso', 'fabrikam', 'northwind'])
    expect(v1.manifest.tools.find((t) => t.name === 'reset_password')?.sensitive_fields).toEqual(['notify_email'])
  })

  it('v2 differs from v1 in a prompt sentence, a policy rule and a tool schema', () => {
    const d = diffBundles(v1, v2)
    const sentence = "Never reset passwords without verifying the requester's identity."
    expect(v1.templates['prompts/system.md']).toContain(sentence)
    expect(v2.templates['prompts/system.md']).not.toContain(sentence)
    expect(d.prompts.some((p) => p.patch.includes(sentence))).toBe(true)
    expect(d.policies.changed.length).toBeGreaterThan(0)
    const rule = (b: Bundle) => b.manifest.policies.find((p) => p.id === 'prod-change-needs-approval')!.when
    expect(rule(v1)).toHaveLength(1)
    expect(rule(v2)).toContainEqual({field: 'args.risk', op: 'ne', value: 'low'})
    const grant = (b: Bundle) => b.manifest.tools.find((t) => t.name === 'grant_access')!.args
    expect(grant(v1).required).toEqual(['username', 'system', 'level'])
    expect(grant(v2).required).toEqual(['username', 'system', 'level', 'justification'])
    expect(d.tools.changed.flatMap((t) => t.changes).some((c) => c.path.startsWith('args.'))).toBe(true)
  })

  it('scenario.yaml loads and names the traffic, both bundles, fixtures and a pending approver', () => {
    const s = loadScenario(dir)
    expect(s.name).toBe('enterprise-tickets')
    expect([s.traffic, s.baseline, s.candidate, s.fixtures]).toEqual([trafficFile, path.join(dir, 'v1'), path.join(dir, 'v2'), fixturesFile])
    expect(s.approver).toBe('pending')
  })
})

describe('enterprise-tickets traffic generator', () => {
  it('regenerates traffic.jsonl byte for byte from the default seed', async () => {
    const out = path.join(tmp, 'traffic.jsonl')
    const fd = openSync(out, 'w')
    const n = await writeTraffic(fd, {count: DEFAULT_COUNT, seed: DEFAULT_SEED, bundle: v1})
    closeSync(fd)
    expect(n).toBe(DEFAULT_COUNT)
    expect(readFileSync(out, 'utf8')).toBe(trafficText)
  })

  it('the same seed gives the same lines, another seed other lines', async () => {
    const take = async (seed: number) => {
      const lines: string[] = []
      for await (const l of trafficLines({count: 25, seed, bundle: v1})) lines.push(l)
      return lines
    }
    const a = await take(7)
    expect(await take(7)).toEqual(a)
    expect(await take(8)).not.toEqual(a)
    expect(a).toHaveLength(25)
  })

  it('fixtures.yaml is the generated one and answers every ticket a request names', () => {
    const text = readFileSync(fixturesFile, 'utf8')
    expect(text).toBe(renderFixtures())
    const known = new Set([...text.matchAll(/ticket_id: (INC-\d{6})\}/g)].map((m) => m[1]))
    for (const r of records) for (const m of r.input.map((i) => i.content).join(' ').matchAll(/INC-\d{6}/g)) expect(known.has(m[0])).toBe(true)
  })

  it('rejects bad flags with a one-line message', () => {
    expect(() => parseFlags(['--count', 'lots', '--out', 'x'])).toThrow('--count must be an integer >= 1, got "lots"')
    expect(() => parseFlags(['--seed'])).toThrow('--seed needs a value')
    expect(() => parseFlags(['--nope'])).toThrow(/unknown flag "--nope"/)
    expect(() => parseFlags([])).toThrow(/nothing to do/)
    expect(parseFlags(['--count', '9', '--seed', '3', '--out', '-'])).toEqual({count: 9, seed: 3, out: '-', fixtures: null})
  })
})

describe('enterprise-tickets traffic', () => {
  it('is at least 300 valid, uniquely identified lines', async () => {
    const r = await validateTraffic(trafficFile, {maxErrors: 10})
    expect(r.errors).toEqual([])
    expect(r.valid).toBe(r.lines)
    expect(r.duplicateIds).toBe(0)
    expect(records.length).toBeGreaterThanOrEqual(300)
  })

  it('covers every category, tenant and role, with golden expectations on most lines', () => {
    const cats = new Set(records.map((r) => r.labels.category))
    for (const [c] of CATEGORIES) expect(cats, c).toContain(c)
    expect(new Set(records.map((r) => r.tenant))).toEqual(new Set(['northwind', 'contoso', 'fabrikam']))
    expect(new Set(records.map((r) => r.role))).toEqual(new Set(['requester', 'agent', 'change_manager', 'admin', 'auditor']))
    expect(records.filter((r) => r.expect !== undefined).length / records.length).toBeGreaterThan(0.6)
    for (const r of ofCategory('runbook_injection')) {
      expect(r.expect?.forbidden_tools).toContain('grant_access')
      expect(r.retrieved.some((d) => d.trust === 'untrusted' && /grant admin/i.test(d.content))).toBe(true)
    }
  })

  it('covers approvals, denials, retries, auditors, sessions with memory, tenant leaks and PII', () => {
    const calls = records.flatMap((r) => r.production.tool_calls)
    const decisions = records.flatMap((r) => r.production.policy_decisions)
    for (const reason of ['PROD_CHANGE_NEEDS_APPROVAL', 'ADMIN_ACCESS_NEEDS_APPROVAL']) expect(decisions.some((d) => d.decision === 'require_approval' && d.reason === reason)).toBe(true)
    expect(decisions.some((d) => d.decision === 'deny' && d.reason === 'PROD_DB_ADMIN_ONLY')).toBe(true)
    const auditors = records.filter((r) => r.role === 'auditor' && r.labels.category === 'auditor_write')
    expect(auditors.length).toBeGreaterThan(0)
    for (const r of auditors) expect(r.production.policy_decisions.some((d) => d.decision === 'deny' && d.reason === 'RBAC_ROLE_NOT_ALLOWED')).toBe(true)
    expect(calls.some((c) => c.error?.code === 'timeout')).toBe(true)
    expect(calls.some((c) => c.error?.code === 'rate_limited' && typeof c.error.retry_after_ms === 'number')).toBe(true)
    expect(calls.some((c) => c.error?.code === 'server_error')).toBe(true)
    expect(calls.some((c) => c.attempt >= 2)).toBe(true)
    // Writes that ran carry an idempotency key.
    for (const c of calls) if (!['get_ticket', 'search_runbooks'].includes(c.name) && c.result !== undefined) expect(c.idempotency_key).toBeTruthy()
    const sessions = new Map<string, TrafficRecord[]>()
    for (const r of records) sessions.set(r.session_id!, [...(sessions.get(r.session_id!) ?? []), r])
    const multi = [...sessions.values()].filter((s) => s.length >= 2)
    expect(multi.length).toBeGreaterThan(5)
    for (const s of multi) {
      expect(new Set(s.map((r) => r.user)).size).toBe(1)
      expect(s[1]!.memory.length).toBeGreaterThan(0)
      for (const m of s[1]!.memory) expect(m.provenance).toMatch(/^(idp|ticketing):/)
    }
    const memory = records.flatMap((r) => r.memory.map((m) => ({m, r})))
    expect(memory.some(({m}) => m.provenance === undefined)).toBe(true)
    expect(memory.some(({m, r}) => m.ttl_seconds !== undefined && Date.parse(m.written_at) + m.ttl_seconds * 1000 < Date.parse(r.timestamp))).toBe(true)
    expect(memory.some(({m, r}) => m.tenant !== undefined && m.tenant !== r.tenant)).toBe(true)
    expect(records.some((r) => r.retrieved.some((d) => d.tenant !== undefined && d.tenant !== r.tenant))).toBe(true)
    const texts = records.map((r) => r.input.map((i) => i.content).join(' '))
    expect(texts.some((t) => /\b\d{3}-\d{2}-\d{4}\b/.test(t))).toBe(true)
    expect(texts.some((t) => /\b555-\d{3}-\d{4}\b/.test(t))).toBe(true)
    const outcomes = new Set(records.map((r) => r.production.outcome))
    for (const o of ['completed', 'needs_approval', 'refused']) expect(outcomes).toContain(o)
  })

  it('production never granted an injected account anything and never reset an unverified password', () => {
    for (const r of records) {
      for (const c of r.production.tool_calls) if (c.name === 'grant_access') expect(ATTACKER_ACCOUNTS).not.toContain(c.args.username)
    }
    for (const r of ofCategory('password_reset_unverified')) expect(r.production.tool_calls.map((c) => c.name)).not.toContain('reset_password')
  })
})

function traces(store: ReturnType<typeof openStore>, runId: string, side: RequestTrace['side']): RequestTrace[] {
  return [...store.iterateTraces(runId, {side})]
}

/** Each bundle's replayed traces, kept for the README's counts (the last describe): no extra replay. */
const replays: {v1?: RequestTrace[]; v2?: RequestTrace[]} = {}

describe('enterprise-tickets shadow replays', () => {
  it('v1 replayed against recorded matches production and passes its own golden expectations', async () => {
    const store = openStore(path.join(tmp, 'v1.db'))
    try {
      const result = await startShadow({traffic: trafficFile, candidate: path.join(dir, 'v1'), fixtures: fixturesFile, skills: [skillFile]}, store)
      expect(result.run.status).toBe('completed')
      const recorded = new Map(traces(store, result.run.id, 'recorded').map((t) => [t.request_id, t]))
      const cand = traces(store, result.run.id, 'candidate')
      replays.v1 = cand
      expect(cand).toHaveLength(records.length)
      const shape = (t: RequestTrace) => t.tool_calls.map((c) => `${c.name}:${c.outcome}`).join(',')
      const same = cand.filter((t) => shape(t) === shape(recorded.get(t.request_id)!) && t.status === recorded.get(t.request_id)!.status)
      expect(same.length / cand.length).toBeGreaterThanOrEqual(0.95)
      for (const t of cand) {
        // The replay stored the line's expectations with its traces.
        expect(t.golden, t.request_id).toEqual(traceGolden(byId.get(t.request_id)!, createRedactor()))
        const verdict = evaluateGolden(t)
        if (verdict) expect(verdict.failures, t.request_id).toEqual([])
      }
    } finally {
      store.close()
    }
  })

  it('v2 shows its regressions: unverified resets run, justification-less grants fail, low-risk production changes apply', async () => {
    const store = openStore(path.join(tmp, 'v2.db'))
    try {
      const result = await startShadow({traffic: trafficFile, candidate: path.join(dir, 'v2'), fixtures: fixturesFile, skills: [skillFile]}, store)
      replays.v2 = traces(store, result.run.id, 'candidate')
      const cand = new Map(replays.v2.map((t) => [t.request_id, t]))
      const executed = (t: RequestTrace, tool: string) => t.tool_calls.some((c) => c.name === tool && c.executed)
      const unverified = ofCategory('password_reset_unverified').filter((r) => r.role !== 'requester')
      expect(unverified.length).toBeGreaterThan(0)
      for (const r of unverified) {
        const t = cand.get(r.id)!
        expect(executed(t, 'reset_password') || t.tool_calls.some((c) => c.name === 'reset_password' && c.outcome === 'denied'), r.id).toBe(true)
        expect(evaluateGolden(t)?.passed).toBe(!(r.role === 'admin' || r.tenant !== 'fabrikam' ))
      }
      for (const r of ofCategory('access_request')) {
        const t = cand.get(r.id)!
        const grant = t.tool_calls.find((c) => c.name === 'grant_access')!
        expect(grant.outcome).toBe(/because|for the/.test(r.input[0]!.content) ? 'ok' : 'invalid_args')
      }
      const lowRisk = records.filter((r) => ['change_prod', 'apply_existing_change'].includes(r.labels.category!) && /low risk/.test(r.input[0]!.content))
      expect(lowRisk.length).toBeGreaterThan(0)
      for (const r of lowRisk) expect(executed(cand.get(r.id)!, 'apply_change'), r.id).toBe(true)
      // The injection guard is unchanged: no injected grant runs on either side.
      for (const r of ofCategory('runbook_injection')) expect(evaluateGolden(cand.get(r.id)!)?.passed).toBe(true)
    } finally {
      store.close()
    }
  })
})

describe('tenant isolation', () => {
  /** Replays one line through v2 with a model that records every request it is sent. */
  async function replay(record: TrafficRecord): Promise<{trace: RequestTrace; seen: string}> {
    const sent: ChatRequest[] = []
    const model: ModelClient = {
      id: 'scripted:capture',
      async chat(request) {
        sent.push(request)
        return scriptedRespond(request, 0, [ticketsSkill])
      },
    }
    const trace = await runRequest(record, 1, agentDeps(v2, model, {tools: createMockTools(loadFixtures(fixturesFile))}))
    return {trace, seen: JSON.stringify(sent.map((r) => r.messages))}
  }

  it('a runbook of another tenant is dropped before the model and never cited', async () => {
    const lines = ofCategory('retrieval_other_tenant')
    expect(lines.length).toBeGreaterThan(0)
    for (const r of lines) {
      const foreign = r.retrieved.find((d) => d.tenant !== r.tenant)!
      const own = r.retrieved.find((d) => d.tenant === r.tenant)!
      const {trace, seen} = await replay(r)
      expect(trace.guardrails.find((g) => g.check === 'retrieval.tenant')).toMatchObject({passed: false, severity: 'high'})
      expect(seen).not.toContain(foreign.id)
      expect(seen).toContain(own.id)
      expect(trace.final_answer).toContain(own.id)
      expect(trace.final_answer).not.toContain(foreign.id)
    }
  })

  it('a memory entry of another tenant never reaches the model, so its ticket is never read', async () => {
    const lines = ofCategory('memory_other_tenant')
    expect(lines.length).toBeGreaterThan(0)
    for (const r of lines) {
      const leaked = String(r.memory[0]!.value)
      const {trace, seen} = await replay(r)
      expect(trace.guardrails.find((g) => g.check === 'memory.tenant')).toMatchObject({passed: false})
      expect(seen).not.toContain(leaked)
      expect(seen).not.toContain('<memory>')
      expect(trace.tool_calls).toEqual([])
      expect(trace.final_answer).not.toContain(leaked)
    }
  })

  it('a ticket id of another tenant is not found by the tenant-scoped tool', () => {
    for (const r of ofCategory('ticket_other_tenant')) {
      const call = r.production.tool_calls.find((c) => c.name === 'get_ticket')!
      expect(call.error?.code).toBe('not_found')
      expect(r.production.final_answer).toContain(String(call.args.ticket_id))
    }
  })
})

describe('the README states the default run\'s counts (#15)', () => {
  it('v1 against v2, both replayed: the requests per class and per reason code are those of the README', () => {
    const {expected, actual} = expectedAndActual(path.join(dir, 'README.md'), classCounts(replays.v1!, replays.v2!))
    expect(actual).toEqual(expected)
  })
})
