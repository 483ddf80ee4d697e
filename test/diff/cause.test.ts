import {describe, expect, it} from 'vitest'
import {CauseTally, causeId, causeKey, causeSignature, matchesCause, MAX_CAUSE_EXAMPLES} from '../../src/diff/cause.js'
import {classifyRequest} from '../../src/diff/classify.js'
import {diffRequest} from '../../src/diff/request-diff.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {canonicalJson} from '../../src/util/canonical.js'
import {baseTrace, decision, guardrail, toolCall, trace} from '../factories/index.js'

// Tool names of no scenario: the signature knows only what the traces say.
const signatureOf = (b: RequestTrace, c: RequestTrace) => {
  const d = diffRequest(b, c)
  return causeSignature(d, classifyRequest(d))
}
const keyOf = (b: RequestTrace, c: RequestTrace) => {
  const d = diffRequest(b, c)
  return causeKey(d, classifyRequest(d))
}

const transfer = (amount: number, over = {}) => toolCall('wire_funds', {account: 'A-1', amount}, {risk: 'write_high', idempotency_key: 'k1', ...over})

/** A request whose candidate denies the write the base made, under `rule` and `reason`. */
function denied(id: string, amount: number, reason = 'OVER_LIMIT', rule = 'limit') {
  const b = baseTrace({request_id: id, tool_calls: [transfer(amount)], policy_decisions: [decision('mid_run', 'wire_funds', 'allow', 'WRITE_OK', {rule: 'writes'})]})
  const c = trace({
    request_id: id,
    status: 'refused',
    final_answer: `Sorry, ${amount} is too much.`,
    tool_calls: [transfer(amount, {executed: false, outcome: 'denied', result: null})],
    policy_decisions: [decision('mid_run', 'wire_funds', 'deny', reason, {rule})],
  })
  return [b, c] as const
}

