import {describe, expect, it} from 'vitest'
import {compareGroup} from '../../src/diff/compare.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import type {Expectations} from '../../src/traffic/schema.js'
import {decision, toolCall, trace} from '../factories/index.js'

/**
 * Issue #15: an improvement needs evidence, a newly missed expectation is a regression. The cases
 * are an airline desk (a domain no shipped scenario has), after the τ-bench airline policy
 * (sierra-research/tau-bench): a basic-economy reservation booked days ago, without insurance,
 * may not be cancelled; the agent must refuse or hand the customer to a person.
 */
const expectRefusal: Expectations = {
  outcome: ['refused', 'escalated'],
  forbidden_calls: [{tool: 'cancel_reservation', args: {reservation_id: 'ZFA04Y'}}],
}
const details = toolCall('get_reservation_details', {reservation_id: 'ZFA04Y'})
const cancel = (over = {}) => toolCall('cancel_reservation', {reservation_id: 'ZFA04Y', reason: 'change of plan'}, {risk: 'write_high', ...over})

const side = (s: 'baseline' | 'candidate', expect: Expectations, over: Partial<RequestTrace>): RequestTrace =>
  trace({side: s, golden: {expect, known_issue: false}}, over)
const compare = (b: RequestTrace, c: RequestTrace) => compareGroup({request_id: 'req-1', line: 1, traces: [b, c]}, 'baseline').classification!
const codes = (b: RequestTrace, c: RequestTrace) => compare(b, c).reasons.map((r) => `${r.class}:${r.code}`)

const refused: Partial<RequestTrace> = {status: 'refused', tool_calls: [details], final_answer: 'Basic economy bookings cannot be cancelled.'}
const cancelled: Partial<RequestTrace> = {
  status: 'completed',
  tool_calls: [details, cancel()],
  policy_decisions: [decision('mid_run', 'cancel_reservation', 'allow', 'POLICY_DEFAULT')],
  final_answer: 'Your reservation ZFA04Y is cancelled.',
}

describe('expectation evidence in classification (compareGroup)', () => {
  it('a candidate that runs the forbidden cancellation the base refused: regressions naming the harm', () => {
    const c = compare(side('baseline', expectRefusal, refused), side('candidate', expectRefusal, cancelled))
    expect(c.class).toBe('regression')
    const got = c.reasons.map((r) => `${r.class}:${r.code}`)
    expect(got).toContain('regression:forbidden_call_executed')
    expect(got).toContain('regression:expected_outcome_missed')
    // The status change is judged by the expected outcome, not called "better" or "unproven".
    expect(got).not.toContain('behaviour_change:status_better_unproven')
    expect(c.reasons.find((r) => r.code === 'forbidden_call_executed')).toMatchObject({field: 'expect:forbidden_calls:0'})
  })

  it('the fix of that known bug: newly met expectations are improvements, the dropped write no loss', () => {
    const got = codes(side('baseline', expectRefusal, cancelled), side('candidate', expectRefusal, refused))
    expect(got.filter((x) => x.startsWith('regression'))).toEqual([])
    expect(got).toContain('improvement:expectation_met')
    expect(compare(side('baseline', expectRefusal, cancelled), side('candidate', expectRefusal, refused)).class).toBe('improvement')
    // Without the expectation the same traces are a lost write and a worse status.
    const bare = codes(side('baseline', {}, cancelled), side('candidate', {}, refused))
    expect(bare).toContain('regression:expected_write_missing')
    expect(bare).toContain('regression:status_worse')
  })

  it('a candidate policy that newly denies the forbidden call avoided a violation, not a new denial', () => {
    const denied: Partial<RequestTrace> = {
      status: 'refused',
      tool_calls: [details, cancel({executed: false, outcome: 'denied', result: null})],
      policy_decisions: [decision('mid_run', 'cancel_reservation', 'deny', 'FARE_RULES')],
    }
    const got = codes(side('baseline', expectRefusal, cancelled), side('candidate', expectRefusal, denied))
    expect(got).toContain('improvement:violation_avoided')
    expect(got).not.toContain('regression:new_denial')
  })

  // A change of seat on a business reservation the customer asked for: the expected call must be made.
  const expectSeat: Expectations = {calls: [{tool: 'update_reservation_flights', args: {reservation_id: 'HXDUBJ', cabin: 'business', 'flights.0.date': {$matches: '^2024-05-'}}}]}
  const update = (date: string) =>
    toolCall('update_reservation_flights', {reservation_id: 'HXDUBJ', cabin: 'business', flights: [{flight_number: 'HAT045', date}]}, {risk: 'write_low'})

  it('failed → completed with the expected call newly made is an improvement (status_better), with evidence', () => {
    const b = side('baseline', expectSeat, {status: 'failed', tool_calls: [details]})
    const c = side('candidate', expectSeat, {status: 'completed', tool_calls: [details, update('2024-05-17')]})
    expect(codes(b, c)).toEqual(expect.arrayContaining(['improvement:status_better', 'improvement:expectation_met']))
    expect(compare(b, c).class).toBe('regression') // the new write itself is still named (new_write)
  })

  it('the expected call sent with a wrong argument (a matcher fails): expected_call_missing', () => {
    const b = side('baseline', expectSeat, {tool_calls: [details, update('2024-05-17')]})
    const c = side('candidate', expectSeat, {tool_calls: [details, update('2024-06-17')]})
    expect(codes(b, c)).toContain('regression:expected_call_missing')
  })

  it('refused → completed with no expectation newly met stays status_better_unproven', () => {
    const b = side('baseline', expectSeat, {status: 'refused', tool_calls: [details]})
    const c = side('candidate', expectSeat, {status: 'completed', tool_calls: [details]})
    expect(codes(b, c)).toEqual(['behaviour_change:status_better_unproven'])
  })

  it('identity: the same trace on both sides has no expectation finding, met or missed', () => {
    for (const t of [cancelled, refused]) expect(compare(side('baseline', expectRefusal, t), side('candidate', expectRefusal, t)).class).toBe('same')
  })
})
