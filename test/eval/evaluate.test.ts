import {describe, expect, it} from 'vitest'
import {EvalAccumulator, goldenPassRate, suitesBelow} from '../../src/eval/evaluate.js'
import {deriveExpectations} from '../../src/eval/incident.js'
import type {SuiteVerdict} from '../../src/eval/types.js'
import {production, replayed, toolCall, trace, trafficRecord} from '../factories/index.js'

const golden = trafficRecord({expect: {forbidden_tools: ['send_email']}})
const sent = toolCall('send_email', {to: 'x'}, {risk: 'write_low'})

describe('eval aggregation', () => {
  it('a request passes a suite only if every repeat passes; skipped and unmatched requests are counted apart', () => {
    const acc = new EvalAccumulator('r1', {suites: ['golden', 'tool-failure']})
    acc.add(golden, replayed(golden, trace({request_id: 'a', line: 1, repeat: 0})))
    acc.add(golden, replayed(golden, trace({request_id: 'a', line: 1, repeat: 1, tool_calls: [sent]})))
    acc.add({...golden, id: 'b'}, replayed(golden, trace({request_id: 'b', line: 2})))
    // Its traffic line is gone: tool-failure cannot judge it, golden judges the expectations the trace stores.
    acc.add(null, replayed(golden, trace({request_id: 'c', line: 3, tool_calls: [sent]})))
    acc.add(golden, trace({request_id: 'd', line: 4, status: 'skipped'}))
    const s = acc.summary()
    expect(s).toMatchObject({requests: 4, evaluated: 2, unmatched: 1, skipped: 1})
    expect(s.results.golden).toMatchObject({applicable: 3, passed: 1, failed: 2})
    expect(s.results.golden!.failures.map((f) => [f.request_id, f.repeat])).toEqual([['a', 1], ['c', 0]])
    expect(s.results.golden!.failures[0]!.checks).toEqual([{check: 'forbidden_tool', message: 'send_email executed but is forbidden for this request', tool: 'send_email'}])
    expect(s.results['tool-failure']).toMatchObject({applicable: 0, pass_rate: null})
    expect(goldenPassRate(s)).toBe(1 / 3)
    expect(suitesBelow(s, 0.95)).toEqual(['golden'])
    expect(suitesBelow(s, 1 / 3)).toEqual([])
  })

  it('the golden suite alone needs no traffic record: nothing is unmatched', () => {
    const acc = new EvalAccumulator('r1', {suites: ['golden']})
    acc.add(null, replayed(golden, trace({request_id: 'a', line: 1})))
    acc.add(null, replayed(golden, trace({request_id: 'b', line: 2, tool_calls: [sent]})))
    acc.add(null, trace({request_id: 'c', line: 3}))
    const s = acc.summary()
    expect(s).toMatchObject({requests: 3, evaluated: 3, unmatched: 0, skipped: 0})
    expect(s.results.golden).toMatchObject({applicable: 2, passed: 1, failed: 1, pass_rate: 0.5})
  })

  it('judges the expectations the trace stores, not those of the record it is given', () => {
    const acc = new EvalAccumulator('r1', {suites: ['golden']})
    // The traffic line was edited since the run: its expectations are not what the run replayed.
    acc.add(trafficRecord({expect: {tools: ['issue_refund']}}), replayed(golden, trace({request_id: 'a', line: 1})))
    expect(acc.summary().results.golden).toMatchObject({applicable: 1, passed: 1})
  })

  it('keeps known issues out of the pass rate and says which ones a run fixed', () => {
    const known = trafficRecord({expect: {forbidden_tools: ['send_email']}, labels: {known_issue: 'v1 emails attackers'}})
    const acc = new EvalAccumulator('r1', {suites: ['golden']})
    acc.add(golden, replayed(golden, trace({request_id: 'a', line: 1})))
    acc.add({...known, id: 'k1'}, replayed(known, trace({request_id: 'k1', line: 2, tool_calls: [sent]})))
    acc.add({...known, id: 'k2'}, replayed(known, trace({request_id: 'k2', line: 3})))
    const s = acc.summary()
    expect(s.results.golden).toMatchObject({applicable: 1, passed: 1, failed: 0, pass_rate: 1, known_issues: {failing: 1, fixed: ['k2']}})
  })

  it('goldenPassRate is null when no request carries an expect block', () => {
    const acc = new EvalAccumulator('r1', {suites: ['golden']})
    acc.add(trafficRecord(), replayed(trafficRecord(), trace()))
    expect(goldenPassRate(acc.summary())).toBeNull()
  })
})

