import {z} from 'zod'
import type {RequestTrace, TraceSide} from '../trace/schema.js'

/**
 * The trace store's contract. `src/store/sqlite.ts` implements it over better-sqlite3, with one
 * repository per table family (`*-repo.ts`) over one connection; the shadow runner writes through
 * it and diff / report / scorecard / TUI read through it, never with SQL of their own.
 */

export const RunStatus = z.enum(['running', 'completed', 'interrupted', 'failed'])
export type RunStatus = z.infer<typeof RunStatus>

export const NewRun = z.object({
  name: z.string().nullable(),
  /** Candidate bundle: `name@version#hash12` and the full hash. */
  candidate_ref: z.string(),
  candidate_hash: z.string(),
  /** `recorded`, or the baseline bundle's ref. */
  baseline_ref: z.string(),
  baseline_hash: z.string().nullable(),
  traffic_file: z.string(),
  /** sha256 of the traffic file's bytes. */
  traffic_hash: z.string(),
  model: z.string(),
  repeat: z.number().int().positive(),
  faults: z.string().nullable(),
  seed: z.number().int(),
  /** Every flag the run was started with, so `--resume` can continue it identically. */
  config: z.record(z.string(), z.unknown()),
})
export type NewRun = z.infer<typeof NewRun>

export const RunInfo = NewRun.extend({
  id: z.string(),
  status: RunStatus,
  started_at: z.string(),
  finished_at: z.string().nullable(),
  /** Distinct request ids with at least one stored trace. */
  requests_done: z.number().int().nonnegative(),
  requests_total: z.number().int().nonnegative().nullable(),
})
export type RunInfo = z.infer<typeof RunInfo>

/**
 * The process writing a run, as claimed in the store (see src/store/run-writer.ts). A run has one
 * writer at a time; a claim whose process is gone is stale and may be taken over.
 */
export type RunWriter = {
  /** Unique to this claim: only its holder renews or releases it. */
  token: string
  pid: number
  host: string
  /** When the process started, as the OS says (Linux); null where unknown. Tells a reused pid apart. */
  pid_start: string | null
  claimed_at: string
  heartbeat_at: string
}

export type TraceFilter = {
  side?: TraceSide
  /** As recorded or as stored (redacted, see storedRequestId): either finds the request's traces. */
  requestId?: string
  repeat?: number
  /** Traffic lines from this one on (inclusive). */
  fromLine?: number
  /** Traffic lines before this one (exclusive). */
  toLine?: number
  /**
   * Which guardrail results each trace comes with: all of them (the default), or only those that
   * did not pass, read from a column of their own (the passing ones are most of a trace's bytes).
   * Not a filter of traces: the same traces come back either way. For readers that look at
   * failures only, as the diff, the run summary and the golden suite do.
   */
  guardrails?: 'all' | 'failed'
}

export interface TraceStore {
  /** Absolute path of the database file. */
  readonly path: string
  createRun(run: NewRun): RunInfo
  /** By full id or by a unique prefix; undefined when none matches. */
  getRun(idOrPrefix: string): RunInfo | undefined
  listRuns(): RunInfo[]
  /** Stores a batch in one transaction; a trace already stored (same run, request, side, repeat) is an error. */
  writeTraces(runId: string, traces: RequestTrace[]): void
  setRequestsTotal(runId: string, total: number): void
  finishRun(runId: string, status: Exclude<RunStatus, 'running'>): void
  /**
   * Keys `${request_id}\u0000${side}\u0000${repeat}` already stored, for --resume. Only `has` and
   * `size` are promised: the SQLite store keeps 64-bit hashes (src/util/id-set.ts), ~12 bytes a
   * trace instead of ~100 for a string, so resuming a million-request run fits its memory budget.
   */
  storedTraceKeys(runId: string): TraceKeys
  /** Ordered by traffic line, then side (recorded, baseline, candidate), then repeat. Streams. */
  iterateTraces(runId: string, filter?: TraceFilter): IterableIterator<RequestTrace>
  countTraces(runId: string, filter?: TraceFilter): number
  close(): void
}

/** A set of trace keys (see traceKey); a Set<string> is one. */
export type TraceKeys = {has(key: string): boolean; readonly size: number}

// traceKey lives in trace-key.ts: the trace writer's thread needs it, and this module loads zod.
export {traceKey} from './trace-key.js'

/**
 * A bundle the store has seen, for bundle history. `templates` (template path -> text) is null for
 * a bundle recorded without them (by a caller that passed none).
 */
export type BundleRecord = {hash: string; ref: string; manifest: unknown; first_seen_at: string; templates?: Record<string, string> | null}

/** Rollout stages, in order; `bad` in the history marks a bundle as bad rather than promoting it. */
export const HistoryStage = z.enum(['shadow', 'canary-1', 'ramp-10', 'ramp-50', 'full', 'bad'])
export type HistoryStage = z.infer<typeof HistoryStage>

/** One event of the append-only bundle history. `tenant` is a tenant id or `all`. */
export type BundleHistoryEntry = {
  id: number
  bundle_hash: string
  bundle_ref: string
  stage: HistoryStage
  tenant: string
  promoted_at: string
  note: string | null
}
export type NewBundleHistoryEntry = Omit<BundleHistoryEntry, 'id' | 'promoted_at'> & {promoted_at?: string}

