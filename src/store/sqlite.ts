import type {RequestTrace} from '../trace/schema.js'
import type {
  ApprovalDecision,
  BundleHistoryEntry,
  BundleRecord,
  DrillRecord,
  NewBundleHistoryEntry,
  NewApprovalDecision,
  NewDrillRecord,
  NewRun,
  RunInfo,
  RunStatus,
  RunWriter,
  TraceCount,
  TraceDatabase,
  TraceFilter,
  TraceKeys,
} from './api.js'
import {ApprovalsRepo} from './approvals-repo.js'
import {BundlesRepo} from './bundles-repo.js'
import {openConnection, type OpenStoreOptions, type StoreConnection} from './database.js'
import {DrillsRepo} from './drills-repo.js'
import {ExchangesRepo} from './exchanges-repo.js'
import {RolloutRepo} from './rollout-repo.js'
import {RunsRepo} from './runs-repo.js'
import {TracesRepo} from './traces-repo.js'

export type {OpenStoreOptions} from './database.js'

/**
 * Opens (creating when missing, unless read-only) the trace store in `file`. `:memory:` gives a
 * private in-memory store. Every failure is a one-line StoreError naming the file; a store of any
 * schema version but this build's (src/store/schema.ts) is refused and left untouched.
 */
export function openStore(file: string, opts: OpenStoreOptions = {}): SqliteTraceStore {
  return openConnection(file, opts, (conn) => new SqliteTraceStore(conn))
}

/**
 * The store: one repository per table family, all over one connection (so they share its
 * transactions and read snapshots). The TraceDatabase methods, which the other layers call, are
 * one-line delegations to the repositories; code holding a SqliteTraceStore may use the
 * repositories directly (`store.runs.get(id)`).
 */
export class SqliteTraceStore implements TraceDatabase {
  readonly path: string
  readonly runs: RunsRepo
  readonly traces: TracesRepo
  readonly bundles: BundlesRepo
  readonly rollout: RolloutRepo
  readonly drills: DrillsRepo
  readonly approvals: ApprovalsRepo
  readonly exchanges: ExchangesRepo

  constructor(private readonly conn: StoreConnection) {
    this.path = conn.path
    this.runs = new RunsRepo(conn)
    this.traces = new TracesRepo(conn)
    this.bundles = new BundlesRepo(conn)
    this.rollout = new RolloutRepo(conn)
    this.drills = new DrillsRepo(conn)
    this.approvals = new ApprovalsRepo(conn)
    this.exchanges = new ExchangesRepo(conn)
  }

  close(): void {
    this.conn.close()
  }

  createRun(run: NewRun): RunInfo {
    return this.runs.create(run)
  }
  getRun(idOrPrefix: string): RunInfo | undefined {
    return this.runs.get(idOrPrefix)
  }
  listRuns(limit?: number): RunInfo[] {
    return this.runs.list(limit)
  }
  setRequestsTotal(runId: string, total: number): void {
    this.runs.setRequestsTotal(runId, total)
  }
  finishRun(runId: string, status: Exclude<RunStatus, 'running'>): void {
    this.runs.finish(runId, status)
  }
  reopenRun(runId: string): void {
    this.runs.reopen(runId)
  }
  deleteRun(id: string): boolean {
    return this.runs.delete(id)
  }
  reclaimSpace(): void {
    // VACUUM rewrites the file without the free pages deletes left; in WAL mode it goes through the
    // log, so the log is checkpointed and truncated after it, or the space would stay in -wal.
    this.conn.guard(() => {
      this.conn.db.exec('VACUUM')
      this.conn.db.pragma('wal_checkpoint(TRUNCATE)')
    })
  }
  claimRun(runId: string, writer?: RunWriter): RunWriter {
    return this.runs.claim(runId, writer)
  }
  createClaimedRun(run: NewRun, writer?: RunWriter): {run: RunInfo; writer: RunWriter} {
    return this.runs.createClaimed(run, writer)
  }
  runWriter(runId: string): RunWriter | undefined {
    return this.runs.writer(runId)
  }
  heartbeatRun(runId: string, token: string): boolean {
    return this.runs.heartbeat(runId, token)
  }
  releaseRun(runId: string, token: string, status?: Exclude<RunStatus, 'running'>): boolean {
    return this.runs.release(runId, token, status)
  }

  writeTraces(runId: string, traces: RequestTrace[]): void {
    this.traces.write(runId, traces)
  }
  iterateTraces(runId: string, filter?: TraceFilter): IterableIterator<RequestTrace> {
    return this.traces.iterate(runId, filter)
  }
  countTraces(runId: string, filter?: TraceFilter): number {
    return this.traces.count(runId, filter)
  }
  storedTraceKeys(runId: string): TraceKeys {
    return this.traces.storedKeys(runId)
  }
  traceCounts(runId: string): TraceCount[] {
    return this.traces.counts(runId)
  }
  lineSplits(runId: string, parts: number): number[] {
    return this.traces.lineSplits(runId, parts)
  }

  recordBundle(hash: string, ref: string, manifest: unknown, templates?: Record<string, string>): void {
    this.bundles.record(hash, ref, manifest, templates)
  }
  listBundles(): BundleRecord[] {
    return this.bundles.list()
  }
  getBundle(hash: string): BundleRecord | undefined {
    return this.bundles.get(hash)
  }

  addBundleHistory(entry: NewBundleHistoryEntry): BundleHistoryEntry {
    return this.rollout.add(entry)
  }
  listBundleHistory(): BundleHistoryEntry[] {
    return this.rollout.list()
  }

  copyTraces(from: string, to: string, exceptCandidateOf: readonly string[]): number {
    return this.traces.copy(from, to, exceptCandidateOf)
  }
  recordApprovals(runId: string, decisions: readonly NewApprovalDecision[]): void {
    this.approvals.record(runId, decisions)
  }
  listApprovals(runId: string): ApprovalDecision[] {
    return this.approvals.current(runId)
  }

  getExchange(key: string): string | undefined {
    return this.exchanges.get(key)
  }
  putExchange(key: string, source: string, responseJson: string): void {
    this.exchanges.put(key, source, responseJson)
  }

  recordDrill(drill: NewDrillRecord): DrillRecord {
    return this.drills.record(drill)
  }
  listDrills(limit?: number): DrillRecord[] {
    return this.drills.list(limit)
  }
}
