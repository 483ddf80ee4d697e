import {describe, expect, it} from 'vitest'
import {diffRequest, withAnswerParts} from '../../src/diff/request-diff.js'
import {baseTrace, decision, guardrail, toolCall, trace} from '../factories/index.js'

describe('diffRequest', () => {
  it('aligns tool calls by name so an inserted call leaves the others paired', () => {
    const b = baseTrace({tool_calls: [toolCall('lookup_order', {id: 1}), toolCall('send_email', {to: 'a@x.io'}, {risk: 'write_low'})]})
    const c = trace({
      tool_calls: [toolCall('lookup_order', {id: 1}), toolCall('search_kb', {q: 'refund'}), toolCall('send_email', {to: 'a@x.io'}, {risk: 'write_low'})],
    })
    const d = diffRequest(b, c)
    expect(d.calls.map((r) => [r.kind, r.name, r.field])).toEqual([
      ['same', 'lookup_order', 'call:lookup_order#0'],
      ['added', 'search_kb', 'call:search_kb#0'],
      ['same', 'send_email', 'call:send_email#0'],
    ])
    expect(d.calls[2]!.args).toEqual([])
  })

  it('shows a removed and a reordered call', () => {
    const b = baseTrace({tool_calls: [toolCall('a'), toolCall('b'), toolCall('c')]})
    const c = trace({tool_calls: [toolCall('c'), toolCall('a')]})
    const kinds = diffRequest(b, c).calls.map((r) => `${r.kind}:${r.name}`)
    expect(kinds).toContain('removed:b')
    expect(kinds.filter((k) => k.endsWith(':a') || k.endsWith(':c'))).toHaveLength(2)
    expect(kinds.some((k) => k.startsWith('moved'))).toBe(true)
  })

  it('compares arguments field by field, nested paths included', () => {
    const b = baseTrace({tool_calls: [toolCall('issue_refund', {order_id: 'O1', amount: 20, meta: {reason: 'late', channel: 'chat'}})]})
    const c = trace({tool_calls: [toolCall('issue_refund', {order_id: 'O1', amount: 200, meta: {reason: 'late'}, note: 'vip'})]})
    const args = diffRequest(b, c).calls[0]!.args
    expect(args).toEqual(
      expect.arrayContaining([
        expect.objectContaining({path: 'amount', kind: 'changed', base: 20, cand: 200, field: 'call:issue_refund#0.args.amount'}),
        expect.objectContaining({path: 'meta.channel', kind: 'removed', base: 'chat'}),
        expect.objectContaining({path: 'note', kind: 'added', cand: 'vip'}),
      ]),
    )
    expect(args).toHaveLength(3)
  })

  it('uses args_hash for equality: equal hashes mean no argument diff even if key order differs', () => {
    const b = baseTrace({tool_calls: [toolCall('x', {a: 1, b: 2})]})
    const c = trace({tool_calls: [toolCall('x', {b: 2, a: 1})]})
    expect(diffRequest(b, c).calls[0]!.args).toEqual([])
  })

  it('reports a difference hidden by redaction through the hash', () => {
    const redacted = {card: '[REDACTED:card:1a2b3c4d]'}
    const b = baseTrace({tool_calls: [toolCall('pay', redacted, {args_hash: 'h1'})]})
    const c = trace({tool_calls: [toolCall('pay', redacted, {args_hash: 'h2'})]})
    expect(diffRequest(b, c).calls[0]!.args).toEqual([expect.objectContaining({path: '(sensitive)'})])
  })

  it('aligns policy decisions by stage and tool and keeps reason codes', () => {
    const b = baseTrace({policy_decisions: [decision('mid_run', 'lookup_order', 'allow', 'POLICY_DEFAULT'), decision('mid_run', 'issue_refund', 'allow', 'POLICY_DEFAULT')]})
    const c = trace({policy_decisions: [decision('mid_run', 'lookup_order', 'allow', 'POLICY_DEFAULT'), decision('mid_run', 'issue_refund', 'deny', 'REFUND_OVER_LIMIT')]})
    const rows = diffRequest(b, c).decisions
    expect(rows[0]!.changed).toBe(false)
    expect(rows[1]).toMatchObject({
      changed: true,
      stage: 'mid_run',
      tool: 'issue_refund',
      base: {decision: 'allow', reason: 'POLICY_DEFAULT'},
      cand: {decision: 'deny', reason: 'REFUND_OVER_LIMIT'},
    })
  })

  it('diffs guardrail failures as a multiset, budgets, status, metrics and the answer by word', () => {
    const b = baseTrace({
      status: 'completed',
      guardrails: [guardrail('post_action', 'audit', true, 'info'), guardrail('post_action', 'write_unconfirmed', false, 'medium')],
      budget_hits: ['max_retries'],
      input_tokens: 100,
      output_tokens: 100,
      final_answer: 'Your refund of 20 EUR is on its way.',
    })
    const c = trace({
      status: 'budget_exceeded',
      guardrails: [guardrail('post_action', 'write_unconfirmed', false, 'medium'), guardrail('post_action', 'write_unconfirmed', false, 'medium')],
      budget_hits: ['max_steps'],
      input_tokens: 200,
      output_tokens: 100,
      final_answer: 'Your refund of 200 EUR is on its way.',
    })
    const d = diffRequest(b, c)
    expect(d.guardrails.added).toHaveLength(1)
    expect(d.guardrails.removed).toHaveLength(0)
    expect(d.budgets).toMatchObject({added: ['max_steps'], removed: ['max_retries']})
    expect(d.status).toEqual({base: 'completed', cand: 'budget_exceeded', changed: true})
    expect(d.metrics.tokens).toEqual({base: 200, cand: 300, delta: 100, ratio: 0.5})
    const parts = d.answer.parts!
    expect(parts.filter((p) => p.removed).map((p) => p.value.trim())).toEqual(['20'])
    expect(parts.filter((p) => p.added).map((p) => p.value.trim())).toEqual(['200'])
  })

  it('can skip the word diff and fill it in later', () => {
    const d = diffRequest(baseTrace({final_answer: 'a b'}), trace({final_answer: 'a c'}), {answerParts: false})
    expect(d.answer.parts).toBeUndefined()
    expect(withAnswerParts(d).answer.parts!.some((p) => p.added && p.value === 'c')).toBe(true)
  })

  it('notes injection flags per side, and from which step calls could have followed them', () => {
    const d = diffRequest(baseTrace(), trace({guardrails: [guardrail('pre_model', 'injection_in_retrieved', false, 'high')]}))
    expect(d.injection).toEqual({base: false, cand: true, from_step: {base: null, cand: 0}})
    // Injection in a tool's answer at step 4: only calls from step 5 on came after it.
    const inResult = {...guardrail('post_action', 'tool_result.injection', false, 'high'), step: 4}
    expect(diffRequest(baseTrace({side: 'baseline', guardrails: [inResult]}), trace()).injection).toEqual({base: true, cand: false, from_step: {base: 5, cand: null}})
  })
})
