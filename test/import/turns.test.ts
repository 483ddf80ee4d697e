import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {compareGroup} from '../../src/diff/compare.js'
import {UsageError} from '../../src/errors.js'
import {importTrafficText} from '../../src/import/import-file.js'
import {initScenario} from '../../src/init/init.js'
import {createReplayModel} from '../../src/model/recorded.js'
import {compileBundle, runRequest} from '../../src/runtime/agent.js'
import {RateLimiter} from '../../src/runtime/rate-limit.js'
import {recordedTrace} from '../../src/runtime/recorded.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {createMockTools} from '../../src/tools/mock-tools.js'
import {emptyFixtures} from '../../src/tools/fixtures.js'
import {TrafficRecord} from '../../src/traffic/schema.js'
import {removeTempDirs, replayed, tempDir} from '../factories/index.js'

/**
 * `traffic import --turns` on an OpenAI chat-completions log of a mobile operator's support agent
 * (the telecom domain of τ²-bench, arXiv 2506.07982: the agent reads the customer's line in the
 * CRM and changes it, here roaming, only once the customer agreed). Each API call repeats the
 * conversation so far; the customer's "yes" is a later user message of the same conversation.
 */

const SYSTEM = {role: 'system', content: 'You are the support agent of a mobile operator.'}
const TOOLS = [
  {type: 'function', function: {name: 'get_line_details', description: 'Read a phone line.', parameters: {type: 'object', properties: {line_id: {type: 'string'}}, required: ['line_id']}}},
  {type: 'function', function: {name: 'enable_roaming', description: 'Turn roaming on for a line.', parameters: {type: 'object', properties: {line_id: {type: 'string'}}, required: ['line_id']}}},
]
const ASK = {role: 'user', content: 'I travel to Canada tomorrow, can you turn on roaming for line L-204?'}
const LOOKUP = {role: 'assistant', content: null, tool_calls: [{id: 'call_1', type: 'function', function: {name: 'get_line_details', arguments: '{"line_id": "L-204"}'}}]}
const LINE = {role: 'tool', tool_call_id: 'call_1', content: '{"line_id": "L-204", "plan": "basic", "roaming": false}'}
const QUESTION = 'Line L-204 is on the basic plan; roaming there costs 5 EUR a day. Shall I turn it on?'
const ENABLE = {role: 'assistant', content: null, tool_calls: [{id: 'call_2', type: 'function', function: {name: 'enable_roaming', arguments: '{"line_id": "L-204"}'}}]}
const DONE = 'Roaming is on for line L-204. Have a good trip!'

type Message = Record<string, unknown>
let clock = Date.parse('2026-05-02T10:00:00Z')

/** One logged API call: the history it was sent, what the model answered. */
function call(history: Message[], answer: Message, id: string, session: string | null, tokens: [number, number]): string {
  clock += 2000
  return JSON.stringify({
    timestamp: new Date(clock).toISOString(),
    latency_ms: 400,
    metadata: {org_id: 'northtel', role: 'customer', ...(session === null ? {} : {session_id: session})},
    request: {model: 'gpt-4.1', messages: [SYSTEM, ...history], tools: TOOLS, user: 'c-77'},
    response: {id, object: 'chat.completion', model: 'gpt-4.1', choices: [{index: 0, message: answer, finish_reason: 'tool_calls' in answer ? 'tool_calls' : 'stop'}], usage: {prompt_tokens: tokens[0], completion_tokens: tokens[1]}},
  })
}

const say = (content: string): Message => ({role: 'assistant', content})
const user = (content: string): Message => ({role: 'user', content})

/** Conversation A: lookup, question, "yes", the change, the answer. Four API calls over two user turns. */
const agreed = [
  call([ASK], LOOKUP, 'chatcmpl-a1', 's-1', [300, 20]),
  call([ASK, LOOKUP, LINE], say(QUESTION), 'chatcmpl-a2', 's-1', [360, 30]),
  call([ASK, LOOKUP, LINE, say(QUESTION), user('Yes please.')], ENABLE, 'chatcmpl-a3', 's-1', [400, 20]),
  call([ASK, LOOKUP, LINE, say(QUESTION), user('Yes please.'), ENABLE, {role: 'tool', tool_call_id: 'call_2', content: '{"ok": true}'}], say(DONE), 'chatcmpl-a4', 's-1', [450, 15]),
]
/** Conversation B, same customer and the same opening, no session id: the customer declines. Not part of A. */
const declined = [
  call([ASK], LOOKUP, 'chatcmpl-b1', null, [300, 20]),
  call([ASK, LOOKUP, LINE], say(QUESTION), 'chatcmpl-b2', null, [360, 30]),
  call([ASK, LOOKUP, LINE, say(QUESTION), user('No, leave it off.'), user('Actually how much is the travel pass?')], say('The travel pass is 25 EUR a week.'), 'chatcmpl-b3', null, [420, 12]),
]
const LOG = [...agreed, ...declined].join('\n') + '\n'
const mapping = {tenantField: 'org_id'}

afterAll(removeTempDirs)

