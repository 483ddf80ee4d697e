import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {ModelError, ValidationError} from '../../src/errors.js'
import {cassetteKey, loadCassette, recordingModel, replayingModel} from '../../src/model/cassette.js'
import type {ChatRequest, ChatResponse, ModelClient} from '../../src/model/types.js'
import {createOllamaModel} from '../../src/model/ollama.js'
import {startOllamaServer} from '../../src/model/ollama-server.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {hashJson} from '../../src/util/canonical.js'

const redactor = createRedactor()

/** Answers with a counter, so every answer differs: a replay that asks the model again would show. */
function countingModel(): ModelClient & {calls: number} {
  const m = {
    id: 'fake:counting',
    calls: 0,
    async chat(request: ChatRequest): Promise<ChatResponse> {
      m.calls += 1
      const last = request.messages[request.messages.length - 1]!
      if (last.content === 'explode') throw new Error('model crashed')
      return {
        message: {
          role: 'assistant',
          content: `answer #${m.calls} to ${last.content}`,
          tool_calls: request.tools.length > 0 ? [{name: request.tools[0]!.function.name, arguments: {n: m.calls, nested: {a: [1, 'x']}}}] : [],
        },
        input_tokens: 100 + m.calls,
        output_tokens: 20 + m.calls,
        latency_ms: 40 + m.calls,
        done_reason: 'stop',
      }
    },
  }
  return m
}

const req = (text: string, over: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'llama3.1:8b',
  messages: [
    {role: 'system', content: 'Be brief.'},
    {role: 'user', content: text},
  ],
  tools: [],
  options: {temperature: 0, seed: 1, num_predict: 64},
  ...over,
})

let dir: string
let warnings: string[]
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'understudy-cassette-'))
  warnings = []
})
afterEach(() => {
  fs.rmSync(dir, {recursive: true, force: true})
})
const warn = (m: string): void => {
  warnings.push(m)
}

async function record(file: string, requests: ChatRequest[]): Promise<ChatResponse[]> {
  const recorder = recordingModel(countingModel(), file, {redactor, onWarning: warn})
  const out = []
  for (const r of requests) out.push(await recorder.chat(r))
  await recorder.close?.()
  return out
}

