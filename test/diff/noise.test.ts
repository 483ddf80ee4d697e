import {describe, expect, it} from 'vitest'
import {classifyRequest} from '../../src/diff/classify.js'
import {noiseProfile, traceFields} from '../../src/diff/noise.js'
import {diffRequest} from '../../src/diff/request-diff.js'
import {compareGroup} from '../../src/diff/compare.js'
import {baseTrace, toolCall, trace} from '../factories/index.js'

const note = (text: string) => toolCall('add_note', {ticket: 'T1', text}, {risk: 'write_low'})

describe('noiseProfile', () => {
  it('finds the fields that differ between repeats of one side', () => {
    const reps = [
      trace({repeat: 0, tool_calls: [note('hello')], final_answer: 'A'}),
      trace({repeat: 1, tool_calls: [note('hi there')], final_answer: 'A'}),
    ]
    const p = noiseProfile(reps, [baseTrace()])
    expect(p.fields.has('call:add_note#0.args.text')).toBe(true)
    expect(p.fields.has('call:add_note#0.args.ticket')).toBe(false)
    expect(p.fields.has('answer')).toBe(false)
    expect(p.repeats).toEqual({base: 1, cand: 2})
  })

  it('counts a number as varying only beyond the tolerance', () => {
    const p = noiseProfile([trace({latency_ms: 1000}), trace({latency_ms: 1100})], [])
    expect(p.fields.has('latency_ms')).toBe(false)
    const q = noiseProfile([trace({latency_ms: 1000}), trace({latency_ms: 3000})], [])
    expect(q.fields.has('latency_ms')).toBe(true)
  })

  it('names fields the way the diff does', () => {
    const f = traceFields(trace({tool_calls: [note('x'), note('y')], budget_hits: ['max_steps']}))
    expect(f.get('call:add_note#1.args.text')).toBe('"y"')
    expect(f.get('budget:max_steps')).toBe('hit')
  })
})

describe('noise cancellation in classification', () => {
  it('a field that differs between repeats is noise, not a change', () => {
    const b = baseTrace({tool_calls: [note('hello')]})
    const c0 = trace({repeat: 0, tool_calls: [note('hi')]})
    const c1 = trace({repeat: 1, tool_calls: [note('hey')]})
    const withoutNoise = classifyRequest(diffRequest(b, c0))
    expect(withoutNoise.class).toBe('behaviour_change')
    const r = classifyRequest(diffRequest(b, c0), {noise: noiseProfile([c0, c1], [b])})
    expect(r.class).toBe('same')
    expect(r.noise.map((x) => x.field)).toEqual(['call:add_note#0.args.text'])
  })

  it('a difference stable across repeats stays a regression', () => {
    const refund = (amount: number) => toolCall('issue_refund', {order_id: 'O1', amount}, {risk: 'write_high'})
    const b0 = baseTrace({repeat: 0, tool_calls: [refund(20)], latency_ms: 900})
    const b1 = baseTrace({repeat: 1, tool_calls: [refund(20)], latency_ms: 2900})
    const c0 = trace({repeat: 0, tool_calls: [refund(2000)], latency_ms: 1800})
    const c1 = trace({repeat: 1, tool_calls: [refund(2000)], latency_ms: 1000})
    const r = compareGroup({request_id: 'req-1', line: 1, traces: [b0, b1, c0, c1]}, 'recorded')
    expect(r.classification!.class).toBe('regression')
    expect(r.classification!.reasons.map((x) => x.code)).toEqual(['high_risk_args_changed'])
    // the latency jitter between repeats is set aside as noise
    expect(r.classification!.noise.map((x) => x.field)).toEqual(['latency_ms'])
  })

  it('a new budget hit seen in only some candidate repeats is noise', () => {
    const b = baseTrace()
    const c0 = trace({repeat: 0, budget_hits: ['max_steps']})
    const c1 = trace({repeat: 1})
    const r = compareGroup({request_id: 'req-1', line: 1, traces: [b, c0, c1]}, 'recorded')
    expect(r.classification!.class).toBe('same')
    expect(r.classification!.noise[0]!.code).toBe('new_budget_hit')
  })
})
