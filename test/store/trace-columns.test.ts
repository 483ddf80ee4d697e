import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {StoreError} from '../../src/errors.js'
import type {GuardrailResult, PolicyDecisionTrace, RequestTrace, StepTrace, ToolCallTrace} from '../../src/trace/schema.js'
import type {TraceDatabase, TraceFilter} from '../../src/store/api.js'
import {encodeGuardrails, GOLDEN_PARAM} from '../../src/store/rows.js'
import {openStore} from '../../src/store/sqlite.js'
import {guardrailListKey, traceRow, traceRows} from '../../src/store/traces-repo.js'
import {fullTrace, newRun, skippedTrace} from '../factories/index.js'
import {inOrder, orderKeys} from './trace-order.js'
import {awkwardCalls, awkwardDecisions} from './awkward.js'

// A trace is one requests row; its lists are JSON columns of positional tuples (src/store/rows.ts).

let dir: string
let file: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-columns-'))
  file = path.join(dir, 'understudy.db')
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

function withStore<T>(fn: (store: TraceDatabase) => T): T {
  const store = openStore(file)
  try {
    return fn(store)
  } finally {
    store.close()
  }
}

function withRaw<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(file, {readonly: true})
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

/** A row's whole list of guardrail results, as SQL over `requests`. */
const LIST = '(SELECT g.json FROM guardrail_lists g WHERE g.key = guardrail_list)'

const raw = <T>(sql: string, ...params: unknown[]): T => withRaw((db) => db.prepare(sql).pluck().get(...params) as T)

/** Steps with awkward details: unicode of every kind, quotes, a NUL, an empty string. */
function unicodeSteps(): StepTrace[] {
  return [
    {index: 0, state: 'plan', detail: 'détail — ✅ مرحبا 👩‍💻 e\u0301', input_tokens: 412, output_tokens: 57, latency_ms: 812.5},
    {index: 1, state: 'act', detail: '"quoted" \\ back\u0000slash\nnewline', input_tokens: 0, output_tokens: 0, latency_ms: 0},
    {index: 2, state: 'finish', detail: '', input_tokens: 9007199254740991, output_tokens: 1, latency_ms: 0.1 + 0.2},
  ]
}



/** An admission record with a dropped document and a superseded memory entry. */
function admission(): NonNullable<GuardrailResult['context']> {
  return {
    documents: [{index: 0, id: 'kb-1', admitted: false, dropped_by: ['retrieval.injection']}],
    memory: [
      {index: 0, key: 'tier', admitted: false, dropped_by: [], superseded_by: 1},
      {index: 1, key: 'tier', admitted: true, dropped_by: [], superseded_by: null},
    ],
  }
}

/**
 * Guardrail results of every kind: none (a skipped trace), all passing, passing and failing
 * mixed (the fixture's), only failing, and a failing pre-model result carrying its admission record.
 */
function failingGuardrailTraces(): RequestTrace[] {
  const passing = fullTrace('p', 2)
  passing.guardrails = passing.guardrails.map((g) => ({...g, passed: true}))
  const failing = fullTrace('x', 3, 'baseline')
  failing.guardrails = failing.guardrails.map((g) => ({...g, passed: false}))
  const withContext = fullTrace('ctx', 4)
  withContext.guardrails = [
    {stage: 'pre_model', step: 0, check: 'input.size', passed: true, severity: 'info', detail: 'ok'},
    {stage: 'pre_model', step: 0, check: 'retrieval.injection', passed: false, severity: 'medium', detail: '1 document dropped', context: admission()},
    {stage: 'post_model', step: 1, check: 'output.secrets', passed: true, severity: 'info', detail: 'none'},
  ]
  return [skippedTrace('e', 1), passing, fullTrace('m', 2, 'recorded'), failing, fullTrace('m2', 3, 'candidate', 1), withContext]
}

