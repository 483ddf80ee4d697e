import {describe, expect, it} from 'vitest'
import {packRows, type PackedRows} from '../../src/store/row-pack.js'
import {packTraces, requestParams} from '../../src/store/rows.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {fullTrace} from '../factories/index.js'

/** What the reference path hands the writer's thread for the same batch. */
function reference(traces: RequestTrace[]): Buffer {
  const p = packRows(traces.map((t) => requestParams('run-1', t)))!
  return Buffer.from(p.buffer, 0, p.length)
}
const bytes = (p: PackedRows | null): Buffer | null => (p === null ? null : Buffer.from(p.buffer, 0, p.length))

/** fullTrace with every optional part a trace can carry, and text that needs escaping or is not ASCII. */
function richTrace(line: number): RequestTrace {
  const t = fullTrace(`req-${line}-"q"\\ü`, line)
  t.steps[0]!.thinking = 'think\n\t"hard" \u2028 \uD83D\uDE00 lone \uD800 end'
  t.steps[1]!.latency_ms = 0.1 + 0.2
  t.steps[2]!.input_tokens = 12_345_678_901
  t.tool_calls[0]!.args = {z: 1, a: -0, big: 1e21, tiny: -1.5e-7, neg: -3, gone: undefined, list: [[], {}, 'ctl\u0001\u001f\u007f'], '10': 'index key', '': 'empty'}
  t.tool_calls[0]!.attack = 'exfiltrate'
  t.tool_calls[1]!.approval = {decision: 'approved', by: 'sam "ops"', at: '2026-12-04T00:00:00Z', reason: null}
  t.tool_calls[2]!.turn = 2
  t.tool_calls[2]!.result = undefined
  t.guardrails[0]!.context = {
    documents: [{index: 0, id: 'kb-ü', admitted: true, dropped_by: []}, {index: 1, id: 'kb-2', admitted: false, dropped_by: ['retrieval.trust', 'x']}],
    memory: [{index: 0, key: 'pref', admitted: false, dropped_by: ['memory.ttl'], superseded_by: 3}, {index: 1, key: 'k', admitted: true, dropped_by: [], superseded_by: null}],
  }
  t.golden = {expect: {tools: ['issue_refund'], calls: [{tool: 'issue_refund', args: {amount: 42.5, note: 'ünï'}}]}, known_issue: line % 2 === 0}
  t.diverged = {step: 1, tool_call_seq: 0, tool: 'lookup_order', reason: 'denied', code: null, recorded: 'executed'}
  return t
}

describe('packTraces (the trace writer fast path)', () => {
  it('gives byte for byte what packRows gives the rows requestParams builds', () => {
    const traces = [richTrace(1), richTrace(2), fullTrace('plain', 3), fullTrace('rec', 4, 'recorded'), {...fullTrace('empty', 5), steps: [], tool_calls: [], policy_decisions: [], guardrails: []}]
    // Only the admission record of the first guardrail, and a guardrail list with no failure.
    traces[2]!.guardrails = traces[2]!.guardrails.filter((g) => g.passed)
    const fast = bytes(packTraces('run-1', traces, 16))
    expect(fast).not.toBeNull()
    expect(fast!.equals(reference(traces))).toBe(true)
    // Inside a record or array, JSON has its own rules (a function or undefined dropped from a
    // record, null in an array, NaN as null, a Date by its toJSON): the same text either way.
    const odd = richTrace(6)
    Object.assign(odd.tool_calls[1]!.args, {f: () => 1, u: undefined, nan: Number.NaN, when: new Date(0)})
    odd.tool_calls[2]!.result = [1, undefined, () => 1, {long: 'ü'.repeat(200), text: `${'x'.repeat(100)}"`}]
    odd.final_answer = `${'a'.repeat(300)} — ${'b'.repeat(60)}`
    odd.steps[1]!.detail = `${'d'.repeat(100)}\n`
    expect(bytes(packTraces('run-1', [odd], 64))!.equals(reference([odd]))).toBe(true)
    // Each trace alone too (a buffer that starts too small grows without losing a byte).
    for (const t of traces) expect(bytes(packTraces('run-1', [t], 1))!.equals(reference([t]))).toBe(true)
  })

  it('leaves the batch to the reference path (null) for a trace the encoders refuse or a value JSON.stringify would write otherwise or refuse', () => {
    const cases: ((t: RequestTrace) => void)[] = [
      (t) => ((t.steps[1] as {index: unknown}).index = -1),
      (t) => ((t.guardrails[2] as {detail: unknown}).detail = 7),
      (t) => ((t.tool_calls[0] as {attempt: unknown}).attempt = 0),
      (t) => ((t.policy_decisions[0] as {reason: unknown}).reason = undefined),
      (t) => ((t as {error: unknown}).error = undefined),
      (t) => ((t.tool_calls[0]!.result as unknown) = new Date(0)),
      (t) => ((t.tool_calls[0]!.args as Record<string, unknown>).n = 10n),
      (t) => ((t.tool_calls[2]!.result as unknown) = Number.NaN),
      (t) => {
        const cycle: Record<string, unknown> = {}
        cycle.self = cycle
        t.tool_calls[0]!.result = cycle
      },
    ]
    for (const change of cases) {
      const t = richTrace(9)
      change(t)
      expect(packTraces('run-1', [fullTrace('ok', 1), t], 64)).toBeNull()
    }
  })
})
