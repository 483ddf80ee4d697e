import {describe, expect, it} from 'vitest'
import {preModelGuardrails} from '../../src/runtime/guardrails/pre-model.js'
import {SharedResults} from '../../src/runtime/guardrails/shared-results.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {TraceRecorder} from '../../src/runtime/trace-assembly.js'
import {encodeGuardrails} from '../../src/store/rows.js'
import type {GuardrailResult} from '../../src/trace/schema.js'
import {manifest, trafficRecord} from '../factories/index.js'

/**
 * Shared guardrail results: one frozen object per (step, values), exactly what building the result
 * afresh would give, bounded; and the trace recorder and row encoder, which keep per-object forms
 * of them, store what they stored for fresh objects.
 */

const fresh = (step: number, user: string, limit: number): GuardrailResult => ({
  stage: 'mid_run',
  step,
  check: 'rate_limit.user',
  passed: true,
  severity: 'info',
  detail: `user ${user} within ${limit} per minute`,
})

describe('SharedResults', () => {
  it('gives each (step, values) its own result, equal to the one built afresh, and the same object when met again', () => {
    const built: string[] = []
    const cache = new SharedResults('mid_run', 'rate_limit.user', true, 'info', (user: string, limit: number) => {
      built.push(`${user}/${limit}`)
      return `user ${user} within ${limit} per minute`
    })
    const keys: [number, string, number][] = []
    for (const step of [0, 1, 7]) for (const user of ['ann', 'bob', '1', '']) for (const limit of [1, 10, 60]) keys.push([step, user, limit])
    const first = keys.map(([s, u, l]) => cache.get(s, u, l))
    // Asked again, in another order: every key finds its own result, never a neighbour's.
    for (const i of [...keys.keys()].reverse()) {
      const [s, u, l] = keys[i]!
      const again = cache.get(s, u, l)
      expect(again).toBe(first[i])
      expect(again).toEqual(fresh(s, u, l))
      expect(Object.isFrozen(again)).toBe(true)
    }
    // A user named like a number is not that number.
    expect(cache.get(0, '1', 1)).not.toBe(cache.get(0, '', 1))
    expect(built).toHaveLength(keys.length)
  })

  it('is bounded: past maxEntries it drops what it held and builds again, with the same contents', () => {
    let calls = 0
    const cache = new SharedResults(
      'post_model',
      'output.forbidden',
      true,
      'info',
      (n: number) => {
        calls++
        return `none of ${n} forbidden pattern(s)`
      },
      8,
    )
    const early = cache.get(1, 0)
    for (let n = 1; n < 8; n++) cache.get(1, n)
    expect(cache.get(1, 0)).toBe(early)
    expect(calls).toBe(8)
    cache.get(1, 8) // the ninth: the memo starts over
    const rebuilt = cache.get(1, 0)
    expect(calls).toBe(10)
    expect(rebuilt).not.toBe(early)
    expect(rebuilt).toEqual(early)
  })

  it('builds a result of a step past the ones it holds each time, still correct and frozen', () => {
    const cache = new SharedResults('mid_run', 'tool.allowlist', true, 'info', (tool: string) => `${tool} is allowed`)
    const a = cache.get(10_000, 'lookup')
    expect(a).toEqual({stage: 'mid_run', step: 10_000, check: 'tool.allowlist', passed: true, severity: 'info', detail: 'lookup is allowed'})
    expect(Object.isFrozen(a)).toBe(true)
  })
})

describe('shared results in the trace and the row', () => {
  it('stores the redacted detail of a shared result, once per redactor, and encodes the same row as fresh objects', () => {
    const cache = new SharedResults('mid_run', 'rate_limit.user', true, 'info', (user: string, limit: number) => `user ${user} within ${limit} per minute`)
    const secretUser = 'ann.lee@example.com'
    const detail = `user ${secretUser} within 60 per minute`
    const expected = createRedactor().redactText(detail)
    expect(expected).not.toBe(detail)

    const redactor = createRedactor()
    const traces = [0, 1].map(() => {
      const rec = new TraceRecorder(redactor)
      rec.addGuardrails([cache.get(2, secretUser, 60), cache.get(2, 'bob', 60), fresh(3, 'carl', 5)])
      return rec.guardrails
    })
    for (const stored of traces) {
      expect(stored.map((g) => g.detail)).toEqual([expected, 'user bob within 60 per minute', 'user carl within 5 per minute'])
    }
    // The clean shared result is stored as itself; the redacted one as one copy both traces share.
    expect(traces[0]![1]).toBe(cache.get(2, 'bob', 60))
    expect(traces[1]![0]).toBe(traces[0]![0])
    // A redactor that redacts otherwise (a test double) gets its own stored form, then the first again.
    const upper = {redactArgs: (a: Record<string, unknown>) => a, redactValue: (v: unknown) => v, redactText: (t: string) => t.toUpperCase(), redactRequestText: (t: string) => t.toUpperCase()}
    for (const [r, want] of [[upper, detail.toUpperCase()], [redactor, expected]] as const) {
      const rec = new TraceRecorder(r)
      rec.addGuardrails([cache.get(2, secretUser, 60)])
      expect(rec.guardrails[0]!.detail).toBe(want)
    }
    // The slot that holds the stored form is invisible to JSON and to key listings.
    expect(Object.keys(cache.get(2, 'bob', 60))).toEqual(['stage', 'step', 'check', 'passed', 'severity', 'detail'])

    const failed: GuardrailResult = {...fresh(4, 'dan', 1), passed: false, severity: 'medium', detail: 'user dan is over 1 call(s) per minute of x'}
    const list = [...traces[0]!, failed, traces[0]![1]!]
    const tuples = list.map((g) => [g.stage, g.step, g.check, g.passed ? 1 : 0, g.severity, g.detail])
    for (let i = 0; i < 2; i++) {
      expect(encodeGuardrails(list)).toEqual({all: JSON.stringify(tuples), failed: JSON.stringify([tuples[3]])})
    }
    expect(encodeGuardrails([])).toEqual({all: '[]', failed: '[]'})
  })

  it('attaches the admission record to a copy of the last pre-model result, never to the shared one', () => {
    const m = manifest()
    const withDocs = trafficRecord({retrieved: [{id: 'kb-1', source: 'kb', trust: 'trusted', content: 'Refunds within 30 days.'}]})
    const carrying = preModelGuardrails(withDocs, m).guardrails.at(-1)!
    expect(carrying.context?.documents).toHaveLength(1)
    expect(Object.isFrozen(carrying)).toBe(false)
    // The next request with the same documents and nothing else: its own last result has its own record.
    const again = preModelGuardrails(withDocs, m).guardrails.at(-1)!
    expect(again).not.toBe(carrying)
    expect(again).toEqual(carrying)
    // And a request that retrieved nothing carries no record anywhere.
    for (const g of preModelGuardrails(trafficRecord({}), m).guardrails) expect(g.context).toBeUndefined()
  })
})
