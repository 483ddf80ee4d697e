import {RunBusyError, StoreError} from '../errors.js'
import {canonicalJson} from '../util/canonical.js'
import {NewRun, type RunInfo, type RunStatus, type RunWriter} from './api.js'
import type {StoreConnection} from './database.js'
import {decodeRun, RUN_SELECT, type RunRow} from './rows.js'
import {newRunId} from './run-id.js'
import {thisWriter, writerAlive} from './run-writer.js'

type FinalStatus = Exclude<RunStatus, 'running'>

/** Runs and the one process writing each (`runs`, `run_writers`). See TraceDatabase for the contract. */
export class RunsRepo {
  private readonly stmt: ReturnType<typeof prepare>
  private readonly claimTx: (runId: string, writer: RunWriter) => void
  private readonly releaseTx: (runId: string, token: string, status: FinalStatus | undefined) => boolean
  private readonly createClaimedTx: (run: NewRun, writer: RunWriter) => {run: RunInfo; writer: RunWriter}
  private readonly deleteTx: (id: string) => boolean

  constructor(private readonly conn: StoreConnection) {
    this.stmt = prepare(conn)
    this.claimTx = conn.immediate((runId: string, writer: RunWriter) => {
      if (this.stmt.exists.get(runId) === undefined) throw conn.noRun(runId)
      // Checked again under the write lock: two claimants that both saw no live writer before
      // taking it are serialised here, and the second finds the first.
      this.refuseIfHeld(runId, writer)
      this.stmt.claimWriter.run(runId, writer.token, writer.pid, writer.host, writer.pid_start, writer.claimed_at, writer.heartbeat_at)
    })
    this.releaseTx = conn.immediate((runId: string, token: string, status: FinalStatus | undefined) => {
      if (this.stmt.releaseWriter.run(runId, token).changes === 0) return false
      if (status !== undefined) this.stmt.finish.run(status, new Date().toISOString(), runId)
      return true
    })
    this.createClaimedTx = conn.immediate((run: NewRun, writer: RunWriter) => {
      const created = this.create(run)
      this.claimTx(created.id, writer)
      return {run: created, writer}
    })
    this.deleteTx = conn.immediate((id: string) => {
      if (this.stmt.delete.run(id).changes === 0) return false
      this.stmt.deleteUnusedLists.run()
      return true
    })
  }

  create(run: NewRun): RunInfo {
    const parsed = NewRun.safeParse(run)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new StoreError(`${this.conn.label}: cannot create run: ${issue?.path.join('.') || 'run'}: ${issue?.message}`)
    }
    const r = parsed.data
    return this.conn.guard(() => {
      for (let attempt = 0; ; attempt++) {
        const now = new Date()
        const id = newRunId(now)
        try {
          this.stmt.insert.run(
            id, r.name, now.toISOString(), r.candidate_ref, r.candidate_hash, r.baseline_ref, r.baseline_hash,
            r.traffic_file, r.traffic_hash, r.model, r.repeat, r.faults, r.seed, canonicalJson(r.config),
          )
          return this.mustGet(id)
        } catch (e) {
          // Same second and same 6 random hex digits: vanishingly rare, so just draw again.
          if ((e as {code?: string}).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' && attempt < 5) continue
          throw e
        }
      }
    })
  }

  /** By full id or by a unique prefix; undefined when none matches, a StoreError when several do. */
  get(idOrPrefix: string): RunInfo | undefined {
    if (idOrPrefix === '') return undefined
    return this.conn.guard(() => {
      const exact = this.stmt.byId.get(idOrPrefix) as RunRow | undefined
      if (exact) return decodeRun(exact)
      const ids = this.stmt.idsByPrefix.all([...idOrPrefix].length, idOrPrefix) as string[]
      if (ids.length === 0) return undefined
      if (ids.length > 1) {
        throw new StoreError(`${this.conn.label}: run id prefix "${idOrPrefix}" is ambiguous: ${ids.join(', ')}`)
      }
      return this.mustGet(ids[0]!)
    })
  }

  /** Newest first; at most `limit` runs when given. */
  list(limit?: number): RunInfo[] {
    return this.conn.guard(() => {
      const rows = (limit === undefined ? this.stmt.list.all() : this.stmt.listLimit.all(limit)) as RunRow[]
      return rows.map(decodeRun)
    })
  }

  setRequestsTotal(runId: string, total: number): void {
    this.conn.guard(() => {
      if (this.stmt.setTotal.run(total, runId).changes === 0) throw this.conn.noRun(runId)
    })
  }

