import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {StoreError} from '../../src/errors.js'
import type {RequestTrace, StepTrace, TraceSide} from '../../src/runtime/trace.js'
import type {TraceDatabase, TraceFilter} from '../../src/store/api.js'
import {latestVersion, migrate, MIGRATIONS} from '../../src/store/migrations.js'
import {filterSql, openStore, TRACE_ORDER} from '../../src/store/sqlite.js'
import {emptyTrace, inOrder, newRun, orderKeys, trace} from './fixtures.js'

let dir: string
let file: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-v4-'))
  file = path.join(dir, 'understudy.db')
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const RUN_ID = 'r20260101T000000-abcdef'

function raw<T>(sql: string, ...params: unknown[]): T {
  const db = new Database(file, {readonly: true})
  try {
    return db.prepare(sql).pluck().get(...params) as T
  } finally {
    db.close()
  }
}

function withStore<T>(fn: (store: TraceDatabase) => T): T {
  const store = openStore(file)
  try {
    return fn(store)
  } finally {
    store.close()
  }
}

/** Steps with awkward details: unicode of every kind, quotes, a NUL, an empty string. */
function unicodeSteps(): StepTrace[] {
  return [
    {index: 0, state: 'plan', detail: 'détail — ✅ مرحبا 👩‍💻 e\u0301', input_tokens: 412, output_tokens: 57, latency_ms: 812.5},
    {index: 1, state: 'act', detail: '"quoted" \\ back\u0000slash\nnewline', input_tokens: 0, output_tokens: 0, latency_ms: 0},
    {index: 2, state: 'finish', detail: '', input_tokens: 9007199254740991, output_tokens: 1, latency_ms: 0.1 + 0.2},
  ]
}

/**
 * A schema v3 database holding `traces`, written the way v3 builds wrote them: guardrail results
 * in `guardrails_json`, one `steps` row per step. Plain SQL, deliberately not the store's own
 * encoders, so that it keeps standing for the old layout whatever the store does now.
 */
