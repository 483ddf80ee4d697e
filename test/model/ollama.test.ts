import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {ModelError, ValidationError} from '../../src/errors.js'
import {createOllamaModel, DEFAULT_OLLAMA_HOST, normalizeOllamaHost, preflightOllama, resolveOllamaHost} from '../../src/model/ollama.js'
import type {ChatRequest, ChatResponse, ModelClient} from '../../src/model/types.js'
import {startOllamaServer, type OllamaServer, type OllamaServerFaults} from '../../src/model/ollama-server.js'

/** A tiny deterministic model: calls the first offered tool once, then reports what the tool said. */
function echoModel(seen: ChatRequest[]): ModelClient {
  return {
    id: 'fake:echo',
    async chat(request: ChatRequest): Promise<ChatResponse> {
      seen.push(structuredClone(request))
      const last = request.messages[request.messages.length - 1]
      const lastUser = [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? ''
      const base = {input_tokens: 11 * request.messages.length, latency_ms: 1, done_reason: 'stop'}
      if (last?.role === 'tool') {
        return {...base, output_tokens: 3, message: {role: 'assistant', content: `${last.tool_name} said ${last.content}`, tool_calls: []}}
      }
      const tool = request.tools[0]
      if (tool) {
        return {...base, output_tokens: 9, message: {role: 'assistant', content: 'checking', tool_calls: [{name: tool.function.name, arguments: {order_id: lastUser, items: [1, 2]}}]}}
      }
      return {...base, output_tokens: 6, message: {role: 'assistant', content: `You said: ${lastUser}, twice: ${lastUser}`, tool_calls: []}}
    },
  }
}

let server: OllamaServer | undefined
let raw: http.Server | undefined
let seen: ChatRequest[] = []
afterEach(async () => {
  await server?.close()
  server = undefined
  if (raw) {
    raw.closeAllConnections()
    await new Promise((r) => raw!.close(r))
    raw = undefined
  }
  seen = []
})

/** A server that answers every request with the same JSON-typed body: for answers of the wrong shape. */
async function answering(body: string): Promise<string> {
  raw = http.createServer((_req, res) => {
    res.writeHead(200, {'content-type': 'application/json; charset=utf-8'})
    res.end(body)
  })
  await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(raw.address() as AddressInfo).port}`
}

async function start(faults?: OllamaServerFaults): Promise<string> {
  const model = echoModel(seen)
  server = await startOllamaServer({resolveModel: (n) => (n === 'echo' ? model : undefined), models: ['echo'], port: 0, faults})
  return server.url
}

async function closedPortUrl(): Promise<string> {
  const s = await startOllamaServer({resolveModel: () => undefined, models: [], port: 0})
  await s.close()
  return s.url
}

const request = (over: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'bundle-model',
  messages: [
    {role: 'system', content: 'You are terse.'},
    {role: 'user', content: 'ORD-7'},
  ],
  tools: [],
  options: {temperature: 0, seed: 3, num_predict: 128},
  ...over,
})

const tools: ChatRequest['tools'] = [
  {
    type: 'function',
    function: {name: 'lookup_order', description: 'Find an order', parameters: {type: 'object', properties: {order_id: {type: 'string', maxLength: 20}}}},
  },
]

async function modelError(p: Promise<unknown>): Promise<ModelError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError)
    return e as ModelError
  }
  throw new Error('expected a ModelError, got an answer')
}

describe('createOllamaModel against the sandbox server', () => {
  for (const stream of [false, true]) {
    it(`answers a chat (stream: ${stream}) with content, usage and latency`, async () => {
      const host = await start()
      const model = createOllamaModel({host, model: 'echo', timeoutMs: 5_000, stream})
      expect(model.id).toBe('ollama:echo')
      const r = await model.chat(request())
      expect(r.message).toEqual({role: 'assistant', content: 'You said: ORD-7, twice: ORD-7', tool_calls: []})
      expect(r.input_tokens).toBe(22)
      expect(r.output_tokens).toBe(6)
      expect(r.done_reason).toBe('stop')
      expect(r.latency_ms).toBeGreaterThanOrEqual(0)
      // The adapter asks for the configured Ollama model and passes the options through.
      expect(seen[0]!.model).toBe('echo')
      expect(seen[0]!.options).toEqual({temperature: 0, seed: 3, num_predict: 128})
      expect(seen[0]!.messages).toEqual(request().messages)
    })

    it(`maps tool calls both ways (stream: ${stream})`, async () => {
      const host = await start()
      const model = createOllamaModel({host, model: 'echo', timeoutMs: 5_000, stream})
      const first = await model.chat(request({tools}))
      expect(first.message.tool_calls).toEqual([{name: 'lookup_order', arguments: {order_id: 'ORD-7', items: [1, 2]}}])
      expect(first.message.content).toBe('checking')
      expect(seen[0]!.tools).toEqual(tools)

      const followUp = request({
        tools,
        messages: [
          ...request().messages,
          {role: 'assistant', content: first.message.content, tool_calls: first.message.tool_calls},
          {role: 'tool', tool_name: 'lookup_order', content: '{"ok":true,"result":{"status":"delivered"}}'},
        ],
      })
      const second = await model.chat(followUp)
      expect(second.message).toEqual({role: 'assistant', content: 'lookup_order said {"ok":true,"result":{"status":"delivered"}}', tool_calls: []})
      expect(seen[1]!.messages).toEqual(followUp.messages)
    })
  }

  it('says the server is down, and what to do, when nothing listens', async () => {
    const host = await closedPortUrl()
    const e = await modelError(createOllamaModel({host, model: 'echo', timeoutMs: 5_000}).chat(request()))
    expect(e.code).toBe('unreachable')
    expect(e.message).toBe(
      `cannot reach Ollama at ${host} (connection refused); is \`ollama serve\` running? set --ollama-host or OLLAMA_HOST`,
    )
  })

  it('suggests pulling a model the server does not have', async () => {
    const host = await start()
    for (const stream of [false, true]) {
      const e = await modelError(createOllamaModel({host, model: 'llama3.1:8b', timeoutMs: 5_000, stream}).chat(request()))
      expect(e.code).toBe('model_missing')
      expect(e.message).toBe(`model "llama3.1:8b" is not available on ${host}; run \`ollama pull llama3.1:8b\``)
    }
  })

  it('calls a body that is not JSON malformed, in both modes', async () => {
    const host = await start({garbage: true})
    for (const stream of [false, true]) {
      const e = await modelError(createOllamaModel({host, model: 'echo', timeoutMs: 5_000, stream}).chat(request()))
      expect(e.code).toBe('malformed')
      expect(e.message).toMatch(new RegExp(`^Ollama at ${host} answered something that is not a chat response: `))
      expect(e.message).not.toContain('\n')
    }
  })

  it('calls JSON of the wrong shape malformed, naming what is wrong', async () => {
    const cases: [string, RegExp][] = [
      ['{"done": true, "message": {"role": "assistant", "content": ', /the body is not JSON/],
      ['[1, 2, 3]', /expected one JSON object with "done": true, got an array/],
      ['{"done": true, "message": "hi"}', /"message" is string "hi", not an object/],
      ['{"done": true, "message": {"content": 7}}', /"message.content" is number 7, not a string/],
      ['{"done": true, "message": {"content": "", "tool_calls": [{"function": {}}]}}', /tool_calls\[0\]" has no function name/],
      ['{"done": true, "message": {"content": ""}, "eval_count": "many"}', /"eval_count" is string "many", not a count/],
    ]
    for (const [body, why] of cases) {
      const host = await answering(body)
      const e = await modelError(createOllamaModel({host, model: 'echo', timeoutMs: 5_000}).chat(request()))
      expect(e.code).toBe('malformed')
      expect(e.message).toMatch(new RegExp(`^Ollama at ${host} answered something that is not a chat response: `))
      expect(e.message).toMatch(why)
      raw!.closeAllConnections()
      await new Promise((r) => raw!.close(r))
      raw = undefined
    }
  })

  it('accepts tool arguments sent as a JSON string', async () => {
    const host = await answering(
      JSON.stringify({done: true, message: {role: 'assistant', content: '', tool_calls: [{function: {name: 'f', arguments: '{"a":1}'}}]}}),
    )
    const r = await createOllamaModel({host, model: 'echo', timeoutMs: 5_000}).chat(request())
    expect(r.message.tool_calls).toEqual([{name: 'f', arguments: {a: 1}}])
    expect(r.input_tokens).toBe(0)
  })

  it('retries an HTTP 500 and then succeeds', async () => {
    const host = await start({failRate: 0.5})
    const model = createOllamaModel({host, model: 'echo', timeoutMs: 5_000, retries: 1, backoffMs: 1})
    const r = await model.chat(request())
    expect(r.message.content).toBe('You said: ORD-7, twice: ORD-7')
    expect(server!.stats.requests).toBe(2)
    expect(seen).toHaveLength(1)
  })

  it('gives up after `retries` extra attempts on a persistent 5xx', async () => {
    const host = await start({status500: true})
    const e = await modelError(createOllamaModel({host, model: 'echo', timeoutMs: 5_000, retries: 2, backoffMs: 1}).chat(request()))
    expect(e.code).toBe('server_error')
    expect(e.message).toMatch(new RegExp(`^Ollama at ${host} failed with HTTP 500: injected fault`))
    expect(server!.stats.requests).toBe(3)
  })

  it('does not retry a 500 when retries is 0', async () => {
    const host = await start({failRate: 0.5})
    const e = await modelError(createOllamaModel({host, model: 'echo', timeoutMs: 5_000, retries: 0}).chat(request()))
    expect(e.code).toBe('server_error')
    expect(server!.stats.requests).toBe(1)
  })

  it('times out when the server answers later than the timeout, in both modes', async () => {
    const host = await start({delayMs: 600_000})
    for (const stream of [false, true]) {
      const e = await modelError(createOllamaModel({host, model: 'echo', timeoutMs: 50, stream}).chat(request()))
      expect(e.code).toBe('timeout')
      expect(e.message).toMatch(new RegExp(`^Ollama at ${host} did not answer within 50 ms \\(model "echo"\\)`))
    }
  })

  it("passes the caller's abort through instead of calling it a timeout", async () => {
    const host = await start({delayMs: 600_000})
    const controller = new AbortController()
    const pending = createOllamaModel({host, model: 'echo', timeoutMs: 60_000}).chat(request(), controller.signal)
    controller.abort(new Error('run cancelled'))
    await expect(pending).rejects.toThrow('run cancelled')
  })
})