/** Every shape of list: none, the fixture's, the awkward ones, on several sides and repeats. */
function variedTraces(): RequestTrace[] {
  const awkward = fullTrace('w', 4, 'candidate', 1)
  awkward.tool_calls = awkwardCalls()
  awkward.policy_decisions = awkwardDecisions()
  const callsOnly = fullTrace('c', 5, 'baseline')
  callsOnly.policy_decisions = []
  const decisionsOnly = fullTrace('d', 6, 'recorded')
  decisionsOnly.tool_calls = []
  awkward.diverged = {step: 3, tool_call_seq: 3, tool: 'flag', reason: 'held_for_approval', code: 'OVER_LIMIT', recorded: 'executed'}
  return [skippedTrace('e', 1), fullTrace('f', 2, 'recorded'), fullTrace('f', 2), fullTrace('g', 3, 'candidate', 1), awkward, callsOnly, decisionsOnly]
}

describe('lists round-trip', () => {
  it('round-trips steps (none, several, unicode) deep-equal and byte-identical as JSON', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      const withUnicode = fullTrace('u', 2, 'baseline')
      withUnicode.steps = unicodeSteps()
      const written = [skippedTrace('e', 1), withUnicode, fullTrace('f', 3), fullTrace('f', 3, 'candidate', 1)]
      store.writeTraces(run.id, written)
      const back = [...store.iterateTraces(run.id)]
      expect(back).toStrictEqual(written)
      expect(JSON.stringify(back)).toBe(JSON.stringify(written))
      // Each object's keys in the contract's order, not merely the same set.
      expect(Object.keys(back[1]!.steps[0]!)).toEqual(['index', 'state', 'detail', 'input_tokens', 'output_tokens', 'latency_ms'])
      expect(back[1]!.steps[2]!.latency_ms).toBe(0.1 + 0.2)
    })
  })

  it('round-trips every shape of list deep-equal and byte-identical as JSON, in the contract key order', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      const written = inOrder(variedTraces())
      store.writeTraces(run.id, [...written].reverse())
      const back = [...store.iterateTraces(run.id)]
      expect(back).toStrictEqual(written)
      expect(JSON.stringify(back)).toBe(JSON.stringify(written))
      const awkward = back.find((t) => t.request_id === 'w')!
      expect(Object.keys(awkward.tool_calls[0]!)).toEqual([
        'seq', 'step', 'name', 'risk', 'args', 'args_hash', 'idempotency_key', 'attempt', 'outcome', 'executed',
        'result', 'error', 'latency_ms',
      ])
      expect(Object.keys(awkward.policy_decisions[0]!)).toEqual(['seq', 'step', 'stage', 'tool_call_seq', 'tool', 'decision', 'reason', 'rule'])
      expect(awkward.tool_calls[0]!.args.big).toBe(1e21)
      expect(awkward.tool_calls[0]!.args.amount).toBe(92.13)
      expect(awkward.tool_calls[0]!.latency_ms).toBe(0.1 + 0.2)
      expect(awkward.tool_calls.map((c) => c.result)).toStrictEqual(['a plain string result ✓', [1, 'two', null, {three: 3.5}, [], 1e21], 0, false, {}, null])
      // Only a call an attack asked for carries `attack`, last; only a diverged replay carries `diverged`, last.
      expect(awkward.tool_calls.map((c) => c.attack)).toEqual([undefined, undefined, undefined, 'inj-ü"1', undefined, 'a'])
      expect(Object.keys(awkward.tool_calls[3]!).at(-1)).toBe('attack')
      // Only a call a person decided carries `approval`, after `attack` (absent, not null, when there is none).
      expect(awkward.tool_calls.map((c) => c.approval?.decision)).toEqual([undefined, undefined, undefined, undefined, 'approved', 'rejected'])
      expect(Object.keys(awkward.tool_calls[4]!)).not.toContain('attack')
      expect(Object.keys(awkward.tool_calls[5]!).slice(-2)).toEqual(['attack', 'approval'])
      expect(Object.keys(awkward).at(-1)).toBe('diverged')
      expect(back.filter((t) => t.diverged !== undefined).map((t) => t.request_id)).toEqual(['w'])
    })
  })

  it('reads back what JSON makes of odd values: NaN and Infinity as null, undefined dropped or null', () => {
    const odd = fullTrace('o', 7)
    odd.tool_calls[0]!.args = {nan: Number.NaN, negZero: -0, inf: Number.POSITIVE_INFINITY, gone: undefined, nested: {gone: undefined}}
    odd.tool_calls[1]!.result = undefined
    odd.tool_calls[2]!.result = {when: undefined, list: [undefined, Number.NaN]}
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [odd])
      const [o] = [...store.iterateTraces(run.id)]
      expect(o!.tool_calls[0]!.args).toStrictEqual({nan: null, negZero: 0, inf: null, nested: {}})
      expect(o!.tool_calls[1]!.result).toBeNull()
      expect(o!.tool_calls[2]!.result).toStrictEqual({list: [null, null]})
      expect({...o!, tool_calls: []}).toStrictEqual({...odd, tool_calls: []})
    })
  })

  it('reads every shape of list back through every filter', () => {
    const written = variedTraces()
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, written)
      expect([...store.iterateTraces(run.id)]).toStrictEqual(inOrder(written))
      expect([...store.iterateTraces(run.id, {side: 'candidate'})]).toStrictEqual(inOrder(written.filter((t) => t.side === 'candidate')))
      expect([...store.iterateTraces(run.id, {fromLine: 2, toLine: 5})]).toStrictEqual(inOrder(written.filter((t) => t.line >= 2 && t.line < 5)))
      expect([...store.iterateTraces(run.id, {requestId: 'w', repeat: 1})]).toStrictEqual(written.filter((t) => t.request_id === 'w'))
    })
  })

  it('stores a trace as exactly one row, every list column set ([] when empty), as positional tuples', () => {
    const traces = variedTraces()
    withStore((store) => store.writeTraces(store.createRun(newRun()).id, traces))
    withRaw((db) => {
      const count = (sql: string) => db.prepare(sql).pluck().get()
      expect(count('SELECT count(*) FROM requests')).toBe(traces.length)
      expect(count(`SELECT count(*) FROM requests WHERE ${LIST} = '[]' AND steps_json = '[]' AND tool_calls_json = '[]' AND policy_decisions_json = '[]'`)).toBe(1)
      const columns = (id: string) =>
        db.prepare('SELECT tool_calls_json, policy_decisions_json FROM requests WHERE request_id = ?').raw().get(id) as string[]
      expect(columns('e')).toEqual(['[]', '[]'])
      expect(columns('d')[0]).toBe('[]')
      expect(columns('c')[1]).toBe('[]')
      // Positional tuples, args and result embedded as JSON values rather than strings.
      const [calls, decisions] = columns('w').map((text) => JSON.parse(text!))
      const c = awkwardCalls()[0]!
      expect(calls[0]).toStrictEqual([c.seq, c.step, c.name, c.risk, c.args, c.args_hash, c.idempotency_key, c.attempt, c.outcome, 1, c.result, c.error, c.latency_ms])
      expect(calls[2][9]).toBe(0)
      expect(decisions).toStrictEqual(awkwardDecisions().map((d) => [d.seq, d.step, d.stage, d.tool_call_seq, d.tool, d.decision, d.reason, d.rule]))
    })
  })

  it('gives every trace objects of its own, however often its lists repeat', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [fullTrace('a', 1), fullTrace('b', 2)])
      const [a, b] = [...store.iterateTraces(run.id)]
      a!.policy_decisions[0]!.reason = 'changed'
      ;(a!.tool_calls[0]!.args.opts as {deep: unknown}).deep = 'changed'
      expect(b!.policy_decisions[0]!.reason).toBe('POLICY_DEFAULT')
      expect([...store.iterateTraces(run.id)]).toStrictEqual([fullTrace('a', 1), fullTrace('b', 2)])
    })
  })

  it('stores steps as [index, state, detail, input_tokens, output_tokens, latency_ms] tuples, [] when none', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [skippedTrace('e', 1), fullTrace('f', 2)])
    })
    expect(raw("SELECT steps_json FROM requests WHERE request_id = 'e'")).toBe('[]')
    expect(JSON.parse(raw("SELECT steps_json FROM requests WHERE request_id = 'f'"))).toEqual(
      fullTrace('f', 2).steps.map((s) => [s.index, s.state, s.detail, s.input_tokens, s.output_tokens, s.latency_ms]),
    )
  })

  it('stores a trace without guardrail results as an empty list', () => {
    const bare = skippedTrace('a', 1)
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [bare])
      expect([...store.iterateTraces(run.id)]).toStrictEqual([bare])
    })
    expect(raw(`SELECT ${LIST} FROM requests`)).toBe('[]')
  })

  it('stores golden expectations as one JSON column, NULL without them, and reads them back only where set', () => {
    const golden: RequestTrace['golden'] = {
      expect: {tools: ['lookup_order'], forbidden_calls: [{tool: 'send_email', args: {to: '[REDACTED:field:0a1b2c3d]', n: [1, {x: null}]}}], answer_contains: ['détail ✅ "q"']},
      known_issue: true,
    }
    const withGolden = {...fullTrace('a', 1), golden}
    const without = fullTrace('b', 2)
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [withGolden, without])
      const back = [...store.iterateTraces(run.id)]
      expect(back).toStrictEqual([withGolden, without])
      expect(Object.keys(back[0]!).at(-1)).toBe('golden')
      expect('golden' in back[1]!).toBe(false)
      expect(JSON.stringify(back[0])).toBe(JSON.stringify(withGolden))
    })
    expect(JSON.parse(raw("SELECT golden_json FROM requests WHERE request_id = 'a'"))).toStrictEqual(golden)
    expect(raw("SELECT golden_json FROM requests WHERE request_id = 'b'")).toBeNull()
  })

  it('encodes the expectations shared by consecutive traces once, each row as traceRow gives it alone', () => {
    const g1: RequestTrace['golden'] = {expect: {tools: ['a']}, known_issue: false}
    const g2: RequestTrace['golden'] = {expect: {tools: ['b']}, known_issue: true}
    const traces = [
      {...fullTrace('r1', 1), golden: g1},
      {...fullTrace('r1', 1), side: 'candidate' as const, golden: g1},
      {...fullTrace('r2', 2), golden: g2},
      fullTrace('r3', 3),
      {...fullTrace('r4', 4), golden: {...g1}},
      {...fullTrace('r4', 4), side: 'candidate' as const, golden: g2},
    ]
    const rows = traceRows('x.db', 'run-1', traces)
    expect(rows).toStrictEqual(traces.map((t) => traceRow('x.db', 'run-1', t)))
    expect(rows.map((r) => r[GOLDEN_PARAM])).toStrictEqual([g1, g1, g2, undefined, g1, g2].map((g) => (g === undefined ? null : JSON.stringify(g))))
  })

  it('stores the failing guardrail results again, in order, in guardrail_failures_json ([] when every check passed)', () => {
    const traces = failingGuardrailTraces()
    withStore((store) => store.writeTraces(store.createRun(newRun()).id, traces))
    for (const t of traces) {
      const all = JSON.parse(raw(`SELECT ${LIST} FROM requests WHERE request_id = ?`, t.request_id)) as unknown[][]
      const failed = raw<string>('SELECT guardrail_failures_json FROM requests WHERE request_id = ?', t.request_id)
      expect(JSON.parse(failed)).toStrictEqual(all.filter((g) => g[3] === 0))
      if (!t.guardrails.some((g) => !g.passed)) expect(failed).toBe('[]')
    }
  })

  it('stores each distinct guardrail list once per store, under the sha256 of its text, whatever run names it', () => {
    const traces = failingGuardrailTraces()
    const distinct = new Set(traces.map((t) => encodeGuardrails(t.guardrails).all))
    expect(distinct.size).toBeGreaterThan(1)
    expect(distinct.size).toBeLessThan(traces.length)
    withStore((store) => {
      store.writeTraces(store.createRun(newRun()).id, traces)
      store.writeTraces(store.createRun(newRun()).id, traces)
    })
    withRaw((db) => {
      const lists = db.prepare('SELECT key, json FROM guardrail_lists ORDER BY key').raw().all() as [string, string][]
      expect(lists).toStrictEqual([...distinct].map((json) => [guardrailListKey(json), json]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1)))
      expect(guardrailListKey(lists[0]![1])).toMatch(/^[0-9a-f]{32}$/)
      const named = db.prepare('SELECT request_id, guardrail_list FROM requests').raw().all() as [string, string][]
      expect(named).toHaveLength(2 * traces.length)
      for (const [id, key] of named) expect(key).toBe(guardrailListKey(encodeGuardrails(traces.find((t) => t.request_id === id)!.guardrails).all))
    })
  })

  it("reads only the failing guardrail results with guardrails: 'failed', through every filter, the rest of each trace as stored", () => {
    const written = failingGuardrailTraces()
    const lean = (t: RequestTrace): RequestTrace => ({...t, guardrails: t.guardrails.filter((g) => !g.passed)})
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, written)
      const read = (filter: TraceFilter) => [...store.iterateTraces(run.id, {...filter, guardrails: 'failed'})]
      expect(read({})).toStrictEqual(inOrder(written).map(lean))
      expect(JSON.stringify(read({}))).toBe(JSON.stringify(inOrder(written).map(lean)))
      expect(read({side: 'candidate'})).toStrictEqual(inOrder(written.filter((t) => t.side === 'candidate')).map(lean))
      expect(read({fromLine: 2, toLine: 4})).toStrictEqual(inOrder(written.filter((t) => t.line >= 2 && t.line < 4)).map(lean))
      // The admission record of a failing pre-model result comes with it.
      expect(read({requestId: 'ctx'})[0]!.guardrails.map((g) => g.context)).toStrictEqual([admission()])
      // 'all' (the default) is every result, as written.
      expect([...store.iterateTraces(run.id, {guardrails: 'all'})]).toStrictEqual(inOrder(written))
      expect(store.countTraces(run.id, {guardrails: 'failed'})).toBe(written.length)
    })
  })

  it('refuses a guardrails view it does not know with a one-line error', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [fullTrace('a', 1)])
      const bad = {guardrails: 'passed'} as unknown as TraceFilter
      expect(() => [...store.iterateTraces(run.id, bad)]).toThrow(StoreError)
      expect(() => [...store.iterateTraces(run.id, bad)]).toThrow(/^[^\n]*trace filter guardrails must be 'all' or 'failed' \(got "passed"\)$/)
    })
  })

  it('refuses a requests row without a list column: every trace sets all four', () => {
    withStore((store) => store.writeTraces(store.createRun(newRun()).id, [fullTrace('a', 1)]))
    const db = new Database(file)
    try {
      expect(() => db.prepare('UPDATE requests SET steps_json = NULL').run()).toThrow(/NOT NULL constraint failed: requests\.steps_json/)
    } finally {
      db.close()
    }
  })
})

