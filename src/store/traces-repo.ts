import type Database from 'better-sqlite3'
import {StoreError} from '../errors.js'
import type {RequestTrace, TraceSide} from '../trace/schema.js'
import {sha256} from '../util/canonical.js'
import {HashedKeySet} from '../util/id-set.js'
import {createTextMemo, type TextMemo} from '../util/text-memo.js'
import {storedRequestId} from '../runtime/redact.js'
import type {TraceCount, TraceFilter, TraceKeys} from './api.js'
import {traceKey} from './trace-key.js'
import {isDriverError, type StoreConnection} from './database.js'
import {badRequestParam, decodeRequest, GOLDEN_PARAM, GUARDRAILS_PARAM, REQUEST_INSERT_COLUMNS, requestParams, requestSelectColumns} from './rows.js'

/**
 * Characters of guardrail-list text the writer's memo holds per generation (two generations: at most
 * twice this, ~4 MB of one-byte text): about 2,000 lists of ~1 KB, most of a run's distinct ones.
 */
const LIST_MEMO_CHARS = 1 << 21

/** The contract's trace order; `requests_by_line` (run_id, line, side_rank, repeat, rowid) serves it. */
export const TRACE_ORDER = 'ORDER BY r.line, r.side_rank, r.repeat, r.id'

/** A run's traces (`requests`, one row each). See TraceStore / TraceDatabase for the contract. */
export class TracesRepo {
  private readonly stmt: ReturnType<typeof prepare>
  /** Filtered SELECTs by shape; several per shape because a statement being iterated is locked. */
  private readonly pools = new Map<string, Database.Statement[]>()
  private readonly writeTx: (runId: string, traces: readonly RequestTrace[]) => void
  private readonly writeRowsTx: (runId: string, rows: Iterable<unknown[]>) => void
  /**
   * Guardrail lists by JSON text → key, for the lists this connection has stored or found stored in
   * a committed transaction: a text met again costs a Map lookup, not a hash and an INSERT. Dropped
   * whenever a write fails, since the rolled-back transaction may have held the only copy of a list.
   */
  private listKeys: TextMemo<string> = createTextMemo<string>(4096, LIST_MEMO_CHARS)
  private readonly storeList = (json: string): string => {
    const key = guardrailListKey(json)
    this.stmt.insertList.run(key, json)
    return key
  }

  constructor(private readonly conn: StoreConnection) {
    this.stmt = prepare(conn)
    this.writeTx = conn.immediate((runId: string, traces: readonly RequestTrace[]) => {
      if (this.stmt.runExists.get(runId) === undefined) throw conn.noRun(runId)
      for (const t of traces) this.insert(runId, traceRow(conn.label, runId, t))
    })
    this.writeRowsTx = conn.immediate((runId: string, rows: Iterable<unknown[]>) => {
      // Under the write lock, so no delete of the run can come between this and the inserts: the
      // trace writer's connection relies on it in place of SQLite's foreign-key check per row.
      if (this.stmt.runExists.get(runId) === undefined) throw conn.noRun(runId)
      for (const row of rows) this.insert(runId, row)
    })
  }

  /** Stores a batch in one transaction; a trace already stored (same run, request, side, repeat) is an error. */
  write(runId: string, traces: readonly RequestTrace[]): void {
    if (traces.length === 0) return
    this.guardWrite(() => this.writeTx(runId, traces))
  }

  /**
   * write(), for traces already encoded by traceRow (the trace writer's thread receives rows, not
   * traces). The rows are the caller's to give: each one's guardrail text is replaced by its key.
   * An iterable is consumed inside the transaction, one row inserted before the next is asked for.
   */
  writeRows(runId: string, rows: Iterable<unknown[]>): void {
    if (Array.isArray(rows) && rows.length === 0) return
    this.guardWrite(() => this.writeRowsTx(runId, rows))
  }

  private guardWrite(write: () => void): void {
    try {
      this.conn.guard(write)
    } catch (e) {
      this.listKeys = createTextMemo<string>(4096, LIST_MEMO_CHARS)
      throw e
    }
  }

