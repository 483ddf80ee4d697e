import {describe, expect, it} from 'vitest'
import {rebuildFromTranscript, resolveWho, ToolCatalog, type TranscriptMessage} from '../../src/traffic/imported.js'

const ask: TranscriptMessage = {role: 'user', text: 'Reset the VPN token for laptop HD-204.'}
const call = (id: string): TranscriptMessage => ({role: 'assistant', text: null, calls: [{id, name: 'reset_token', args: '{"asset":"HD-204"}'}]})

describe('rebuildFromTranscript: honest outcomes', () => {
  it('an assistant text answer after the calls is completed; JSON tool text becomes its value, plain text stays text', () => {
    const r = rebuildFromTranscript([{role: 'system', text: 'You are the IT helpdesk.'}, ask, call('c1'), {role: 'tool', callId: 'c1', content: '{"ok":true}', isError: false}, call('c2'), {role: 'tool', callId: 'c2', content: 'done', isError: false}, {role: 'assistant', text: 'Token reset.', calls: []}], 'stop')
    if ('field' in r) throw new Error(r.message)
    expect(r.input).toEqual([{role: 'user', content: 'Reset the VPN token for laptop HD-204.'}])
    expect(r.toolCalls.map((c) => [c.id, c.args, c.result])).toEqual([['c1', {asset: 'HD-204'}, {ok: true}], ['c2', {asset: 'HD-204'}, 'done']])
    expect([r.outcome, r.finalAnswer, r.ending]).toEqual(['completed', 'Token reset.', 'answer'])
  })

  it('a transcript ending on a call nobody answered is failed, and the call is left out (nothing says it ran)', () => {
    const r = rebuildFromTranscript([ask, call('c1')], 'stop')
    if ('field' in r) throw new Error(r.message)
    expect([r.outcome, r.ending, r.toolCalls]).toEqual(['failed', 'unanswered_tool_call', []])
  })

  it('a tool result the model never read is failed; a refusal is refused; a token-limit stop is budget_exceeded; an API error is failed', () => {
    const unread = rebuildFromTranscript([ask, call('c1'), {role: 'tool', callId: 'c1', content: 'ok', isError: false}], 'unknown')
    const refusal = rebuildFromTranscript([ask, {role: 'assistant', text: null, calls: [], refusal: 'I cannot help with that.'}], 'stop')
    const length = rebuildFromTranscript([ask, {role: 'assistant', text: 'Resetting the tok', calls: []}], 'length')
    const error = rebuildFromTranscript([ask], 'error')
    expect([unread, refusal, length, error].map((r) => ('field' in r ? r.field : [r.outcome, r.ending, r.finalAnswer]))).toEqual([
      ['failed', 'tool_result_unread', ''],
      ['refused', 'refusal', 'I cannot help with that.'],
      ['budget_exceeded', 'token_limit', 'Resetting the tok'],
      ['failed', 'api_error', ''],
    ])
  })

  it('an error flag on a result is a server_error with the text; a transcript without a user message is refused, naming messages', () => {
    const r = rebuildFromTranscript([ask, call('c1'), {role: 'tool', callId: 'c1', content: 'directory unreachable', isError: true}, {role: 'assistant', text: 'Try later.', calls: []}], 'stop')
    if ('field' in r) throw new Error(r.message)
    expect(r.toolCalls[0]).toEqual({id: 'c1', name: 'reset_token', args: {asset: 'HD-204'}, error: {code: 'server_error', message: 'directory unreachable'}, latency_ms: 0, attempt: 1})
    expect(rebuildFromTranscript([{role: 'assistant', text: 'hi', calls: []}], 'stop')).toEqual({field: 'messages', message: 'no user message to replay'})
  })
})

describe('resolveWho and ToolCatalog', () => {
  it('found values first, then defaults; a missing one names the field looked in', () => {
    const fields = {tenant: 'metadata.org', user: 'userId', role: 'metadata.role'}
    expect(resolveWho({tenant: 'it-dept', user: 42, role: undefined}, fields, {defaultRole: 'employee'})).toEqual({tenant: 'it-dept', user: '42', role: 'employee'})
    expect(resolveWho({tenant: 'it-dept', user: 'u1'}, fields, {})).toEqual({field: 'metadata.role', message: "missing (the caller's role, for RBAC; map it with --role-attr or set --default-role)"})
  })

  it('keeps the first definition of a tool and fills what it lacked from a later one', () => {
    const c = new ToolCatalog()
    c.add('reset_token')
    c.add('reset_token', 'Reset a VPN token.', '{"type":"object","properties":{"asset":{"type":"string"}}}')
    c.add('reset_token', 'other words', {type: 'object'})
    expect(c.list()).toEqual([{name: 'reset_token', description: 'Reset a VPN token.', parameters: {type: 'object', properties: {asset: {type: 'string'}}}}])
  })
})
