import {cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {startOllamaServer, type OllamaServer} from '../../src/model/ollama-server.js'
import {supportSkill} from '../../scenarios/support-refunds/skill/index.js'
import {createScriptedModel} from '../../src/model/scripted.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {resumeShadow, startShadow} from '../../src/shadow/run.js'
import {openStore} from '../../src/store/sqlite.js'
import type {TraceDatabase} from '../../src/store/api.js'
import {repoRoot} from '../helpers/cli.js'

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const traffic = path.join(scenario, 'traffic.jsonl')
const v1 = path.join(scenario, 'v1')
const v2 = path.join(scenario, 'v2')
const fixtures = path.join(scenario, 'fixtures.yaml')
const skills = [path.join(scenario, 'skill', 'index.ts')]

let dir: string
let store: TraceDatabase

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-shadow-'))
  store = openStore(path.join(dir, 'u.db'))
})
afterEach(() => {
  store.close()
  rmSync(dir, {recursive: true, force: true})
})

function trafficLines(): string[] {
  return readFileSync(traffic, 'utf8').split('\n').filter((l) => l.trim() !== '')
}

function writeTraffic(name: string, lines: string[]): string {
  const file = path.join(dir, name)
  writeFileSync(file, lines.join('\n') + '\n')
  return file
}

function traces(runId: string, side?: RequestTrace['side']): RequestTrace[] {
  return [...store.iterateTraces(runId, side ? {side} : undefined)]
}

function category(line: string): string | undefined {
  return (JSON.parse(line) as {labels?: Record<string, string>}).labels?.category
}

