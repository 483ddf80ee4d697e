import {existsSync, mkdirSync, statSync} from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import {RunBusyError, StoreError} from '../errors.js'
import type {RequestTrace, TraceSide} from '../runtime/trace.js'
import {canonicalJson} from '../util/canonical.js'
import {
  HistoryStage,
  NewRun,
  traceKey,
  type BundleHistoryEntry,
  type BundleRecord,
  type DrillRecord,
  type NewBundleHistoryEntry,
  type NewDrillRecord,
  type RunInfo,
  type RunStatus,
  type RunWriter,
  type TraceCount,
  type TraceDatabase,
  type TraceFilter,
  type TraceKeys,
} from './api.js'
import {latestVersion, migrate, newerSchemaError, schemaVersion} from './migrations.js'
import {
  decodeRequest,
  decodeRun,
  LEGACY_CHILDREN,
  REQUEST_INSERT_COLUMNS,
  REQUEST_SELECT_COLUMNS,
  requestParams,
  RUN_SELECT,
  type ChildReader,
  type RunRow,
} from './rows.js'
import {newRunId} from './run-id.js'
import {thisWriter, writerAlive} from './run-writer.js'
import {HashedKeySet} from '../util/id-set.js'

export type OpenStoreOptions = {readonly?: boolean}

/** How long a writer waits for another process's lock before giving up with "database is locked". */
const BUSY_TIMEOUT_MS = 5000

/**
 * Opens (creating when missing, unless read-only) the trace store in `file` and brings its schema
 * up to date. `:memory:` gives a private in-memory store. Every failure is a one-line StoreError
 * naming the file.
 */
export function openStore(file: string, opts: OpenStoreOptions = {}): TraceDatabase {
  const readonly = opts.readonly ?? false
  const memory = file === ':memory:'
  const abs = memory ? file : path.resolve(file)
  if (!memory) checkPath(file, abs, readonly)
  let db: Database.Database | undefined
  try {
    db = new Database(abs, {readonly, fileMustExist: readonly})
    prepareConnection(db, file, readonly)
    return new SqliteTraceStore(db, abs, file)
  } catch (e) {
    db?.close()
    throw openError(file, e)
  }
}

function checkPath(label: string, abs: string, readonly: boolean): void {
  if (existsSync(abs)) {
    if (statSync(abs).isDirectory()) throw new StoreError(`${label}: is a directory, not a trace store file`)
    return
  }
  if (readonly) throw new StoreError(`${label}: no trace store there (opened read-only, so none was created)`)
  try {
    mkdirSync(path.dirname(abs), {recursive: true})
  } catch (e) {
    throw new StoreError(`${label}: cannot create its directory (${(e as Error).message})`, {cause: e})
  }
}

function prepareConnection(db: Database.Database, label: string, readonly: boolean): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  // Read the version before anything writes: a newer build's database must stay byte-identical.
  const version = schemaVersion(db)
  const known = latestVersion()
  if (version > known) throw newerSchemaError(label, version, known)
  if (version === 0 && hasTables(db)) {
    throw new StoreError(`${label}: not an understudy trace store (a SQLite database with other tables)`)
  }
  db.pragma('foreign_keys = ON')
  if (readonly) {
    if (version === 0) throw new StoreError(`${label}: empty database, not an understudy trace store yet`)
    if (version < known) {
      throw new StoreError(
        // Read-only commands must not write; say which command upgrades it (in place, keeping every run).
        `${label}: schema v${version} is older than this build's v${known}; upgrade it in place, keeping every run, with \`understudy runs list --db ${label}\``,
      )
    }
    return
  }
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  migrate(db, label)
}

function hasTables(db: Database.Database): boolean {
  return (db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number) > 0
}

function openError(label: string, e: unknown): StoreError {
  if (e instanceof StoreError) return e
  const code = (e as {code?: string}).code ?? ''
  const message = (e as Error).message
  if (code === 'SQLITE_NOTADB') return new StoreError(`${label}: not a SQLite database (${message})`, {cause: e})
  if (code.startsWith('SQLITE_CORRUPT')) return new StoreError(`${label}: database is corrupt (${message})`, {cause: e})
  return new StoreError(`${label}: cannot open trace store (${message})`, {cause: e})
}

/** better-sqlite3 reports misuse (closed connection, busy cursor, unbindable value) as TypeError/RangeError. */
function isDriverError(e: unknown): e is Error {
  return e instanceof Database.SqliteError || e instanceof TypeError || e instanceof RangeError
}