describe('preflightOllama', () => {
  it('passes when the server has the model, with or without the :latest tag', async () => {
    const host = await start()
    await preflightOllama(host, 'echo')
    await preflightOllama(host, 'echo:latest')
    expect(seen).toHaveLength(0)
  })

  it('fails fast with the same messages as a chat', async () => {
    const host = await start()
    const missing = await modelError(preflightOllama(host, 'qwen2.5:7b'))
    expect(missing.code).toBe('model_missing')
    expect(missing.message).toBe(`model "qwen2.5:7b" is not available on ${host}; run \`ollama pull qwen2.5:7b\``)

    const odd = await answering('{"models": 3}')
    const bad = await modelError(preflightOllama(odd, 'echo'))
    expect(bad.code).toBe('malformed')
    expect(bad.message).toBe(`Ollama at ${odd} answered something that is not a model list: /api/tags has no "models" array`)

    const down = await closedPortUrl()
    const e = await modelError(preflightOllama(down, 'echo'))
    expect(e.code).toBe('unreachable')
    expect(e.message).toContain(`cannot reach Ollama at ${down} (connection refused)`)
  })
})

describe('Ollama host resolution', () => {
  it('prefers the flag, then OLLAMA_HOST, then the local default', () => {
    expect(resolveOllamaHost('10.0.0.5:9000', {OLLAMA_HOST: 'other:1'})).toBe('http://10.0.0.5:9000')
    expect(resolveOllamaHost(undefined, {OLLAMA_HOST: 'gpu-box:11500'})).toBe('http://gpu-box:11500')
    expect(resolveOllamaHost(null, {OLLAMA_HOST: '  '})).toBe(DEFAULT_OLLAMA_HOST)
    expect(resolveOllamaHost(undefined, {})).toBe('http://127.0.0.1:11434')
  })

  it('accepts what Ollama accepts', () => {
    expect(normalizeOllamaHost('gpu-box')).toBe('http://gpu-box:11434')
    expect(normalizeOllamaHost(':8080')).toBe('http://127.0.0.1:8080')
    expect(normalizeOllamaHost('http://127.0.0.1:11434/')).toBe('http://127.0.0.1:11434')
    expect(normalizeOllamaHost('https://ollama.internal')).toBe('https://ollama.internal:443')
    expect(normalizeOllamaHost('http://proxy:80/ollama/')).toBe('http://proxy:80/ollama')
  })

  it('rejects what is not a host with a one-line error naming its source', () => {
    expect(() => resolveOllamaHost('http://', {})).toThrow(ValidationError)
    expect(() => resolveOllamaHost('http://', {})).toThrow(/^--ollama-host "http:\/\/" is not a host/)
    expect(() => resolveOllamaHost(undefined, {OLLAMA_HOST: 'ftp://x'})).toThrow(/^OLLAMA_HOST "ftp:\/\/x": only http/)
  })
})

