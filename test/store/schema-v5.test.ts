import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {StoreError} from '../../src/errors.js'
import type {PolicyDecisionTrace, RequestTrace, ToolCallTrace} from '../../src/runtime/trace.js'
import type {TraceDatabase} from '../../src/store/api.js'
import {latestVersion, migrate, MIGRATIONS} from '../../src/store/migrations.js'
import {openStore} from '../../src/store/sqlite.js'
import {emptyTrace, inOrder, newRun, orderKeys, trace} from './fixtures.js'

let dir: string
let file: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-v5-'))
  file = path.join(dir, 'understudy.db')
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const RUN_ID = 'r20260101T000000-abcdef'
const OLD_TABLES = ['steps', 'tool_calls', 'policy_decisions', 'guardrail_results'] as const

function withStore<T>(fn: (store: TraceDatabase) => T, opts: {readonly?: boolean} = {}): T {
  const store = openStore(file, opts)
  try {
    return fn(store)
  } finally {
    store.close()
  }
}

function withRaw<T>(fn: (db: Database.Database) => T, readonly = true): T {
  const db = new Database(file, {readonly})
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

const rawGet = <T>(sql: string, ...params: unknown[]): T => withRaw((db) => db.prepare(sql).pluck().get(...params) as T)

/** Tool calls whose args and results are awkward JSON: nesting, unicode, numbers that print oddly. */
function awkwardCalls(): ToolCallTrace[] {
  return [
    {
      seq: 0, step: 1, name: 'issue_refund', risk: 'write_high',
      args: {
        amount: 92.13, big: 1e21, tiny: 5e-324, neg: -0.5, int: 9007199254740991,
        '2': 'integer-like keys come first', b: {deep: [1, [2, [3, {x: null, y: true}]]], empty: {}, none: []},
        text: 'détail — ✅ مرحبا 👩‍💻 e\u0301 "quoted" \\ back\u0000slash\nnewline\u2028', '': 'empty key',
      },
      args_hash: 'd'.repeat(64), idempotency_key: 'idem-ünï', attempt: 3, outcome: 'partial_write', executed: true,
      result: 'a plain string result ✓', error: 'response lost', latency_ms: 0.1 + 0.2,
    },
    {
      seq: 1, step: 2, name: 'lookup_order', risk: 'read', args: {order_id: 'ORD-1'},
      args_hash: 'e'.repeat(64), idempotency_key: null, attempt: 1, outcome: 'ok', executed: true,
      result: [1, 'two', null, {three: 3.5}, [], 1e21], error: null, latency_ms: 12,
    },
    {
      seq: 2, step: 2, name: 'noop', risk: 'unknown', args: {}, args_hash: '', idempotency_key: '', attempt: 1,
      outcome: 'unknown_tool', executed: false, result: 0, error: '', latency_ms: 0,
    },
    {
      seq: 3, step: 3, name: 'flag', risk: 'write_low', args: {on: false}, args_hash: 'f', idempotency_key: null,
      attempt: 2, outcome: 'ok', executed: true, result: false, error: null, latency_ms: 1e-9,
    },
  ]
}

function awkwardDecisions(): PolicyDecisionTrace[] {
  return [
    {seq: 0, step: 0, stage: 'pre_model', tool_call_seq: null, tool: null, decision: 'allow', reason: 'OK', rule: null},
    {seq: 1, step: 1, stage: 'mid_run', tool_call_seq: 0, tool: 'issue_refund', decision: 'require_approval', reason: 'HIGH_VALUE ✋', rule: 'r-010'},
    {seq: 2, step: 4, stage: 'post_model', tool_call_seq: 3, tool: '', decision: 'deny', reason: '', rule: ''},
  ]
}

/** Every shape of list: none, the fixture's, the awkward ones, on several sides and repeats. */
function variedTraces(): RequestTrace[] {
  const awkward = trace('w', 4, 'candidate', 1)
  awkward.tool_calls = awkwardCalls()
  awkward.policy_decisions = awkwardDecisions()
  const callsOnly = trace('c', 5, 'baseline')
  callsOnly.policy_decisions = []
  const decisionsOnly = trace('d', 6, 'recorded')
  decisionsOnly.tool_calls = []
  return [emptyTrace('e', 1), trace('f', 2, 'recorded'), trace('f', 2), trace('g', 3, 'candidate', 1), awkward, callsOnly, decisionsOnly]
}

function insertRun(db: Database.Database, id: string): void {
  const r = newRun()
  db.prepare(
    `INSERT INTO runs (id, name, status, started_at, candidate_ref, candidate_hash, baseline_ref, baseline_hash,
       traffic_file, traffic_hash, model, repeat, faults, seed, config_json)
     VALUES (?, ?, 'completed', '2026-01-01T00:00:00.000Z', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(id, r.name, r.candidate_ref, r.candidate_hash, r.baseline_ref, r.baseline_hash, r.traffic_file,
    r.traffic_hash, r.model, r.repeat, r.faults, r.seed, JSON.stringify(r.config))
}

/**
 * Writes `traces` the way builds of schema `version` did: with 4, steps and guardrail results in
 * their columns and one row per tool call and policy decision; with 2, every list as rows. Plain
 * SQL, deliberately not the store's own encoders, so that it keeps standing for the old layouts
 * whatever the store does now.
 */
function writeLegacy(db: Database.Database, runId: string, traces: RequestTrace[], version: 2 | 4): void {
  const jsonCols = version === 4 ? ', guardrails_json, steps_json' : ''
  const request = db.prepare(
    `INSERT INTO requests (run_id, request_id, line, side, repeat, tenant, user, role, status, final_answer,
       input_tokens, output_tokens, model_calls, cost_usd, latency_ms, budget_hits, error${jsonCols})
     VALUES (${Array.from({length: version === 4 ? 19 : 17}, () => '?').join(', ')})`,
  )
  const step = db.prepare('INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  const guardrail = db.prepare('INSERT INTO guardrail_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  const call = db.prepare('INSERT INTO tool_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  const decision = db.prepare('INSERT INTO policy_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  db.transaction(() => {
    for (const t of traces) {
      const params: unknown[] = [
        runId, t.request_id, t.line, t.side, t.repeat, t.tenant, t.user, t.role, t.status, t.final_answer,
        t.input_tokens, t.output_tokens, t.model_calls, t.cost_usd, t.latency_ms, JSON.stringify(t.budget_hits), t.error,
      ]
      if (version === 4) {
        params.push(
          JSON.stringify(t.guardrails.map((g) => [g.stage, g.step, g.check, g.passed ? 1 : 0, g.severity, g.detail])),
          JSON.stringify(t.steps.map((s) => [s.index, s.state, s.detail, s.input_tokens, s.output_tokens, s.latency_ms])),
        )
      }
      const id = request.run(...params).lastInsertRowid
      if (version === 2) {
        t.steps.forEach((s, i) => step.run(id, i, s.index, s.state, s.detail, s.input_tokens, s.output_tokens, s.latency_ms))
        t.guardrails.forEach((g, i) => guardrail.run(id, i, g.stage, g.step, g.check, g.passed ? 1 : 0, g.severity, g.detail))
      }
      t.tool_calls.forEach((c, i) =>
        call.run(id, i, c.seq, c.step, c.name, c.risk, JSON.stringify(c.args), c.args_hash, c.idempotency_key, c.attempt,
          c.outcome, c.executed ? 1 : 0, c.result === null || c.result === undefined ? null : JSON.stringify(c.result),
          c.error, c.latency_ms),
      )
      t.policy_decisions.forEach((d, i) =>
        decision.run(id, i, d.seq, d.step, d.stage, d.tool_call_seq, d.tool, d.decision, d.reason, d.rule),
      )
    }
  })()
}

/** A database at schema `version` holding `traces` in run RUN_ID, written as that version did. */
function writeOldStore(traces: RequestTrace[], version: 2 | 4): void {
  withRaw((db) => {
    migrate(db, file, MIGRATIONS.slice(0, version))
    expect(db.pragma('user_version', {simple: true})).toBe(version)
    insertRun(db, RUN_ID)
    writeLegacy(db, RUN_ID, traces, version)
  }, false)
}

describe('schema v5: tool calls and policy decisions in columns', () => {
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
      expect(awkward.tool_calls.map((c) => c.result)).toStrictEqual(['a plain string result ✓', [1, 'two', null, {three: 3.5}, [], 1e21], 0, false])
    })
  })

  it('reads every trace back exactly as a v4 build stored it (rows) would', () => {
    const traces = variedTraces()
    // Values JSON changes on the way through, the same way in either layout.
    const odd = trace('o', 7)
    odd.tool_calls[0]!.args = {nan: Number.NaN, negZero: -0, inf: Number.POSITIVE_INFINITY, gone: undefined, nested: {gone: undefined}}
    odd.tool_calls[1]!.result = undefined
    odd.tool_calls[2]!.result = {when: undefined, list: [undefined, Number.NaN]}
    traces.push(odd)
    writeOldStore(traces, 4)
    withStore((store) => {
      const fresh = store.createRun(newRun())
      store.writeTraces(fresh.id, traces)
      const asV4 = [...store.iterateTraces(RUN_ID)]
      const asV5 = [...store.iterateTraces(fresh.id)]
      expect(asV4).toHaveLength(traces.length)
      expect(asV5).toStrictEqual(asV4)
      expect(JSON.stringify(asV5)).toBe(JSON.stringify(asV4))
      const o = asV5.find((t) => t.request_id === 'o')!
      expect(o.tool_calls[0]!.args).toStrictEqual({nan: null, negZero: 0, inf: null, nested: {}})
      expect(o.tool_calls[1]!.result).toBeNull()
    })
  })

  it('stores a trace as exactly one row: both columns always set, nothing in the old tables', () => {
    const traces = variedTraces()
    withStore((store) => store.writeTraces(store.createRun(newRun()).id, traces))
    withRaw((db) => {
      const count = (sql: string) => db.prepare(sql).pluck().get()
      for (const table of OLD_TABLES) expect(count(`SELECT count(*) FROM ${table}`)).toBe(0)
      expect(count('SELECT count(*) FROM requests')).toBe(traces.length)
      expect(count('SELECT count(*) FROM requests WHERE tool_calls_json IS NULL OR policy_decisions_json IS NULL')).toBe(0)
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
      store.writeTraces(run.id, [trace('a', 1), trace('b', 2)])
      const [a, b] = [...store.iterateTraces(run.id)]
      a!.policy_decisions[0]!.reason = 'changed'
      ;(a!.tool_calls[0]!.args.opts as {deep: unknown}).deep = 'changed'
      expect(b!.policy_decisions[0]!.reason).toBe('POLICY_DEFAULT')
      expect([...store.iterateTraces(run.id)]).toStrictEqual([trace('a', 1), trace('b', 2)])
    })
  })

  it('never opens a legacy cursor for a run stored since v5', () => {
    const written = variedTraces()
    withStore((store) => store.writeTraces(store.createRun(newRun()).id, written))
    // Without the tables, any query of them would fail: no legacy cursor may be opened.
    withRaw((db) => db.exec(OLD_TABLES.map((t) => `DROP TABLE ${t};`).join('\n')), false)
    withStore((store) => {
      const [run] = store.listRuns()
      expect([...store.iterateTraces(run!.id)]).toStrictEqual(inOrder(written))
      expect([...store.iterateTraces(run!.id, {side: 'candidate'})]).toStrictEqual(inOrder(written.filter((t) => t.side === 'candidate')))
      expect([...store.iterateTraces(run!.id, {fromLine: 2, toLine: 5})]).toStrictEqual(inOrder(written.filter((t) => t.line >= 2 && t.line < 5)))
      expect([...store.iterateTraces(run!.id, {requestId: 'w', repeat: 1})]).toStrictEqual(written.filter((t) => t.request_id === 'w'))
    })
  })
})

type Mutation = [string, unknown]

describe('schema v5: malformed tool calls and policy decisions', () => {
  const cyclic: Record<string, unknown> = {a: 1}
  cyclic.self = cyclic

  /** Writes [good, bad, good] after one kept trace; checks the one-line error and that nothing of the batch was stored. */
  function refuses(mutate: (bad: RequestTrace) => void, expected: string): void {
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [trace('kept', 1)])
      const bad = trace('b', 3)
      mutate(bad)
      let thrown: unknown
      try {
        store.writeTraces(run.id, [trace('a', 2), bad, trace('c', 4)])
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

describe('schema v5: upgrading a v4 database', () => {
  /** Odd lines, recorded and candidate, with varied call and decision counts. */
  function v4Traces(): RequestTrace[] {
    const out: RequestTrace[] = []
    for (let line = 1; line <= 21; line += 2) {
      const id = `req-${line}`
      out.push(line % 5 === 0 ? emptyTrace(id, line, 'recorded') : trace(id, line, 'recorded'))
      const candidate = trace(id, line, 'candidate')
      if (line % 3 === 0) {
        candidate.tool_calls = awkwardCalls()
        candidate.policy_decisions = awkwardDecisions()
      } else {
        candidate.tool_calls = candidate.tool_calls.slice(line % 4)
        candidate.policy_decisions = candidate.policy_decisions.slice(line % 3)
      }
      out.push(candidate)
    }
    return out
  }

  it('refuses a read-only open of a v4 database and leaves it at v4', () => {
    writeOldStore(v4Traces(), 4)
    expect(() => openStore(file, {readonly: true})).toThrow(
      `${file}: schema v4 is older than this build's v${latestVersion()}; upgrade it in place, keeping every run, with \`understudy runs list --db ${file}\``,
    )
    expect(rawGet('PRAGMA user_version')).toBe(4)
    expect(rawGet("SELECT count(*) FROM sqlite_schema WHERE type = 'view'")).toBe(0)
  })

  it('upgrades in place, reads old traces identically, and interleaves new ones in traffic order', () => {
    const old = v4Traces()
    writeOldStore(old, 4)
    const oldCalls = old.reduce((n, t) => n + t.tool_calls.length, 0)
    const oldDecisions = old.reduce((n, t) => n + t.policy_decisions.length, 0)
    expect(oldCalls).toBeGreaterThan(0)
    expect(oldDecisions).toBeGreaterThan(0)
    withStore(() => undefined)
    expect(rawGet('PRAGMA user_version')).toBe(latestVersion())
    // v4 traces carry steps and guardrails in their columns: those legacy cursors must stay shut.
    withRaw((db) => db.exec('DROP TABLE steps; DROP TABLE guardrail_results;'), false)

    withStore((store) => {
      expect([...store.iterateTraces(RUN_ID)]).toStrictEqual(inOrder(old))
      expect(JSON.stringify([...store.iterateTraces(RUN_ID)])).toBe(JSON.stringify(inOrder(old)))
      expect([...store.iterateTraces(RUN_ID, {side: 'candidate'})]).toStrictEqual(inOrder(old.filter((t) => t.side === 'candidate')))

      // A resumed run: traces stored after the upgrade sit between the old ones in traffic order.
      const fresh: RequestTrace[] = []
      for (let line = 2; line <= 22; line += 2) {
        fresh.push(trace(`req-${line}`, line, 'recorded'))
        const candidate = trace(`req-${line}`, line, 'candidate')
        candidate.tool_calls = line % 4 === 0 ? awkwardCalls() : candidate.tool_calls.slice(line % 3)
        candidate.policy_decisions = candidate.policy_decisions.slice(line % 4)
        fresh.push(candidate)
      }
      store.writeTraces(RUN_ID, fresh)
      const all = inOrder([...old, ...fresh])
      expect([...store.iterateTraces(RUN_ID)]).toStrictEqual(all)
      expect([...store.iterateTraces(RUN_ID, {side: 'candidate'})]).toStrictEqual(all.filter((t) => t.side === 'candidate'))
      expect([...store.iterateTraces(RUN_ID, {requestId: 'req-9'})]).toStrictEqual(all.filter((t) => t.request_id === 'req-9'))
      expect([...store.iterateTraces(RUN_ID, {requestId: 'req-10'})]).toStrictEqual(all.filter((t) => t.request_id === 'req-10'))
      const range = {fromLine: 6, toLine: 15}
      expect([...store.iterateTraces(RUN_ID, range)]).toStrictEqual(all.filter((t) => t.line >= 6 && t.line < 15))
      expect([...store.iterateTraces(RUN_ID, {...range, side: 'candidate'})]).toStrictEqual(
        all.filter((t) => t.line >= 6 && t.line < 15 && t.side === 'candidate'),
      )
      expect(store.countTraces(RUN_ID, range)).toBe(18)

      // Two iterations at once each walk their own legacy cursors.
      const a = store.iterateTraces(RUN_ID)
      const b = store.iterateTraces(RUN_ID, {fromLine: 10})
      const seenA: RequestTrace[] = []
      const seenB: RequestTrace[] = []
      for (let x = a.next(), y = b.next(); !x.done; x = a.next(), y = y.done ? y : b.next()) {
        seenA.push(x.value)
        if (!y.done) seenB.push(y.value)
      }
      expect(seenA).toStrictEqual(all)
      expect(seenB).toStrictEqual(all.filter((t) => t.line >= 10))

      // The old rows stay as they were, the new traces added none.
      expect(rawGet('SELECT count(*) FROM tool_calls')).toBe(oldCalls)
      expect(rawGet('SELECT count(*) FROM policy_decisions')).toBe(oldDecisions)
      expect(rawGet('SELECT count(*) FROM requests WHERE tool_calls_json IS NULL AND policy_decisions_json IS NULL')).toBe(old.length)

      // Deleting the run still cascades to the legacy rows.
      expect(store.deleteRun(RUN_ID)).toBe(true)
      expect(rawGet('SELECT count(*) FROM tool_calls')).toBe(0)
      expect(rawGet('SELECT count(*) FROM policy_decisions')).toBe(0)
    })
  })
})