function writeV3Store(traces: RequestTrace[]): void {
  const db = new Database(file)
  migrate(db, file, MIGRATIONS.slice(0, 3))
  expect(db.pragma('user_version', {simple: true})).toBe(3)
  const r = newRun()
  db.prepare(
    `INSERT INTO runs (id, name, status, started_at, candidate_ref, candidate_hash, baseline_ref, baseline_hash,
       traffic_file, traffic_hash, model, repeat, faults, seed, config_json)
     VALUES (?, ?, 'completed', '2026-01-01T00:00:00.000Z', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(RUN_ID, r.name, r.candidate_ref, r.candidate_hash, r.baseline_ref, r.baseline_hash, r.traffic_file,
    r.traffic_hash, r.model, r.repeat, r.faults, r.seed, JSON.stringify(r.config))
  const request = db.prepare(
    `INSERT INTO requests (run_id, request_id, line, side, repeat, tenant, user, role, status, final_answer,
       input_tokens, output_tokens, model_calls, cost_usd, latency_ms, budget_hits, error, guardrails_json)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const step = db.prepare('INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  const call = db.prepare('INSERT INTO tool_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  const decision = db.prepare('INSERT INTO policy_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  db.transaction(() => {
    for (const t of traces) {
      const guardrails = JSON.stringify(t.guardrails.map((g) => [g.stage, g.step, g.check, g.passed ? 1 : 0, g.severity, g.detail]))
      const id = request.run(
        RUN_ID, t.request_id, t.line, t.side, t.repeat, t.tenant, t.user, t.role, t.status, t.final_answer,
        t.input_tokens, t.output_tokens, t.model_calls, t.cost_usd, t.latency_ms, JSON.stringify(t.budget_hits), t.error,
        guardrails,
      ).lastInsertRowid
      t.steps.forEach((s, i) => step.run(id, i, s.index, s.state, s.detail, s.input_tokens, s.output_tokens, s.latency_ms))
      t.tool_calls.forEach((c, i) =>
        call.run(id, i, c.seq, c.step, c.name, c.risk, JSON.stringify(c.args), c.args_hash, c.idempotency_key, c.attempt,
          c.outcome, c.executed ? 1 : 0, c.result === null ? null : JSON.stringify(c.result), c.error, c.latency_ms),
      )
      t.policy_decisions.forEach((d, i) =>
        decision.run(id, i, d.seq, d.step, d.stage, d.tool_call_seq, d.tool, d.decision, d.reason, d.rule),
      )
    }
  })()
  db.close()
}

/** Odd lines, recorded and candidate: step counts vary (none, some, all, unicode). */
function v3Traces(): RequestTrace[] {
  const out: RequestTrace[] = []
  for (let line = 1; line <= 21; line += 2) {
    const id = `req-${line}`
    out.push(line % 5 === 0 ? emptyTrace(id, line, 'recorded') : trace(id, line, 'recorded'))
    const candidate = trace(id, line, 'candidate')
    candidate.steps = line % 3 === 0 ? unicodeSteps() : candidate.steps.slice(line % 6)
    out.push(candidate)
  }
  return out
}

describe('schema v4: steps in one column', () => {
  it('round-trips steps (none, several, unicode) deep-equal and byte-identical as JSON', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      const withUnicode = trace('u', 2, 'baseline')
      withUnicode.steps = unicodeSteps()
      const written = [emptyTrace('e', 1), withUnicode, trace('f', 3), trace('f', 3, 'candidate', 1)]
      store.writeTraces(run.id, written)
      const back = [...store.iterateTraces(run.id)]
      expect(back).toStrictEqual(written)
      expect(JSON.stringify(back)).toBe(JSON.stringify(written))
      // Each object's keys in the contract's order, not merely the same set.
      expect(Object.keys(back[1]!.steps[0]!)).toEqual(['index', 'state', 'detail', 'input_tokens', 'output_tokens', 'latency_ms'])
      expect(back[1]!.steps[2]!.latency_ms).toBe(0.1 + 0.2)
    })
  })

  it('sets steps_json on every new trace ([] when it has none) and writes no steps rows', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [emptyTrace('e', 1), trace('f', 2)])
    })
    expect(raw('SELECT count(*) FROM steps')).toBe(0)
    expect(raw('SELECT count(*) FROM requests WHERE steps_json IS NULL')).toBe(0)
    expect(raw("SELECT steps_json FROM requests WHERE request_id = 'e'")).toBe('[]')
    expect(JSON.parse(raw("SELECT steps_json FROM requests WHERE request_id = 'f'"))).toEqual(
      trace('f', 2).steps.map((s) => [s.index, s.state, s.detail, s.input_tokens, s.output_tokens, s.latency_ms]),
    )
  })

  it('never reads the steps table for a run stored since v4', () => {
    const written = [trace('a', 1, 'recorded'), trace('a', 1), emptyTrace('b', 2)]
    withStore((store) => store.writeTraces(store.createRun(newRun()).id, written))
    // Without the table, any query of it would fail: the legacy cursor must not be opened.
    const db = new Database(file)
    db.exec('DROP TABLE steps')
    db.close()
    withStore((store) => {
      const [run] = store.listRuns()
      expect([...store.iterateTraces(run!.id)]).toStrictEqual(inOrder(written))
      expect([...store.iterateTraces(run!.id, {fromLine: 2})]).toStrictEqual([written[2]])
    })
  })

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
      store.writeTraces(run.id, [trace('kept', 1)])
      const bad = trace('b', 3)
      const step = {...bad.steps[2]!} as Record<string, unknown>
      if (value === undefined) delete step[field]
      else step[field] = value
      bad.steps[2] = step as unknown as StepTrace
      let thrown: unknown
      try {
        store.writeTraces(run.id, [trace('a', 2), bad, trace('c', 4)])
      } catch (e) {
        thrown = e
      }
      expect(thrown).toBeInstanceOf(StoreError)
      const message = (thrown as Error).message
      expect(message).not.toContain('\n')
      expect(message).toContain(`${file}: cannot store request "b" (line 3, candidate, repeat 0) of run ${run.id}: steps[2].${field}: ${shown}`)
      expect(orderKeys(store.iterateTraces(run.id))).toEqual(['1/candidate/0'])
    })
    // Only the kept trace's calls (v5 keeps them in its requests row; the view lists them).
    expect(raw('SELECT count(*) FROM trace_tool_calls')).toBe(3)
  })

  it('refuses a missing step object with the same one-line error', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      const bad = trace('b', 1)
      bad.steps[1] = null as unknown as StepTrace
      expect(() => store.writeTraces(run.id, [bad])).toThrow(/request "b" .*: steps\[1\]\.index: invalid value undefined$/)
      expect(store.countTraces(run.id)).toBe(0)
    })
  })
})

