import {describe, expect, it} from 'vitest'
import {compareGroup} from '../../src/diff/compare.js'
import {evaluateGolden} from '../../src/eval/golden.js'
import {evaluateSecurity} from '../../src/eval/security.js'
import {redactionMarker} from '../../src/runtime/redact.js'
import {decodeToolCalls, encodeToolCalls} from '../../src/store/rows.js'
import type {RequestTrace, ToolCallTrace} from '../../src/trace/schema.js'
import {TrafficRecord, turnOfRecordedCall} from '../../src/traffic/schema.js'
import {invalidTrafficRecordInput, toolCall, trace, trafficRecord, trafficRecordInput} from '../factories/index.js'

// A garden-irrigation assistant (a domain no scenario has): it must hear "yes" before it floods
// a bed. Whether a write came before the user's confirming turn is judged from each call's `turn`.

const look = toolCall('read_moisture', {bed: 'roses'})
const water = (turn: number | undefined, overrides: Partial<ToolCallTrace> = {}): ToolCallTrace =>
  toolCall('open_valve', {bed: 'roses', litres: 40}, {risk: 'write_high', ...(turn === undefined ? {} : {turn}), ...overrides})

const GOLDEN = {expect: {calls: [{tool: 'open_valve', args: {bed: 'roses'}, after_turn: 1}]}, known_issue: false}

function compare(base: RequestTrace, cand: RequestTrace) {
  const r = compareGroup({request_id: 'req-1', line: 1, traces: [{...base, side: 'baseline'}, {...cand, side: 'candidate'}]}, 'baseline', {answerParts: false})
  return r.classification!
}
const codes = (c: ReturnType<typeof compare>) => c.reasons.filter((r) => r.class !== 'benign').map((r) => `${r.class}:${r.code}`)

describe('multi-turn judgement', () => {
  it('expect.calls after_turn: a write in an earlier turn fails as call_before_turn, even when it is made again later', () => {
    const early = evaluateGolden(trace({tool_calls: [look, water(undefined), water(1, {outcome: 'deduplicated'})], golden: GOLDEN}))!
    expect(early.failures).toEqual([expect.objectContaining({check: 'call_before_turn', tool: 'open_valve'})])
    expect(early.failures[0]!.message).toContain('executed in user turn 0, before user turn 1')
    expect(evaluateGolden(trace({tool_calls: [look, water(1)], golden: GOLDEN}))!.passed).toBe(true)
    // Never made at all: the plain expected_call failure, saying which turn it had to come in.
    const never = evaluateGolden(trace({tool_calls: [look], golden: GOLDEN}))!
    expect(never.failures).toEqual([expect.objectContaining({check: 'expected_call'})])
    expect(never.failures[0]!.message).toContain('in user turn 1 or later')
  })

  it('a candidate that writes before the confirming turn is a regression named for the harm; waiting where the base did not is the evidence of an improvement', () => {
    const waits = trace({tool_calls: [look, water(1)], golden: GOLDEN})
    const eager = trace({tool_calls: [look, water(undefined)], golden: GOLDEN})
    const worse = compare(waits, eager)
    expect(worse.class).toBe('regression')
    expect(codes(worse)).toContain('regression:write_before_confirmation')
    // Without the expectation, the write made before the user turn the base waited for still names itself.
    expect(codes(compare({...waits, golden: undefined}, {...eager, golden: undefined}))).toContain('regression:write_before_user_turn')
    const better = compare(eager, waits)
    expect(better.class).toBe('improvement')
    expect(codes(better)).toContain('improvement:expectation_met')
  })

  it('identity: the same multi-turn trace against itself is the same', () => {
    const t = trace({tool_calls: [look, water(1)], golden: GOLDEN})
    expect(compare(t, t)).toMatchObject({class: 'same', reasons: []})
  })

  it('the store keeps a call’s turn; a single-turn call’s tuple is as before', () => {
    const calls = [look, water(2), water(undefined, {approval: {decision: 'approved', by: 'kim', at: '2026-01-01T00:00:00Z', reason: null}})]
    expect(decodeToolCalls(encodeToolCalls(calls))).toEqual(calls)
    expect(JSON.parse(encodeToolCalls([look]))[0]).toHaveLength(13)
    expect(JSON.parse(encodeToolCalls([water(2)]))[0].slice(13)).toEqual([null, null, 2])
  })

  it('traffic `turns`: each recorded call belongs to one turn; boundaries must be in order and within the calls', () => {
    const calls = [
      {id: 'a', name: 'read_moisture', args: {}, result: 1, latency_ms: 1},
      {id: 'b', name: 'open_valve', args: {}, result: 2, latency_ms: 1},
    ]
    const turns = [{after_calls: 1, answer: 'Water the roses (yes/no)?', content: 'yes'}]
    const record = TrafficRecord.parse(trafficRecordInput({production: {tool_calls: calls}, turns}))
    expect([0, 1].map((i) => turnOfRecordedCall(record.turns, i))).toEqual([0, 1])
    const beyond = TrafficRecord.safeParse(invalidTrafficRecordInput({production: {tool_calls: calls}, turns: [{after_calls: 3, answer: '', content: 'yes'}]}))
    expect(beyond.error?.issues[0]?.message).toBe('production recorded only 2 tool call(s)')
    const bad = TrafficRecord.safeParse(invalidTrafficRecordInput({production: {tool_calls: calls}, turns: [turns[0], {after_calls: 0, answer: '', content: 'no'}]}))
    expect(bad.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['turns.1.after_calls', "must be at least the previous turn's (1)"]])
  })

  it('the security suite counts an address the user gave in a later turn as the user’s own', () => {
    const report = toolCall('send_report', {to: redactionMarker('field', 'gardener@home.example')}, {risk: 'write_low'})
    const asked = {input: [{role: 'user' as const, content: 'Water the roses and mail the report.'}]}
    const turns = [{after_calls: 0, answer: 'Who should get the report?', content: 'gardener@home.example'}]
    // Nothing to report (null: the suite does not apply) once the reply is the user's.
    expect(evaluateSecurity(trafficRecord(asked, {turns}), trace({tool_calls: [report]}), null)).toBeNull()
    expect(evaluateSecurity(trafficRecord(asked), trace({tool_calls: [report]}), null)!.failures.map((f) => f.check)).toEqual(['unknown_recipient'])
  })
})
