import {readdirSync, readFileSync} from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {Ajv} from 'ajv'
import {afterEach, describe, expect, it} from 'vitest'
import {ModelError} from '../../src/errors.js'
import {createOllamaModel, preflightOllama} from '../../src/model/ollama.js'
import {startOllamaServer, type OllamaServer, type OllamaServerFaults} from '../../src/model/ollama-server.js'
import type {ChatMessage, ChatRequest, ChatResponse, ModelClient, ToolSpec} from '../../src/model/types.js'
import {repoRoot} from '../helpers/cli.js'

// One set of fixtures, converted from Ollama's docs/api.md (see test/fixtures/ollama-api/README.md),
// checks both sides so they cannot drift: our client against replayed documented responses, and the
// sandbox server against the documented requests.

type Json = null | boolean | number | string | Json[] | {[k: string]: Json}
type Fixture = {
  source: string
  method: 'GET' | 'POST'
  path: string
  request?: Record<string, Json>
  status: number
  response?: Record<string, Json>
  stream?: Record<string, Json>[]
}

const DIR = path.join(repoRoot, 'test', 'fixtures', 'ollama-api')
const FIXTURES: Record<string, Fixture> = Object.fromEntries(
  readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as Fixture]),
)
const fx = (name: string): Fixture => {
  const f = FIXTURES[name]
  if (!f) throw new Error(`no fixture ${name}`)
  return f
}

/** Fields Ollama's docs show that the sandbox leaves out: `context` is deprecated (api.md) and omitempty. */
const SANDBOX_OMITS = new Set(['context'])
/** Objects whose keys depend on the model (its architecture), not on the API. */
const FREE_FORM = new Set(['model_info', 'arguments', 'properties', 'options'])

/** Where `actual` lacks a documented key or has another JSON type there; [] when it has the documented shape. */
function shapeErrors(expected: unknown, actual: unknown, at = '$'): string[] {
  const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)
  if (kind(expected) !== kind(actual)) return [`${at}: ${kind(actual)}, documented ${kind(expected)}`]
  if (Array.isArray(expected) && Array.isArray(actual)) {
    return expected.length > 0 && actual.length > 0 ? shapeErrors(expected[0], actual[0], `${at}[0]`) : []
  }
  if (kind(expected) !== 'object') return []
  const e = expected as Record<string, unknown>
  const a = actual as Record<string, unknown>
  const errors: string[] = []
  for (const key of Object.keys(e)) {
    if (!(key in a)) {
      if (!SANDBOX_OMITS.has(key)) errors.push(`${at}.${key}: missing`)
      continue
    }
    if (!FREE_FORM.has(key)) errors.push(...shapeErrors(e[key], a[key], `${at}.${key}`))
  }
  return errors
}

/** The whole answer a fixture documents: content (or response) and thinking concatenated, tool calls, counts. */
function documentedAnswer(f: Fixture): {text: string; thinking: string; calls: {name: string; arguments: Record<string, unknown>}[]; final: Record<string, Json>} {
  const parts = f.stream ?? [f.response!]
  let text = ''
  let thinking = ''
  const calls: {name: string; arguments: Record<string, unknown>}[] = []
  for (const p of parts) {
    const m = (p.message ?? {}) as Record<string, Json>
    text += typeof p.response === 'string' ? p.response : typeof m.content === 'string' ? m.content : ''
    thinking += typeof m.thinking === 'string' ? m.thinking : typeof p.thinking === 'string' ? p.thinking : ''
    for (const c of (m.tool_calls ?? []) as {function: {name: string; arguments: Record<string, unknown>}}[]) calls.push({name: c.function.name, arguments: c.function.arguments})
  }
  return {text, thinking, calls, final: parts.at(-1)!}
}