describe('schema v4: upgrading a v3 database', () => {
  it('refuses a read-only open of a v3 database and leaves it at v3', () => {
    writeV3Store(v3Traces())
    expect(() => openStore(file, {readonly: true})).toThrow(
      `${file}: schema v3 is older than this build's v${latestVersion()}; upgrade it in place, keeping every run, with \`understudy runs list --db ${file}\``,
    )
    expect(raw('PRAGMA user_version')).toBe(3)
  })

  it('upgrades in place, reads old traces identically, and interleaves new ones in traffic order', () => {
    const old = v3Traces()
    writeV3Store(old)
    const oldSteps = old.reduce((n, t) => n + t.steps.length, 0)
    expect(oldSteps).toBeGreaterThan(0)
    // v3 traces carry their guardrails in the column: the guardrail legacy cursor must stay shut.
    const db = new Database(file)
    db.exec('DROP TABLE guardrail_results')
    db.close()

    withStore((store) => {
      expect(raw('PRAGMA user_version')).toBe(latestVersion())
      expect([...store.iterateTraces(RUN_ID)]).toStrictEqual(inOrder(old))
      expect(JSON.stringify([...store.iterateTraces(RUN_ID)])).toBe(JSON.stringify(inOrder(old)))
      expect([...store.iterateTraces(RUN_ID, {side: 'candidate'})]).toStrictEqual(inOrder(old.filter((t) => t.side === 'candidate')))
      expect([...store.iterateTraces(RUN_ID, {fromLine: 5, toLine: 12})]).toStrictEqual(inOrder(old.filter((t) => t.line >= 5 && t.line < 12)))

      // A resumed run: traces stored after the upgrade sit between the old ones in traffic order.
      const fresh: RequestTrace[] = []
      for (let line = 2; line <= 22; line += 2) {
        fresh.push(trace(`req-${line}`, line, 'recorded'))
        const candidate = trace(`req-${line}`, line, 'candidate')
        candidate.steps = line % 4 === 0 ? unicodeSteps() : candidate.steps.slice(line % 5)
        fresh.push(candidate)
      }
      store.writeTraces(RUN_ID, fresh)
      const all = inOrder([...old, ...fresh])
      expect([...store.iterateTraces(RUN_ID)]).toStrictEqual(all)
      expect([...store.iterateTraces(RUN_ID, {side: 'candidate'})]).toStrictEqual(all.filter((t) => t.side === 'candidate'))
      expect([...store.iterateTraces(RUN_ID, {requestId: 'req-9'})]).toStrictEqual(all.filter((t) => t.request_id === 'req-9'))
      const range = {fromLine: 6, toLine: 15}
      expect([...store.iterateTraces(RUN_ID, range)]).toStrictEqual(all.filter((t) => t.line >= 6 && t.line < 15))
      expect(store.countTraces(RUN_ID, range)).toBe(18)

      // Two iterations at once each walk their own legacy cursor.
      const a = store.iterateTraces(RUN_ID)
      const b = store.iterateTraces(RUN_ID, {side: 'candidate'})
      const seenA: RequestTrace[] = []
      const seenB: RequestTrace[] = []
      for (let x = a.next(), y = b.next(); !x.done; x = a.next(), y = y.done ? y : b.next()) {
        seenA.push(x.value)
        if (!y.done) seenB.push(y.value)
      }
      expect(seenA).toStrictEqual(all)
      expect(seenB).toStrictEqual(all.filter((t) => t.side === 'candidate'))

      // The old rows stay as they were, the new traces added none.
      expect(raw('SELECT count(*) FROM steps')).toBe(oldSteps)
      expect(raw('SELECT count(*) FROM requests WHERE steps_json IS NULL')).toBe(old.length)

      // Deleting the run still cascades to the legacy rows.
      expect(store.deleteRun(RUN_ID)).toBe(true)
      expect(raw('SELECT count(*) FROM steps')).toBe(0)
    })
  })
})