type FilterKey = string

class SqliteTraceStore implements TraceDatabase {
  readonly path: string
  private readonly label: string
  private readonly db: Database.Database
  private readonly stmt: ReturnType<typeof prepareFixed>
  /** Filtered SELECTs by shape; several per shape because a statement being iterated is locked. */
  private readonly pools = new Map<FilterKey, Database.Statement[]>()
  /** Cursors of traces still being iterated, ended on close so that close always succeeds. */
  private readonly openCursors = new Set<() => void>()
  private readonly writeBatch: (runId: string, traces: readonly RequestTrace[]) => void
  private readonly claim: (runId: string, writer: RunWriter) => void
  private readonly release: (runId: string, token: string, status: Exclude<RunStatus, 'running'> | undefined) => boolean

  constructor(db: Database.Database, abs: string, label: string) {
    this.db = db
    this.path = abs
    this.label = label
    this.stmt = prepareFixed(db)
    const batch = db.transaction((runId: string, traces: readonly RequestTrace[]) => {
      if (this.stmt.runExists.get(runId) === undefined) throw this.noRun(runId)
      for (const t of traces) this.insertTrace(runId, t)
    })
    // IMMEDIATE: a deferred transaction that reads first and then writes cannot wait for another
    // process's write lock (SQLITE_BUSY at once); taking the lock up front lets busy_timeout work.
    this.writeBatch = (runId, traces) => batch.immediate(runId, traces)
    const claim = db.transaction((runId: string, writer: RunWriter) => {
      if (this.stmt.runExists.get(runId) === undefined) throw this.noRun(runId)
      // Checked again under the write lock: two claimants that both saw no live writer before
      // taking it are serialised here, and the second finds the first.
      this.refuseIfHeld(runId, writer)
      this.stmt.claimWriter.run(runId, writer.token, writer.pid, writer.host, writer.pid_start, writer.claimed_at, writer.heartbeat_at)
    })
    this.claim = (runId, writer) => claim.immediate(runId, writer)
    const release = db.transaction((runId: string, token: string, status: Exclude<RunStatus, 'running'> | undefined) => {
      if (this.stmt.releaseWriter.run(runId, token).changes === 0) return false
      if (status !== undefined) this.stmt.finish.run(status, new Date().toISOString(), runId)
      return true
    })
    this.release = (runId, token, status) => release.immediate(runId, token, status)
  }

  createRun(run: NewRun): RunInfo {
    const parsed = NewRun.safeParse(run)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new StoreError(`${this.label}: cannot create run: ${issue?.path.join('.') || 'run'}: ${issue?.message}`)
    }
    const r = parsed.data
    return this.guard(() => {
      for (let attempt = 0; ; attempt++) {
        const now = new Date()
        const id = newRunId(now)
        try {
          this.stmt.insertRun.run(
            id, r.name, now.toISOString(), r.candidate_ref, r.candidate_hash, r.baseline_ref, r.baseline_hash,
            r.traffic_file, r.traffic_hash, r.model, r.repeat, r.faults, r.seed, canonicalJson(r.config),
          )
          return this.mustGetRun(id)
        } catch (e) {
          // Same second and same 6 random hex digits: vanishingly rare, so just draw again.
          if ((e as {code?: string}).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' && attempt < 5) continue
          throw e
        }
      }
    })
  }

  getRun(idOrPrefix: string): RunInfo | undefined {
    if (idOrPrefix === '') return undefined
    return this.guard(() => {
      const exact = this.stmt.runById.get(idOrPrefix) as RunRow | undefined
      if (exact) return decodeRun(exact)
      const ids = this.stmt.runIdsByPrefix.all([...idOrPrefix].length, idOrPrefix) as string[]
      if (ids.length === 0) return undefined
      if (ids.length > 1) {
        throw new StoreError(`${this.label}: run id prefix "${idOrPrefix}" is ambiguous: ${ids.join(', ')}`)
      }
      return this.mustGetRun(ids[0]!)
    })
  }

  listRuns(limit?: number): RunInfo[] {
    return this.guard(() => {
      const rows = (limit === undefined ? this.stmt.listRuns.all() : this.stmt.listRunsLimit.all(limit)) as RunRow[]
      return rows.map(decodeRun)
    })
  }

  writeTraces(runId: string, traces: RequestTrace[]): void {
    if (traces.length === 0) return
    this.guard(() => this.writeBatch(runId, traces))
  }

