import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {ModelError, ValidationError} from '../../src/errors.js'
import {cassetteKey, loadCassette, recordingModel, replayingModel} from '../../src/model/cassette.js'
import type {ChatRequest, ChatResponse, ModelClient} from '../../src/model/types.js'

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
  const recorder = recordingModel(countingModel(), file, {onWarning: warn})
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

    const replay = await replayingModel(file, {onWarning: warn})
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
    const replay = await replayingModel(file)
    expect(await replay.chat(req('same'))).toEqual(first)
    expect(await replay.chat(req('same'))).toEqual(second)
    expect(await replay.chat(req('same'))).toEqual(second)
  })

  it('is loud about a miss: key, model, last user message and how to re-record', async () => {
    const file = path.join(dir, 'c.jsonl')
    await record(file, [req('hello')])
    const replay = await replayingModel(file)
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
    const recorder = recordingModel(countingModel(), file)
    await recorder.chat(req('ok'))
    await expect(recorder.chat(req('explode'))).rejects.toThrow('model crashed')
    expect(loadCassette(file)).toHaveLength(1)
  })

  it('ignores a torn last line with a warning and keeps every earlier entry', async () => {
    const file = path.join(dir, 'c.jsonl')
    const [a, b] = await record(file, [req('one'), req('two')])
    const whole = fs.readFileSync(file, 'utf8')
    fs.writeFileSync(file, whole + whole.split('\n')[0]!.slice(0, 57))

    const replay = await replayingModel(file, {onWarning: warn})
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
    await expect(replayingModel(file)).rejects.toThrow(new RegExp(`^${file}:2: not valid JSON`))

    const entry = JSON.parse(good) as {response: {input_tokens: unknown}}
    entry.response.input_tokens = 'lots'
    fs.writeFileSync(file, good + JSON.stringify(entry) + '\n')
    const err = await replayingModel(file).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).problems).toEqual([expect.stringMatching(new RegExp(`^${file}:2: response.input_tokens: `))])
  })

  it('refuses an entry whose key no longer matches its request', async () => {
    const file = path.join(dir, 'c.jsonl')
    await record(file, [req('one')])
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"one"', '"uno"'))
    await expect(replayingModel(file)).rejects.toThrow(`${file}:1: key: does not match the recorded request`)
  })

  it('says so when the cassette file is missing', async () => {
    const file = path.join(dir, 'nope.jsonl')
    await expect(replayingModel(file)).rejects.toThrow(`${file}: cannot read the cassette (no such file)`)
  })
})