describe('cassettes', () => {
  it('replays exactly what was recorded, without asking any model', async () => {
    const file = path.join(dir, 'sub', 'run.cassette.jsonl')
    const tools: ChatRequest['tools'] = [{type: 'function', function: {name: 'lookup', description: 'd', parameters: {type: 'object'}}}]
    const requests = [req('hello'), req('refund ORD-1', {tools}), req('bye')]
    const recorded = await record(file, requests)
    expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(3)

    const replay = await replayingModel(file, {redactor, onWarning: warn})
    expect(replay.id).toBe('cassette:run.cassette.jsonl')
    for (let i = 0; i < requests.length; i++) expect(await replay.chat(requests[i]!)).toEqual(recorded[i])
    expect(warnings).toEqual([])
  })

  it('keys on content, not on key order or formatting', () => {
    const a = req('x')
    const b: ChatRequest = {options: {num_predict: 64, seed: 1, temperature: 0}, tools: [], messages: a.messages, model: a.model}
    expect(cassetteKey(a)).toBe(cassetteKey(b))
    expect(cassetteKey(a)).not.toBe(cassetteKey(req('x', {options: {...a.options, seed: 2}})))
    expect(cassetteKey(a)).not.toBe(cassetteKey(req('x', {model: 'other'})))
  })

  it('answers a key recorded twice in recorded order, then repeats the last', async () => {
    const file = path.join(dir, 'c.jsonl')
    const [first, second] = await record(file, [req('same'), req('same')])
    expect(first!.message.content).not.toBe(second!.message.content)
    const replay = await replayingModel(file, {redactor})
    expect(await replay.chat(req('same'))).toEqual(first)
    expect(await replay.chat(req('same'))).toEqual(second)
    expect(await replay.chat(req('same'))).toEqual(second)
  })

  it('is loud about a miss: key, model, last user message and how to re-record', async () => {
    const file = path.join(dir, 'c.jsonl')
    await record(file, [req('hello')])
    const replay = await replayingModel(file, {redactor})
    const miss = req('where is my parcel ORD-42?')
    const err = await replay.chat(miss).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelError)
    expect((err as ModelError).code).toBe('cassette_miss')
    expect((err as ModelError).message).toBe(
      `no cassette entry for this exchange (key ${cassetteKey(miss).slice(0, 12)}…, model llama3.1:8b, last user message "where is my parcel ORD-42?"); re-record with --record-cassette ${file}`,
    )
  })

  it('records nothing when the model fails', async () => {
    const file = path.join(dir, 'c.jsonl')
    const recorder = recordingModel(countingModel(), file, {redactor})
    await recorder.chat(req('ok'))
    await expect(recorder.chat(req('explode'))).rejects.toThrow('model crashed')
    expect(loadCassette(file)).toHaveLength(1)
  })

  it('ignores a torn last line with a warning and keeps every earlier entry', async () => {
    const file = path.join(dir, 'c.jsonl')
    const [a, b] = await record(file, [req('one'), req('two')])
    const whole = fs.readFileSync(file, 'utf8')
    fs.writeFileSync(file, whole + whole.split('\n')[0]!.slice(0, 57))

    const replay = await replayingModel(file, {redactor, onWarning: warn})
    expect(await replay.chat(req('one'))).toEqual(a)
    expect(await replay.chat(req('two'))).toEqual(b)
    expect(warnings).toEqual([`${file}:3: ignoring a torn last line (the recording was cut short)`])
  })

  it('cuts a torn tail off before appending, so the next entry is whole', async () => {
    const file = path.join(dir, 'c.jsonl')
    await record(file, [req('one')])
    fs.appendFileSync(file, '{"v":1,"key":"abc')
    await record(file, [req('two')])
    expect(warnings).toEqual([`${file}:2: dropped a torn last line (the recording was cut short) before appending`])
    const entries = loadCassette(file, warn)
    expect(entries.map((e) => (e.request.messages.at(-1) as {content: string}).content)).toEqual(['one', 'two'])
  })

  it('names file and line for a malformed line that is not the last', async () => {
    const file = path.join(dir, 'c.jsonl')
    await record(file, [req('one')])
    const good = fs.readFileSync(file, 'utf8')
    fs.writeFileSync(file, good + 'not json at all\n' + good)
    await expect(replayingModel(file, {redactor})).rejects.toThrow(new RegExp(`^${file}:2: not valid JSON`))

    const entry = JSON.parse(good) as {response: {input_tokens: unknown}}
    entry.response.input_tokens = 'lots'
    fs.writeFileSync(file, good + JSON.stringify(entry) + '\n')
    const err = await replayingModel(file, {redactor}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).problems).toEqual([expect.stringMatching(new RegExp(`^${file}:2: response.input_tokens: `))])
  })

  it('refuses an entry whose line was edited', async () => {
    const file = path.join(dir, 'c.jsonl')
    await record(file, [req('one')])
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"one"', '"uno"'))
    await expect(replayingModel(file, {redactor})).rejects.toThrow(`${file}:1: digest: does not match the recorded exchange (was the line edited?)`)
  })

  it('replays a version 1 line (clear text, key over its request) and refuses one whose key no longer matches', async () => {
    const file = path.join(dir, 'v1.jsonl')
    const request = req('one')
    const response: ChatResponse = {message: {role: 'assistant', content: 'v1 answer', tool_calls: []}, input_tokens: 1, output_tokens: 2, latency_ms: 3, done_reason: 'stop'}
    const line = {v: 1, key: cassetteKey(request), source: 'fake:v1', request: {model: request.model, messages: request.messages, tools: request.tools, options: request.options}, response}
    fs.writeFileSync(file, JSON.stringify(line) + '\n')
    expect(await (await replayingModel(file, {redactor})).chat(request)).toEqual(response)
    fs.writeFileSync(file, JSON.stringify(line).replace('"one"', '"uno"') + '\n')
    await expect(replayingModel(file, {redactor})).rejects.toThrow(`${file}:1: key: does not match the recorded request`)
  })
  it('says so when the cassette file is missing', async () => {
    const file = path.join(dir, 'nope.jsonl')
    await expect(replayingModel(file, {redactor})).rejects.toThrow(`${file}: cannot read the cassette (no such file)`)
  })
})

/** Secrets of every shape the redactor knows, as a user might paste them. */
const CARD = '4539 5787 6362 1486'
const CARD_NUMBER = 4111111111111111
const KEY = 'sk-live-Zq81mNw4Rt6Yb2Xc9Vf3'
const IBAN = 'GB82 WEST 1234 5698 7654 32'
const PHONE = '+44 20 7946 0958'

/** Repeats the last message into its answer and into a tool call, a card number as a JSON number too. */
function echoModel(): ModelClient {
  return {
    id: 'fake:echo',
    async chat(request: ChatRequest): Promise<ChatResponse> {
      const last = request.messages[request.messages.length - 1]!.content
      return {
        message: {role: 'assistant', content: `You said: ${last}`, tool_calls: [{name: 'note', arguments: {text: last, card: CARD_NUMBER, [KEY]: 'as a key'}}]},
        input_tokens: 10,
        output_tokens: 5,
        latency_ms: 1,
        done_reason: 'stop',
      }
    },
  }
}

