import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import ticketsSkill from '../../scenarios/enterprise-tickets/skill/index.js'
import {bisectRun} from '../../src/bisect/bisect.js'
import {startOllamaServer, type OllamaServer} from '../../src/model/ollama-server.js'
import {createScriptedModel} from '../../src/model/scripted.js'
import type {ModelClient} from '../../src/model/types.js'
import {startShadow} from '../../src/shadow/run.js'
import type {TraceDatabase} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'
import {repoRoot} from '../helpers/cli.js'

/**
 * The model-call cache and bisect, through the Ollama-protocol server, on enterprise-tickets (a
 * domain src/ has never seen): every model call the server receives is counted, so "made" and
 * "avoided" are checked against what really went over the wire.
 */

const sc = path.join(repoRoot, 'scenarios', 'enterprise-tickets')
const MODEL = 'service-desk-agent'
let dir: string
let server: OllamaServer
let store: TraceDatabase
let chats = 0
let traffic: string

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-bisect-'))
  traffic = path.join(dir, 'traffic.jsonl')
  const scripted = createScriptedModel({name: MODEL, seed: 0, skills: [ticketsSkill]})
  const counting: ModelClient = {
    id: scripted.id,
    chat: (request, signal) => {
      if (request.messages.length > 0) chats++
      return scripted.chat(request, signal)
    },
  }
  server = await startOllamaServer({resolveModel: (n) => (n === MODEL ? counting : undefined), models: [MODEL], port: 0})
  store = openStore(path.join(dir, 'u.db'))
  // A handful of requests each change reaches: production changes (the approval rule), access
  // requests (the new required argument), unverified password resets (the prompt), a status question.
  const lines = readFileSync(path.join(sc, 'traffic.jsonl'), 'utf8').split('\n')
  writeFileSync(traffic, [15, 32, 39, 13, 30, 77, 134, 10].map((n) => lines[n - 1]).join('\n') + '\n')
})

afterAll(async () => {
  store?.close()
  await server?.close()
  rmSync(dir, {recursive: true, force: true})
})

const input = () => ({
  traffic,
  candidate: path.join(sc, 'v2'),
  baseline: path.join(sc, 'v1'),
  fixtures: path.join(sc, 'fixtures.yaml'),
  approver: 'pending' as const,
  model: `ollama:${MODEL}`,
  ollama_host: server.url,
})

describe('model-call cache and bisect over the Ollama protocol', () => {
  it('pays once for each distinct model request: a second run asks the server nothing, a bisect only what no run asked', async () => {
    const first = await startShadow(input(), store)
    expect(first.model_calls.made).toBeGreaterThan(0)
    expect(first.model_calls.made).toBe(chats)

    const before = chats
    const again = await startShadow(input(), store)
    expect(chats).toBe(before)
    expect(again.model_calls).toEqual({made: 0, avoided: first.model_calls.made + first.model_calls.avoided})

    const atBisect = chats
    const result = await bisectRun(store, first.run, {sample: 2})
    const ids = result.changes.map((c) => c.id)
    expect(ids).toContain('tool grant_access args.justification')
    expect(ids).toContain('policy prod-change-needs-approval')
    // Each attribution's verifying replay reproduces what it claims.
    for (const a of result.attributions) for (const g of a.groups) expect(g.verified.reproduced).toBeGreaterThanOrEqual(g.requests)
    const attributed = new Set(result.attributions.flatMap((a) => (Array.isArray(a.change) ? a.change : [a.change])))
    expect(attributed).toContain('tool grant_access args.justification')
    expect(attributed).toContain('policy prod-change-needs-approval')
    // What the bisect asked the server is what it counted as made; the rest came from the cache.
    expect(chats - atBisect).toBe(result.replays.model_calls.made)
    expect(result.replays.model_calls.avoided).toBeGreaterThan(0)
    expect(result.replays.naive_model_calls).toBeGreaterThan(result.replays.model_calls.made)
  }, 60_000)
})