/** Lines 1..n; line L holds 1 + L % 4 traces (sides and repeats), so lines differ in size. */
function unevenRun(n: number): RequestTrace[] {
  const shapes: [TraceSide, number][] = [['recorded', 0], ['baseline', 0], ['candidate', 0], ['candidate', 1]]
  const out: RequestTrace[] = []
  for (let line = 1; line <= n; line++) {
    for (const [side, repeat] of shapes.slice(0, 1 + (line % 4))) {
      out.push(line % 6 === 0 ? emptyTrace(`q${line}`, line, side, repeat) : trace(`q${line}`, line, side, repeat))
    }
  }
  return out
}

describe('line ranges', () => {
  it('filters by line range alone and combined with the other fields, in iterate and count', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      const other = store.createRun(newRun())
      const traces = unevenRun(30)
      store.writeTraces(run.id, traces)
      store.writeTraces(other.id, unevenRun(5))
      const check = (filter: TraceFilter, pred: (t: RequestTrace) => boolean) => {
        const want = traces.filter(pred)
        expect(orderKeys(store.iterateTraces(run.id, filter))).toEqual(orderKeys(want))
        expect(store.countTraces(run.id, filter)).toBe(want.length)
      }
      check({fromLine: 10}, (t) => t.line >= 10)
      check({toLine: 10}, (t) => t.line < 10)
      check({fromLine: 10, toLine: 20}, (t) => t.line >= 10 && t.line < 20)
      // Same shape, other values: the cached statement is bound afresh.
      check({fromLine: 3, toLine: 4}, (t) => t.line === 3)
      check({fromLine: 7, toLine: 7}, () => false)
      check({fromLine: 25, toLine: 1000}, (t) => t.line >= 25)
      check({fromLine: 10, toLine: 20, side: 'candidate'}, (t) => t.line >= 10 && t.line < 20 && t.side === 'candidate')
      check({toLine: 20, side: 'candidate', repeat: 1}, (t) => t.line < 20 && t.side === 'candidate' && t.repeat === 1)
      check({fromLine: 10, requestId: 'q11'}, (t) => t.request_id === 'q11')
      check({fromLine: 12, requestId: 'q11'}, () => false)
      check({fromLine: 5, toLine: 15, side: 'baseline', requestId: 'q7', repeat: 0}, (t) => t.request_id === 'q7' && t.side === 'baseline')
      expect([...store.iterateTraces(run.id, {fromLine: 11, toLine: 12})]).toStrictEqual(traces.filter((t) => t.line === 11))
    })
  })

  it('refuses a range bound that is not a number with a one-line error', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      store.writeTraces(run.id, [trace('a', 1)])
      expect(() => store.countTraces(run.id, {fromLine: Number.NaN})).toThrow(`${file}: trace filter fromLine must be a number (got null)`)
      expect(() => [...store.iterateTraces(run.id, {toLine: '3' as unknown as number})]).toThrow(
        `${file}: trace filter toLine must be a number (got "3")`,
      )
    })
  })

  it('reads a range from requests_by_line, in trace order without a sort', () => {
    withStore(() => undefined)
    const db = new Database(file, {readonly: true})
    try {
      const plan = (filter: TraceFilter, select: string, suffix = '') => {
        const {where, params} = filterSql(filter)
        return (db.prepare(`EXPLAIN QUERY PLAN ${select} WHERE ${where} ${suffix}`).all(RUN_ID, ...params) as {detail: string}[])
          .map((r) => r.detail)
          .join(' | ')
      }
      const range = 'INDEX requests_by_line (run_id=? AND line>? AND line<?)'
      for (const filter of [{fromLine: 1, toLine: 9}, {fromLine: 1, toLine: 9, side: 'candidate' as const}]) {
        const requests = plan(filter, 'SELECT r.id FROM requests r', TRACE_ORDER)
        expect(requests).toContain(range)
        expect(requests).not.toContain('TEMP B-TREE')
        const children = plan(filter, 'SELECT c.pos FROM requests r JOIN tool_calls c ON c.request_rowid = r.id', `${TRACE_ORDER}, c.pos`)
        expect(children).toMatch(/^SEARCH r USING (COVERING )?INDEX requests_by_line \(run_id=\? AND line>\? AND line<\?\) \| SEARCH c USING PRIMARY KEY \(request_rowid=\?\)$/)
        expect(plan(filter, 'SELECT count(*) FROM requests r')).toContain(range)
      }
      expect(plan({fromLine: 4}, 'SELECT r.id FROM requests r', TRACE_ORDER)).toMatch(
        /^SEARCH r USING (COVERING )?INDEX requests_by_line \(run_id=\? AND line>\?\)$/,
      )
    } finally {
      db.close()
    }
  })

  it('caches statements per filter shape, not per value', () => {
    expect(filterSql({fromLine: 1, toLine: 5}).key).toBe(filterSql({fromLine: 40, toLine: 41}).key)
    expect(filterSql({fromLine: 1}).key).not.toBe(filterSql({toLine: 1}).key)
    expect(filterSql({fromLine: 1, side: 'recorded'}).key).not.toBe(filterSql({fromLine: 1}).key)
  })
})