  /** Inserts a traceRow, its guardrail results stored once per store under their key (see the schema). */
  private insert(runId: string, row: unknown[]): void {
    try {
      if (!this.conn.checks) {
        const bad = badRequestParam(row)
        if (bad !== undefined) throw new TypeError(bad)
      }
      const json = row[GUARDRAILS_PARAM]
      if (typeof json !== 'string') throw new TypeError('guardrails: not encoded')
      row[GUARDRAILS_PARAM] = this.listKeys.get(json, this.storeList)
      this.stmt.insert.run(row)
    } catch (e) {
      if ((e as {code?: string}).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new StoreError(`${this.conn.label}: trace already stored: ${rowWhat(runId, row)}`, {cause: e})
      }
      if (isDriverError(e)) {
        throw new StoreError(`${this.conn.label}: cannot store ${rowWhat(runId, row)}: ${(e as Error).message}`, {cause: e})
      }
      throw e
    }
  }

  /**
   * Copies run `from`'s traces into run `to` as they are stored (one INSERT … SELECT, no decoding),
   * except the candidate traces of the requests in `exceptCandidateOf` (stored ids). Returns how
   * many were copied. For `approvals apply`, whose new run re-runs only those.
   */
  copy(from: string, to: string, exceptCandidateOf: readonly string[]): number {
    return this.conn.guard(() => {
      if (this.stmt.runExists.get(to) === undefined) throw this.conn.noRun(to)
      return this.stmt.copy.run(to, from, JSON.stringify(exceptCandidateOf)).changes
    })
  }

  /** Keys of the run's stored traces (traceKey), for --resume. */
  storedKeys(runId: string): TraceKeys {
    return this.conn.guard(() => {
      const keys = new HashedKeySet(this.stmt.runCount.get(runId) as number)
      // Streamed: `all()` would hold every row of a million-request run at once.
      for (const [id, side, repeat] of this.stmt.keys.iterate(runId) as IterableIterator<[string, TraceSide, number]>) {
        keys.add(traceKey(id, side, repeat))
      }
      return keys
    })
  }

  count(runId: string, filter: TraceFilter = {}): number {
    return this.conn.guard(() => {
      const {key, where, params} = filterSql(filter)
      const stmt = this.take(`count${key}`, () => `SELECT count(*) FROM requests r WHERE ${where}`)
      return stmt.pluck().get(runId, ...params) as number
    })
  }

  /** How many traces the run holds per side and status. */
  counts(runId: string): TraceCount[] {
    return this.conn.guard(() => this.stmt.counts.all(runId) as TraceCount[])
  }

  /**
   * Cut i is the line of the trace at about i/parts of the run (in traffic order), so each range
   * holds about total/parts traces. Each cut's OFFSET counts on from the previous cut, and the
   * traces below a cut are counted from the previous one too, so the index is walked about twice
   * in all, not once per cut.
   */
  lineSplits(runId: string, parts: number): number[] {
    const n = Math.floor(parts)
    if (!(n > 1)) return []
    return this.conn.guard(() => {
      const total = this.stmt.runCount.get(runId) as number
      const cuts: number[] = []
      // Lines are >= 1, so 0 is below the first; `below` counts the run's traces with line < from.
      let from = 0
      let below = 0
      for (let i = 1; i < n; i++) {
        const target = Math.round((i * total) / n)
        if (target >= total) break
        const line = this.stmt.lineAtOffset.get(runId, from, target - below) as number | undefined
        // No such trace: the run was deleted between two of these queries (they share no snapshot).
        if (line === undefined) break
        // The same line as the previous cut: a line's traces are never split.
        if (line === from) continue
        below += this.stmt.tracesInLines.get(runId, from, line) as number
        from = line
        // A cut at the run's first line would leave the first range empty.
        if (below > 0) cuts.push(line)
      }
      return cuts
    })
  }

