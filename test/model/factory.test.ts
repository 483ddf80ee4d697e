import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, afterEach, beforeEach, describe, expect, it, vi} from 'vitest'
import {ModelConfig} from '../../src/bundle/schema.js'
import {ModelError, ValidationError} from '../../src/errors.js'
import {recordingModel} from '../../src/model/cassette.js'
import {createModel, parseModelSpec} from '../../src/model/factory.js'
import type {ChatRequest, ChatResponse, ModelClient} from '../../src/model/types.js'
import {startOllamaServer, type OllamaServer} from '../../src/model/ollama-server.js'
import {createRedactor} from '../../src/runtime/redact.js'

// The scripted model is another module's job; here we only check what the factory asks of it.
const scripted = vi.hoisted(() => ({calls: [] as {name: string; seed: number}[]}))
vi.mock('../../src/model/scripted.js', () => ({
  createScriptedModel: (opts: {name: string; seed: number}): ModelClient => {
    scripted.calls.push(opts)
    return {id: `scripted:${opts.name}`, chat: () => Promise.reject(new Error('not used'))}
  },
}))

// Test files share a worker's modules (vitest.config.ts): the next file must get the real scripted model.
afterAll(() => {
  vi.doUnmock('../../src/model/scripted.js')
  vi.resetModules()
})

const fixed = (content: string): ModelClient => ({
  id: 'fake:fixed',
  async chat(): Promise<ChatResponse> {
    return {message: {role: 'assistant', content, tool_calls: []}, input_tokens: 3, output_tokens: 2, latency_ms: 1, done_reason: 'stop'}
  },
})

const bundleModel = (over: Partial<ModelConfig> = {}): ModelConfig => ModelConfig.parse({provider: 'scripted', name: 'support-v2', seed: 42, ...over})

const request: ChatRequest = {
  model: 'support-v2',
  messages: [{role: 'user', content: 'hi'}],
  tools: [],
  options: {temperature: 0, seed: 42, num_predict: 64},
}

let server: OllamaServer | undefined
let dir: string
beforeEach(() => {
  scripted.calls.length = 0
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'understudy-factory-'))
})
afterEach(async () => {
  await server?.close()
  server = undefined
  fs.rmSync(dir, {recursive: true, force: true})
})