describe('issue #23: thinking models, capabilities, cold load, names', () => {
  for (const stream of [false, true]) {
    it(`a thinking model out of budget (done_reason "length") fails the request, never answers (stream: ${stream})`, async () => {
      const host = await start({thinkBudget: 40})
      const e = await modelError(createOllamaModel({host, model: 'echo', timeoutMs: 5_000, stream, think: 'high'}).chat(request()))
      expect(e.code).toBe('truncated')
      expect(e.message).toBe(
        `model "echo" on ${host} stopped before finishing its answer (done_reason: length) after 40 tokens, all of them spent thinking; raise model.max_output_tokens or lower model.think`,
      )
      expect(seen).toHaveLength(0)
    })
  }

  it('sends think and keep_alive only when set, and keeps message.thinking out of the answer', async () => {
    const bodies: Record<string, unknown>[] = []
    raw = http.createServer((req, res) => {
      let text = ''
      req.on('data', (c: Buffer) => (text += c.toString()))
      req.on('end', () => {
        bodies.push(JSON.parse(text) as Record<string, unknown>)
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(JSON.stringify({model: 'm', message: {role: 'assistant', content: 'four', thinking: 'two plus two'}, done: true, done_reason: 'stop'}))
      })
    })
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r))
    const host = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`
    const plain = await createOllamaModel({host, model: 'm', timeoutMs: 5_000}).chat(request())
    const thinking = await createOllamaModel({host, model: 'm', timeoutMs: 5_000, think: 'low', keepAlive: '10m'}).chat(request())
    expect(plain.message.content).toBe('four')
    expect(thinking.message.content).toBe('four')
    expect('think' in bodies[0]! || 'keep_alive' in bodies[0]!).toBe(false)
    expect(bodies[1]).toMatchObject({think: 'low', keep_alive: '10m'})
  })

  it('model.describe_constraints writes the constraints Ollama drops into the descriptions of the tools it sends (#23)', async () => {
    const bodies: {tools?: {function: {parameters: Record<string, any>}}[]}[] = []
    raw = http.createServer((req, res) => {
      let text = ''
      req.on('data', (c: Buffer) => (text += c.toString()))
      req.on('end', () => {
        bodies.push(JSON.parse(text) as (typeof bodies)[number])
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(JSON.stringify({model: 'm', message: {role: 'assistant', content: 'ok'}, done: true, done_reason: 'stop'}))
      })
    })
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r))
    const host = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`
    // A greenhouse irrigation tool: no shipped scenario has it.
    const parameters = {
      type: 'object',
      properties: {
        litres: {type: 'number', description: 'Water to release', minimum: 0.5, maximum: 40},
        bed: {type: 'string', pattern: '^B[0-9]{2}$'},
        note: {anyOf: [{type: 'string', maxLength: 60}, {type: 'null'}], default: null, title: 'Note'},
        mode: {type: 'string', enum: ['drip', 'spray']},
      },
      required: ['litres', 'bed'],
      additionalProperties: false,
    }
    const req: ChatRequest = {...request(), tools: [{type: 'function', function: {name: 'open_valve', description: 'Open a bed valve', parameters}}]}
    await createOllamaModel({host, model: 'm', timeoutMs: 5_000}).chat(req)
    await createOllamaModel({host, model: 'm', timeoutMs: 5_000, describeConstraints: true}).chat(req)
    expect(bodies[0]!.tools![0]!.function.parameters).toEqual(parameters)
    const sent = bodies[1]!.tools![0]!.function.parameters
    expect(sent.properties.litres.description).toBe('Water to release (at least 0.5; at most 40)')
    expect(sent.properties.bed.description).toBe('matching ^B[0-9]{2}$')
    expect(sent.properties.note.anyOf[0].description).toBe('at most 60 characters')
    expect(sent.properties.mode).toEqual(parameters.properties.mode)
    // The keywords stay for a server that keeps them; the request the run holds is not changed.
    expect(sent.properties.litres.maximum).toBe(40)
    expect(req.tools[0]!.function.parameters).toEqual(parameters)
  })

  it('a model without tools is refused before the run, naming the model and the capability', async () => {
    const host = await start({noTools: true})
    const e = await modelError(preflightOllama(host, 'echo'))
    expect(e.code).toBe('unsupported')
    expect(e.message).toBe(`model "echo" on ${host} does not support tools (the run offers tools); its capabilities: completion`)
    await preflightOllama(host, 'echo', 5_000, {tools: false})
  })

  it('think set on a model without the thinking capability is refused before the run', async () => {
    const host = await start()
    const e = await modelError(preflightOllama(host, 'echo', 5_000, {think: true}))
    expect(e.code).toBe('unsupported')
    expect(e.message).toBe(`model "echo" on ${host} does not support thinking (model.think is set); its capabilities: completion, tools`)
    await preflightOllama(host, 'echo', 5_000, {think: false})
    const thinker = await start({thinkBudget: 10})
    await preflightOllama(thinker, 'echo', 5_000, {think: 'medium'})
  })

  it('loads the model before the run with its own deadline, then chats within the chat timeout', async () => {
    const host = await start({loadMs: 300})
    expect(await preflightOllama(host, 'echo', 100, {keepAlive: '1h', loadTimeoutMs: 5_000})).toBe('echo:latest')
    const r = await createOllamaModel({host, model: 'echo', timeoutMs: 200, keepAlive: '1h'}).chat(request())
    expect(r.message.content).toBe('You said: ORD-7, twice: ORD-7')
    expect(seen).toHaveLength(1)
  })

  it('a load past its deadline says so', async () => {
    const host = await start({loadMs: 2_000})
    const e = await modelError(preflightOllama(host, 'echo', 5_000, {loadTimeoutMs: 100}))
    expect(e.code).toBe('timeout')
    expect(e.message).toBe(`Ollama at ${host} did not load model "echo:latest" within 100 ms`)
  })

  it('matches names as Ollama does: any case, :latest by default, registry.ollama.ai/library/ optional', async () => {
    const model = echoModel(seen)
    server = await startOllamaServer({resolveModel: (n) => (n === 'llama3.1:8b' ? model : undefined), models: ['llama3.1:8b'], port: 0})
    expect(await preflightOllama(server.url, 'Llama3.1:8B')).toBe('llama3.1:8b')
    expect(await preflightOllama(server.url, 'registry.ollama.ai/library/llama3.1:8b')).toBe('llama3.1:8b')
    expect(await preflightOllama(server.url, 'library/LLAMA3.1:8b')).toBe('llama3.1:8b')
    const echo = await start()
    expect(await preflightOllama(echo, 'ECHO')).toBe('echo:latest')
    expect((await modelError(preflightOllama(echo, 'echo:7b'))).code).toBe('model_missing')
  })

  it('a base path that is not an Ollama root is a wrong host, not a missing model', async () => {
    const host = await start()
    const log = vi.spyOn(console, 'log')
    const e = await modelError(preflightOllama(`${host}/v1`, 'echo'))
    // Nothing on stdout: a --json run's output stays JSON.
    expect(log).not.toHaveBeenCalled()
    log.mockRestore()
    expect(e.code).toBe('unreachable')
    expect(e.message).toBe(
      `${host}/v1 is not an Ollama API root (GET ${host}/v1/api/tags answered HTTP 404); drop the path "/v1": Ollama's API is at the server's root; check --ollama-host or OLLAMA_HOST`,
    )
    expect(e.message).not.toContain('ollama pull')
    for (const stream of [false, true]) {
      const chat = await modelError(createOllamaModel({host: `${host}/v1`, model: 'echo', timeoutMs: 5_000, stream}).chat(request()))
      expect(chat.code).toBe('unreachable')
      expect(chat.message).toContain(`(POST ${host}/v1/api/chat answered HTTP 404); drop the path "/v1"`)
    }
  })
})