  private insertTrace(runId: string, t: RequestTrace): void {
    try {
      // Every list is a JSON column of the requests row (guardrails since schema v3, steps v4,
      // tool calls and policy decisions v5): a trace is one row.
      this.stmt.insertRequest.run(requestParams(runId, t))
    } catch (e) {
      const what = () =>
        `request ${JSON.stringify(t?.request_id)} (line ${t?.line}, ${t?.side}, repeat ${t?.repeat}) of run ${runId}`
      if ((e as {code?: string}).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new StoreError(`${this.label}: trace already stored: ${what()}`, {cause: e})
      }
      if (isDriverError(e)) {
        throw new StoreError(`${this.label}: cannot store ${what()}: ${(e as Error).message}`, {cause: e})
      }
      throw e
    }
  }

  setRequestsTotal(runId: string, total: number): void {
    this.guard(() => {
      if (this.stmt.setTotal.run(total, runId).changes === 0) throw this.noRun(runId)
    })
  }

  finishRun(runId: string, status: Exclude<RunStatus, 'running'>): void {
    this.guard(() => {
      if (this.stmt.finish.run(status, new Date().toISOString(), runId).changes === 0) throw this.noRun(runId)
    })
  }

  claimRun(runId: string, writer: RunWriter = thisWriter()): RunWriter {
    return this.guard(() => {
      // Refusing needs no write lock, so it is immediate even while the holder is mid-batch (or
      // stopped holding the lock); only a claim that may succeed waits for the lock.
      this.refuseIfHeld(runId, writer)
      this.claim(runId, writer)
      return writer
    })
  }

  createClaimedRun(run: NewRun, writer: RunWriter = thisWriter()): {run: RunInfo; writer: RunWriter} {
    return this.guard(() =>
      this.db
        .transaction(() => {
          const created = this.createRun(run)
          this.claim(created.id, writer)
          return {run: created, writer}
        })
        .immediate(),
    )
  }

  runWriter(runId: string): RunWriter | undefined {
    return this.guard(() => this.stmt.writerOf.get(runId) as RunWriter | undefined)
  }

  heartbeatRun(runId: string, token: string): boolean {
    return this.guard(() => this.stmt.heartbeatWriter.run(new Date().toISOString(), runId, token).changes > 0)
  }

  releaseRun(runId: string, token: string, status?: Exclude<RunStatus, 'running'>): boolean {
    return this.guard(() => this.release(runId, token, status))
  }

  /** Throws RunBusyError when a live process other than `writer` (another token) holds the run. */
  private refuseIfHeld(runId: string, writer: RunWriter): void {
    const held = this.stmt.writerOf.get(runId) as RunWriter | undefined
    if (held === undefined || held.token === writer.token || !writerAlive(held, new Date(), writer.host)) return
    throw new RunBusyError(runId, held.pid, held.host === writer.host ? null : held.host)
  }

  reopenRun(runId: string): void {
    this.guard(() => {
      if (this.stmt.reopen.run(runId).changes === 0) throw this.noRun(runId)
    })
  }

  deleteRun(id: string): boolean {
    return this.guard(() => this.stmt.deleteRun.run(id).changes > 0)
  }

  storedTraceKeys(runId: string): TraceKeys {
    return this.guard(() => {
      const keys = new HashedKeySet(this.stmt.runTraceCount.get(runId) as number)
      // Streamed: `all()` would hold every row of a million-request run at once.
      for (const [id, side, repeat] of this.stmt.keys.iterate(runId) as IterableIterator<[string, TraceSide, number]>) {
        keys.add(traceKey(id, side, repeat))
      }
      return keys
    })
  }

