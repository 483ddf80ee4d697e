import {Ollama} from 'ollama'
import {afterEach, describe, expect, it} from 'vitest'
import {ValidationError} from '../../src/errors.js'
import type {ChatRequest, ChatResponse, ModelClient} from '../../src/model/types.js'
import {startOllamaServer, type OllamaServer, type OllamaServerFaults} from '../../src/model/ollama-server.js'

/** A tiny deterministic model: calls the first offered tool once, then reports what the tool said. */
function echoModel(seen: ChatRequest[] = []): ModelClient {
  return {
    id: 'fake:echo',
    async chat(request: ChatRequest): Promise<ChatResponse> {
      seen.push(structuredClone(request))
      const last = request.messages[request.messages.length - 1]
      const lastUser = [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? ''
      const tool = request.tools[0]
      const base = {input_tokens: request.messages.length * 10, latency_ms: 1, done_reason: 'stop'}
      if (last?.role === 'tool') {
        return {...base, output_tokens: 4, message: {role: 'assistant', content: `${last.tool_name} said ${last.content}`, tool_calls: []}}
      }
      if (tool) {
        return {...base, output_tokens: 7, message: {role: 'assistant', content: '', tool_calls: [{name: tool.function.name, arguments: {query: lastUser, n: 2}}]}}
      }
      return {...base, output_tokens: 5, message: {role: 'assistant', content: `You said: ${lastUser}`, tool_calls: []}}
    },
  }
}

let server: OllamaServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function start(faults?: OllamaServerFaults, seen: ChatRequest[] = []): Promise<{url: string; ollama: Ollama}> {
  const model = echoModel(seen)
  server = await startOllamaServer({
    resolveModel: (name) => (name === 'echo' || name === 'coder:7b' ? model : undefined),
    models: ['echo', 'coder:7b'],
    port: 0,
    faults,
  })
  return {url: server.url, ollama: new Ollama({host: server.url})}
}

const user = (content: string) => ({role: 'user', content})

describe('sandbox Ollama server, through the real ollama client', () => {
  it('answers a non-streaming chat with one JSON object and the final statistics', async () => {
    const {ollama, url} = await start()
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const r = await ollama.chat({model: 'echo', messages: [user('hello there')], stream: false})
    expect(r.model).toBe('echo')
    expect(r.message).toEqual({role: 'assistant', content: 'You said: hello there'})
    expect(r.done).toBe(true)
    expect(r.done_reason).toBe('stop')
    expect(r.prompt_eval_count).toBe(10)
    expect(r.eval_count).toBe(5)
    for (const f of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration'] as const) {
      expect(r[f]).toBeGreaterThanOrEqual(0)
    }
    expect(Number.isNaN(Date.parse(String(r.created_at)))).toBe(false)
  })

  it('streams the content in pieces and ends with a done chunk carrying the counts', async () => {
    const {ollama} = await start()
    const chunks = []
    for await (const c of await ollama.chat({model: 'echo', messages: [user('one two three four')], stream: true})) chunks.push(c)
    const pieces = chunks.filter((c) => !c.done).map((c) => c.message.content)
    expect(pieces.length).toBeGreaterThan(3)
    expect(pieces.join('')).toBe('You said: one two three four')
    expect(chunks.filter((c) => c.done)).toHaveLength(1)
    const final = chunks[chunks.length - 1]!
    expect(final.done).toBe(true)
    expect(final.message.content).toBe('')
    expect(final.done_reason).toBe('stop')
    expect(final.prompt_eval_count).toBe(10)
    expect(final.eval_count).toBe(5)
    expect(final.total_duration).toBeGreaterThan(0)
  })

  it('streams when `stream` is left out, as the real server does (raw NDJSON)', async () => {
    const {url} = await start()
    const res = await fetch(`${url}/api/chat`, {method: 'POST', body: JSON.stringify({model: 'echo', messages: [user('a b')]})})
    expect(res.headers.get('content-type')).toBe('application/x-ndjson')
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as {done: boolean})
    expect(lines.length).toBeGreaterThan(1)
    expect(lines.at(-1)!.done).toBe(true)
    expect(lines.slice(0, -1).every((l) => l.done === false)).toBe(true)
  })

  it('round-trips tool calls: tools in, tool_calls out, a tool message back in', async () => {
    const seen: ChatRequest[] = []
    const {ollama} = await start(undefined, seen)
    const tools = [
      {
        type: 'function',
        function: {
          name: 'lookup_order',
          description: 'Find an order',
          parameters: {type: 'object', properties: {query: {type: 'string'}}, required: ['query']},
        },
      },
    ]
    const first = await ollama.chat({model: 'echo', messages: [user('ORD-1')], tools, stream: false, options: {temperature: 0, seed: 7}})
    expect(first.message.tool_calls).toEqual([{id: expect.stringMatching(/^call_[a-z0-9]{8}$/), function: {index: 0, name: 'lookup_order', arguments: {query: 'ORD-1', n: 2}}}])
    expect(seen[0]!.tools).toEqual(tools)
    expect(seen[0]!.options).toMatchObject({temperature: 0, seed: 7})

    const second = await ollama.chat({
      model: 'echo',
      messages: [user('ORD-1'), first.message, {role: 'tool', tool_name: 'lookup_order', content: '{"ok":true}'}],
      tools,
      stream: false,
    })
    expect(second.message.content).toBe('lookup_order said {"ok":true}')
    expect(seen[1]!.messages).toEqual([
      {role: 'user', content: 'ORD-1'},
      {role: 'assistant', content: '', tool_calls: [{name: 'lookup_order', arguments: {query: 'ORD-1', n: 2}}]},
      {role: 'tool', tool_name: 'lookup_order', content: '{"ok":true}'},
    ])
  })

  it('streams tool calls too', async () => {
    const {ollama} = await start()
    const tools = [{type: 'function', function: {name: 'search', description: 'd', parameters: {type: 'object'}}}]
    const calls = []
    for await (const c of await ollama.chat({model: 'echo', messages: [user('q')], tools, stream: true})) {
      calls.push(...(c.message.tool_calls ?? []))
    }
    expect(calls).toEqual([{id: expect.stringMatching(/^call_[a-z0-9]{8}$/), function: {index: 0, name: 'search', arguments: {query: 'q', n: 2}}}])
  })

  it('lists models (/api/tags) and shows one (/api/show); `name` and `name:latest` are the same model', async () => {
    const {ollama} = await start()
    const list = await ollama.list()
    expect(list.models.map((m) => m.name)).toEqual(['echo:latest', 'coder:7b'])
    for (const m of list.models) {
      expect(m.model).toBe(m.name)
      expect(m.digest).toMatch(/^[0-9a-f]{64}$/)
      expect(typeof m.size).toBe('number')
      expect(Number.isNaN(Date.parse(String(m.modified_at)))).toBe(false)
      expect(m.details.family).toBeTypeOf('string')
    }
    const shown = await ollama.show({model: 'echo:latest'})
    expect(shown.capabilities).toContain('tools')
    expect(shown.details.format).toBeTypeOf('string')
    const r = await ollama.chat({model: 'echo:latest', messages: [user('x')], stream: false})
    expect(r.message.content).toBe('You said: x')
  })

  it('answers 404 with the real error text for a model it does not have', async () => {
    const {ollama} = await start()
    await expect(ollama.chat({model: 'llama9', messages: [user('x')], stream: false})).rejects.toMatchObject({
      status_code: 404,
      error: "model 'llama9' not found",
    })
    await expect(ollama.chat({model: 'coder', messages: [user('x')], stream: true})).rejects.toMatchObject({status_code: 404})
    await expect(ollama.show({model: 'llama9'})).rejects.toMatchObject({status_code: 404})
  })

  it('answers 400 for bad JSON and bad requests, 404/405 for wrong paths and methods', async () => {
    const {url} = await start()
    const post = (body: string) => fetch(`${url}/api/chat`, {method: 'POST', body})
    const bad = await post('{"model": "echo", messages: ')
    expect(bad.status).toBe(400)
    expect(bad.headers.get('content-type')).toMatch(/application\/json/)
    expect(((await bad.json()) as {error: string}).error).toMatch(/invalid JSON/)
    expect((await post('{"messages": []}')).status).toBe(400)
    expect((await post('[1,2]')).status).toBe(400)
    expect((await post(JSON.stringify({model: 'echo', messages: [{role: 'wizard', content: 'x'}]}))).status).toBe(400)
    expect((await post(JSON.stringify({model: 'echo', messages: 'hi'}))).status).toBe(400)

    const wrongMethod = await fetch(`${url}/api/chat`)
    expect(wrongMethod.status).toBe(405)
    expect(await wrongMethod.json()).toHaveProperty('error')
    expect((await fetch(`${url}/api/generate-nothing`)).status).toBe(404)
    expect((await fetch(`${url}/api/tags`, {method: 'DELETE'})).status).toBe(405)
  })

  it('says it is running, and which version', async () => {
    const {url, ollama} = await start()
    const root = await fetch(`${url}/`)
    expect(root.status).toBe(200)
    expect(await root.text()).toBe('Ollama is running')
    expect((await fetch(`${url}/`, {method: 'HEAD'})).status).toBe(200)
    expect((await ollama.version()).version).toMatch(/^\d+\.\d+\.\d+/)
    expect(server!.stats.requests).toBe(3)
  })

  it('refuses to listen anywhere but loopback', async () => {
    const attempt = startOllamaServer({resolveModel: () => undefined, models: [], host: '0.0.0.0', port: 0})
    await expect(attempt).rejects.toBeInstanceOf(ValidationError)
    await expect(attempt).rejects.toThrow(/only listens on loopback/)
  })

  it('reports a port in use as a one-line error', async () => {
    const {url} = await start()
    const port = Number(new URL(url).port)
    await expect(startOllamaServer({resolveModel: () => undefined, models: [], port})).rejects.toThrow(
      `port ${port} on 127.0.0.1 is already in use`,
    )
  })
})

