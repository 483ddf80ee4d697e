import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {StoreError} from '../../src/errors.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {traceKey} from '../../src/store/api.js'
import {RUN_ID_PATTERN, newRunId} from '../../src/store/run-id.js'
import {openStore, type SqliteTraceStore} from '../../src/store/sqlite.js'
import {fullTrace, newRun, skippedTrace, tempStore, type TempStore} from '../factories/index.js'
import {inOrder, orderKeys} from './trace-order.js'

let tmp: TempStore
let file: string
let store: SqliteTraceStore

beforeEach(() => {
  tmp = tempStore({file: 'nested/understudy.db'})
  file = tmp.file
  store = tmp.store
})

afterEach(() => {
  store.close()
  tmp.cleanup()
})


/** Traces of lines 1..n on every side, repeats 0..1 for baseline and candidate. */
function fullRun(n: number): RequestTrace[] {
  const out: RequestTrace[] = []
  for (let line = 1; line <= n; line++) {
    const id = `req-${String(line).padStart(4, '0')}`
    out.push(line % 5 === 0 ? skippedTrace(id, line, 'recorded') : fullTrace(id, line, 'recorded'))
    for (const side of ['baseline', 'candidate'] as const) {
      for (const repeat of [0, 1]) out.push(line % 7 === 0 ? skippedTrace(id, line, side, repeat) : fullTrace(id, line, side, repeat))
    }
  }
  return out
}