  countTraces(runId: string, filter: TraceFilter = {}): number {
    return this.guard(() => {
      const {key, where, params} = filterSql(filter)
      const stmt = this.take(`count${key}`, () => `SELECT count(*) FROM requests r WHERE ${where}`)
      return stmt.pluck().get(runId, ...params) as number
    })
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
    return this.guard(() => {
      const total = this.stmt.runTraceCount.get(runId) as number
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

  traceCounts(runId: string): TraceCount[] {
    return this.guard(() => this.stmt.counts.all(runId) as TraceCount[])
  }

  /**
   * Streams the run's traces. One cursor walks the requests in traffic order; a trace stored since
   * schema v5 is its row alone. For older traces a cursor per child table they still hold rows in
   * walks that table's rows in the same order (joined to requests by rowid), so each trace is
   * reassembled by a merge, with no query per request. Cursors on one connection share a read
   * snapshot, so concurrent writers never tear a trace. While iterating, this store cannot write:
   * finish (or `return()`) the iterator first.
   */
  iterateTraces(runId: string, filter: TraceFilter = {}): IterableIterator<RequestTrace> {
    return this.merge(runId, filter)
  }

  private *merge(runId: string, filter: TraceFilter): Generator<RequestTrace, void, undefined> {
    const cursors: IterableIterator<unknown>[] = []
    const end = () => {
      for (const c of cursors) c.return?.()
      cursors.length = 0
    }
    this.openCursors.add(end)
    try {
      // Statements are taken only now, on the first next(): two iterators created up front must not
      // both pick the same (not yet busy) statement.
      const {key, where, params} = this.guard(() => filterSql(filter))
      const args = [runId, ...params]
      const order = TRACE_ORDER
      const open = (shape: string, sql: () => string) =>
        this.guard(() => {
          const cursor = this.take(shape + key, sql).raw(true).iterate(...args) as IterableIterator<unknown[]>
          cursors.push(cursor)
          return cursor
        })
      const reqCursor = open('req', () =>
        `SELECT ${REQUEST_SELECT_COLUMNS.map((c) => `r.${c}`).join(', ')} FROM requests r WHERE ${where} ${order}`,
      )
      const childSql = (t: ChildReader<unknown>, extra = '') => () =>
        `SELECT c.request_rowid, ${t.columns.map((c) => `c.${c}`).join(', ')} ` +
        `FROM requests r JOIN ${t.table} c ON c.request_rowid = r.id WHERE ${where}${extra} ${order}, c.pos`
      // The requests cursor steps first and stays active to the end, so every child cursor opened
      // later reads inside its snapshot.
      let row = this.step(reqCursor)
      // Child rows of traces stored before their list became a column (steps_json NULL before
      // schema v4, tool_calls_json and policy_decisions_json before v5, guardrails_json before v3).
      // Each cursor is opened at the first trace that needs it, so a run stored since v5 walks no
      // child table; it lists only those traces' rows, so every row it yields is at or after the
      // trace being assembled.
      const legacy: (IterableIterator<unknown[]> | undefined)[] = LEGACY_CHILDREN.map(() => undefined)
      const legacyHeads: (unknown[] | undefined)[] = LEGACY_CHILDREN.map(() => undefined)
      while (row !== undefined) {
        const trace = this.decodeRow(runId, row)
        const rowid = row[0]
        for (let k = 0; k < LEGACY_CHILDREN.length; k++) {
          const old = LEGACY_CHILDREN[k]!
          if (row[old.index] !== null) continue
          let cursor = legacy[k]
          if (cursor === undefined) {
            legacy[k] = cursor = open(old.table, childSql(old, ` AND r.${old.column} IS NULL`))
            legacyHeads[k] = this.step(cursor)
          }
          const items = old.items(trace)
          let head = legacyHeads[k]
          while (head !== undefined && head[0] === rowid) {
            items.push(old.decode(head))
            head = this.step(cursor)
          }
          legacyHeads[k] = head
        }
        yield trace
        row = this.step(reqCursor)
      }
    } finally {
      end()
      this.openCursors.delete(end)
    }
  }

  /**
   * A trace from its requests row. A column that does not decode (a file edited or damaged
   * outside understudy) is a one-line StoreError naming the trace, not a JSON parser's TypeError.
   */
  private decodeRow(runId: string, row: unknown[]): RequestTrace {
    try {
      return decodeRequest(row)
    } catch (e) {
      const what = `request ${JSON.stringify(row[1])} (line ${row[2]}, ${row[3]}, repeat ${row[4]}) of run ${runId}`
      throw new StoreError(`${this.label}: stored trace of ${what} cannot be read: ${(e as Error).message}`, {cause: e})
    }
  }

  /** Called once per row read: no closure, unlike guard(). */
  private step(cursor: IterableIterator<unknown[]>): unknown[] | undefined {
    try {
      const r = cursor.next()
      return r.done ? undefined : r.value
    } catch (e) {
      throw this.storeError(e)
    }
  }

  recordBundle(hash: string, ref: string, manifest: unknown, templates?: Record<string, string>): void {
    const templatesJson = templates === undefined ? null : canonicalJson(templates)
    this.guard(() => this.stmt.insertBundle.run(hash, ref, canonicalJson(manifest), new Date().toISOString(), templatesJson))
  }

  listBundles(): BundleRecord[] {
    return this.guard(() => (this.stmt.listBundles.all() as BundleRow[]).map(decodeBundle))
  }

  getBundle(hash: string): BundleRecord | undefined {
    return this.guard(() => {
      const row = this.stmt.bundleByHash.get(hash) as BundleRow | undefined
      return row === undefined ? undefined : decodeBundle(row)
    })
  }

  addBundleHistory(entry: NewBundleHistoryEntry): BundleHistoryEntry {
    const stage = HistoryStage.safeParse(entry.stage)
    if (!stage.success) {
      throw new StoreError(`${this.label}: cannot record bundle history: stage must be one of ${HistoryStage.options.join(', ')} (got ${JSON.stringify(entry.stage)})`)
    }
    return this.guard(() => {
      const at = entry.promoted_at ?? new Date().toISOString()
      const id = this.stmt.insertHistory.run(entry.bundle_hash, entry.bundle_ref, stage.data, entry.tenant, at, entry.note).lastInsertRowid
      return {id: Number(id), bundle_hash: entry.bundle_hash, bundle_ref: entry.bundle_ref, stage: stage.data, tenant: entry.tenant, promoted_at: at, note: entry.note}
    })
  }

  listBundleHistory(): BundleHistoryEntry[] {
    return this.guard(() => this.stmt.listHistory.all() as BundleHistoryEntry[])
  }

  recordDrill(drill: NewDrillRecord): DrillRecord {
    return this.guard(() => {
      const id = this.stmt.insertDrill.run(
        drill.scenario, drill.started_at, drill.finished_at, drill.passed ? 1 : 0, canonicalJson(drill.report),
      ).lastInsertRowid
      return {id: Number(id), ...drill}
    })
  }

  listDrills(limit?: number): DrillRecord[] {
    return this.guard(() => {
      const rows = (limit === undefined ? this.stmt.listDrills.all() : this.stmt.listDrillsLimit.all(limit)) as DrillRow[]
      return rows.map((r) => ({id: r.id, scenario: r.scenario, started_at: r.started_at, finished_at: r.finished_at, passed: r.passed === 1, report: JSON.parse(r.report_json)}))
    })
  }

  close(): void {
    if (!this.db.open) return
    for (const end of this.openCursors) end()
    this.openCursors.clear()
    this.db.close()
  }

  /** A free statement of this shape, prepared on first need; a busy one (mid-iteration) is skipped. */
  private take(key: FilterKey, sql: () => string): Database.Statement {
    let pool = this.pools.get(key)
    if (pool === undefined) this.pools.set(key, (pool = []))
    const free = pool.find((s) => !s.busy)
    if (free) return free
    const stmt = this.db.prepare(sql())
    pool.push(stmt)
    return stmt
  }

  private mustGetRun(id: string): RunInfo {
    const row = this.stmt.runById.get(id) as RunRow | undefined
    if (row === undefined) throw this.noRun(id)
    return decodeRun(row)
  }

  private noRun(id: string): StoreError {
    return new StoreError(`${this.label}: no run ${id}`)
  }

  /** Driver errors become one-line StoreErrors naming the file; ours pass through. */
  private guard<T>(fn: () => T): T {
    try {
      return fn()
    } catch (e) {
      throw this.storeError(e)
    }
  }

  private storeError(e: unknown): unknown {
    if (e instanceof StoreError || !isDriverError(e)) return e
    return new StoreError(`${this.label}: ${e.message}`, {cause: e})
  }
}

type BundleRow = {hash: string; ref: string; manifest_json: string; first_seen_at: string; templates_json: string | null}
type DrillRow = {id: number; scenario: string; started_at: string; finished_at: string; passed: number; report_json: string}

function decodeBundle(b: BundleRow): BundleRecord {
  return {
    hash: b.hash,
    ref: b.ref,
    manifest: JSON.parse(b.manifest_json),
    first_seen_at: b.first_seen_at,
    templates: b.templates_json === null ? null : (JSON.parse(b.templates_json) as Record<string, string>),
  }
}

/** The contract's trace order; `requests_by_line` (run_id, line, side_rank, repeat, rowid) serves it. */
export const TRACE_ORDER = 'ORDER BY r.line, r.side_rank, r.repeat, r.id'

/**
 * WHERE clause for a filter (the requests table aliased `r`, the run id the first parameter);
 * `key` names its shape so statements are cached per shape, not per value. A line range is `r.line >= ? AND r.line < ?` right after the run id, which SQLite serves
 * from `requests_by_line` as a range of the index.
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
    params.push(filter.requestId)
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

/** NaN would bind as NULL and silently match nothing; a TypeError becomes the store's one-line error. */
function lineBound(name: string, value: number): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`trace filter ${name} must be a number (got ${JSON.stringify(value) ?? String(value)})`)
  }
  return value
}

