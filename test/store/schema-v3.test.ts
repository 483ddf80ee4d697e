import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {StoreError} from '../../src/errors.js'
import type {RequestTrace} from '../../src/runtime/trace.js'
import {latestVersion, migrate, MIGRATIONS} from '../../src/store/migrations.js'
import {openStore} from '../../src/store/sqlite.js'
import {emptyTrace, inOrder, newRun, trace} from './fixtures.js'

let dir: string
let file: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-v3-'))
  file = path.join(dir, 'understudy.db')
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const RUN_ID = 'r20260101T000000-abcdef'

/**
 * A schema v2 database holding `traces`, written the way builds before v3 wrote them: one row per
 * guardrail result. Plain SQL against the v1/v2 tables, deliberately not the store's own encoders,
 * so that it keeps standing for the old layout whatever the store does now.
 */
function writeV2Store(traces: RequestTrace[]): void {
  const db = new Database(file)
  migrate(db, file, MIGRATIONS.slice(0, 2))
  expect(db.pragma('user_version', {simple: true})).toBe(2)
  const r = newRun()
  db.prepare(
    `INSERT INTO runs (id, name, status, started_at, candidate_ref, candidate_hash, baseline_ref, baseline_hash,
       traffic_file, traffic_hash, model, repeat, faults, seed, config_json)
     VALUES (?, ?, 'completed', '2026-01-01T00:00:00.000Z', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(RUN_ID, r.name, r.candidate_ref, r.candidate_hash, r.baseline_ref, r.baseline_hash, r.traffic_file,
    r.traffic_hash, r.model, r.repeat, r.faults, r.seed, JSON.stringify(r.config))
  const request = db.prepare(
    `INSERT INTO requests (run_id, request_id, line, side, repeat, tenant, user, role, status, final_answer,
       input_tokens, output_tokens, model_calls, cost_usd, latency_ms, budget_hits, error)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const step = db.prepare('INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  const call = db.prepare('INSERT INTO tool_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  const decision = db.prepare('INSERT INTO policy_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  const guardrail = db.prepare('INSERT INTO guardrail_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  db.transaction(() => {
    for (const t of traces) {
      const id = request.run(
        RUN_ID, t.request_id, t.line, t.side, t.repeat, t.tenant, t.user, t.role, t.status, t.final_answer,
        t.input_tokens, t.output_tokens, t.model_calls, t.cost_usd, t.latency_ms, JSON.stringify(t.budget_hits), t.error,
      ).lastInsertRowid
      t.steps.forEach((s, i) => step.run(id, i, s.index, s.state, s.detail, s.input_tokens, s.output_tokens, s.latency_ms))
      t.tool_calls.forEach((c, i) =>
        call.run(id, i, c.seq, c.step, c.name, c.risk, JSON.stringify(c.args), c.args_hash, c.idempotency_key, c.attempt,
          c.outcome, c.executed ? 1 : 0, c.result === null ? null : JSON.stringify(c.result), c.error, c.latency_ms),
      )
      t.policy_decisions.forEach((d, i) =>
        decision.run(id, i, d.seq, d.step, d.stage, d.tool_call_seq, d.tool, d.decision, d.reason, d.rule),
      )
      t.guardrails.forEach((g, i) => guardrail.run(id, i, g.stage, g.step, g.check, g.passed ? 1 : 0, g.severity, g.detail))
    }
  })()
  db.close()
}

/** Odd lines: varied guardrail counts (none, some, all), every side. */
function legacyTraces(): RequestTrace[] {
  const out: RequestTrace[] = []
  for (let line = 1; line <= 21; line += 2) {
    const id = `req-${line}`
    out.push(line % 5 === 0 ? emptyTrace(id, line, 'recorded') : trace(id, line, 'recorded'))
    const candidate = trace(id, line, 'candidate')
    candidate.guardrails = candidate.guardrails.slice(line % 4)
    out.push(candidate)
  }
  return out
}


function rawCount(sql: string): unknown {
  const db = new Database(file, {readonly: true})
  try {
    return db.prepare(sql).pluck().get()
  } finally {
    db.close()
  }
}

describe('schema v3: guardrail results in one column', () => {
  it('reads a v2 database with guardrail rows back identically after the upgrade', () => {
    const legacy = legacyTraces()
    writeV2Store(legacy)
    const legacyRows = legacy.reduce((n, t) => n + t.guardrails.length, 0)
    expect(legacyRows).toBeGreaterThan(0)

    const store = openStore(file)
    try {
      expect(rawCount('PRAGMA user_version')).toBe(latestVersion())
      expect([...store.iterateTraces(RUN_ID)]).toStrictEqual(inOrder(legacy))
      expect([...store.iterateTraces(RUN_ID, {side: 'candidate'})]).toStrictEqual(inOrder(legacy.filter((t) => t.side === 'candidate')))
      expect([...store.iterateTraces(RUN_ID, {requestId: 'req-7'})]).toStrictEqual(inOrder(legacy.filter((t) => t.request_id === 'req-7')))

      // A resumed run: traces stored after the upgrade sit between the old ones in traffic order.
      const fresh: RequestTrace[] = []
      for (let line = 2; line <= 22; line += 2) {
        fresh.push(trace(`req-${line}`, line, 'recorded'))
        const candidate = trace(`req-${line}`, line, 'candidate')
        candidate.guardrails = candidate.guardrails.slice(line % 3)
        fresh.push(candidate)
      }
      store.writeTraces(RUN_ID, fresh)
      const all = inOrder([...legacy, ...fresh])
      expect([...store.iterateTraces(RUN_ID)]).toStrictEqual(all)
      expect([...store.iterateTraces(RUN_ID, {side: 'candidate'})]).toStrictEqual(all.filter((t) => t.side === 'candidate'))

      // Two iterations at once each walk their own legacy cursor.
      const a = store.iterateTraces(RUN_ID)
      const b = store.iterateTraces(RUN_ID)
      const pairs: [RequestTrace, RequestTrace][] = []
      for (let x = a.next(), y = b.next(); !x.done && !y.done; x = a.next(), y = b.next()) pairs.push([x.value, y.value])
      expect(pairs.map(([x]) => x)).toStrictEqual(all)
      expect(pairs.map(([, y]) => y)).toStrictEqual(all)

      // The old rows stay as they were and the new traces added none.
      expect(rawCount('SELECT count(*) FROM guardrail_results')).toBe(legacyRows)
      expect(rawCount('SELECT count(*) FROM requests WHERE guardrails_json IS NULL')).toBe(legacy.length)

      // Deleting the run still cascades to the legacy rows.
      expect(store.deleteRun(RUN_ID)).toBe(true)
      expect(rawCount('SELECT count(*) FROM guardrail_results')).toBe(0)
    } finally {
      store.close()
    }
  })

  it('stores a trace without guardrail results as an empty list, not as legacy', () => {
    const store = openStore(file)
    try {
      const run = store.createRun(newRun())
      const bare = emptyTrace('a', 1)
      store.writeTraces(run.id, [bare])
      expect([...store.iterateTraces(run.id)]).toStrictEqual([bare])
      expect(rawCount('SELECT guardrails_json FROM requests')).toBe('[]')
    } finally {
      store.close()
    }
  })

  it('refuses a malformed guardrail result, naming the trace and field, and rolls the batch back', () => {
    const store = openStore(file)
    try {
      const run = store.createRun(newRun())
      const bad = trace('b', 2)
      bad.guardrails[2] = {...bad.guardrails[2]!, step: -1}
      const write = () => store.writeTraces(run.id, [trace('a', 1), bad])
      expect(write).toThrow(StoreError)
      expect(write).toThrow(/cannot store request "b" \(line 2, candidate, repeat 0\) of run .*: guardrails\[2\]\.step: invalid value -1/)
      const missing = trace('c', 3)
      delete (missing.guardrails[0] as Partial<RequestTrace['guardrails'][number]>).detail
      expect(() => store.writeTraces(run.id, [missing])).toThrow(/guardrails\[0\]\.detail: invalid value undefined/)
      expect(store.countTraces(run.id)).toBe(0)
    } finally {
      store.close()
    }
  })
})
