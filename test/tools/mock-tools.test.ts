import {describe, expect, it} from 'vitest'
import {parseFixtures} from '../../src/tools/fixtures.js'
import {createMockTools, DEFAULT_TOOL_LATENCY_MS} from '../../src/tools/mock-tools.js'
import {trafficRecord} from '../factories/index.js'

const fixtures = parseFixtures(
  'fixtures.yaml',
  `
tools:
  send_email:
    default: {result: {message_id: msg-fixture, status: queued}}
fixtures:
  - tool: lookup_order
    match: {order_id: ORD-2}
    result: {order_id: ORD-2, amount: 10}
    latency_ms: 7
  - tool: lookup_order
    match: {order_id: ORD-3, options: {deep: [1, 2]}}
    result: {order_id: ORD-3}
  - tool: lookup_order
    result: {order_id: any}
  - tool: issue_refund
    match: {order_id: ORD-9}
    error: {code: not_found, message: no such order}
`,
)

describe('mock tools', () => {
  it('prefers the recorded call with the same args, then the next one of the same tool', async () => {
    const tools = createMockTools(fixtures).forRequest(
      trafficRecord({production: {tool_calls: [
        {id: 'c1', name: 'lookup_order', args: {order_id: 'A'}, result: {from: 'A'}, latency_ms: 11},
        {id: 'c2', name: 'lookup_order', args: {order_id: 'B'}, result: {from: 'B'}, latency_ms: 12},
      ]}}),
    )
    const b = await tools.call('lookup_order', {order_id: 'B'}, 1)
    expect(b).toMatchObject({outcome: 'ok', result: {from: 'B'}, latency_ms: 12, source: 'recorded', executed: true})
    // Different args: falls back to the next unconsumed recorded call of the tool.
    const other = await tools.call('lookup_order', {order_id: 'Z'}, 1)
    expect(other).toMatchObject({result: {from: 'A'}, source: 'recorded'})
    // Recorded calls are consumed: the third call goes to the fixtures (catch-all lookup).
    const third = await tools.call('lookup_order', {order_id: 'B'}, 1)
    expect(third).toMatchObject({result: {order_id: 'any'}, source: 'fixture', latency_ms: DEFAULT_TOOL_LATENCY_MS})
    expect(tools.executions.map((e) => e.source)).toEqual(['recorded', 'recorded', 'fixture'])
  })

  it('never answers from a recorded call production did not execute (policy stopped it)', async () => {
    // Production held this refund for approval: no result, no error. A candidate that executes the
    // refund must get a real answer (the fixture default), not an empty result borrowed from the recording.
    const tools = createMockTools(
      parseFixtures('f.yaml', 'tools:\n  issue_refund:\n    default: {result: {refund_id: RF-fixture}}\n'),
    ).forRequest(trafficRecord({production: {tool_calls: [{id: 'c1', name: 'issue_refund', args: {order_id: 'ORD-1', amount: 300}, latency_ms: 0}]}}))
    const answer = await tools.call('issue_refund', {order_id: 'ORD-1', amount: 300}, 1)
    expect(answer).toMatchObject({outcome: 'ok', source: 'default', result: {refund_id: 'RF-fixture'}})
  })

  it('matches args canonically, whatever the key order', async () => {
    const tools = createMockTools(null).forRequest(
      trafficRecord({production: {tool_calls: [
        {id: 'c1', name: 't', args: {a: 1, b: {x: 1, y: 2}}, result: 'first', latency_ms: 1},
        {id: 'c2', name: 't', args: {b: {y: 2, x: 1}, a: 2}, result: 'second', latency_ms: 1},
      ]}}),
    )
    expect((await tools.call('t', {b: {y: 2, x: 1}, a: 2}, 1)).result).toBe('second')
  })

  it('answers from the first fixture whose match is a subset of the args, deep-equal', async () => {
    const tools = createMockTools(fixtures).forRequest(trafficRecord({production: {tool_calls: []}}))
    expect(await tools.call('lookup_order', {order_id: 'ORD-2', extra: true}, 1)).toMatchObject({
      result: {order_id: 'ORD-2', amount: 10},
      latency_ms: 7,
      source: 'fixture',
    })
    expect((await tools.call('lookup_order', {order_id: 'ORD-3', options: {deep: [1, 2]}}, 1)).result).toEqual({order_id: 'ORD-3'})
    // Not deep-equal (array differs): the catch-all fixture answers instead.
    expect((await tools.call('lookup_order', {order_id: 'ORD-3', options: {deep: [2, 1]}}, 1)).result).toEqual({order_id: 'any'})
    expect(await tools.call('issue_refund', {order_id: 'ORD-9'}, 1)).toMatchObject({
      outcome: 'error',
      error: {code: 'not_found', message: 'no such order'},
      executed: true,
    })
  })

  it('picks the first matching fixture in file order, whether it matches by a string, a number or nothing at all', async () => {
    // The fixtures are indexed by their first string field (a call is compared with the few that
    // can match it); the answer must still be the first match in file order.
    const ordered = parseFixtures(
      'f.yaml',
      `
fixtures:
  - {tool: t, match: {n: 1}, result: by-number}
  - {tool: t, match: {id: A, n: 2}, result: by-string-and-number}
  - {tool: t, match: {id: A}, result: by-string}
  - {tool: t, match: {kind: x, id: B}, result: by-kind}
  - {tool: t, result: catch-all}
  - {tool: t, match: {id: C}, result: after-catch-all}
`,
    )
    const tools = createMockTools(ordered).forRequest(trafficRecord({production: {tool_calls: []}}))
    const answer = async (args: Record<string, unknown>) => (await tools.call('t', args, 1)).result
    expect(await answer({id: 'A', n: 1})).toBe('by-number')
    expect(await answer({id: 'A', n: 2})).toBe('by-string-and-number')
    expect(await answer({id: 'A', n: 3})).toBe('by-string')
    expect(await answer({id: 'B', kind: 'x'})).toBe('by-kind')
    expect(await answer({id: 'B', kind: 'y'})).toBe('catch-all')
    // A later fixture never wins over an earlier catch-all, and a string field never matches a non-string.
    expect(await answer({id: 'C'})).toBe('catch-all')
    expect(await answer({id: ['A']})).toBe('catch-all')
    // The canonical form the caller passes is the one compared with the recording.
    const recorded = createMockTools(ordered).forRequest(
      trafficRecord({production: {tool_calls: [
        {id: 'c1', name: 't', args: {id: 'A'}, result: 'first', latency_ms: 1},
        {id: 'c2', name: 't', args: {id: 'B'}, result: 'second', latency_ms: 1},
      ]}}),
    )
    expect((await recorded.call('t', {id: 'B'}, 1, '{"id":"B"}')).result).toBe('second')
  })

  it('falls back to the tool default, then to unrecorded_call', async () => {
    const tools = createMockTools(fixtures).forRequest(trafficRecord({production: {tool_calls: []}}))
    expect(await tools.call('send_email', {to: 'x'}, 1)).toMatchObject({outcome: 'ok', result: {message_id: 'msg-fixture'}, source: 'default'})
    expect(await tools.call('issue_refund', {order_id: 'ORD-1'}, 1)).toMatchObject({outcome: 'unrecorded_call', executed: false, source: 'none'})
    expect(tools.executions).toHaveLength(1)
  })

  it('replays a recorded timeout-then-success as timeout-then-success', async () => {
    const tools = createMockTools(null).forRequest(
      trafficRecord({production: {tool_calls: [
        {id: 'c1', name: 'issue_refund', args: {order_id: 'A'}, error: {code: 'timeout', message: 'slow'}, latency_ms: 3000},
        {id: 'c1', name: 'issue_refund', args: {order_id: 'A'}, result: {refund_id: 'R1'}, latency_ms: 80, attempt: 2},
      ]}}),
    )
    const first = await tools.call('issue_refund', {order_id: 'A'}, 1)
    expect(first).toMatchObject({outcome: 'timeout', executed: false, latency_ms: 3000, error: {code: 'timeout'}})
    const second = await tools.call('issue_refund', {order_id: 'A'}, 2)
    expect(second).toMatchObject({outcome: 'ok', result: {refund_id: 'R1'}, executed: true})
    expect(tools.executions).toEqual([{name: 'issue_refund', args: {order_id: 'A'}, attempt: 2, source: 'recorded'}])
  })

  it('keeps requests apart: each request consumes only its own recording', async () => {
    const sandbox = createMockTools(null)
    const rec = trafficRecord({production: {tool_calls: [{id: 'c1', name: 't', args: {}, result: 1, latency_ms: 1}]}})
    const a = sandbox.forRequest(rec)
    const b = sandbox.forRequest(rec)
    expect((await a.call('t', {}, 1)).outcome).toBe('ok')
    expect((await b.call('t', {}, 1)).outcome).toBe('ok')
    expect((await a.call('t', {}, 1)).outcome).toBe('unrecorded_call')
  })
})