describe('causeSignature', () => {
  it('names tool, decision change with rules and reason codes, and status; two requests with other ids and values share it', () => {
    const s = signatureOf(...denied('r-1', 900))
    expect(s).toEqual({
      class: 'regression',
      facets: [
        {
          code: 'new_denial',
          tool: 'wire_funds',
          stage: 'mid_run',
          decision: {from: 'allow', from_reason: 'WRITE_OK', from_rule: 'writes', to: 'deny', to_reason: 'OVER_LIMIT', to_rule: 'limit'},
        },
        {code: 'status_worse', status: {from: 'completed', to: 'refused'}},
      ],
    })
    expect(keyOf(...denied('r-2', 5000))).toBe(keyOf(...denied('r-1', 900)))
  })

  it('another rule or reason code is another cause', () => {
    const id = causeId(signatureOf(...denied('r-1', 900))!)
    expect(causeId(signatureOf(...denied('r-1', 900, 'OVER_LIMIT', 'other-rule'))!)).not.toBe(id)
    expect(causeId(signatureOf(...denied('r-1', 900, 'FRAUD_SUSPECTED'))!)).not.toBe(id)
  })

  it('keeps the argument field, never its value, nor which occurrence of the call it was', () => {
    const one = signatureOf(baseTrace({tool_calls: [transfer(20)]}), trace({tool_calls: [transfer(2000)]}))
    expect(one).toEqual({class: 'regression', facets: [{code: 'high_risk_args_changed', tool: 'wire_funds', arg: {path: 'amount', change: 'changed'}}]})
    const lookup = toolCall('read_ledger', {account: 'A-1'})
    const second = signatureOf(
      baseTrace({tool_calls: [lookup, transfer(1), transfer(7)]}),
      trace({tool_calls: [lookup, transfer(1), transfer(70_000)]}),
    )
    expect(second).toEqual(one)
  })

  it('only the findings that decided the class: a regression worded differently has the same cause', () => {
    const [b, c] = denied('r-1', 900)
    expect(keyOf(b, {...c, final_answer: 'something else entirely'})).toBe(keyOf(b, c))
    // A benign request's cause is its benign findings.
    expect(signatureOf(baseTrace(), trace({final_answer: 'Reworded.'}))).toEqual({class: 'benign', facets: [{code: 'answer_wording'}]})
  })

  it('one facet for the same finding on several calls; none for a request that is the same', () => {
    const deny = (n: number) => decision('mid_run', 'wire_funds', 'deny', 'OVER_LIMIT', {rule: 'limit', tool_call_seq: n})
    const allow = (n: number) => decision('mid_run', 'wire_funds', 'allow', 'WRITE_OK', {rule: 'writes', tool_call_seq: n})
    const s = signatureOf(baseTrace({policy_decisions: [allow(0), allow(1)]}), trace({policy_decisions: [deny(0), deny(1)]}))
    expect(s?.facets.filter((f) => f.code === 'new_denial')).toHaveLength(1)
    expect(signatureOf(baseTrace(), trace())).toBeNull()
  })

  it('each facet in the key is already canonical JSON (keys sorted at every depth), whatever finding it names', () => {
    const keys = [
      keyOf(...denied('r-1', 900)),
      keyOf(baseTrace({tool_calls: [transfer(20)]}), trace({tool_calls: [transfer(2000)]})),
      keyOf(baseTrace({side: 'baseline'}), trace({guardrails: [guardrail('post_action', 'write.verify', false, 'high')], budget_hits: ['max_steps']})),
      keyOf(baseTrace(), trace({final_answer: 'Reworded.', input_tokens: 900})),
    ]
    const facets = keys.flatMap((k) => k!.split('\n').slice(1))
    expect(facets.length).toBeGreaterThan(5)
    for (const f of facets) expect(f).toBe(canonicalJson(JSON.parse(f)))
  })

  it('the id is a short hash of the canonical signature, the same on any machine', () => {
    const s = signatureOf(baseTrace({tool_calls: [transfer(20)]}), trace({tool_calls: [transfer(2000)]}))!
    // Pinned: a change to what the signature holds or how it is hashed renames every cause users may have referenced.
    expect(causeId(s)).toBe(causeId({class: 'regression', facets: [{arg: {change: 'changed', path: 'amount'}, tool: 'wire_funds', code: 'high_risk_args_changed'}]}))
    expect(causeId(s)).toMatch(/^[0-9a-f]{10}$/)
    // sha256 of {"class":"regression","facets":[{"arg":{"change":"changed","path":"amount"},"code":"high_risk_args_changed","tool":"wire_funds"}]}, by sha256sum.
    expect(causeId(s)).toBe('1884bd9fd7')
  })
})

describe('CauseTally', () => {
  it('sorts by harm, then size; keeps the first examples in line order across absorbed parts', () => {
    const reg = keyOf(...denied('x', 1))!
    const benign = keyOf(baseTrace(), trace({final_answer: 'Reworded.'}))!
    const first = new CauseTally()
    for (let i = 0; i < 3; i++) first.add(benign, `b-${i}`)
    first.add(reg, 'r-0')
    first.add(null, 'same-0')
    const second = new CauseTally()
    for (let i = 1; i < 8; i++) second.add(reg, `r-${i}`)
    const all = new CauseTally()
    all.absorb(first.state())
    all.absorb(second.state())
    const groups = all.groupsSorted()
    expect(groups.map((g) => [g.class, g.requests])).toEqual([
      ['regression', 8],
      ['benign', 3],
    ])
    expect(groups[0]!.examples).toEqual(['r-0', 'r-1', 'r-2', 'r-3', 'r-4'].slice(0, MAX_CAUSE_EXAMPLES))
    expect(groups[0]!.cause).toBe(causeId(groups[0]!.signature))
  })

  it('a cause is named by its id or a prefix of at least 4 digits', () => {
    expect(matchesCause('0c0ac2795b', '0c0ac2795b')).toBe(true)
    expect(matchesCause('0c0ac2795b', '0C0A')).toBe(true)
    expect(matchesCause('0c0ac2795b', '0c0')).toBe(false)
    expect(matchesCause('0c0ac2795b', '0c0b')).toBe(false)
  })
})
