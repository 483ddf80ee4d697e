import {describe, expect, it} from 'vitest'
import {parseConversation} from '../../src/model/scripted/conversation.js'
import {jsonStable, rememberedToolPayload} from '../../src/model/tool-payloads.js'
import type {ChatMessage} from '../../src/model/types.js'
import {assistantMessage, toolResultMessage, type ToolPayload} from '../../src/runtime/messages.js'

const holes: unknown[] = [1]
holes[2] = 3
const results: unknown[] = [
  null,
  'text with a lone \ud800 surrogate and "quotes"',
  0,
  -0,
  1e21,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  {a: 1, b: [1, 'two', {c: null}], '10': 'ten', '2': 'two'},
  JSON.parse('{"__proto__": {"x": 1}, "y": 2}'),
  {gone: undefined, kept: 1},
  {when: new Date(0)},
  {toJSON: () => 'replaced'},
  Object.assign(Object.create(null), {a: 1}),
  holes,
  [undefined, () => 1],
  new Map([['k', 1]]),
  undefined,
]
const errors: ToolPayload[] = [
  {ok: false, error: {code: 'not_found', message: 'no such order'}},
  {ok: false, error: {code: 'policy_denied', message: ''}},
  {ok: false, error: {code: 'server_error', message: undefined as unknown as string}},
]

describe('tool payloads handed over as data', () => {
  it('gives the scripted model exactly what parsing each tool message would, or nothing', () => {
    const payloads: ToolPayload[] = [...results.map((result): ToolPayload => ({ok: true, result})), ...errors]
    const calls = payloads.map((_, i) => ({name: `t${i}`, arguments: {}}))
    const messages: ChatMessage[] = [{role: 'system', content: 'S'}, {role: 'user', content: 'U'}, assistantMessage('', calls)]
    payloads.forEach((p, i) => messages.push(toolResultMessage(`t${i}`, p)))
    // The same messages as they would come over the wire: fresh objects, text only.
    const wire = messages.map((m) => JSON.parse(JSON.stringify(m)) as ChatMessage)
    expect(wire.some((m) => rememberedToolPayload(m) !== undefined)).toBe(false)
    const handed = parseConversation(messages).exchanges
    const parsed = parseConversation(wire).exchanges
    expect(handed).toEqual(parsed)
    // Key order too: a skill may read a result's keys in order.
    expect(JSON.stringify(handed)).toBe(JSON.stringify(parsed))
    // The plain JSON results were handed over, not parsed; the rest fell back to the text.
    const remembered = messages.slice(3).map((m) => rememberedToolPayload(m) !== undefined)
    expect(remembered).toEqual([...results.map((r) => r !== undefined && jsonStable(r)), true, true, false])
    expect(remembered.filter(Boolean).length).toBe(9)
  })

  it('calls a value plain JSON only when nothing JSON.stringify would change or drop', () => {
    let deep: unknown = 1
    for (let i = 0; i < 100; i++) deep = [deep]
    expect(jsonStable(deep)).toBe(false)
    expect(jsonStable({a: [{b: 'c'}]})).toBe(true)
    expect(jsonStable(-0)).toBe(false)
    expect(jsonStable({a: Symbol('s')})).toBe(false)
  })
})
