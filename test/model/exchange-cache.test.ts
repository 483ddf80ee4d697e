import {describe, expect, it} from 'vitest'
import {cachingModel, emptyCallCount, type ExchangeStore, type ModelCacheMode} from '../../src/model/exchange-cache.js'
import type {ChatRequest, ChatResponse, ModelClient} from '../../src/model/types.js'
import {createRedactor} from '../../src/runtime/redact.js'

/** A model that answers with the number of calls it has had, so a reused answer shows. */
function countingModel(): ModelClient & {calls: number} {
  const m = {
    id: 'fake:counter',
    calls: 0,
    async chat(request: ChatRequest): Promise<ChatResponse> {
      m.calls++
      const last = request.messages.at(-1)?.content ?? ''
      return {message: {role: 'assistant', content: `answer ${m.calls} to ${last}`, tool_calls: []}, input_tokens: 3, output_tokens: 2, latency_ms: 1, done_reason: 'stop'}
    },
  }
  return m
}

function memoryStore(): ExchangeStore & {size: number; stored(): string[]} {
  const rows = new Map<string, string>()
  return {
    stored: () => [...rows.values()],
    getExchange: (key) => rows.get(key),
    putExchange: (key, _source, json) => {
      if (!rows.has(key)) rows.set(key, json)
    },
    get size() {
      return rows.size
    },
  }
}

const request = (temperature: number, text = 'hello'): ChatRequest => ({
  model: 'm',
  messages: [{role: 'user', content: text}],
  tools: [],
  options: {temperature, seed: 3, num_predict: 64},
})

async function twice(mode: ModelCacheMode, temperature: number) {
  const inner = countingModel()
  const counts = emptyCallCount()
  const model = cachingModel(inner, {store: memoryStore(), mode, redactor: createRedactor(), counts})
  const a = await model.chat(request(temperature))
  const b = await model.chat(request(temperature))
  return {inner: inner.calls, counts, same: a.message.content === b.message.content}
}

describe('cachingModel', () => {
  it('answers a byte-identical temperature-0 request from the store, counting the call avoided', async () => {
    expect(await twice('auto', 0)).toEqual({inner: 1, counts: {made: 1, avoided: 1}, same: true})
  })

  it('asks again at a sampling temperature unless told to cache those too, and never when off', async () => {
    expect(await twice('auto', 0.7)).toEqual({inner: 2, counts: {made: 2, avoided: 0}, same: false})
    expect(await twice('always', 0.7)).toEqual({inner: 1, counts: {made: 1, avoided: 1}, same: true})
    expect(await twice('off', 0)).toEqual({inner: 2, counts: {made: 2, avoided: 0}, same: false})
  })

  it('keys by content: another message, option or model client is another call', async () => {
    const inner = countingModel()
    const counts = emptyCallCount()
    const store = memoryStore()
    const model = cachingModel(inner, {store, mode: 'auto', redactor: createRedactor(), counts})
    await model.chat(request(0, 'hello'))
    await model.chat(request(0, 'hello again'))
    await model.chat({...request(0), options: {...request(0).options, seed: 4}})
    const other = cachingModel({...countingModel(), id: 'fake:other'}, {store, mode: 'auto', redactor: createRedactor(), counts})
    await other.chat(request(0, 'hello'))
    expect(counts).toEqual({made: 4, avoided: 0})
    expect(store.size).toBe(4)
  })

  it('stores answers redacted and gives back the secret the request itself holds', async () => {
    const secret = 'sk-live-4f9a8b7c6d5e4f3a2b1c0d9e'
    const store = memoryStore()
    const inner: ModelClient = {
      id: 'fake:echo',
      chat: async (r) => ({message: {role: 'assistant', content: `you said ${r.messages[0]!.content}`, tool_calls: []}, input_tokens: 1, output_tokens: 1, latency_ms: 1, done_reason: 'stop'}),
    }
    const model = cachingModel(inner, {store, mode: 'auto', redactor: createRedactor(), counts: emptyCallCount()})
    const first = await model.chat(request(0, `key ${secret}`))
    const again = await model.chat(request(0, `key ${secret}`))
    expect(again.message.content).toBe(first.message.content)
    expect(again.message.content).toContain(secret)
    expect(store.stored()).toHaveLength(1)
    expect(store.stored()[0]).not.toContain(secret)
  })
})