describe('cassettes hold no secret in the clear', () => {
  const secretReq = (): ChatRequest => req(`card ${CARD}, key ${KEY}, IBAN ${IBAN}, phone ${PHONE}, card number ${CARD_NUMBER}`)

  it('stores request and answer redacted, keyed by the clear exchange, and replays the clear answer', async () => {
    const file = path.join(dir, 'c.jsonl')
    const recorder = recordingModel(echoModel(), file, {redactor})
    const live = await recorder.chat(secretReq())
    await recorder.close?.()
    expect(live.message.content).toContain(CARD)

    const text = fs.readFileSync(file, 'utf8')
    for (const secret of [CARD, CARD.replace(/ /g, ''), String(CARD_NUMBER), KEY, IBAN, IBAN.replace(/ /g, ''), PHONE]) expect(text).not.toContain(secret)
    const [entry] = loadCassette(file)
    expect(entry!.v).toBe(2)
    expect(entry!.key).toBe(cassetteKey(secretReq()))
    expect(JSON.stringify(entry!.response)).toMatch(/\[REDACTED:card:[0-9a-f]{8}\]/)

    // Asked the same clear request, the replay puts back what the request holds: the answer as
    // recorded, except that a number the request held only as text comes back as that text.
    const replay = await replayingModel(file, {redactor})
    const call = live.message.tool_calls[0]!
    const expected = {...live, message: {...live.message, tool_calls: [{...call, arguments: {...call.arguments, card: String(CARD_NUMBER)}}]}}
    expect(await replay.chat(secretReq())).toEqual(expected)
  })

  it('says which exchange missed without the secrets of the last user message', async () => {
    const file = path.join(dir, 'c.jsonl')
    await record(file, [req('hello')])
    const err = (await (await replayingModel(file, {redactor})).chat(secretReq()).catch((e: unknown) => e)) as ModelError
    expect(err.code).toBe('cassette_miss')
    expect(err.message).toContain('last user message "card [REDACTED:card:')
    for (const fragment of [CARD, CARD.slice(0, 9), KEY, KEY.slice(0, 12)]) expect(err.message).not.toContain(fragment)
  })
})


describe('cassette key: think and format change the answer, keep_alive does not (#23)', () => {
  it('think and format are in the key when set; a request without them keeps the key it always had', () => {
    const plain = req('hi')
    expect(cassetteKey(plain)).toBe(hashJson({model: plain.model, messages: plain.messages, tools: plain.tools, options: plain.options}))
    const keys = [plain, req('hi', {think: true}), req('hi', {think: false}), req('hi', {think: 'high'}), req('hi', {format: 'json'}), req('hi', {format: {type: 'object'}})].map(cassetteKey)
    expect(new Set(keys).size).toBe(keys.length)
  })

  it('recorded through Ollama with one keep_alive, replayed under another: same key, and format and think are kept in the line', async () => {
    const server = await startOllamaServer({models: ['m'], resolveModel: () => countingModel(), faults: {thinks: true}})
    try {
      const keysOf = async (keepAlive: string | number, file: string): Promise<string[]> => {
        const recorder = recordingModel(createOllamaModel({host: server.url, model: 'm', timeoutMs: 5000, retries: 0, keepAlive}), file, {redactor})
        await recorder.chat(req('hello', {model: 'm', think: true, format: {type: 'object'}}))
        return loadCassette(file, warn).map((e) => e.key)
      }
      const a = await keysOf('10m', path.join(dir, 'a.jsonl'))
      const b = await keysOf(-1, path.join(dir, 'b.jsonl'))
      expect(a).toEqual(b)
      expect(a[0]).toBe(cassetteKey(req('hello', {model: 'm', think: true, format: {type: 'object'}})))
      const line = JSON.parse(fs.readFileSync(path.join(dir, 'a.jsonl'), 'utf8').trim()) as {request: Record<string, unknown>}
      expect(line.request).toMatchObject({think: true, format: {type: 'object'}})
      // The replay answers the same request whatever keep_alive the replaying bundle sets.
      const replay = await replayingModel(path.join(dir, 'a.jsonl'), {redactor})
      await expect(replay.chat(req('hello', {model: 'm', think: true, format: {type: 'object'}}))).resolves.toMatchObject({done_reason: 'stop'})
    } finally {
      await server.close()
    }
  })
})