  /**
   * Streams the run's traces in the contract's order, one cursor step a trace, from one read
   * snapshot (a writer on another connection never tears a run). While iterating, this connection
   * cannot write: finish (or `return()`) the iterator first.
   */
  *iterate(runId: string, filter: TraceFilter = {}): Generator<RequestTrace, void, undefined> {
    // Ended once: by the loop's end, by return(), or by the store closing under it (the cursor
    // then reports done and the loop stops).
    let open: IterableIterator<unknown[]> | undefined
    const end = () => {
      const cursor = open
      open = undefined
      cursor?.return?.()
    }
    const untrack = this.conn.track(end)
    try {
      // The statement is taken only now, on the first next(): two iterators created up front must
      // not both pick the same (not yet busy) statement.
      const cursor = this.conn.guard(() => {
        const {key, where, params} = filterSql(filter)
        const guardrails = guardrailsView(filter.guardrails)
        const stmt = this.take(`req:${guardrails}${key}`, () =>
          `SELECT ${requestSelectColumns(guardrails).join(', ')} FROM requests r WHERE ${where} ${TRACE_ORDER}`,
        )
        return stmt.raw(true).iterate(runId, ...params) as IterableIterator<unknown[]>
      })
      open = cursor
      for (let row = this.step(cursor); row !== undefined; row = this.step(cursor)) yield this.decode(runId, row)
    } finally {
      end()
      untrack()
    }
  }

  /** Called once per row read: no closure, unlike guard(). */
  private step(cursor: IterableIterator<unknown[]>): unknown[] | undefined {
    try {
      const r = cursor.next()
      return r.done ? undefined : r.value
    } catch (e) {
      throw this.conn.storeError(e)
    }
  }

  /**
   * A trace from its requests row. A column that does not decode (a file edited or damaged
   * outside understudy) is a one-line StoreError naming the trace, not a JSON parser's TypeError.
   */
  private decode(runId: string, row: unknown[]): RequestTrace {
    try {
      return decodeRequest(row)
    } catch (e) {
      const what = `request ${JSON.stringify(row[1])} (line ${row[2]}, ${row[3]}, repeat ${row[4]}) of run ${runId}`
      throw new StoreError(`${this.conn.label}: stored trace of ${what} cannot be read: ${(e as Error).message}`, {cause: e})
    }
  }

  /** A free statement of this shape, prepared on first need; a busy one (mid-iteration) is skipped. */
  private take(key: string, sql: () => string): Database.Statement {
    let pool = this.pools.get(key)
    if (pool === undefined) this.pools.set(key, (pool = []))
    const free = pool.find((s) => !s.busy)
    if (free) return free
    const stmt = this.conn.db.prepare(sql())
    pool.push(stmt)
    return stmt
  }
}

/**
 * WHERE clause for a filter (the requests table aliased `r`, the run id the first parameter);
 * `key` names its shape so statements are cached per shape, not per value. A line range is
 * `r.line >= ? AND r.line < ?` right after the run id, which SQLite serves from `requests_by_line`
 * as a range of the index.
 */
export function filterSql(filter: TraceFilter): {key: string; where: string; params: unknown[]} {
  let where = 'r.run_id = ?'
  let key = ''
  const params: unknown[] = []
  if (filter.side !== undefined) {
    where += ' AND r.side = ?'
    key += 's'
    params.push(filter.side)
  }
  if (filter.requestId !== undefined) {
    where += ' AND r.request_id = ?'
    key += 'q'
    params.push(storedRequestId(filter.requestId))
  }
  if (filter.repeat !== undefined) {
    where += ' AND r.repeat = ?'
    key += 'n'
    params.push(filter.repeat)
  }
  if (filter.fromLine !== undefined) {
    where += ' AND r.line >= ?'
    key += 'f'
    params.push(lineBound('fromLine', filter.fromLine))
  }
  if (filter.toLine !== undefined) {
    where += ' AND r.line < ?'
    key += 't'
    params.push(lineBound('toLine', filter.toLine))
  }
  return {key: `:${key}`, where, params}
}

/** Which guardrail results a read selects; anything else is a TypeError, as a bad line bound is. */
function guardrailsView(value: TraceFilter['guardrails']): 'all' | 'failed' {
  if (value === undefined || value === 'all' || value === 'failed') return value ?? 'all'
  throw new TypeError(`trace filter guardrails must be 'all' or 'failed' (got ${JSON.stringify(value) ?? String(value)})`)
}

/** NaN would bind as NULL and silently match nothing; a TypeError becomes the store's one-line error. */
function lineBound(name: string, value: number): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`trace filter ${name} must be a number (got ${JSON.stringify(value) ?? String(value)})`)
  }
  return value
}