/** Every fixed statement, prepared once per store. */
function prepareFixed(db: Database.Database) {
  return {
    runExists: db.prepare('SELECT 1 FROM runs WHERE id = ?').pluck(),
    insertRun: db.prepare(
      `INSERT INTO runs (id, name, status, started_at, candidate_ref, candidate_hash, baseline_ref, baseline_hash,
         traffic_file, traffic_hash, model, repeat, faults, seed, config_json)
       VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    runById: db.prepare(`${RUN_SELECT} WHERE id = ?`),
    runIdsByPrefix: db.prepare('SELECT id FROM runs WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 20').pluck(),
    listRuns: db.prepare(`${RUN_SELECT} ORDER BY started_at DESC, rowid DESC`),
    listRunsLimit: db.prepare(`${RUN_SELECT} ORDER BY started_at DESC, rowid DESC LIMIT ?`),
    setTotal: db.prepare('UPDATE runs SET requests_total = ? WHERE id = ?'),
    finish: db.prepare('UPDATE runs SET status = ?, finished_at = ? WHERE id = ?'),
    reopen: db.prepare(`UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?`),
    deleteRun: db.prepare('DELETE FROM runs WHERE id = ?'),
    writerOf: db.prepare('SELECT token, pid, host, pid_start, claimed_at, heartbeat_at FROM run_writers WHERE run_id = ?'),
    claimWriter: db.prepare(
      `INSERT OR REPLACE INTO run_writers (run_id, token, pid, host, pid_start, claimed_at, heartbeat_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    heartbeatWriter: db.prepare('UPDATE run_writers SET heartbeat_at = ? WHERE run_id = ? AND token = ?'),
    releaseWriter: db.prepare('DELETE FROM run_writers WHERE run_id = ? AND token = ?'),
    insertRequest: db.prepare(
      `INSERT INTO requests (${REQUEST_INSERT_COLUMNS.join(', ')})
       VALUES (${REQUEST_INSERT_COLUMNS.map(() => '?').join(', ')})`,
    ),
    keys: db.prepare('SELECT request_id, side, repeat FROM requests WHERE run_id = ?').raw(true),
    runTraceCount: db.prepare('SELECT count(*) FROM requests WHERE run_id = ?').pluck(),
    // Both walk the covering index requests_by_line from `line >= ?` on.
    lineAtOffset: db.prepare('SELECT line FROM requests WHERE run_id = ? AND line >= ? ORDER BY line LIMIT 1 OFFSET ?').pluck(),
    tracesInLines: db.prepare('SELECT count(*) FROM requests WHERE run_id = ? AND line >= ? AND line < ?').pluck(),
    counts: db.prepare(
      `SELECT side, status, count(*) AS count FROM requests WHERE run_id = ?
       GROUP BY side, status ORDER BY side_rank, status`,
    ),
    // A bundle first seen without its templates gets them from a later sighting that has them.
    insertBundle: db.prepare(
      `INSERT INTO bundles (hash, ref, manifest_json, first_seen_at, templates_json) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (hash) DO UPDATE SET templates_json = excluded.templates_json
       WHERE bundles.templates_json IS NULL AND excluded.templates_json IS NOT NULL`,
    ),
    listBundles: db.prepare('SELECT hash, ref, manifest_json, first_seen_at, templates_json FROM bundles ORDER BY first_seen_at, hash'),
    bundleByHash: db.prepare('SELECT hash, ref, manifest_json, first_seen_at, templates_json FROM bundles WHERE hash = ?'),
    insertHistory: db.prepare(
      'INSERT INTO bundle_history (bundle_hash, bundle_ref, stage, tenant, promoted_at, note) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    listHistory: db.prepare('SELECT id, bundle_hash, bundle_ref, stage, tenant, promoted_at, note FROM bundle_history ORDER BY id'),
    insertDrill: db.prepare(
      'INSERT INTO drills (scenario, started_at, finished_at, passed, report_json) VALUES (?, ?, ?, ?, ?)',
    ),
    listDrills: db.prepare('SELECT id, scenario, started_at, finished_at, passed, report_json FROM drills ORDER BY id DESC'),
    listDrillsLimit: db.prepare('SELECT id, scenario, started_at, finished_at, passed, report_json FROM drills ORDER BY id DESC LIMIT ?'),
  }
}