describe('shadow run on the shipped scenario', () => {
  it('replays every request through v2 against recorded and stores both sides', async () => {
    const result = await startShadow({traffic, candidate: v2, fixtures, skills}, store)
    const lines = trafficLines()
    expect(result.run.status).toBe('completed')
    expect(result.interrupted).toBe(false)
    expect(result.run.requests_total).toBe(lines.length)
    expect(store.countTraces(result.run.id, {side: 'recorded'})).toBe(lines.length)
    expect(store.countTraces(result.run.id, {side: 'candidate'})).toBe(lines.length)

    // v2 drops the injection guard and the deny rule: the injected send_email executes (the regression the scenario exists to show).
    const injected = new Set(lines.filter((l) => category(l) === 'injection_retrieved').map((l) => (JSON.parse(l) as {id: string}).id))
    expect(injected.size).toBeGreaterThan(0)
    const cand = traces(result.run.id, 'candidate').filter((t) => injected.has(t.request_id))
    const executedEmails = cand.filter((t) => t.tool_calls.some((c) => c.name === 'send_email' && c.executed))
    expect(executedEmails.length).toBe(injected.size)
    // and the guardrail flagged every one of them
    for (const t of cand) expect(t.guardrails.some((g) => g.check === 'retrieval.injection' && !g.passed)).toBe(true)
  })

  it('v1 replayed against recorded is nearly identical in tool calls and decisions', async () => {
    const result = await startShadow({traffic, candidate: v1, fixtures, skills}, store)
    const rec = new Map(traces(result.run.id, 'recorded').map((t) => [t.request_id, t]))
    let same = 0
    const cand = traces(result.run.id, 'candidate')
    for (const t of cand) {
      const r = rec.get(t.request_id)!
      const names = (x: RequestTrace) => x.tool_calls.map((c) => `${c.name}:${c.outcome}`).join(',')
      if (names(r) === names(t) && r.status === t.status) same++
    }
    expect(same / cand.length).toBeGreaterThan(0.95)
  })

  it('injected KB instructions never execute a tool the policy denies', async () => {
    // v2's prompt (no injection guard, so the model proposes the email) with v1's deny rule put back.
    const bundle = path.join(dir, 'v2-guarded')
    cpSync(v2, bundle, {recursive: true})
    const manifestFile = path.join(bundle, 'bundle.yaml')
    const manifest = YAML.parse(readFileSync(manifestFile, 'utf8')) as {policies: unknown[]}
    const v1Manifest = YAML.parse(readFileSync(path.join(v1, 'bundle.yaml'), 'utf8')) as {policies: {id: string}[]}
    const rule = v1Manifest.policies.find((p) => p.id === 'email-external-under-injection')
    expect(rule).toBeDefined()
    manifest.policies.push(rule)
    writeFileSync(manifestFile, YAML.stringify(manifest))

    const lines = trafficLines().filter((l) => category(l) === 'injection_retrieved')
    const file = writeTraffic('injection.jsonl', lines)
    const result = await startShadow({traffic: file, candidate: bundle, fixtures, skills}, store)
    const cand = traces(result.run.id, 'candidate')
    expect(cand.length).toBe(lines.length)
    for (const t of cand) {
      const emails = t.tool_calls.filter((c) => c.name === 'send_email')
      expect(emails.length).toBeGreaterThan(0) // the model did try
      for (const c of emails) {
        expect(c.executed).toBe(false)
        expect(c.outcome).toBe('denied')
      }
      expect(t.policy_decisions.some((d) => d.tool === 'send_email' && d.decision === 'deny' && d.rule === 'email-external-under-injection')).toBe(true)
    }
  })

  it('compares against a baseline bundle and repeats each side', async () => {
    const file = writeTraffic('small.jsonl', trafficLines().slice(0, 40))
    const result = await startShadow({traffic: file, candidate: v2, baseline: v1, fixtures, skills, repeat: 2}, store)
    expect(result.run.baseline_ref).toMatch(/^support-refunds@1\./)
    expect(store.countTraces(result.run.id, {side: 'recorded'})).toBe(0)
    expect(store.countTraces(result.run.id, {side: 'baseline'})).toBe(80)
    expect(store.countTraces(result.run.id, {side: 'candidate'})).toBe(80)
    expect(store.countTraces(result.run.id, {side: 'candidate', repeat: 1})).toBe(40)
  })

  it('records a malformed line as a skipped request and goes on', async () => {
    const lines = trafficLines().slice(0, 5)
    lines.splice(2, 0, '{"id": "broken-1", "timestamp": ')
    lines.splice(4, 0, JSON.stringify({...JSON.parse(lines[0]!), id: 'req-000001'})) // a duplicate id
    const file = writeTraffic('bad.jsonl', lines)
    const result = await startShadow({traffic: file, candidate: v2, fixtures, skills}, store)
    expect(result.run.status).toBe('completed')
    const skipped = traces(result.run.id, 'candidate').filter((t) => t.status === 'skipped')
    expect(skipped.map((t) => t.request_id).sort()).toEqual(['broken-1', 'req-000001#line5'])
    const broken = skipped.find((t) => t.request_id === 'broken-1')!
    expect(broken.line).toBe(3)
    expect(broken.error).toContain('bad.jsonl:3:')
    expect(skipped.find((t) => t.line === 5)!.error).toContain('duplicate request id "req-000001" (first on line 1)')
    expect(store.countTraces(result.run.id, {side: 'candidate'})).toBe(7)
  })

  it('a skipped line with several schema problems keeps every field name in its stored reason', async () => {
    const good = trafficLines()[0]!
    const bad = JSON.parse(trafficLines()[1]!) as Record<string, unknown> & {production: Record<string, unknown>}
    bad.tenant = ''
    bad.timestamp = 'yesterday'
    bad.production.outcome = 'exploded'
    const file = writeTraffic('multi.jsonl', [good, JSON.stringify(bad)])
    const result = await startShadow({traffic: file, candidate: v2, fixtures, skills}, store)
    const [skipped] = traces(result.run.id, 'candidate').filter((t) => t.status === 'skipped')
    expect(skipped!.request_id).toBe(bad.id)
    expect(skipped!.error).toMatch(/multi\.jsonl:2: timestamp: .* \(and 2 more problems on this line: tenant, production\.outcome\)$/)
  })

  it('never stores a planted secret in the clear', async () => {
    const secretCard = '4111 1111 1111 1111'
    const secretKey = 'sk-live-PLANTED0123456789abcdefXYZ'
    const record = JSON.parse(trafficLines().find((l) => category(l) === 'refund')!) as {
      id: string
      input: {role: string; content: string}[]
      production: {final_answer: string; tool_calls: {args: Record<string, unknown>; result?: unknown}[]}
    }
    record.id = 'planted-1'
    record.input.push({role: 'user', content: `my card is ${secretCard} and our api key is ${secretKey}`})
    record.production.final_answer += ` (card ${secretCard})`
    const call = record.production.tool_calls[0]
    if (call) call.result = {note: `customer said ${secretKey}`, card: secretCard}
    const file = writeTraffic('secret.jsonl', [JSON.stringify(record)])
    const result = await startShadow({traffic: file, candidate: v2, fixtures, skills}, store)
    expect(store.countTraces(result.run.id)).toBe(2)
    store.close()
    store = openStore(path.join(dir, 'u.db')) // checkpoint on close, so the main file holds everything
    for (const f of readdirSync(dir).filter((f) => f.startsWith('u.db'))) {
      const bytes = readFileSync(path.join(dir, f)).toString('latin1')
      expect(bytes.includes(secretKey), f).toBe(false)
      expect(bytes.includes(secretCard), f).toBe(false)
      expect(bytes.includes(secretCard.replaceAll(' ', '')), f).toBe(false)
    }
  })

  it('refuses to resume when the traffic file changed', async () => {
    const file = writeTraffic('t.jsonl', trafficLines().slice(0, 10))
    const controller = new AbortController()
    const result = await startShadow({traffic: file, candidate: v2, fixtures, skills}, store, {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    })
    expect(result.run.status).toBe('interrupted')
    writeTraffic('t.jsonl', trafficLines().slice(0, 11))
    await expect(resumeShadow(result.run.id, store)).rejects.toThrow(/traffic file .* changed since the run started/)
  })

  it('resumes an interrupted run without losing or repeating a request', async () => {
    const lines = trafficLines().slice(0, 200)
    const file = writeTraffic('t.jsonl', lines)
    const controller = new AbortController()
    let seen = 0
    const first = await startShadow({traffic: file, candidate: v2, fixtures, skills, concurrency: 4}, store, {
      signal: controller.signal,
      onProgress: (p) => {
        seen = p.requests
        if (seen >= 50) controller.abort()
      },
    })
    expect(first.interrupted).toBe(true)
    expect(first.run.status).toBe('interrupted')
    const stored = store.countTraces(first.run.id, {side: 'candidate'})
    expect(stored).toBeGreaterThanOrEqual(50)
    expect(stored).toBeLessThan(200)

    const second = await resumeShadow(first.run.id, store)
    expect(second.run.status).toBe('completed')
    expect(second.progress.already_stored).toBe(stored)
    const ids = traces(first.run.id, 'candidate').map((t) => t.request_id)
    expect(ids.length).toBe(200)
    expect(new Set(ids).size).toBe(200)
    expect(store.countTraces(first.run.id, {side: 'recorded'})).toBe(200)
  })
})