describe('schema v5: audit views', () => {
  const VIEWS = {
    trace_steps: 'steps',
    trace_guardrails: 'guardrail_results',
    trace_tool_calls: 'tool_calls',
    trace_policy_decisions: 'policy_decisions',
  } as const

  /** The same content twice: as a legacy trace (every list as rows) on line 1, as a v5 trace on line 2. */
  function mixedRun(): {legacy: number; fresh: number} {
    const legacy = trace('old', 1)
    legacy.tool_calls = [...legacy.tool_calls, ...awkwardCalls()]
    legacy.policy_decisions = [...legacy.policy_decisions, ...awkwardDecisions()]
    writeOldStore([legacy], 2)
    withStore((store) => store.writeTraces(RUN_ID, [{...legacy, request_id: 'new', line: 2}]))
    return withRaw((db) => {
      const id = (request: string) => db.prepare('SELECT id FROM requests WHERE request_id = ?').pluck().get(request) as number
      return {legacy: id('old'), fresh: id('new')}
    })
  }

  it('has each old table\'s columns, in its order', () => {
    withStore(() => undefined)
    withRaw((db) => {
      const columns = (name: string) => (db.pragma(`table_info(${name})`) as {name: string}[]).map((c) => c.name)
      for (const [view, table] of Object.entries(VIEWS)) expect(columns(view)).toEqual(columns(table))
    })
  })

  it('lists a legacy trace\'s rows and a v5 trace\'s elements alike, with the same values and types', () => {
    const {legacy, fresh} = mixedRun()
    expect(rawGet('SELECT count(*) FROM tool_calls')).toBe(7)
    expect(rawGet('SELECT tool_calls_json FROM requests WHERE id = ?', legacy)).toBeNull()
    withRaw((db) => {
      for (const [view, table] of Object.entries(VIEWS)) {
        const cols = (db.pragma(`table_info(${table})`) as {name: string}[]).map((c) => `"${c.name}"`).slice(1)
        // typeof() too: a REAL column must not come back as an INTEGER from the JSON half.
        const select = `SELECT ${cols.join(', ')}, ${cols.map((c) => `typeof(${c})`).join(', ')} FROM ${view} WHERE request_rowid = ? ORDER BY pos`
        const rows = (id: number) => db.prepare(select).raw().all(id)
        const old = rows(legacy)
        expect(old.length).toBeGreaterThan(0)
        expect(rows(fresh)).toStrictEqual(old)
        // The legacy half is the table itself.
        expect(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get()).toBe(old.length)
      }
      expect(db.prepare("SELECT request_rowid FROM trace_tool_calls WHERE name = 'issue_refund' ORDER BY request_rowid").pluck().all()).toEqual([
        legacy, legacy, fresh, fresh,
      ])
      expect(db.prepare("SELECT DISTINCT request_rowid FROM trace_policy_decisions WHERE decision = 'deny' AND reason = 'INJECTION_IN_INPUT' ORDER BY 1").pluck().all()).toEqual([legacy, fresh])
      // JSON columns hold JSON text, a missing result is NULL: the same as the table held.
      const call = (id: number, pos: number) =>
        db.prepare('SELECT args_json, result_json FROM trace_tool_calls WHERE request_rowid = ? AND pos = ?').raw().get(id, pos)
      const awkward = awkwardCalls()[0]!
      expect(call(fresh, 3)).toEqual([JSON.stringify(awkward.args), JSON.stringify(awkward.result)])
      expect(call(fresh, 1)).toEqual([JSON.stringify(trace('x', 1).tool_calls[1]!.args), null])
      expect(db.prepare("SELECT count(*) FROM trace_tool_calls WHERE json_extract(args_json, '$.amount') = 92.13").pluck().get()).toBe(2)
    })
  })
})