/** A fixture's chat request as the runtime states it. */
function toChatRequest(f: Fixture): ChatRequest {
  const body = f.request!
  return {
    model: String(body.model),
    // Documented tool calls are {function: {name, arguments}}; the runtime's are {name, arguments}.
    messages: ((body.messages ?? []) as {role: string; content: string; tool_name?: string; tool_calls?: {function: {name: string; arguments: Record<string, unknown>}}[]}[]).map(
      (m): ChatMessage =>
        m.tool_calls ? {role: 'assistant', content: m.content, tool_calls: m.tool_calls.map((c) => c.function)} : (m as ChatMessage),
    ),
    tools: (body.tools as unknown as ToolSpec[] | undefined) ?? [],
    ...(body.format === undefined ? {} : {format: body.format as ChatRequest['format']}),
    options: {temperature: 0.8, seed: 0, num_predict: -1, ...(body.options as Record<string, number> | undefined)},
  }
}

/** A model that answers what the fixture documents, so the sandbox's framing is what is checked. */
function documentedModelFor(f: Fixture): ModelClient {
  return {
    id: 'fixture',
    async chat(): Promise<ChatResponse> {
      const doc = documentedAnswer(f)
      const count = (k: string): number => (typeof doc.final[k] === 'number' ? (doc.final[k] as number) : 0)
      return {
        message: {role: 'assistant', content: doc.text, tool_calls: doc.calls},
        input_tokens: count('prompt_eval_count'),
        output_tokens: count('eval_count'),
        latency_ms: 1,
        done_reason: 'stop',
      }
    },
  }
}

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0)) await c()
})

