import type {RequestTrace} from '../trace/schema.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {evaluateConsistency, SessionLedger} from './consistency.js'
import {evaluateGolden} from './golden.js'
import {evaluateSecurity, type SecurityReference} from './security.js'
import {evaluateToolFailure} from './tool-failure.js'
import {SUITES, type CheckFailure, type SuiteName, type SuiteVerdict} from './types.js'

/**
 * Runs the suites over (record, trace) pairs and keeps per-suite pass rates and a capped list of
 * failures. A request with several repeats passes a suite only if every repeat does.
 */

export type EvalOptions = {
  suites: readonly SuiteName[]
  /** Bundle whose RBAC and deny rules the security suite holds the candidate to. */
  reference?: SecurityReference | null
  /** The candidate's max_retries, for the tool-failure suite. */
  maxRetries?: number | null
  /**
   * What earlier turns of each session relied on, for the consistency suite's drift check.
   * Without it each request is judged alone; EvalAccumulator keeps one for the whole run.
   */
  sessions?: SessionLedger | null
}

/**
 * The suites' verdicts on one trace. The golden suite judges the expectations the trace stores;
 * the others judge it against its traffic record and are left out when that is null.
 */
export function evaluateRequest(record: TrafficRecord | null, trace: RequestTrace, opts: EvalOptions): SuiteVerdict[] {
  const out: SuiteVerdict[] = []
  for (const suite of opts.suites) {
    const v =
      suite === 'golden'
        ? evaluateGolden(trace)
        : record === null
          ? null
          : suite === 'security'
            ? evaluateSecurity(record, trace, opts.reference ?? null)
            : suite === 'tool-failure'
              ? evaluateToolFailure(record, trace, {maxRetries: opts.maxRetries ?? null})
              : evaluateConsistency(record, trace, opts.sessions ?? null)
    if (v !== null) out.push(v)
  }
  return out
}

export const MAX_LISTED_FAILURES = 200

export type SuiteFailure = {request_id: string; line: number; repeat: number; checks: CheckFailure[]}

export type SuiteSummary = {
  suite: SuiteName
  /** Requests the suite applied to. */
  applicable: number
  passed: number
  failed: number
  /** passed / applicable; null when the suite applied to no request. */
  pass_rate: number | null
  failures: SuiteFailure[]
  failures_omitted: number
  /** Known issues (expected failures), kept out of the pass rate: still failing, and fixed by this run. */
  known_issues: {failing: number; fixed: string[]}
  /** What limited the suite in this run, when anything did (one line each). */
  notes?: string[]
}

export type EvalSummary = {
  run_id: string
  suites: SuiteName[]
  /** Candidate requests seen. */
  requests: number
  evaluated: number
  /** The traffic line was malformed, so the run skipped it. */
  skipped: number
  /**
   * No readable traffic line with the same id at the trace's line (file missing or edited), for
   * suites that read it: those skip the request. Always 0 for the golden suite alone, which judges
   * the expectations stored with the traces (it judges an unmatched request all the same).
   */
  unmatched: number
  results: Partial<Record<SuiteName, SuiteSummary>>
}

type Pending = {request_id: string; line: number; failed: Map<SuiteName, SuiteFailure>; applied: Set<SuiteName>; known: Set<SuiteName>}

export class EvalAccumulator {
  private readonly results = new Map<SuiteName, SuiteSummary>()
  private pending: Pending | null = null
  private counts = {requests: 0, evaluated: 0, skipped: 0, unmatched: 0}
  private readonly opts: EvalOptions
  /** Whether a suite reads the traffic record (every suite but golden). */
  private readonly needsRecord: boolean

  constructor(
    private readonly runId: string,
    opts: EvalOptions,
  ) {
    this.needsRecord = opts.suites.some((s) => s !== 'golden')
    // Sessions span requests: the consistency suite needs one ledger across the whole run.
    this.opts = opts.suites.includes('consistency') && !opts.sessions ? {...opts, sessions: new SessionLedger()} : opts
    for (const suite of opts.suites) {
      this.results.set(suite, {suite, applicable: 0, passed: 0, failed: 0, pass_rate: null, failures: [], failures_omitted: 0, known_issues: {failing: 0, fixed: []}})
    }
  }

  /** Traces must come grouped by request (the store's line/side/repeat order does that). */
  add(record: TrafficRecord | null, trace: RequestTrace): void {
    if (this.pending?.request_id !== trace.request_id || this.pending.line !== trace.line) {
      this.flush()
      this.counts.requests++
      if (trace.status === 'skipped') this.counts.skipped++
      else if (record === null && this.needsRecord) this.counts.unmatched++
      else this.counts.evaluated++
      this.pending = {request_id: trace.request_id, line: trace.line, failed: new Map(), applied: new Set(), known: new Set()}
    }
    if (trace.status === 'skipped') return
    for (const v of evaluateRequest(record, trace, this.opts)) {
      this.pending!.applied.add(v.suite)
      if (v.known_issue) this.pending!.known.add(v.suite)
      if (!v.passed && !this.pending!.failed.has(v.suite)) {
        this.pending!.failed.set(v.suite, {request_id: trace.request_id, line: trace.line, repeat: trace.repeat, checks: v.failures})
      }
    }
  }

  private flush(): void {
    const p = this.pending
    if (p === null) return
    for (const suite of p.applied) {
      const r = this.results.get(suite)!
      const failure = p.failed.get(suite)
      if (p.known.has(suite)) {
        if (failure === undefined) r.known_issues.fixed.push(p.request_id)
        else r.known_issues.failing++
        continue
      }
      r.applicable++
      if (failure === undefined) {
        r.passed++
        continue
      }
      r.failed++
      if (r.failures.length < MAX_LISTED_FAILURES) r.failures.push(failure)
      else r.failures_omitted++
    }
    this.pending = null
  }

  summary(): EvalSummary {
    this.flush()
    const results: Partial<Record<SuiteName, SuiteSummary>> = {}
    for (const suite of SUITES) {
      const r = this.results.get(suite)
      if (r) results[suite] = {...r, pass_rate: r.applicable === 0 ? null : r.passed / r.applicable}
    }
    const evicted = this.opts.sessions?.evicted ?? 0
    if (results.consistency && evicted > 0) {
      results.consistency.notes = [`${evicted} session(s) were closed early to bound memory (over ${this.opts.sessions!.limit} open at once); a later turn of one is compared as a first turn`]
    }
    return {run_id: this.runId, suites: [...this.opts.suites], ...this.counts, results}
  }
}

/** For the scorecard's Quality dimension: the golden suite's pass rate, null when no request has an expect block. */
export function goldenPassRate(summary: EvalSummary): number | null {
  return summary.results.golden?.pass_rate ?? null
}

/** Suites whose pass rate is below `minPass` (a suite that applied to nothing cannot fail). */
export function suitesBelow(summary: EvalSummary, minPass: number): SuiteName[] {
  return summary.suites.filter((s) => {
    const rate = summary.results[s]?.pass_rate ?? null
    return rate !== null && rate < minPass
  })
}
