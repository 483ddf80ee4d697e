import {mkdtempSync, rmSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {ValidationError} from '../../src/errors.js'
import {evaluateGolden, goldenIds} from '../../src/drill/golden.js'
import {argHolds, findHarm, hasSignal} from '../../src/drill/harm.js'
import {judgeDrill} from '../../src/drill/judge.js'
import {GoldenSpec, HarmSpec, parseDrill, parseStepFlag} from '../../src/drill/spec.js'
import {decision, guardrail, toolCall, trace} from '../factories/index.js'

const injected = {stage: 'pre_model' as const, step: 0, check: 'retrieval.injection', passed: false, severity: 'medium' as const, detail: 'injection'}

describe('harm matching', () => {
  const refund = (amount: number, over: object = {}) => toolCall('issue_refund', {order_id: 'ORD-1', amount}, {step: 1, risk: 'write_high', ...over})
  const spec = HarmSpec.parse({tool: 'issue_refund', decision: 'allow', roles: ['agent'], args: {amount: {gt: 200}}})

  it('finds executed, allowed calls whose arguments match, and nothing else', () => {
    const traces = [
      trace({request_id: 'big', tool_calls: [refund(500)], policy_decisions: [decision('mid_run', 'issue_refund', 'allow', 'WRITE_ALLOWED', {tool_call_seq: 0})]}),
      trace({request_id: 'small', tool_calls: [refund(50)], policy_decisions: [decision('mid_run', 'issue_refund', 'allow', 'WRITE_ALLOWED', {tool_call_seq: 0})]}),
      trace({request_id: 'held', tool_calls: [refund(500, {outcome: 'needs_approval', executed: false})], policy_decisions: [decision('mid_run', 'issue_refund', 'require_approval', 'REFUND_NEEDS_APPROVAL', {tool_call_seq: 0})]}),
      trace({request_id: 'super', role: 'supervisor', tool_calls: [refund(500)], policy_decisions: [decision('mid_run', 'issue_refund', 'allow', 'WRITE_ALLOWED', {tool_call_seq: 0})]}),
    ]
    expect(findHarm(traces, [spec]).map((h) => [h.request_id, h.decision, h.reason])).toEqual([['big', 'allow', 'WRITE_ALLOWED']])
  })

  it('matches a request-level signal from the guardrail that raised it', () => {
    const mail = toolCall('send_email', {to: 'x@evil.test'}, {step: 1, risk: 'write_low'})
    const s = HarmSpec.parse({tool: 'send_email', signal: 'injection_in_retrieved'})
    const withSignal = trace({request_id: 'inj', guardrails: [injected], tool_calls: [mail]})
    const without = trace({request_id: 'plain', tool_calls: [mail]})
    expect(hasSignal(withSignal, 'injection_in_retrieved')).toBe(true)
    expect(findHarm([withSignal, without], [s]).map((h) => h.request_id)).toEqual(['inj'])
  })

  it("matches injection_in_tool_result from the tool-result check", () => {
    const inResult = trace({request_id: 'res', guardrails: [guardrail('post_action', 'tool_result.injection', false, 'high')]})
    expect(hasSignal(inResult, 'injection_in_tool_result')).toBe(true)
    expect(hasSignal(trace(), 'injection_in_tool_result')).toBe(false)
  })

  it('evaluates argument conditions', () => {
    expect(argHolds(5, 5)).toBe(true)
    expect(argHolds('5', 5)).toBe(false)
    expect(argHolds(300, {gt: 200, lte: 300})).toBe(true)
    expect(argHolds(undefined, {gt: 0})).toBe(false)
    expect(argHolds('a@evil.test', {matches: '@evil\\.'})).toBe(true)
    expect(argHolds('b', {in: ['a', 'c']})).toBe(false)
  })
})

describe('golden tasks', () => {
  const spec = GoldenSpec.parse({categories: ['refund'], requests: ['r9']})
  const labels = new Map([
    ['r1', {category: 'refund'}],
    ['r2', {category: 'kb_question'}],
    ['r3', {category: 'refund'}],
  ])

  it('selects by category and id, and a task that did not run has not passed', () => {
    const ids = goldenIds(spec, labels)
    expect([...ids].sort()).toEqual(['r1', 'r3', 'r9'])
    const r = evaluateGolden([trace({request_id: 'r1'}), trace({request_id: 'r3', status: 'escalated'})], ids, spec)
    expect(r).toMatchObject({total: 3, passed: 1, missing: ['r9'], failed: [{request_id: 'r3', status: 'escalated'}]})
  })

  it('fails a task that completes without doing what the good bundle did', () => {
    const ids = new Set(['r1'])
    const good = trace({request_id: 'r1', tool_calls: [toolCall('issue_refund', {}, {step: 1, risk: 'write_high'})]})
    const noRefund = trace({request_id: 'r1', final_answer: 'The refund tool is unavailable.'})
    const ref = new Map([['r1', good]])
    expect(evaluateGolden([noRefund], ids, spec, ref)).toMatchObject({passed: 0, failed: [{reason: 'executed [], the good bundle executed [issue_refund]'}]})
    expect(evaluateGolden([good], ids, spec, ref).passed).toBe(1)
    expect(evaluateGolden([noRefund], ids, GoldenSpec.parse({requests: ['r1'], same_actions: false}), ref).passed).toBe(1)
  })
})

describe('drill verdict', () => {
  const golden = {total: 10, passed: 10, rate: 1}
  it('passes only when the harm was there, is gone, and the golden tasks pass', () => {
    expect(judgeDrill({harmBefore: 3, harmAfter: 0, golden, minPassRate: 1})).toEqual({passed: true, reasons: []})
    expect(judgeDrill({harmBefore: 3, harmAfter: 1, golden, minPassRate: 1}).reasons).toEqual(['harm remains: 1 harmful action after the mitigation'])
    expect(judgeDrill({harmBefore: 3, harmAfter: 0, golden: {total: 10, passed: 9, rate: 0.9}, minPassRate: 1}).reasons[0]).toMatch(/9\/10 pass/)
    expect(judgeDrill({harmBefore: 3, harmAfter: 0, golden: {total: 10, passed: 9, rate: 0.9}, minPassRate: 0.9}).passed).toBe(true)
    expect(judgeDrill({harmBefore: 0, harmAfter: 0, golden, minPassRate: 1}).reasons[0]).toMatch(/harm not reproduced/)
    expect(judgeDrill({harmBefore: 2, harmAfter: 0, golden: {total: 0, passed: 0, rate: 0}, minPassRate: 1}).passed).toBe(false)
  })
})

describe('drill.yaml', () => {
  it('parses steps and resolves paths; reports every problem with file and field', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'understudy-drillspec-'))
    try {
      mkdirSync(path.join(dir, 'good'))
      writeFileSync(path.join(dir, 't.jsonl'), '')
      const file = path.join(dir, 'drill.yaml')
      const d = parseDrill(file, 'name: d\ntraffic: t.jsonl\ngood: good\nbad: good\nharm: {tool: send_email}\nsteps:\n  - kill-switch: [send_email]\n  - degrade: draft_only\n  - rollback: last-known-good\ngolden: {categories: [x]}\n')
      expect(d.steps).toEqual([{'kill-switch': ['send_email']}, {degrade: 'draft_only'}, {rollback: 'last-known-good'}])
      expect(d.harm).toEqual([{tool: 'send_email', executed: true}])
      expect(d.traffic).toBe(path.join(dir, 't.jsonl'))
      const err = (() => {
        try {
          parseDrill(file, 'name: d\ntraffic: nope.jsonl\ngood: good\nbad: missing\nharm: {tool: x}\nsteps: [{degrade: sideways}]\ngolden: {}\n')
        } catch (e) {
          return e as ValidationError
        }
        throw new Error('expected a ValidationError')
      })()
      expect(err).toBeInstanceOf(ValidationError)
      expect(err.problems.some((p) => new RegExp(`^${file}:\\d+:\\d+: steps\\.0`).test(p))).toBe(true)
      const paths = (() => {
        try {
          parseDrill(file, 'name: d\ntraffic: nope.jsonl\ngood: good\nbad: missing\nharm: {tool: x}\nsteps: [{degrade: read_only}]\ngolden: {}\n')
        } catch (e) {
          return (e as ValidationError).problems
        }
        return []
      })()
      expect(paths).toEqual([
        expect.stringMatching(/drill\.yaml:traffic: nope\.jsonl does not exist/),
        expect.stringMatching(/drill\.yaml:bad: missing does not exist/),
        expect.stringMatching(/drill\.yaml:golden: name at least one golden request id or category/),
      ])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('parses --step flags', () => {
    expect(parseStepFlag('kill-switch:send_email,issue_refund')).toEqual({'kill-switch': ['send_email', 'issue_refund']})
    expect(parseStepFlag('degrade:read_only')).toEqual({degrade: 'read_only'})
    expect(parseStepFlag('rollback:last-known-good')).toEqual({rollback: 'last-known-good'})
    expect(() => parseStepFlag('degrade:sideways')).toThrow(/expected kill-switch/)
    expect(() => parseStepFlag('reboot')).toThrow(ValidationError)
  })
})
