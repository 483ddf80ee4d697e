import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {RequestTrace, TraceSide} from '../../src/trace/schema.js'
import type {TraceDatabase, TraceFilter} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'
import {filterSql, TRACE_ORDER} from '../../src/store/traces-repo.js'
import {fullTrace, newRun, skippedTrace} from '../factories/index.js'
import {orderKeys} from './trace-order.js'

let dir: string
let file: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-ranges-'))
  file = path.join(dir, 'understudy.db')
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const RUN_ID = 'r20260101T000000-abcdef'

function withStore<T>(fn: (store: TraceDatabase) => T): T {
  const store = openStore(file)
  try {
    return fn(store)
  } finally {
    store.close()
  }
}

/** Lines 1..n; line L holds 1 + L % 4 traces (sides and repeats), so lines differ in size. */
function unevenRun(n: number): RequestTrace[] {
  const shapes: [TraceSide, number][] = [['recorded', 0], ['baseline', 0], ['candidate', 0], ['candidate', 1]]
  const out: RequestTrace[] = []
  for (let line = 1; line <= n; line++) {
    for (const [side, repeat] of shapes.slice(0, 1 + (line % 4))) {
      out.push(line % 6 === 0 ? skippedTrace(`q${line}`, line, side, repeat) : fullTrace(`q${line}`, line, side, repeat))
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
      store.writeTraces(run.id, [fullTrace('a', 1)])
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
        fullTrace('a', 5, 'recorded'),
        fullTrace('b', 6, 'recorded'), fullTrace('b', 6, 'baseline'), fullTrace('b', 6, 'candidate'),
        fullTrace('c', 9, 'recorded'), fullTrace('c', 9, 'baseline'), fullTrace('c', 9, 'candidate'), fullTrace('c', 9, 'candidate', 1),
      ]
      store.writeTraces(run.id, traces)
      expect(store.lineSplits(run.id, 2)).toEqual([9])
      expect(store.lineSplits(run.id, 4)).toEqual([6, 9])
      // More parts than lines: every line start except the first, once each.
      expect(store.lineSplits(run.id, 3)).toEqual([6, 9])
      expect(store.lineSplits(run.id, 50)).toEqual([6, 9])
      expect(store.lineSplits(run.id, 1000)).toEqual([6, 9])

      const single = store.createRun(newRun())
      store.writeTraces(single.id, [fullTrace('x', 3, 'recorded'), fullTrace('x', 3, 'baseline'), fullTrace('x', 3, 'candidate')])
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