describe('Ollama API contract: our client against the documented responses', () => {
  /** Replays one fixture per path; records what the client sent. */
  async function stub(byPath: Record<string, Fixture>): Promise<{url: string; seen: {path: string; body: Record<string, unknown>}[]}> {
    const seen: {path: string; body: Record<string, unknown>}[] = []
    const server = http.createServer((req, res) => {
      let raw = ''
      req.on('data', (d: Buffer) => (raw += d.toString()))
      req.on('end', () => {
        const p = req.url ?? '/'
        seen.push({path: p, body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {}})
        const f = byPath[p]
        if (!f) return void res.writeHead(404, {'content-type': 'text/plain'}).end('404 page not found')
        if (f.stream) {
          res.writeHead(f.status, {'content-type': 'application/x-ndjson'})
          res.end(f.stream.map((c) => JSON.stringify(c) + '\n').join(''))
        } else {
          res.writeHead(f.status, {'content-type': 'application/json; charset=utf-8'}).end(JSON.stringify(f.response))
        }
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    closers.push(() => new Promise((r) => server.close(() => r())))
    return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen}
  }

  const CHAT_PARAMS = new Set(['model', 'messages', 'tools', 'think', 'format', 'options', 'stream', 'keep_alive'])

  for (const name of ['chat', 'chat-stream', 'chat-tools', 'chat-stream-tools', 'chat-history-tools', 'chat-think', 'chat-format']) {
    it(`${name}: sends the documented request, reads the documented answer`, async () => {
      const f = fx(name)
      const {url, seen} = await stub({'/api/chat': f})
      const think = f.request!.think as boolean | undefined
      const client = createOllamaModel({host: url, model: String(f.request!.model), timeoutMs: 5000, retries: 0, stream: f.stream !== undefined, think})
      const answer = await client.chat(toChatRequest(f))

      const sent = seen[0]!.body
      expect(Object.keys(sent).filter((k) => !CHAT_PARAMS.has(k))).toEqual([])
      expect(shapeErrors(f.request, sent)).toEqual([])
      // What the documentation sends is what we send: messages (history, tool calls, tool results) and tools.
      expect(sent.messages).toEqual(f.request!.messages)
      if (f.request!.tools) expect(sent.tools).toEqual(f.request!.tools)
      expect(sent.stream).toBe(f.stream !== undefined)
      if (think !== undefined) expect(sent.think).toBe(think)
      expect(sent.format).toEqual(f.request!.format)
      if (f.request!.options) expect(sent.options).toMatchObject(f.request!.options as Record<string, unknown>)

      const doc = documentedAnswer(f)
      expect(answer.message.content).toBe(doc.text)
      // A thinking model's reasoning is never the answer.
      if (doc.thinking) expect(answer.message.content).not.toContain(doc.thinking)
      // It is kept beside the answer, for the trace; absent when the model did not think.
      expect(answer.thinking).toBe(doc.thinking || undefined)
      expect(answer.message.tool_calls).toEqual(doc.calls)
      expect(answer.input_tokens).toBe(doc.final.prompt_eval_count)
      expect(answer.output_tokens).toBe(doc.final.eval_count)
      expect(answer.done_reason).toBe(doc.final.done_reason ?? 'stop')
    })
  }

  it('keep_alive "10" (seconds in the bundle) goes out as the number 10: Go\'s ParseDuration refuses "10"', async () => {
    const server = await startOllamaServer({models: ['llama3.2'], resolveModel: () => documentedModelFor(fx('chat'))})
    closers.push(() => server.close())
    const client = createOllamaModel({host: server.url, model: 'llama3.2', timeoutMs: 5000, retries: 0, keepAlive: '10'})
    await expect(client.chat(toChatRequest(fx('chat')))).resolves.toMatchObject({message: {content: 'Hello! How are you today?'}})
    await expect(preflightOllama(server.url, 'llama3.2', 5000, {keepAlive: '10', tools: false})).resolves.toBe('llama3.2:latest')
  })

  it('preflight: /api/tags, /api/show, then the documented load (chat with messages: [])', async () => {
    const show = {...fx('show'), response: {...fx('show').response!, capabilities: ['completion', 'tools']}}
    const {url, seen} = await stub({'/api/tags': fx('tags'), '/api/show': show, '/api/chat': fx('chat-load')})
    expect(await preflightOllama(url, 'Llama3.2', 5000, {keepAlive: '10m'})).toBe('llama3.2:latest')
    expect(seen.map((s) => s.path)).toEqual(['/api/tags', '/api/show', '/api/chat'])
    expect(seen[1]!.body).toEqual({model: 'llama3.2:latest'})
    const load = seen[2]!.body
    expect(shapeErrors(fx('chat-load').request, load)).toEqual([])
    expect(load).toMatchObject({messages: [], keep_alive: '10m'})
  })

  it('error bodies: 404 is a missing model, 400 and 500 carry Ollama\'s message', async () => {
    const cases: [string, string, RegExp][] = [
      ['error-model-not-found', 'model_missing', /model "llama9" is not available/],
      ['error-think-unsupported', 'server_error', /HTTP 400\): "llama3\.2" does not support thinking/],
      ['error-option-type', 'server_error', /HTTP 500: option "temperature" must be of type float32/],
    ]
    for (const [name, code, message] of cases) {
      const f = fx(name)
      const {url} = await stub({'/api/chat': f})
      const client = createOllamaModel({host: url, model: String(f.request!.model), timeoutMs: 5000, retries: 0})
      const error = await client.chat(toChatRequest(f)).then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(ModelError)
      expect(error).toMatchObject({code, message: expect.stringMatching(message)})
    }
  })
})

describe('Ollama API contract: the sandbox server answers the documented requests as documented', () => {
  const MODELS = ['llama3.2', 'llama3.1', 'llama3.1:8b', 'qwen3', 'llava', 'mistral']

  async function serve(f: Fixture, faults: OllamaServerFaults = {}): Promise<OllamaServer> {
    const server = await startOllamaServer({models: MODELS, resolveModel: () => documentedModelFor(f), faults})
    closers.push(() => server.close())
    return server
  }

  async function send(server: OllamaServer, f: Fixture): Promise<Response> {
    return fetch(`${server.url}${f.path}`, {
      method: f.method,
      ...(f.method === 'POST' ? {headers: {'content-type': 'application/json'}, body: f.request === undefined ? '' : JSON.stringify(f.request)} : {}),
    })
  }

  const answers = Object.keys(FIXTURES).filter((n) => !n.startsWith('error-') && n !== 'ps')
  for (const name of answers) {
    it(`${name}: ${fx(name).method} ${fx(name).path}`, async () => {
      const f = fx(name)
      const server = await serve(f, {thinks: f.request?.think === true})
      const res = await send(server, f)
      expect(res.status).toBe(f.status)
      if (f.stream) {
        // NDJSON: one JSON object a line, every line ended, only the last one done.
        expect(res.headers.get('content-type')).toBe('application/x-ndjson')
        const text = await res.text()
        expect(text.endsWith('\n')).toBe(true)
        const chunks = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
        expect(chunks.map((c) => c.done)).toEqual([...chunks.slice(1).map(() => false), true])
        expect(shapeErrors(f.stream[0], chunks[0])).toEqual([])
        expect(shapeErrors(f.stream.at(-1), chunks.at(-1))).toEqual([])
        const doc = documentedAnswer(f)
        expect(documentedAnswer({...f, stream: chunks as Record<string, Json>[]})).toMatchObject({text: doc.text, calls: doc.calls})
        expect(chunks.at(-1)).toMatchObject({prompt_eval_count: doc.final.prompt_eval_count, eval_count: doc.final.eval_count})
        return
      }
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      const body = (await res.json()) as Record<string, unknown>
      expect(shapeErrors(f.response, body)).toEqual([])
      for (const key of ['done', 'done_reason'] as const) if (f.response![key] !== undefined) expect(body[key]).toEqual(f.response![key])
      if (f.response!.message !== undefined && f.request?.think !== true) expect(documentedAnswer({...f, response: body as Record<string, Json>}).text).toBe(documentedAnswer(f).text)
    })
  }

  it('generate-load answers done_reason "load" (server/routes.go GenerateHandler), as the chat load does', async () => {
    const server = await serve(fx('generate-load'))
    expect(await (await send(server, fx('generate-load'))).json()).toMatchObject({done: true, done_reason: 'load', response: ''})
  })

  it('chat-think: the thinking arrives apart from the content, streamed first; think: false turns it off', async () => {
    const f = fx('chat-think')
    const server = await serve(f, {thinks: true})
    const streamed = await fetch(`${server.url}/api/chat`, {method: 'POST', body: JSON.stringify({...f.request, stream: true})})
    const chunks = (await streamed.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as {message: {content: string; thinking?: string}})
    const firstContent = chunks.findIndex((c) => c.message.content !== '')
    const lastThinking = chunks.findLastIndex((c) => (c.message.thinking ?? '') !== '')
    expect(lastThinking).toBeGreaterThanOrEqual(0)
    expect(lastThinking).toBeLessThan(firstContent)
    expect(chunks.map((c) => c.message.content).join('')).toBe(documentedAnswer(f).text)
    const off = (await (await fetch(`${server.url}/api/chat`, {method: 'POST', body: JSON.stringify({...f.request, think: false})})).json()) as {message: Record<string, unknown>}
    expect(off.message.thinking).toBeUndefined()
  })

  it('ps: the loaded model, with the documented fields, and none once unloaded', async () => {
    const server = await serve(fx('ps'))
    await fetch(`${server.url}/api/generate`, {method: 'POST', body: JSON.stringify({model: 'mistral'})})
    const listed = (await (await send(server, fx('ps'))).json()) as {models: Record<string, unknown>[]}
    expect(shapeErrors(fx('ps').response, listed)).toEqual([])
    expect(listed.models.map((m) => m.name)).toEqual(['mistral:latest'])
    await fetch(`${server.url}/api/chat`, {method: 'POST', body: JSON.stringify({model: 'mistral', messages: [], keep_alive: 0})})
    expect(await (await send(server, fx('ps'))).json()).toEqual({models: []})
  })

  for (const name of Object.keys(FIXTURES).filter((n) => n.startsWith('error-'))) {
    it(`${name}: HTTP ${fx(name).status} ${JSON.stringify(fx(name).response)}`, async () => {
      const f = fx(name)
      const server = await serve(f)
      const res = await send(server, f)
      expect(res.status).toBe(f.status)
      expect(await res.json()).toEqual(f.response)
    })
  }

  it('format: prose from the model comes out as JSON matching the schema (chat and generate)', async () => {
    const prose: Fixture = {...fx('chat'), response: {...fx('chat').response!, message: {role: 'assistant', content: 'Sure! Ollama is 22.'}}}
    const server = await serve(prose)
    const schema = fx('chat-format').request!.format as Record<string, unknown>
    const validate = new Ajv().compile(schema)
    const chat = (await (await send(server, fx('chat-format'))).json()) as {message: {content: string}}
    expect(validate(JSON.parse(chat.message.content))).toBe(true)
    const gen = (await (await send(server, fx('generate-format'))).json()) as {response: string}
    expect(validate(JSON.parse(gen.response))).toBe(true)
    const json = (await (await fetch(`${server.url}/api/chat`, {method: 'POST', body: JSON.stringify({...fx('chat').request, format: 'json'})})).json()) as {message: {content: string}}
    expect(JSON.parse(json.message.content)).toEqual({content: 'Sure! Ollama is 22.'})
  })

  it('format with tools offered: no tool call comes back, the answer is text of the format (streamed or not), as under constrained decoding', async () => {
    const schema = {type: 'object', properties: {city: {type: 'string'}}, required: ['city']}
    const validate = new Ajv().compile(schema)
    for (const name of ['chat-tools', 'chat-stream-tools']) {
      const f = fx(name)
      const server = await serve(f)
      const res = await send(server, {...f, request: {...f.request!, format: schema}})
      expect(res.status).toBe(200)
      const chunks = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as {message: {content: string; tool_calls?: unknown}})
      expect(chunks.some((c) => c.message.tool_calls !== undefined), name).toBe(false)
      const content = chunks.map((c) => c.message.content).join('')
      expect(validate(JSON.parse(content)), `${name}: ${content}`).toBe(true)
      // Without format the same model proposes its documented call.
      const plain = (await (await send(server, f)).text()).trim().split('\n').map((l) => JSON.parse(l) as {message: {tool_calls?: unknown}})
      expect(plain.some((c) => c.message.tool_calls !== undefined)).toBe(true)
    }
  })

  it('roles are read case-insensitively; keep_alive and option types are checked as Ollama reads them', async () => {
    const server = await serve(fx('chat'))
    const post = (body: unknown): Promise<Response> => fetch(`${server.url}/api/chat`, {method: 'POST', body: JSON.stringify(body)})
    expect((await post({model: 'llama3.2', stream: false, messages: [{role: 'USER', content: 'hi'}]})).status).toBe(200)
    expect(await (await post({model: 'llama3.2', stream: false, keep_alive: true, messages: [{role: 'user', content: 'hi'}]})).json()).toEqual({error: "Unsupported type: 'bool'"})
    expect(await (await post({model: 'llama3.2', stream: false, keep_alive: '10', messages: [{role: 'user', content: 'hi'}]})).json()).toEqual({error: 'time: invalid duration "10"'})
    expect((await post({model: 'llama3.2', stream: false, keep_alive: '1h30m', messages: [{role: 'user', content: 'hi'}]})).status).toBe(200)
    // Unknown options are ignored (Ollama logs them); integers accept any JSON number, as Go's FromMap does.
    expect((await post({model: 'llama3.2', stream: false, options: {num_ctx: 4096.5, bogus: 'x'}, messages: [{role: 'user', content: 'hi'}]})).status).toBe(200)
    expect(await (await post({model: 'llama3.2', stream: false, options: {stop: ['a', 1]}, messages: [{role: 'user', content: 'hi'}]})).json()).toEqual({
      error: 'option "stop" must be of an array of strings',
    })
  })
})