describe('malformed steps and guardrail results', () => {
  it.each([
    ['index', -1, 'invalid value -1'],
    ['index', 1.5, 'invalid value 1.5'],
    ['state', 7, 'invalid value 7'],
    ['detail', undefined, 'invalid value undefined'],
    ['input_tokens', -3, 'invalid value -3'],
    ['output_tokens', '12', 'invalid value "12"'],
    ['latency_ms', -0.5, 'invalid value -0.5'],
    ['latency_ms', Number.NaN, 'invalid value null'],
    ['latency_ms', Number.POSITIVE_INFINITY, 'invalid value null'],
  ])('refuses a step with %s = %s, naming the trace and field, and rolls the batch back', (field, value, shown) => {
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [fullTrace('kept', 1)])
      const bad = fullTrace('b', 3)
      const step = {...bad.steps[2]!} as Record<string, unknown>
      if (value === undefined) delete step[field]
      else step[field] = value
      bad.steps[2] = step as unknown as StepTrace
      let thrown: unknown
      try {
        store.writeTraces(run.id, [fullTrace('a', 2), bad, fullTrace('c', 4)])
      } catch (e) {
        thrown = e
      }
      expect(thrown).toBeInstanceOf(StoreError)
      const message = (thrown as Error).message
      expect(message).not.toContain('\n')
      expect(message).toContain(`${file}: cannot store request "b" (line 3, candidate, repeat 0) of run ${run.id}: steps[2].${field}: ${shown}`)
      expect(orderKeys(store.iterateTraces(run.id))).toEqual(['1/candidate/0'])
    })
    // Only the kept trace's calls.
    expect(raw('SELECT count(*) FROM trace_tool_calls')).toBe(3)
  })

  it('refuses a missing step object with the same one-line error', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      const bad = fullTrace('b', 1)
      bad.steps[1] = null as unknown as StepTrace
      expect(() => store.writeTraces(run.id, [bad])).toThrow(/request "b" .*: steps\[1\]\.index: invalid value undefined$/)
      expect(store.countTraces(run.id)).toBe(0)
    })
  })

  it('refuses a malformed guardrail result, naming the trace and field, and rolls the batch back', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      const bad = fullTrace('b', 2)
      bad.guardrails[2] = {...bad.guardrails[2]!, step: -1}
      const write = () => store.writeTraces(run.id, [fullTrace('a', 1), bad])
      expect(write).toThrow(StoreError)
      expect(write).toThrow(/cannot store request "b" \(line 2, candidate, repeat 0\) of run .*: guardrails\[2\]\.step: invalid value -1/)
      const missing = fullTrace('c', 3)
      delete (missing.guardrails[0] as Partial<RequestTrace['guardrails'][number]>).detail
      expect(() => store.writeTraces(run.id, [missing])).toThrow(/guardrails\[0\]\.detail: invalid value undefined/)
      expect(store.countTraces(run.id)).toBe(0)
    })
  })
})