describe('parseModelSpec', () => {
  it('reads the three forms; an Ollama name may itself hold colons', () => {
    expect(parseModelSpec('scripted')).toEqual({provider: 'scripted', name: null})
    expect(parseModelSpec('scripted:support-v1')).toEqual({provider: 'scripted', name: 'support-v1'})
    expect(parseModelSpec('ollama:llama3.1:8b')).toEqual({provider: 'ollama', name: 'llama3.1:8b'})
    expect(parseModelSpec(' ollama:qwen2.5 ')).toEqual({provider: 'ollama', name: 'qwen2.5'})
    expect(parseModelSpec('recorded')).toEqual({provider: 'recorded', name: null})
    expect(parseModelSpec('compromised')).toEqual({provider: 'compromised', name: null})
  })

  it('explains what is wrong with anything else, in one line', () => {
    const cases: [string, RegExp][] = [
      ['gpt-4o', /^--model: "gpt-4o" is not a model spec; use recorded, compromised, scripted, scripted:<name> or ollama:<name>/],
      ['openai:gpt-4o', /is not a model spec/],
      ['Scripted', /is not a model spec/],
      ['', /^--model: an empty model spec; use recorded/],
      ['recorded:prod', /^--model "recorded:prod": recorded replays production's own proposals and takes no model name; use --model recorded$/],
      ['compromised:x', /takes no model name; use --model compromised$/],
      ['ollama', /^--model "ollama": say which Ollama model, e.g. ollama:llama3.1:8b/],
      ['ollama:', /the model name after "ollama:" is empty/],
      ['scripted:  ', /the model name after "scripted:" is empty/],
    ]
    for (const [spec, message] of cases) {
      expect(() => parseModelSpec(spec), spec).toThrow(ValidationError)
      expect(() => parseModelSpec(spec), spec).toThrow(message)
    }
  })
})

describe('createModel', () => {
  it('uses the bundle model (name and seed) when no spec is given', async () => {
    const m = await createModel({spec: null, bundleModel: bundleModel()})
    expect(m.id).toBe('scripted:support-v2')
    expect(scripted.calls).toEqual([{name: 'support-v2', seed: 42}])
  })

  it('lets the spec pick another scripted model, keeping the bundle seed', async () => {
    await createModel({spec: 'scripted:support-v1', bundleModel: bundleModel()})
    await createModel({spec: 'scripted', bundleModel: bundleModel({name: 'b'})})
    expect(scripted.calls).toEqual([
      {name: 'support-v1', seed: 42},
      {name: 'b', seed: 42},
    ])
  })

  it('runs the Ollama preflight and answers through Ollama', async () => {
    const inner = fixed('from the server')
    server = await startOllamaServer({resolveModel: (n) => (n === 'tiny' ? inner : undefined), models: ['tiny'], port: 0})
    const m = await createModel({spec: 'ollama:tiny', bundleModel: bundleModel(), ollamaHost: server.url})
    expect(m.id).toBe('ollama:tiny')
    expect((await m.chat(request)).message.content).toBe('from the server')
  })

  it('fails before the run when the Ollama model is missing, without any chat', async () => {
    server = await startOllamaServer({resolveModel: () => undefined, models: ['tiny'], port: 0})
    const err = await createModel({spec: null, bundleModel: bundleModel({provider: 'ollama', name: 'llama3.1:8b'}), ollamaHost: server.url}).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(ModelError)
    expect((err as ModelError).code).toBe('model_missing')
    expect(server.stats.requests).toBe(1)
  })

  it('passes the bundle\'s think and keep_alive to the preflight and to every call; refuses a model without the capability (#23)', async () => {
    const inner = fixed('from the server')
    server = await startOllamaServer({resolveModel: (n) => (n === 'tiny' ? inner : undefined), models: ['tiny'], port: 0, faults: {thinkBudget: 5}})
    const m = await createModel({spec: 'ollama:Tiny', bundleModel: bundleModel({think: 'low', keep_alive: '1h'}), ollamaHost: server.url})
    expect(m.id).toBe('ollama:Tiny')
    const e = await m.chat(request).catch((x: unknown) => x)
    expect((e as ModelError).code).toBe('truncated')
    expect((e as ModelError).message).toContain('(done_reason: length) after 5 tokens, all of them spent thinking')

    await server.close()
    server = await startOllamaServer({resolveModel: (n) => (n === 'tiny' ? inner : undefined), models: ['tiny'], port: 0, faults: {noTools: true}})
    const refused = await createModel({spec: 'ollama:tiny', bundleModel: bundleModel(), ollamaHost: server.url}).catch((x: unknown) => x)
    expect((refused as ModelError).code).toBe('unsupported')
    expect((refused as ModelError).message).toBe(`model "tiny" on ${server.url} does not support tools (the run offers tools); its capabilities: completion`)
  })

  it('records a cassette and replays it offline, with no server at all', async () => {
    const inner = fixed('recorded answer')
    server = await startOllamaServer({resolveModel: () => inner, models: ['tiny'], port: 0})
    const file = path.join(dir, 'run.jsonl')
    const recorder = await createModel({spec: 'ollama:tiny', bundleModel: bundleModel(), ollamaHost: server.url, recordCassette: file, redactor: createRedactor()})
    const live = await recorder.chat(request)
    await recorder.close?.()
    await server.close()
    server = undefined

    const replay = await createModel({spec: 'ollama:tiny', bundleModel: bundleModel(), ollamaHost: 'http://127.0.0.1:1', replayCassette: file, redactor: createRedactor()})
    expect(await replay.chat(request)).toEqual(live)
  })

  it('refuses to record and replay at once', async () => {
    const file = path.join(dir, 'c.jsonl')
    await recordingModel(fixed('x'), file, {redactor: createRedactor()}).chat(request)
    await expect(createModel({spec: null, bundleModel: bundleModel(), recordCassette: file, replayCassette: file, redactor: createRedactor()})).rejects.toThrow(
      '--record-cassette and --replay-cassette cannot be used together',
    )
    expect(scripted.calls).toEqual([])
  })
})