function prepare({db}: StoreConnection) {
  return {
    runExists: db.prepare('SELECT 1 FROM runs WHERE id = ?').pluck(),
    insertList: db.prepare(INSERT_GUARDRAIL_LIST),
    insert: db.prepare(
      `INSERT INTO requests (${REQUEST_INSERT_COLUMNS.join(', ')})
       VALUES (${REQUEST_INSERT_COLUMNS.map(() => '?').join(', ')})`,
    ),
    keys: db.prepare('SELECT request_id, side, repeat FROM requests WHERE run_id = ?').raw(true),
    copy: db.prepare(
      `INSERT INTO requests (${REQUEST_INSERT_COLUMNS.join(', ')})
       SELECT ?, ${REQUEST_INSERT_COLUMNS.slice(1).join(', ')} FROM requests
       WHERE run_id = ? AND NOT (side = 'candidate' AND request_id IN (SELECT value FROM json_each(?)))
       ORDER BY line, side_rank, repeat, id`,
    ),
    runCount: db.prepare('SELECT count(*) FROM requests WHERE run_id = ?').pluck(),
    // Both walk the covering index requests_by_line from `line >= ?` on.
    lineAtOffset: db.prepare('SELECT line FROM requests WHERE run_id = ? AND line >= ? ORDER BY line LIMIT 1 OFFSET ?').pluck(),
    tracesInLines: db.prepare('SELECT count(*) FROM requests WHERE run_id = ? AND line >= ? AND line < ?').pluck(),
    counts: db.prepare(
      `SELECT side, status, count(*) AS count FROM requests WHERE run_id = ?
       GROUP BY side, status ORDER BY side_rank, status`,
    ),
  }
}

/**
 * traceRow for each trace of a batch, in order. The traces of one request share one expectations
 * object (the replay gives every side the request's golden block): consecutive traces holding the
 * same object have it encoded once, which is the text each would get (nothing runs in between).
 */
export function traceRows(label: string, runId: string, traces: readonly RequestTrace[]): unknown[][] {
  const rows: unknown[][] = new Array(traces.length)
  for (let i = 0; i < traces.length; i++) {
    const golden = traces[i]?.golden
    const shared = i > 0 && golden !== undefined && golden === traces[i - 1]?.golden
    rows[i] = traceRow(label, runId, traces[i]!, shared ? (rows[i - 1]![GOLDEN_PARAM] as string | null) : undefined)
  }
  return rows
}

/**
 * A trace as its `requests` row (the parameters of the INSERT), encoded once. A trace the encoders
 * refuse (a field of the wrong type) is a StoreError naming it, as an insert refused by SQLite is.
 * `goldenJson`, when given, is encodeGolden(t.golden) already computed (traceRows).
 */
export function traceRow(label: string, runId: string, t: RequestTrace, goldenJson?: string | null): unknown[] {
  try {
    return requestParams(runId, t, goldenJson)
  } catch (e) {
    if (isDriverError(e)) {
      const what = `request ${JSON.stringify(t?.request_id)} (line ${t?.line}, ${t?.side}, repeat ${t?.repeat}) of run ${runId}`
      throw new StoreError(`${label}: cannot store ${what}: ${(e as Error).message}`, {cause: e})
    }
    throw e
  }
}

/** The trace a row is of, for messages: its request id, line, side and repeat (REQUEST_INSERT_COLUMNS 1–4). */
function rowWhat(runId: string, row: readonly unknown[]): string {
  return `request ${JSON.stringify(row[1])} (line ${row[2]}, ${row[3]}, repeat ${row[4]}) of run ${runId}`
}

/** Stores a list under its key; a key already there holds the same list (keys are of content alone). */
export const INSERT_GUARDRAIL_LIST = 'INSERT OR IGNORE INTO guardrail_lists (key, json) VALUES (?, ?)'

/**
 * The key a guardrail list is stored under: the first 32 hex digits (128 bits) of the sha256 of its
 * JSON text, so the same list has the same key in every store (see the schema).
 */
export function guardrailListKey(json: string): string {
  return sha256(json).slice(0, 32)
}