describe('traffic import --turns (request logs)', () => {
  it('without --turns, each user message starts a request of its own (what --turns changes)', () => {
    const r = importTrafficText('openai', LOG, 'calls.jsonl', mapping)
    expect(r.errors).toEqual([])
    expect(r.records.map((x) => [x.id, x.input.length, x.production.tool_calls.map((c) => c.name), x.turns])).toEqual([
      ['chatcmpl-a2', 1, ['get_line_details'], undefined],
      ['chatcmpl-a4', 3, ['enable_roaming'], undefined],
      ['chatcmpl-b2', 1, ['get_line_details'], undefined],
      ['chatcmpl-b3', 4, [], undefined],
    ])
  })

  it('one record per conversation: the first user message is the input, the "yes" a turn after the lookup', () => {
    const r = importTrafficText('openai', LOG, 'calls.jsonl', {...mapping, turns: true})
    expect(r.errors).toEqual([])
    expect(r.records).toHaveLength(2)
    const [a, b] = r.records
    for (const x of r.records) expect(TrafficRecord.safeParse(JSON.parse(JSON.stringify(x))).success).toBe(true)

    expect(a!.id).toBe('chatcmpl-a4')
    expect(a!.input).toEqual([ASK])
    expect(a!.turns).toEqual([{after_calls: 1, answer: QUESTION, content: 'Yes please.'}])
    expect(a!.production.tool_calls.map((c) => [c.name, c.args, c.result])).toEqual([
      ['get_line_details', {line_id: 'L-204'}, {line_id: 'L-204', plan: 'basic', roaming: false}],
      ['enable_roaming', {line_id: 'L-204'}, {ok: true}],
    ])
    expect([a!.production.final_answer, a!.production.outcome]).toEqual([DONE, 'completed'])
    // Every API call of the conversation is counted once: usage, latency, steps, the first start.
    expect(a!.production.usage).toEqual({input_tokens: 300 + 360 + 400 + 450, output_tokens: 20 + 30 + 20 + 15})
    expect(a!.production.latency_ms).toBe(4 * 400)
    expect(a!.labels.import_steps).toBe('4')
    expect(a!.timestamp).toBe(JSON.parse(agreed[0]!).timestamp)
    expect(a!.session_id).toBe('s-1')

    // The declining conversation opens alike but is not a prefix of A: a record of its own. Two
    // user messages in a row are one reply.
    expect(b!.id).toBe('chatcmpl-b3')
    expect(b!.input).toEqual([ASK])
    expect(b!.turns).toEqual([{after_calls: 1, answer: QUESTION, content: 'No, leave it off.\n\nActually how much is the travel pass?'}])
    expect(b!.production.tool_calls.map((c) => c.name)).toEqual(['get_line_details'])
    expect(b!.labels.import_steps).toBe('3')
  })

  it('a conversation with one user message is the record it was without --turns', () => {
    const one = agreed.slice(0, 2).join('\n')
    expect(importTrafficText('openai', one, 'calls.jsonl', {...mapping, turns: true})).toEqual(importTrafficText('openai', one, 'calls.jsonl', mapping))
  })

  it('is refused for traces, which hold one invocation each', () => {
    expect(() => importTrafficText('otel', '{}', 'spans.json', {turns: true})).toThrow(UsageError)
    expect(() => importTrafficText('langfuse', '', 'export.jsonl', {turns: true})).toThrow(/--turns applies to request logs \(--from openai \| anthropic\)/)
  })

  it('identity: the bundle init drafts from the log replays the multi-turn records with --model recorded as production ran them', async () => {
    const file = path.join(tempDir(), 'calls.jsonl')
    writeFileSync(file, LOG)
    const dir = path.join(tempDir(), 'northtel')
    const init = await initScenario({dir, from: 'openai', file, mapping: {...mapping, turns: true}})
    expect(init.requests).toBe(2)
    const bundle = await loadBundle(path.join(dir, 'v1'))
    const records = importTrafficText('openai', LOG, 'calls.jsonl', {...mapping, turns: true}).records
    const deps = {bundle, compiled: compileBundle(bundle), tools: createMockTools(emptyFixtures()), approver: 'pending' as const, faults: null, redactor: createRedactor(), limiter: new RateLimiter(), side: 'candidate' as const, repeat: 0}
    for (const [i, r] of records.entries()) {
      const cand = replayed(r, await runRequest(r, i + 1, {...deps, model: createReplayModel('recorded')}))
      // The change runs in the turn after the customer's reply, as production ran it.
      expect(cand.tool_calls.map((c) => [c.name, c.turn ?? 0]), r.id).toEqual(r.production.tool_calls.map((c, k) => [c.name, k < r.turns![0]!.after_calls ? 0 : 1]))
      const base = replayed(r, recordedTrace(r, i + 1, createRedactor(), bundle))
      const c = compareGroup({request_id: r.id, line: i + 1, traces: [base, cand]}, 'recorded').classification!
      expect(c.reasons.filter((x) => x.class !== 'benign'), r.id).toEqual([])
    }
  })
})