describe('sandbox Ollama server faults', () => {
  it('status500 answers every chat with HTTP 500 and a JSON error', async () => {
    const {ollama} = await start({status500: true})
    await expect(ollama.chat({model: 'echo', messages: [user('x')], stream: false})).rejects.toMatchObject({status_code: 500})
  })

  it('failRate spreads failures evenly and deterministically, first request first', async () => {
    const {url} = await start({failRate: 0.5})
    const statuses = []
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${url}/api/chat`, {method: 'POST', body: JSON.stringify({model: 'echo', messages: [user('x')], stream: false})})
      await r.arrayBuffer()
      statuses.push(r.status)
    }
    expect(statuses).toEqual([500, 200, 500, 200])
  })

  it('garbage answers 200 with a body that is not JSON', async () => {
    const {url} = await start({garbage: true})
    const r = await fetch(`${url}/api/chat`, {method: 'POST', body: JSON.stringify({model: 'echo', messages: [], stream: false})})
    expect(r.status).toBe(200)
    const text = await r.text()
    expect(() => JSON.parse(text)).toThrow()
  })

  it('close() ends promptly even with a delayed answer still pending', async () => {
    const {url} = await start({delayMs: 600_000})
    const pending = fetch(`${url}/api/chat`, {method: 'POST', body: JSON.stringify({model: 'echo', messages: [user('x')], stream: false})})
    const settled = pending.then(
      () => 'answered',
      () => 'failed',
    )
    while (server!.stats.requests < 1) await new Promise((r) => setImmediate(r))
    await server!.close()
    server = undefined
    expect(await settled).toBe('failed')
  })
})

describe('sandbox Ollama server: thinking, capabilities and loads as Ollama answers them (#23)', () => {
  const tool = {type: 'function', function: {name: 'lookup', description: 'look up', parameters: {type: 'object', properties: {}}}}

  it('lists its capabilities in /api/show: completion and tools; thinking when it plays a thinking model; no tools with noTools', async () => {
    expect((await (await start()).ollama.show({model: 'echo'})).capabilities).toEqual(['completion', 'tools'])
    await server?.close()
    expect((await (await start({thinkBudget: 8})).ollama.show({model: 'echo'})).capabilities).toEqual(['completion', 'tools', 'thinking'])
    await server?.close()
    expect((await (await start({noTools: true})).ollama.show({model: 'echo'})).capabilities).toEqual(['completion'])
  })

  it('noTools: a chat with tools is a 400 "… does not support tools"; without tools it answers', async () => {
    const {ollama} = await start({noTools: true})
    await expect(ollama.chat({model: 'echo', messages: [user('hi')], tools: [tool], stream: false})).rejects.toMatchObject({
      status_code: 400,
      error: 'registry.ollama.ai/library/echo:latest does not support tools',
    })
    expect((await ollama.chat({model: 'echo', messages: [user('hi')], stream: false})).message.content).toBe('You said: hi')
  })

  it('think on a model without the thinking capability is a 400, as Ollama answers it', async () => {
    const {ollama} = await start()
    await expect(ollama.chat({model: 'echo', messages: [user('hi')], think: true, stream: false})).rejects.toMatchObject({
      status_code: 400,
      error: '"echo" does not support thinking',
    })
    expect((await ollama.chat({model: 'echo', messages: [user('hi')], think: false, stream: false})).message.content).toBe('You said: hi')
  })

  for (const stream of [false, true]) {
    it(`thinkBudget: HTTP 200, empty content, the thinking apart, done_reason "length" (stream: ${stream})`, async () => {
      const seen: ChatRequest[] = []
      const {ollama} = await start({thinkBudget: 12}, seen)
      const body = {model: 'echo', messages: [user('hi')], think: 'high' as const}
      let content = ''
      let thinking = ''
      let last: {done_reason: string; eval_count: number} | undefined
      if (stream) {
        for await (const part of await ollama.chat({...body, stream: true})) {
          content += part.message.content
          thinking += part.message.thinking ?? ''
          if (part.done) last = part
        }
      } else {
        const r = await ollama.chat({...body, stream: false})
        content = r.message.content
        thinking = r.message.thinking ?? ''
        last = r
      }
      expect(content).toBe('')
      expect(thinking).not.toBe('')
      expect(last).toMatchObject({done_reason: 'length', eval_count: 12})
      expect(seen).toHaveLength(0)
      // think: false turns the thinking off: the model answers.
      expect((await ollama.chat({...body, think: false, stream: false})).message.content).toBe('You said: hi')
    })
  }

  it('a chat with no messages loads the model (done_reason "load"); loadMs delays only the first load', async () => {
    const seen: ChatRequest[] = []
    const {ollama} = await start({loadMs: 250}, seen)
    let t0 = performance.now()
    const r = await ollama.chat({model: 'echo', messages: [], keep_alive: '5m', stream: false})
    expect(performance.now() - t0).toBeGreaterThanOrEqual(240)
    expect(r).toMatchObject({model: 'echo', message: {role: 'assistant', content: ''}, done_reason: 'load', done: true})
    t0 = performance.now()
    await ollama.chat({model: 'echo', messages: [user('hi')], stream: false})
    expect(performance.now() - t0).toBeLessThan(200)
    expect(seen).toHaveLength(1)
  })
})