  finish(runId: string, status: FinalStatus): void {
    this.conn.guard(() => {
      if (this.stmt.finish.run(status, new Date().toISOString(), runId).changes === 0) throw this.conn.noRun(runId)
    })
  }

  /** Back to `running` (finished_at cleared). */
  reopen(runId: string): void {
    this.conn.guard(() => {
      if (this.stmt.reopen.run(runId).changes === 0) throw this.conn.noRun(runId)
    })
  }

  /**
   * By exact id; its traces and claim go with it (ON DELETE CASCADE), and so do the guardrail lists
   * no other trace names (a scan of `requests`, once per deletion).
   */
  delete(id: string): boolean {
    return this.conn.guard(() => this.deleteTx(id))
  }

  claim(runId: string, writer: RunWriter = thisWriter()): RunWriter {
    return this.conn.guard(() => {
      // Refusing needs no write lock, so it is immediate even while the holder is mid-batch (or
      // stopped holding the lock); only a claim that may succeed waits for the lock.
      this.refuseIfHeld(runId, writer)
      this.claimTx(runId, writer)
      return writer
    })
  }

  /** create and claim in one transaction: nobody can claim the new run before its creator. */
  createClaimed(run: NewRun, writer: RunWriter = thisWriter()): {run: RunInfo; writer: RunWriter} {
    return this.conn.guard(() => this.createClaimedTx(run, writer))
  }

  /** The run's claim as stored (live or stale), if any. */
  writer(runId: string): RunWriter | undefined {
    return this.conn.guard(() => this.stmt.writerOf.get(runId) as RunWriter | undefined)
  }

  heartbeat(runId: string, token: string): boolean {
    return this.conn.guard(() => this.stmt.heartbeatWriter.run(new Date().toISOString(), runId, token).changes > 0)
  }

  release(runId: string, token: string, status?: FinalStatus): boolean {
    return this.conn.guard(() => this.releaseTx(runId, token, status))
  }

  /** Throws RunBusyError when a live process other than `writer` (another token) holds the run. */
  private refuseIfHeld(runId: string, writer: RunWriter): void {
    const held = this.stmt.writerOf.get(runId) as RunWriter | undefined
    if (held === undefined || held.token === writer.token || !writerAlive(held, new Date(), writer.host)) return
    throw new RunBusyError(runId, held.pid, held.host === writer.host ? null : held.host)
  }

  private mustGet(id: string): RunInfo {
    const row = this.stmt.byId.get(id) as RunRow | undefined
    if (row === undefined) throw this.conn.noRun(id)
    return decodeRun(row)
  }
}

function prepare({db}: StoreConnection) {
  return {
    exists: db.prepare('SELECT 1 FROM runs WHERE id = ?').pluck(),
    insert: db.prepare(
      `INSERT INTO runs (id, name, status, started_at, candidate_ref, candidate_hash, baseline_ref, baseline_hash,
         traffic_file, traffic_hash, model, repeat, faults, seed, config_json)
       VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    byId: db.prepare(`${RUN_SELECT} WHERE id = ?`),
    idsByPrefix: db.prepare('SELECT id FROM runs WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 20').pluck(),
    list: db.prepare(`${RUN_SELECT} ORDER BY started_at DESC, rowid DESC`),
    listLimit: db.prepare(`${RUN_SELECT} ORDER BY started_at DESC, rowid DESC LIMIT ?`),
    setTotal: db.prepare('UPDATE runs SET requests_total = ? WHERE id = ?'),
    finish: db.prepare('UPDATE runs SET status = ?, finished_at = ? WHERE id = ?'),
    reopen: db.prepare(`UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?`),
    delete: db.prepare('DELETE FROM runs WHERE id = ?'),
    deleteUnusedLists: db.prepare('DELETE FROM guardrail_lists WHERE key NOT IN (SELECT guardrail_list FROM requests)'),
    writerOf: db.prepare('SELECT token, pid, host, pid_start, claimed_at, heartbeat_at FROM run_writers WHERE run_id = ?'),
    claimWriter: db.prepare(
      `INSERT OR REPLACE INTO run_writers (run_id, token, pid, host, pid_start, claimed_at, heartbeat_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    heartbeatWriter: db.prepare('UPDATE run_writers SET heartbeat_at = ? WHERE run_id = ? AND token = ?'),
    releaseWriter: db.prepare('DELETE FROM run_writers WHERE run_id = ? AND token = ?'),
  }
}
