import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {RequestTrace} from '../../src/trace/schema.js'
import {openStore} from '../../src/store/sqlite.js'
import {fullTrace, newRun} from '../factories/index.js'
import {awkwardCalls, awkwardDecisions} from './awkward.js'

// The trace_* views: every list element of every trace, queryable in plain SQL for audit.

let dir: string
let file: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-views-'))
  file = path.join(dir, 'understudy.db')
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

function withRaw<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(file, {readonly: true})
  try {
    return fn(db)
  } finally {
    db.close()
  }
}



/** request_rowid and pos, then each tuple's fields by name, in this order. */
const VIEWS = {
  trace_steps: ['request_rowid', 'pos', 'step_index', 'state', 'detail', 'input_tokens', 'output_tokens', 'latency_ms'],
  trace_guardrails: ['request_rowid', 'pos', 'stage', 'step', 'check', 'passed', 'severity', 'detail'],
  trace_tool_calls: [
    'request_rowid', 'pos', 'seq', 'step', 'name', 'risk', 'args_json', 'args_hash', 'idempotency_key', 'attempt',
    'outcome', 'executed', 'result_json', 'error', 'latency_ms', 'attack', 'approval', 'approved_by',
  ],
  trace_policy_decisions: ['request_rowid', 'pos', 'seq', 'step', 'stage', 'tool_call_seq', 'tool', 'decision', 'reason', 'rule'],
} as const
type View = keyof typeof VIEWS

/** A value and the SQL type the view gives it: latencies REAL even when whole, booleans 0/1 INTEGERs. */
type Cell = [unknown, 'integer' | 'real' | 'text' | 'null']
const int = (v: number): Cell => [v, 'integer']
const real = (v: number): Cell => [v, 'real']
const text = (v: string | null): Cell => (v === null ? [null, 'null'] : [v, 'text'])
const intOrNull = (v: number | null): Cell => (v === null ? [null, 'null'] : int(v))
const jsonText = (v: unknown): Cell => text(v === null || v === undefined ? null : JSON.stringify(v))

/** What each view should list for `t`: one row of cells per element, after request_rowid and pos. */
function expectedCells(view: View, t: RequestTrace): Cell[][] {
  switch (view) {
    case 'trace_steps':
      return t.steps.map((s) => [int(s.index), text(s.state), text(s.detail), int(s.input_tokens), int(s.output_tokens), real(s.latency_ms)])
    case 'trace_guardrails':
      return t.guardrails.map((g) => [text(g.stage), int(g.step), text(g.check), int(g.passed ? 1 : 0), text(g.severity), text(g.detail)])
    case 'trace_tool_calls':
      return t.tool_calls.map((c) => [
        int(c.seq), int(c.step), text(c.name), text(c.risk), jsonText(c.args), text(c.args_hash), text(c.idempotency_key),
        int(c.attempt), text(c.outcome), int(c.executed ? 1 : 0), jsonText(c.result), text(c.error), real(c.latency_ms), text(c.attack ?? null),
        text(c.approval?.decision ?? null), text(c.approval?.by ?? null),
      ])
    case 'trace_policy_decisions':
      return t.policy_decisions.map((d) => [
        int(d.seq), int(d.step), text(d.stage), intOrNull(d.tool_call_seq), text(d.tool), text(d.decision), text(d.reason), text(d.rule),
      ])
  }
}

/** The fixture's lists with the awkward calls and decisions after them. */
function auditedTrace(id: string, line: number): RequestTrace {
  const t = fullTrace(id, line)
  t.tool_calls = [...t.tool_calls, ...awkwardCalls()]
  t.policy_decisions = [...t.policy_decisions, ...awkwardDecisions()]
  return t
}

/** Two traces with the same lists, on lines 1 and 2; their requests rowids. */
function twoTraces(): {first: number; second: number; written: RequestTrace} {
  const written = auditedTrace('first', 1)
  const store = openStore(file)
  try {
    store.writeTraces(store.createRun(newRun()).id, [written, {...written, request_id: 'second', line: 2}])
  } finally {
    store.close()
  }
  return withRaw((db) => {
    const id = (request: string) => db.prepare('SELECT id FROM requests WHERE request_id = ?').pluck().get(request) as number
    return {first: id('first'), second: id('second'), written}
  })
}

describe('audit views', () => {
  it('have request_rowid, pos, then the fields of each tuple by name', () => {
    openStore(file).close()
    withRaw((db) => {
      const columns = (name: string) => (db.pragma(`table_info(${name})`) as {name: string}[]).map((c) => c.name)
      for (const [view, cols] of Object.entries(VIEWS)) expect(columns(view)).toEqual(cols)
    })
  })

  it('list every element of a trace, in list order, with its values and SQL types', () => {
    const {first, second, written} = twoTraces()
    withRaw((db) => {
      for (const [view, cols] of Object.entries(VIEWS) as [View, readonly string[]][]) {
        const fields = cols.slice(2).map((c) => `"${c}"`)
        // typeof() too: a REAL column must not come back as an INTEGER for a whole-number latency.
        const select = `SELECT pos, ${fields.join(', ')}, ${fields.map((c) => `typeof(${c})`).join(', ')} FROM ${view} WHERE request_rowid = ? ORDER BY pos`
        const rows = (id: number) => db.prepare(select).raw().all(id) as unknown[][]
        const cells = expectedCells(view, written)
        expect(cells.length).toBeGreaterThan(0)
        const want = cells.map((row, pos) => [pos, ...row.map(([v]) => v), ...row.map(([, type]) => type)])
        expect(rows(first)).toStrictEqual(want)
        expect(rows(second)).toStrictEqual(want)
      }
    })
  })

  it('answer audit queries across traces: by tool, by decision and reason, by an argument', () => {
    const {first, second} = twoTraces()
    withRaw((db) => {
      expect(db.prepare("SELECT request_rowid FROM trace_tool_calls WHERE name = 'issue_refund' ORDER BY request_rowid").pluck().all()).toEqual([
        first, first, second, second,
      ])
      expect(db.prepare("SELECT DISTINCT request_rowid FROM trace_policy_decisions WHERE decision = 'deny' AND reason = 'INJECTION_IN_INPUT' ORDER BY 1").pluck().all()).toEqual([first, second])
      // JSON columns hold JSON text, a missing result is NULL.
      const call = (id: number, pos: number) =>
        db.prepare('SELECT args_json, result_json FROM trace_tool_calls WHERE request_rowid = ? AND pos = ?').raw().get(id, pos)
      const awkward = awkwardCalls()[0]!
      expect(call(second, 3)).toEqual([JSON.stringify(awkward.args), JSON.stringify(awkward.result)])
      expect(call(second, 1)).toEqual([JSON.stringify(fullTrace('x', 1).tool_calls[1]!.args), null])
      expect(db.prepare("SELECT count(*) FROM trace_tool_calls WHERE json_extract(args_json, '$.amount') = 92.13").pluck().get()).toBe(2)
      expect(db.prepare('SELECT count(*) FROM trace_steps WHERE request_rowid IN (?, ?)').pluck().get(first, second)).toBe(10)
    })
  })
})