type Mutation = [string, unknown]

describe('malformed tool calls and policy decisions', () => {
  const cyclic: Record<string, unknown> = {a: 1}
  cyclic.self = cyclic

  /** Writes [good, bad, good] after one kept trace; checks the one-line error and that nothing of the batch was stored. */
  function refuses(mutate: (bad: RequestTrace) => void, expected: string): void {
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [fullTrace('kept', 1)])
      const bad = fullTrace('b', 3)
      mutate(bad)
      let thrown: unknown
      try {
        store.writeTraces(run.id, [fullTrace('a', 2), bad, fullTrace('c', 4)])
      } catch (e) {
        thrown = e
      }
      expect(thrown).toBeInstanceOf(StoreError)
      const message = (thrown as Error).message
      expect(message).not.toContain('\n')
      expect(message).toBe(`${file}: cannot store request "b" (line 3, candidate, repeat 0) of run ${run.id}: ${expected}`)
      expect(orderKeys(store.iterateTraces(run.id))).toEqual(['1/candidate/0'])
    })
    withRaw((db) => {
      expect(db.prepare('SELECT count(*) FROM requests').pluck().get()).toBe(1)
      expect(db.prepare('SELECT count(*) FROM trace_tool_calls').pluck().get()).toBe(3)
      expect(db.prepare('SELECT count(*) FROM trace_policy_decisions').pluck().get()).toBe(3)
    })
  }

  const set = (item: Record<string, unknown>, field: string, value: unknown) => {
    if (value === undefined) delete item[field]
    else item[field] = value
  }

  it.each<[...Mutation, string]>([
    ['seq', -1, '-1'],
    ['seq', 1.5, '1.5'],
    ['step', '3', '"3"'],
    ['name', null, 'null'],
    ['risk', undefined, 'undefined'],
    ['args', null, 'null'],
    ['args', [1, 2], '[1,2]'],
    ['args', 'order_id=1', '"order_id=1"'],
    ['args', new Date(0), '"1970-01-01T00:00:00.000Z"'],
    ['args_hash', 5, '5'],
    ['idempotency_key', undefined, 'undefined'],
    ['idempotency_key', 7, '7'],
    ['attempt', 0, '0'],
    ['attempt', 1.5, '1.5'],
    ['outcome', null, 'null'],
    ['executed', 1, '1'],
    ['executed', 'true', '"true"'],
    ['error', undefined, 'undefined'],
    ['error', 42, '42'],
    ['latency_ms', -0.5, '-0.5'],
    ['latency_ms', Number.NaN, 'null'],
    ['latency_ms', Number.POSITIVE_INFINITY, 'null'],
    ['latency_ms', '12', '"12"'],
  ])('refuses a tool call with %s = %s', (field, value, shown) => {
    refuses((bad) => set(bad.tool_calls[1] as unknown as Record<string, unknown>, field, value), `tool_calls[1].${field}: invalid value ${shown}`)
  })

  it.each<[...Mutation, string]>([
    ['seq', -1, '-1'],
    ['step', 2.5, '2.5'],
    ['stage', null, 'null'],
    ['tool_call_seq', -1, '-1'],
    ['tool_call_seq', 1.5, '1.5'],
    ['tool_call_seq', undefined, 'undefined'],
    ['tool', 3, '3'],
    ['tool', undefined, 'undefined'],
    ['decision', undefined, 'undefined'],
    ['reason', null, 'null'],
    ['rule', 5, '5'],
  ])('refuses a policy decision with %s = %s', (field, value, shown) => {
    refuses((bad) => set(bad.policy_decisions[2] as unknown as Record<string, unknown>, field, value), `policy_decisions[2].${field}: invalid value ${shown}`)
  })

  it('refuses a missing tool call object', () => {
    refuses((bad) => {
      bad.tool_calls[0] = null as unknown as ToolCallTrace
    }, 'tool_calls[0].seq: invalid value undefined')
  })

  it('refuses a missing policy decision object', () => {
    refuses((bad) => {
      bad.policy_decisions[1] = undefined as unknown as PolicyDecisionTrace
    }, 'policy_decisions[1].seq: invalid value undefined')
  })

  it('refuses args that JSON cannot hold (a cycle), naming the call and field on one line', () => {
    refuses((bad) => {
      bad.tool_calls[2]!.args = cyclic
    }, 'tool_calls[2].args: invalid value: not JSON-serialisable (Converting circular structure to JSON)')
  })

  it('refuses a result that JSON cannot hold (a BigInt), naming the call and field on one line', () => {
    refuses((bad) => {
      bad.tool_calls[1]!.result = {amount: 10n}
    }, 'tool_calls[1].result: invalid value: not JSON-serialisable (Do not know how to serialize a BigInt)')
  })
})

describe('steps column: thinking (#23)', () => {
  it('a step\'s thinking survives the store; steps without one come back without the key', async () => {
    const {encodeSteps, decodeSteps} = await import('../../src/store/rows.js')
    const steps: StepTrace[] = [
      {index: 0, state: 'plan', detail: 'model call', input_tokens: 3, output_tokens: 9, latency_ms: 5, thinking: 'check the order first'},
      {index: 1, state: 'finish', detail: 'done', input_tokens: 0, output_tokens: 0, latency_ms: 0},
    ]
    const text = encodeSteps(steps)
    expect(JSON.parse(text)[1]).toHaveLength(6)
    expect(decodeSteps(text)).toEqual(steps)
  })
})
