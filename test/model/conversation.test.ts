import {describe, expect, it} from 'vitest'
import {parseConversation} from '../../src/model/scripted/conversation.js'
import type {ChatMessage} from '../../src/model/types.js'
import {assistantMessage, memoryMessage, toolResultMessage} from '../../src/runtime/messages.js'

/** The same messages as fresh objects: nothing remembered about them, parsed from the start. */
const fresh = (messages: readonly ChatMessage[]) => parseConversation(messages.map((m) => JSON.parse(JSON.stringify(m)) as ChatMessage))

describe('parseConversation, read incrementally across the model calls of a request', () => {
  it('gives at every call what reading all the messages from scratch gives, and never changes an earlier answer', () => {
    // A request on a domain the runtime knows nothing about: a greenhouse's irrigation agent.
    const messages: ChatMessage[] = [
      {role: 'system', content: 'You water plants.'},
      memoryMessage([{key: 'zone', owner: 'grower-7', provenance: 'user', value: 'B3', written_at: '2026-01-01T00:00:00Z'}]),
      {role: 'user', content: 'Bed B3 looks dry, water it for 5 minutes.'},
    ]
    const seen: {conv: ReturnType<typeof parseConversation>; json: string}[] = []
    const step = () => {
      const conv = parseConversation(messages.slice())
      expect(conv).toEqual(fresh(messages))
      seen.push({conv, json: JSON.stringify(conv)})
    }
    step()
    messages.push(assistantMessage('', [{name: 'read_moisture', arguments: {bed: 'B3'}}, {name: 'open_valve', arguments: {bed: 'B3', minutes: 5}}]))
    step()
    messages.push(toolResultMessage('open_valve', {ok: false, error: {code: 'rate_limited', message: 'valve busy'}}))
    step()
    messages.push(toolResultMessage('read_moisture', {ok: true, result: {bed: 'B3', percent: 12}}))
    step()
    messages.push({role: 'assistant', content: 'Watering queued.'}, {role: 'user', content: 'And bed C1?'})
    step()
    messages.push(assistantMessage('', [{name: 'read_moisture', arguments: {bed: 'C1'}}]), toolResultMessage('read_moisture', {ok: true, result: {bed: 'C1', percent: 40}}))
    step()
    const last = seen.at(-1)!.conv
    expect(last.exchanges.map((e) => [e.name, e.pending, e.ok])).toEqual([
      ['read_moisture', false, true],
      ['open_valve', false, false],
      ['read_moisture', false, true],
    ])
    expect(last.userTexts).toEqual(['Bed B3 looks dry, water it for 5 minutes.', 'And bed C1?'])
    // What each call was given is as it was then, whatever later calls read.
    for (const s of seen) expect(JSON.stringify(s.conv)).toBe(s.json)
    expect(seen[1]!.conv.exchanges.every((e) => e.pending)).toBe(true)
  })

  it('reads from the start again when the messages no longer extend those read last (a plan prompt dropped, another conversation)', () => {
    const system: ChatMessage = {role: 'system', content: 'You schedule ferries.'}
    const plan: ChatMessage = {role: 'system', content: 'Plan first: answer with a JSON plan.'}
    const user: ChatMessage = {role: 'user', content: 'Book the 9:10 to Vashon.'}
    expect(parseConversation([system, plan, user]).planRequest).toBe('Plan first: answer with a JSON plan.')
    const answer = parseConversation([system, user])
    expect(answer.planRequest).toBeNull()
    expect(answer).toEqual(fresh([system, user]))
    // The same first message, then different words: nothing of the previous conversation carries over.
    const other = parseConversation([system, {role: 'user', content: 'Cancel it.'}])
    expect(other.userTexts).toEqual(['Cancel it.'])
    expect(parseConversation([]).system).toBe('')
  })

  it('gives the same answers when many conversations are read in turn (more than it keeps state for)', () => {
    const convs = Array.from({length: 20}, (_, i): ChatMessage[] => [
      {role: 'system', content: 'You route parcels.'},
      {role: 'user', content: `Where is parcel P-${i}?`},
    ])
    for (const m of convs) parseConversation(m.slice())
    convs.forEach((m, i) => {
      m.push(assistantMessage('', [{name: 'track', arguments: {parcel: `P-${i}`}}]), toolResultMessage('track', {ok: true, result: {hub: `H${i}`}}))
    })
    for (const m of [...convs].reverse()) {
      const conv = parseConversation(m.slice())
      expect(conv).toEqual(fresh(m))
      expect(conv.exchanges).toHaveLength(1)
    }
  })
})