describe('model cassettes', () => {
  it('records every exchange, replays them identically with no model, and fails loudly on a miss', async () => {
    const file = writeTraffic('t.jsonl', trafficLines().slice(0, 30))
    const cassette = path.join(dir, 'cassette.jsonl')
    const recorded = await startShadow({traffic: file, candidate: v2, fixtures, skills, record_cassette: cassette}, store)
    const replayed = await startShadow({traffic: file, candidate: v2, fixtures, skills, replay_cassette: cassette}, store)
    expect(replayed.run.model).toMatch(/^cassette:/)
    const view = (t: RequestTrace) => [t.request_id, t.status, t.final_answer, t.tool_calls.map((c) => [c.name, c.args_hash, c.outcome])]
    expect(traces(replayed.run.id, 'candidate').map(view)).toEqual(traces(recorded.run.id, 'candidate').map(view))

    // v1 sends other prompts: its exchanges are not on the cassette
    await expect(startShadow({traffic: file, candidate: v1, fixtures, skills, replay_cassette: cassette}, store)).rejects.toThrow(
      /no cassette entry for this exchange/,
    )
    expect(store.listRuns()[0]!.status).toBe('failed')
  })
})

describe('shadow run through the Ollama wire protocol', () => {
  let server: OllamaServer
  beforeEach(async () => {
    server = await startOllamaServer({
      resolveModel: (name) => createScriptedModel({name: name.replace(/:latest$/, ''), seed: 0, skills: [supportSkill]}),
      models: ['support-agent'],
    })
  })
  afterEach(async () => server.close())

  it('gives the same tool calls, decisions and answers as the in-process scripted model', async () => {
    const file = writeTraffic('t.jsonl', trafficLines().slice(0, 60))
    const local = await startShadow({traffic: file, candidate: v2, fixtures, skills, model: 'scripted:support-agent'}, store)
    const remote = await startShadow(
      {traffic: file, candidate: v2, fixtures, skills, model: 'ollama:support-agent', ollama_host: server.url, concurrency: 8},
      store,
    )
    expect(remote.run.model).toBe('ollama:support-agent')
    expect(server.stats.requests).toBeGreaterThan(60)
    const a = traces(local.run.id, 'candidate')
    const b = traces(remote.run.id, 'candidate')
    expect(b.length).toBe(a.length)
    const view = (t: RequestTrace) => ({
      id: t.request_id,
      status: t.status,
      answer: t.final_answer,
      calls: t.tool_calls.map((c) => [c.name, c.args_hash, c.outcome]),
      decisions: t.policy_decisions.map((d) => [d.stage, d.tool, d.decision, d.reason]),
      tokens: [t.input_tokens, t.output_tokens, t.model_calls],
    })
    expect(b.map(view)).toEqual(a.map(view))
  })

  it('stops the run with a clear error when the server is down', async () => {
    const url = server.url
    await server.close()
    const file = writeTraffic('t.jsonl', trafficLines().slice(0, 3))
    await expect(startShadow({traffic: file, candidate: v2, fixtures, skills, model: 'ollama:support-agent', ollama_host: url}, store)).rejects.toThrow(
      /cannot reach Ollama at .* is `ollama serve` running/,
    )
    server = await startOllamaServer({resolveModel: () => undefined, models: []}) // for afterEach
  })
})
