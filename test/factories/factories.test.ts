import {existsSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {TrafficRecord} from '../../src/traffic/schema.js'
import {
  bundle,
  decision,
  fromSteps,
  invalidTrafficRecordInput,
  manifest,
  merge,
  newRun,
  step,
  tempStore,
  toolCall,
  trace,
  trafficLine,
  trafficRecord,
  trafficRecordInput,
} from './index.js'

describe('merge', () => {
  it('merges plain objects at any depth, replaces arrays and other values whole, and drops undefined', () => {
    const base = {a: 1, nested: {b: 2, c: 3}, list: [1, 2], gone: 'x'}
    expect(merge(base, {nested: {c: 4}, list: [9]}, {gone: undefined})).toEqual({a: 1, nested: {b: 2, c: 4}, list: [9]})
    expect(base).toEqual({a: 1, nested: {b: 2, c: 3}, list: [1, 2], gone: 'x'})
  })
})

describe('factories', () => {
  it('build valid objects by default', () => {
    expect(TrafficRecord.parse(JSON.parse(trafficLine()))).toEqual(trafficRecord())
    expect(manifest().tools.map((t) => t.name)).toEqual(['lookup_order'])
    expect(bundle().ref).toBe('support@1.0.0#ffffffffffff')
    expect(newRun().repeat).toBe(2)
  })

  it('merge overrides deeply where the kind nests, and keep the line as written', () => {
    const r = trafficRecord({production: {usage: {output_tokens: 7}}})
    expect(r.production.usage).toEqual({input_tokens: 100, output_tokens: 7})
    expect(trafficRecordInput()).not.toHaveProperty('labels')
    expect(manifest({budgets: {max_steps: 3}}).budgets).toMatchObject({max_steps: 3, max_tool_calls: 4})
    expect(bundle({manifest: {version: '2', prompts: {plan: 'p.md'}}}).templates).toHaveProperty('p.md')
  })

  it('refuse to build an invalid object silently, either way', () => {
    expect(() => trafficRecord({tenant: ''})).toThrow()
    expect(() => toolCall('x', {}, {attempt: 0})).toThrow()
    expect(() => invalidTrafficRecordInput({id: 'ok'})).toThrow(/the record is valid/)
    expect(invalidTrafficRecordInput({tenant: undefined})).not.toHaveProperty('tenant')
  })

  it('number a trace\'s steps, calls and decisions, and total its steps on request', () => {
    const t = trace(fromSteps([step('plan', {input_tokens: 5}), step('act'), step('plan', {output_tokens: 2})]), {
      tool_calls: [toolCall('a'), toolCall('b')],
      policy_decisions: [decision('mid_run', 'a', 'allow', 'OK'), decision('mid_run', 'b', 'deny', 'NO')],
    })
    expect(t.steps.map((s) => s.index)).toEqual([0, 1, 2])
    expect(t.tool_calls.map((c) => c.seq)).toEqual([0, 1])
    expect(t.policy_decisions.map((d) => d.seq)).toEqual([0, 1])
    expect([t.input_tokens, t.output_tokens, t.model_calls]).toEqual([5, 2, 2])
  })

  it('give a temp store that cleanup closes and removes', () => {
    const tmp = tempStore()
    tmp.store.createRun(newRun())
    expect(existsSync(tmp.file)).toBe(true)
    tmp.cleanup()
    expect(existsSync(tmp.dir)).toBe(false)
  })
})