/** Deterministic shuffle so that insertion order differs from traffic order. */
function scrambled<T>(items: T[]): T[] {
  const out = [...items]
  let seed = 7
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    const j = seed % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

describe('runs', () => {
  it('creates a run with a sortable short id and reads it back', () => {
    const run = store.createRun(newRun())
    expect(run.id).toMatch(RUN_ID_PATTERN)
    expect(run).toMatchObject({...newRun(), status: 'running', finished_at: null, requests_done: 0, requests_total: null})
    expect(Date.parse(run.started_at)).not.toBeNaN()
    expect(store.getRun(run.id)).toStrictEqual(run)
  })

  it('makes run ids from the UTC time and 6 hex digits', () => {
    expect(newRunId(new Date('2026-11-25T14:30:12.999Z'), () => '3fa9c1')).toBe('r20261125T143012-3fa9c1')
    expect(newRunId(new Date('2026-11-25T14:30:12Z')) < newRunId(new Date('2026-11-25T14:30:13Z'))).toBe(true)
  })

  it('refuses invalid run metadata', () => {
    expect(() => store.createRun({...newRun(), repeat: 0})).toThrow(/cannot create run: repeat/)
    expect(store.listRuns()).toEqual([])
  })

  it('lists newest first and honours a limit', () => {
    const ids = [1, 2, 3].map((i) => store.createRun(newRun({name: `run ${i}`})).id)
    expect(store.listRuns().map((r) => r.id)).toEqual([...ids].reverse())
    expect(store.listRuns(2).map((r) => r.id)).toEqual([ids[2], ids[1]])
  })

  it('finds a run by a unique prefix and reports an ambiguous one with its matches', () => {
    const a = store.createRun(newRun())
    const b = store.createRun(newRun())
    let i = 0
    while (a.id[i] === b.id[i]) i++
    const unique = a.id.slice(0, i + 1)
    expect(b.id.startsWith(unique)).toBe(false)
    expect(store.getRun(unique)?.id).toBe(a.id)
    expect(() => store.getRun('r')).toThrow(StoreError)
    try {
      store.getRun('r')
    } catch (e) {
      expect((e as Error).message).toContain('ambiguous')
      expect((e as Error).message).toContain(a.id)
      expect((e as Error).message).toContain(b.id)
    }
    expect(store.getRun('x-no-such')).toBeUndefined()
    expect(store.getRun('')).toBeUndefined()
  })

  it('tracks totals, progress and the finish', () => {
    const run = store.createRun(newRun())
    store.setRequestsTotal(run.id, 10)
    store.writeTraces(run.id, [fullTrace('a', 1, 'baseline'), fullTrace('a', 1, 'candidate'), fullTrace('b', 2, 'candidate', 1)])
    expect(store.getRun(run.id)).toMatchObject({requests_done: 2, requests_total: 10, status: 'running'})
    store.finishRun(run.id, 'interrupted')
    const finished = store.getRun(run.id)!
    expect(finished.status).toBe('interrupted')
    expect(finished.finished_at).not.toBeNull()
    store.reopenRun(run.id)
    expect(store.getRun(run.id)).toMatchObject({status: 'running', finished_at: null})
    expect(() => store.finishRun('r-none', 'completed')).toThrow(/no run r-none/)
    expect(() => store.setRequestsTotal('r-none', 1)).toThrow(StoreError)
  })

  it('deletes a run with all of its rows', () => {
    const keep = store.createRun(newRun())
    const drop = store.createRun(newRun())
    store.writeTraces(keep.id, [fullTrace('a', 1)])
    // A list only the dropped run names goes with it; the one both runs name stays.
    const own = {...fullTrace('c', 3), guardrails: [{stage: 'pre_model', step: 0, check: 'input_size', passed: true, severity: 'info', detail: 'only here'}]} as RequestTrace
    store.writeTraces(drop.id, [fullTrace('a', 1), fullTrace('b', 2), own])
    const lists = () => {
      const db = new Database(file, {readonly: true})
      try {
        return db.prepare('SELECT json_array_length(json) FROM guardrail_lists ORDER BY 1').pluck().all()
      } finally {
        db.close()
      }
    }
    expect(lists()).toEqual([1, 6])
    expect(store.deleteRun(drop.id)).toBe(true)
    expect(lists()).toEqual([6])
    expect(store.deleteRun(drop.id)).toBe(false)
    expect(store.getRun(drop.id)).toBeUndefined()
    store.close()
    const raw = new Database(file, {readonly: true})
    const count = (t: string) => raw.prepare(`SELECT count(*) FROM ${t}`).pluck().get()
    // Only the kept run's single trace remains: the cascade ran.
    expect(count('requests')).toBe(1)
    // Every list lives on the requests row (guardrail results by key), so the audit views list the kept trace's elements only.
    expect(raw.prepare('SELECT json_array_length(g.json) FROM requests r JOIN guardrail_lists g ON g.key = r.guardrail_list').pluck().all()).toEqual([6])
    expect(raw.prepare('SELECT json_array_length(steps_json) FROM requests').pluck().all()).toEqual([5])
    expect(raw.prepare('SELECT json_array_length(tool_calls_json) FROM requests').pluck().all()).toEqual([3])
    expect(raw.prepare('SELECT json_array_length(policy_decisions_json) FROM requests').pluck().all()).toEqual([3])
    expect([count('trace_guardrails'), count('trace_steps'), count('trace_tool_calls'), count('trace_policy_decisions')]).toEqual([6, 5, 3, 3])
    raw.close()
    store = openStore(file)
  })
})

describe('traces', () => {
  it('round-trips every field exactly', () => {
    const run = store.createRun(newRun())
    const traces = fullRun(12)
    store.writeTraces(run.id, scrambled(traces))
    const back = [...store.iterateTraces(run.id)]
    expect(back).toStrictEqual(inOrder(traces))
    // Spot-check the awkward values survived as themselves, not as lookalikes.
    const t = back.find((x) => x.tool_calls.length > 0)!
    expect(t.tool_calls[0]!.executed).toBe(true)
    expect(t.tool_calls[1]!.executed).toBe(false)
    expect(t.tool_calls[1]!.result).toBeNull()
    expect(t.tool_calls[0]!.args).toEqual({order_id: expect.any(String), include: ['items', 'payments'], opts: {deep: {deeper: [1, {x: null}]}}})
    expect(t.guardrails[1]!.passed).toBe(false)
    expect(t.final_answer).toContain('\u0000')
    expect(t.cost_usd).toBe(0.0123456789)
  })

  it('orders by line, then recorded/baseline/candidate, then repeat, and filters', () => {
    const run = store.createRun(newRun())
    const traces = fullRun(9)
    store.writeTraces(run.id, scrambled(traces).slice(0, 20))
    store.writeTraces(run.id, scrambled(traces).slice(20))
    const expected = (pred: (t: RequestTrace) => boolean) => orderKeys(inOrder(traces).filter(pred))

    expect(orderKeys(store.iterateTraces(run.id))).toEqual(expected(() => true))
    expect(orderKeys(store.iterateTraces(run.id)).slice(0, 5)).toEqual([
      '1/recorded/0', '1/baseline/0', '1/baseline/1', '1/candidate/0', '1/candidate/1',
    ])
    expect(orderKeys(store.iterateTraces(run.id, {side: 'candidate'}))).toEqual(expected((t) => t.side === 'candidate'))
    expect(orderKeys(store.iterateTraces(run.id, {repeat: 1}))).toEqual(expected((t) => t.repeat === 1))
    expect(orderKeys(store.iterateTraces(run.id, {requestId: 'req-0007'}))).toEqual(expected((t) => t.request_id === 'req-0007'))
    const combo = {side: 'baseline', requestId: 'req-0003', repeat: 1} as const
    expect([...store.iterateTraces(run.id, combo)]).toStrictEqual([fullTrace('req-0003', 3, 'baseline', 1)])

    expect(store.countTraces(run.id)).toBe(traces.length)
    expect(store.countTraces(run.id, {side: 'recorded'})).toBe(9)
    expect(store.countTraces(run.id, {side: 'candidate', repeat: 0})).toBe(9)
    expect(store.countTraces(run.id, combo)).toBe(1)
    expect(store.countTraces('r-none')).toBe(0)
  })

  it('keeps runs apart', () => {
    const a = store.createRun(newRun())
    const b = store.createRun(newRun())
    store.writeTraces(a.id, [fullTrace('x', 1)])
    store.writeTraces(b.id, [fullTrace('x', 1), fullTrace('y', 2)])
    expect([...store.iterateTraces(a.id)]).toStrictEqual([fullTrace('x', 1)])
    expect(store.countTraces(b.id)).toBe(2)
  })

  it('reports stored keys for --resume', () => {
    const run = store.createRun(newRun())
    store.writeTraces(run.id, [fullTrace('a', 1, 'baseline'), fullTrace('a', 1, 'candidate', 1), skippedTrace('b', 2)])
    const keys = store.storedTraceKeys(run.id)
    expect(keys.size).toBe(3)
    for (const k of [traceKey('a', 'baseline', 0), traceKey('a', 'candidate', 1), traceKey('b', 'recorded', 0)]) expect(keys.has(k)).toBe(true)
    // Neighbours of stored keys: other side, other repeat, other request, another run's.
    for (const k of [traceKey('a', 'candidate', 0), traceKey('a', 'baseline', 1), traceKey('b', 'candidate', 0), traceKey('c', 'recorded', 0)]) expect(keys.has(k)).toBe(false)
    expect(store.storedTraceKeys('r-none').size).toBe(0)
  })

  it('refuses a duplicate trace, names it, and keeps the earlier batch', () => {
    const run = store.createRun(newRun())
    const first = [fullTrace('a', 1), fullTrace('b', 2)]
    store.writeTraces(run.id, first)
    const again = () => store.writeTraces(run.id, [fullTrace('c', 3), fullTrace('b', 2)])
    expect(again).toThrow(StoreError)
    expect(again).toThrow(/trace already stored: request "b" \(line 2, candidate, repeat 0\)/)
    // The whole second batch rolled back, 'c' included; the first is untouched.
    expect([...store.iterateTraces(run.id)]).toStrictEqual(first)
  })

  it('rolls a batch back wholly when one trace in the middle is bad', () => {
    const run = store.createRun(newRun())
    store.writeTraces(run.id, [fullTrace('a', 1)])
    const bad = {...fullTrace('m', 5), line: 2.5}
    const batch = [fullTrace('k', 3), fullTrace('l', 4), bad, fullTrace('n', 6)]
    expect(() => store.writeTraces(run.id, batch)).toThrow(/cannot store request "m" \(line 2.5, candidate, repeat 0\)/)
    const negative = {...fullTrace('m', 5), cost_usd: -1}
    expect(() => store.writeTraces(run.id, [fullTrace('k', 3), negative])).toThrow(/cost_usd >= 0/)
    const missing = {...fullTrace('m', 5), status: undefined} as unknown as RequestTrace
    expect(() => store.writeTraces(run.id, [fullTrace('k', 3), missing])).toThrow(StoreError)
    expect(store.countTraces(run.id)).toBe(1)
    expect([...store.iterateTraces(run.id)]).toStrictEqual([fullTrace('a', 1)])
    store.close()
    // Nothing of the failed batches: only the kept trace's lists.
    const raw = new Database(file, {readonly: true})
    expect(raw.prepare('SELECT count(*) FROM trace_tool_calls').pluck().get()).toBe(3)
    expect(raw.prepare('SELECT sum(json_array_length(g.json)) FROM requests r JOIN guardrail_lists g ON g.key = r.guardrail_list').pluck().get()).toBe(6)
    raw.close()
    store = openStore(file)
  })

  it('stores a guardrail list again after the batch that first stored it was rolled back', () => {
    const run = store.createRun(newRun())
    const fresh = {...fullTrace('p', 1), guardrails: [{stage: 'pre_model', step: 0, check: 'input_size', passed: true, severity: 'info', detail: 'first met in a lost batch'}]} as RequestTrace
    expect(() => store.writeTraces(run.id, [fresh, {...fullTrace('q', 2), line: 2.5}])).toThrow(StoreError)
    store.writeTraces(run.id, [fresh])
    expect([...store.iterateTraces(run.id)]).toStrictEqual([fresh])
  })

  it('refuses traces for a run that does not exist', () => {
    expect(() => store.writeTraces('r-none', [fullTrace('a', 1)])).toThrow(/no run r-none/)
  })

  it('reports a stored trace that no longer decodes as one line naming it, after the traces before it', () => {
    const run = store.createRun(newRun())
    store.writeTraces(run.id, [fullTrace('a', 1), fullTrace('b', 2), fullTrace('c', 3)])
    store.close()
    const raw = new Database(file)
    // Damaged outside understudy: the column is no longer JSON.
    expect(raw.prepare(`UPDATE requests SET steps_json = '[[0,' WHERE request_id = 'b'`).run().changes).toBe(1)
    raw.close()
    store = openStore(file, {readonly: true})
    const seen: string[] = []
    const read = () => {
      for (const t of store.iterateTraces(run.id)) seen.push(t.request_id)
    }
    expect(read).toThrow(StoreError)
    expect(read).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: stored trace of request "b" \\(line 2, candidate, repeat 0\\) of run ${run.id} cannot be read: [^\\n]+$`))
    expect(seen[0]).toBe('a')
    expect(seen).not.toContain('c')
  })

  it('reports a trace whose guardrail list is missing from the store as one line naming it', () => {
    const run = store.createRun(newRun())
    const own = {...fullTrace('b', 2), guardrails: [{stage: 'pre_model', step: 0, check: 'input_size', passed: true, severity: 'info', detail: 'b only'}]} as RequestTrace
    store.writeTraces(run.id, [fullTrace('a', 1), own])
    store.close()
    const raw = new Database(file)
    // Damaged outside understudy: b's list deleted, a's (another list) kept.
    expect(raw.prepare(`DELETE FROM guardrail_lists WHERE key = (SELECT guardrail_list FROM requests WHERE request_id = 'b')`).run().changes).toBe(1)
    raw.close()
    store = openStore(file, {readonly: true})
    // Reads of the failing results only never look the list up.
    expect([...store.iterateTraces(run.id, {guardrails: 'failed'})].map((t) => t.request_id)).toEqual(['a', 'b'])
    expect(() => [...store.iterateTraces(run.id)]).toThrow(
      new RegExp(`: stored trace of request "b" \\(line 2, candidate, repeat 0\\) of run ${run.id} cannot be read: guardrail results: the list the row names is not in the store$`),
    )
  })

  it('keeps each trace\'s lists its own across many traces, some without any', () => {
    const run = store.createRun(newRun())
    const traces: RequestTrace[] = []
    for (let line = 1; line <= 600; line++) {
      const t = line % 3 === 0 ? skippedTrace(`q${line}`, line, 'candidate') : fullTrace(`q${line}`, line, 'candidate')
      // Vary the list lengths so that a trace given another's lists would show.
      t.steps = t.steps.slice(0, line % 6)
      t.guardrails = t.guardrails.slice(line % 4)
      traces.push(t)
    }
    for (let i = 0; i < traces.length; i += 100) store.writeTraces(run.id, scrambled(traces.slice(i, i + 100)))
    expect([...store.iterateTraces(run.id)]).toStrictEqual(traces)
  })

  it('allows concurrent iterations and releases cursors on early exit', () => {
    const run = store.createRun(newRun())
    store.writeTraces(run.id, fullRun(4))
    const base = store.iterateTraces(run.id, {side: 'baseline'})
    const cand = store.iterateTraces(run.id, {side: 'candidate'})
    const pairs: string[] = []
    for (;;) {
      const b = base.next()
      const c = cand.next()
      if (b.done || c.done) {
        expect(b.done && c.done).toBe(true)
        break
      }
      pairs.push(`${b.value.request_id}:${b.value.side}/${c.value.side}`)
    }
    expect(pairs).toHaveLength(8)
    expect(pairs[0]).toBe('req-0001:baseline/candidate')

    // Writing while a cursor is open is refused cleanly; after leaving the loop early it works.
    for (const t of store.iterateTraces(run.id)) {
      expect(() => store.writeTraces(run.id, [fullTrace('late', 99)])).toThrow(StoreError)
      expect(t.line).toBe(1)
      break
    }
    store.writeTraces(run.id, [fullTrace('late', 99)])
    expect(store.countTraces(run.id, {requestId: 'late'})).toBe(1)
  })

  it('iterates one snapshot while another connection writes', () => {
    const run = store.createRun(newRun())
    store.writeTraces(run.id, fullRun(3))
    const writer = openStore(file)
    const seen: RequestTrace[] = []
    for (const t of store.iterateTraces(run.id)) {
      // Lands mid-iteration from a second connection; WAL lets it commit, the reader must not see it.
      if (seen.length === 0) writer.writeTraces(run.id, [fullTrace('new', 1, 'recorded', 0), fullTrace('new', 2)])
      seen.push(t)
    }
    writer.close()
    expect(seen).toHaveLength(15)
    expect(seen.some((t) => t.request_id === 'new')).toBe(false)
    expect(store.countTraces(run.id)).toBe(17)
  })

  it('closes with a cursor still open, twice, and refuses use afterwards', () => {
    const run = store.createRun(newRun())
    store.writeTraces(run.id, fullRun(2))
    const it = store.iterateTraces(run.id)
    it.next()
    store.close()
    store.close()
    expect(() => store.listRuns()).toThrow(StoreError)
    store = openStore(file)
  })
})

describe('bundles', () => {
  it('keeps the first sighting of each bundle hash', () => {
    store.recordBundle('h1', 'support@1.0.0#h1', {name: 'support', tools: [{name: 'x', enabled: true}]})
    store.recordBundle('h2', 'support@2.0.0#h2', {name: 'support', version: '2.0.0'})
    store.recordBundle('h1', 'renamed@9#h1', {other: true})
    const bundles = store.listBundles()
    expect(bundles.map((b) => [b.hash, b.ref])).toEqual([
      ['h1', 'support@1.0.0#h1'],
      ['h2', 'support@2.0.0#h2'],
    ])
    expect(bundles[0]!.manifest).toEqual({name: 'support', tools: [{name: 'x', enabled: true}]})
  })
})

describe('repositories', () => {
  it('share the one connection the facade uses: its data, its transactions, its cursors', () => {
    const run = store.runs.create(newRun())
    expect(store.getRun(run.id)).toStrictEqual(run)
    store.traces.write(run.id, [fullTrace('a', 1), fullTrace('b', 2)])
    expect(store.countTraces(run.id)).toBe(2)
    expect(store.runs.get(run.id)?.requests_done).toBe(2)
    const {writer} = store.createClaimedRun(newRun())
    expect(store.runs.list().map((r) => r.id)).toContain(run.id)
    expect(writer.pid).toBe(process.pid)
    store.bundles.record('h1', 'support@1.0.0#h1', {name: 'support'}, {'system.md': 'be brief'})
    expect(store.getBundle('h1')?.templates).toEqual({'system.md': 'be brief'})
    // An iteration through one repository holds the connection: a write through another waits for it.
    for (const t of store.traces.iterate(run.id)) {
      expect(() => store.drills.record({scenario: 's', started_at: 'a', finished_at: 'b', passed: true, report: {}})).toThrow(StoreError)
      expect(t.request_id).toBe('a')
      break
    }
    expect(store.drills.record({scenario: 's', started_at: 'a', finished_at: 'b', passed: true, report: {}}).id).toBeGreaterThan(0)
    expect(store.listDrills()).toHaveLength(1)
  })
})