describe('lineSplits', () => {
  it('cuts a run into consecutive line ranges of about equal trace count that cover it in order', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      const other = store.createRun(newRun())
      const traces = unevenRun(200)
      store.writeTraces(run.id, traces)
      store.writeTraces(other.id, unevenRun(400))
      const all = orderKeys(store.iterateTraces(run.id))
      expect(all).toHaveLength(traces.length)

      for (const parts of [2, 3, 4, 7, 16]) {
        const cuts = store.lineSplits(run.id, parts)
        expect(cuts).toHaveLength(parts - 1)
        cuts.forEach((c, i) => {
          expect(Number.isInteger(c)).toBe(true)
          if (i > 0) expect(c).toBeGreaterThan(cuts[i - 1]!)
        })
        expect(cuts[0]).toBeGreaterThan(1)
        const ranges: TraceFilter[] = [...cuts, undefined].map((toLine, i) => ({
          ...(i > 0 ? {fromLine: cuts[i - 1]} : {}),
          ...(toLine !== undefined ? {toLine} : {}),
        }))
        const pieces = ranges.map((r) => orderKeys(store.iterateTraces(run.id, r)))
        expect(pieces.flat()).toEqual(all)
        // Each range within one line's worth (at most 4 traces) of an equal share.
        const share = traces.length / parts
        for (const [i, r] of ranges.entries()) {
          expect(Math.abs(pieces[i]!.length - share)).toBeLessThanOrEqual(4)
          expect(store.countTraces(run.id, r)).toBe(pieces[i]!.length)
        }
      }
    })
  })

  it('never splits a line, so a small run gets fewer cuts', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      // Three lines of 1, 3 and 4 traces; the first line is 5, not 1.
      const traces = [
        trace('a', 5, 'recorded'),
        trace('b', 6, 'recorded'), trace('b', 6, 'baseline'), trace('b', 6, 'candidate'),
        trace('c', 9, 'recorded'), trace('c', 9, 'baseline'), trace('c', 9, 'candidate'), trace('c', 9, 'candidate', 1),
      ]
      store.writeTraces(run.id, traces)
      expect(store.lineSplits(run.id, 2)).toEqual([9])
      expect(store.lineSplits(run.id, 4)).toEqual([6, 9])
      // More parts than lines: every line start except the first, once each.
      expect(store.lineSplits(run.id, 3)).toEqual([6, 9])
      expect(store.lineSplits(run.id, 50)).toEqual([6, 9])
      expect(store.lineSplits(run.id, 1000)).toEqual([6, 9])

      const single = store.createRun(newRun())
      store.writeTraces(single.id, [trace('x', 3, 'recorded'), trace('x', 3, 'baseline'), trace('x', 3, 'candidate')])
      expect(store.lineSplits(single.id, 8)).toEqual([])
    })
  })

  it('returns no cuts for parts <= 1, an empty run, or an unknown run', () => {
    withStore((store) => {
      const run = store.createRun(newRun())
      expect(store.lineSplits(run.id, 4)).toEqual([])
      store.writeTraces(run.id, unevenRun(20))
      expect(store.lineSplits(run.id, 1)).toEqual([])
      expect(store.lineSplits(run.id, 0)).toEqual([])
      expect(store.lineSplits(run.id, -3)).toEqual([])
      expect(store.lineSplits(run.id, Number.NaN)).toEqual([])
      expect(store.lineSplits('r-none', 4)).toEqual([])
      expect(store.lineSplits(run.id, 2)).toHaveLength(1)
    })
  })
})