/** A stored incident drill and its report (as produced by src/drill). */
export type DrillRecord = {
  id: number
  scenario: string
  started_at: string
  finished_at: string
  passed: boolean
  report: unknown
}
export type NewDrillRecord = Omit<DrillRecord, 'id'>

/**
 * A person's decision on one call a run held for approval: the call by its stored request id and
 * its seq in the candidate trace, with the tool and args hash it was about.
 */
export type NewApprovalDecision = {
  request_id: string
  seq: number
  tool: string
  args_hash: string
  decision: 'approved' | 'rejected'
  by: string
  /** ISO 8601. */
  at: string
  reason: string | null
}
export type ApprovalDecision = NewApprovalDecision & {id: number}

/** How many traces a run holds per side and status. */
export type TraceCount = {side: TraceSide; status: string; count: number}

/**
 * What `openStore` (src/store/sqlite.ts) returns: the trace store plus the housekeeping that
 * only some commands need.
 */
export interface TraceDatabase extends TraceStore {
  /** Newest first; at most `limit` runs when given. */
  listRuns(limit?: number): RunInfo[]
  /** By exact id (no prefix: this deletes). False when there was no such run. */
  deleteRun(id: string): boolean
  /** Gives the pages of deleted runs back to the file system (VACUUM, then the WAL truncated). */
  reclaimSpace(): void
  /**
   * Makes `writer` (by default this process, with a fresh token) the run's one writer, in an
   * IMMEDIATE transaction. Throws RunBusyError, changing nothing, while another live process holds
   * the run; a claim left by a process that is gone is replaced.
   */
  claimRun(runId: string, writer?: RunWriter): RunWriter
  /** createRun and claimRun in one transaction: nobody can claim the new run before its creator. */
  createClaimedRun(run: NewRun, writer?: RunWriter): {run: RunInfo; writer: RunWriter}
  /** The run's claim as stored (live or stale), if any. */
  runWriter(runId: string): RunWriter | undefined
  /** Renews the claim's heartbeat; false when the claim is no longer this token's (taken over, or the run deleted). */
  heartbeatRun(runId: string, token: string): boolean
  /**
   * Ends the claim and, when given, sets the run's final status, in one transaction. Does neither
   * and returns false when the claim is no longer this token's: the run is someone else's to finish.
   */
  releaseRun(runId: string, token: string, status?: Exclude<RunStatus, 'running'>): boolean
  /** Back to `running` (finished_at cleared), for `--resume` of an interrupted run. */
  reopenRun(id: string): void
  traceCounts(runId: string): TraceCount[]
  /**
   * Up to `parts - 1` strictly ascending line numbers that cut the run's traces (all sides, all
   * repeats) into `parts` consecutive line ranges of about equal trace count, for reading a run in
   * parallel: range i is `{fromLine: cuts[i - 1], toLine: cuts[i]}` (the first without fromLine,
   * the last without toLine). Cuts are at line starts, so a line's traces are never split; fewer
   * cuts come back for a small run, and none for `parts <= 1` or an empty run.
   */
  lineSplits(runId: string, parts: number): number[]
  /**
   * Remembers a bundle by content hash; the first sighting (ref, time) is kept. Templates, when
   * given, are stored too (and filled in for a bundle first recorded without them). Manifest and
   * templates are stored redacted, like every text of a trace; the hash is the bundle's own.
   */
  recordBundle(hash: string, ref: string, manifest: unknown, templates?: Record<string, string>): void
  /** Oldest first. */
  listBundles(): BundleRecord[]
  /** By full hash; undefined when the store has never seen it. */
  getBundle(hash: string): BundleRecord | undefined
  /** Appends one event to the bundle history and returns it as stored. */
  addBundleHistory(entry: NewBundleHistoryEntry): BundleHistoryEntry
  /** Oldest first (by id, i.e. in the order the events were recorded). */
  listBundleHistory(): BundleHistoryEntry[]
  /**
   * Copies run `from`'s traces into run `to` as stored, except the candidate traces of the requests
   * in `exceptCandidateOf` (stored ids); returns how many were copied.
   */
  copyTraces(from: string, to: string, exceptCandidateOf: readonly string[]): number
  /** Appends people's decisions on a run's held calls, all in one transaction. */
  recordApprovals(runId: string, decisions: readonly NewApprovalDecision[]): void
  /** The decision in force on each decided call of the run (the latest one), by request id then seq. */
  listApprovals(runId: string): ApprovalDecision[]
  /** The model-call cache (src/model/exchange-cache.ts): the stored answer to an exchange key. */
  getExchange(key: string): string | undefined
  /** Stores an answer (redacted JSON) under its exchange key; the first answer to a key is kept. */
  putExchange(key: string, source: string, responseJson: string): void
  recordDrill(drill: NewDrillRecord): DrillRecord
  /** Newest first; at most `limit` when given. */
  listDrills(limit?: number): DrillRecord[]
}