describe('deriveExpectations', () => {
  it('forbids what production refused and the candidate executed, never a particular decision', () => {
    const r = trafficRecord({
      production: production({
        tool_calls: [
          {id: 'c0', name: 'lookup_order', args: {}, result: {ok: true}, latency_ms: 1},
          {id: 'c1', name: 'issue_refund', args: {}, latency_ms: 0},
        ],
        policy_decisions: [{stage: 'mid_run', tool_call_id: 'c1', tool: 'issue_refund', decision: 'require_approval', reason: 'REFUND_NEEDS_APPROVAL'}],
      }),
    })
    const t = trace({tool_calls: [toolCall('issue_refund', {}, {risk: 'write_high'})]})
    // Production held it for approval; a good bundle that never attempts it must pass too.
    expect(deriveExpectations(r, [t], [])).toEqual({tools: ['lookup_order'], forbidden_tools: ['issue_refund']})
  })

  // Issue #15: the record's own expected calls and outcome are kept, and a stored argument that is an
  // object with a `$` key (a JSON Schema `$ref` sent as data) stays a literal value, not a matcher.
  it("keeps the record's calls and outcome; a stored $-keyed object becomes {$eq}", () => {
    const r = trafficRecord({expect: {calls: [{tool: 'lookup_order', args: {order_id: {$matches: '^O'}}}], outcome: ['refused', 'escalated']}})
    const security: SuiteVerdict = {suite: 'security', passed: false, failures: [{check: 'policy_would_deny', message: 'm', tool: 'save_schema', args: {schema: {$ref: '#/a'}}}]}
    expect(deriveExpectations(r, [trace()], [security])).toEqual({
      calls: [{tool: 'lookup_order', args: {order_id: {$matches: '^O'}}}],
      outcome: ['refused', 'escalated'],
      forbidden_calls: [{tool: 'save_schema', args: {schema: {$eq: {$ref: '#/a'}}}}],
    })
  })

  it('forbids a call a check names by its arguments with those arguments; a check on the whole tool forbids the tool', () => {
    const to = '[REDACTED:field:3c4f91ee]'
    const security: SuiteVerdict = {
      suite: 'security',
      passed: false,
      failures: [
        {check: 'policy_would_deny', message: 'm', tool: 'send_email', args: {to}},
        {check: 'exfiltration', message: 'm', tool: 'send_email', args: {to}},
        {check: 'policy_would_deny', message: 'm', tool: 'issue_refund', args: {amount: 750}},
        {check: 'role_not_allowed', message: 'm', tool: 'search_kb'},
      ],
    }
    const t = trace({tool_calls: [toolCall('send_email', {to}, {risk: 'write_low'})]})
    expect(deriveExpectations(trafficRecord(), [t], [security])).toEqual({
      forbidden_tools: ['search_kb'],
      forbidden_calls: [
        {tool: 'send_email', args: {to}},
        {tool: 'issue_refund', args: {amount: 750}},
      ],
    })
    const whole: SuiteVerdict = {...security, failures: [...security.failures, {check: 'recorded_deny_executed', message: 'm', tool: 'send_email'}]}
    expect(deriveExpectations(trafficRecord(), [t], [whole])).toEqual({
      forbidden_tools: ['search_kb', 'send_email'],
      forbidden_calls: [{tool: 'issue_refund', args: {amount: 750}}],
    })
  })

  it('keeps the record\'s own expectations and lets explicit ones win', () => {
    const r = trafficRecord({expect: {forbidden_tools: ['send_email'], answer_contains: ['sorry']}})
    expect(deriveExpectations(r, [trace()], [], {forbid: ['issue_refund'], decision: 'deny'})).toEqual({
      forbidden_tools: ['send_email', 'issue_refund'],
      decision: 'deny',
      answer_contains: ['sorry'],
    })
  })
})
