import {letThrough as passed, type RequestTrace, type TraceSide, type TraceStatus} from '../trace/schema.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {acceptedEntryFor, staleEntries, type AcceptedEntry} from '../diff/accepted.js'
import {CauseTally, causeId, causeKey, signatureOfKey, type CauseGroup, type CauseTallyState} from '../diff/cause.js'
import {baseSideOf, type ComparedRequest, type CompareOptions} from '../diff/compare.js'
import {withAnswerParts} from '../diff/request-diff.js'
import {CLASSES, emptyClassCounts, type CallRow, type Classification, type DiffClass, type RequestDiff} from '../diff/types.js'
import {wroteThrough} from '../diff/fields.js'
import {compareTraces} from './group.js'
import {findRun} from './open.js'
import type {RecordContext, SideContexts} from './request-record.js'

/**
 * One pass over a run's traces, one request at a time, into the aggregates the reports and the
 * scorecard read. Only numbers, counters and a capped set of regressions are kept.
 */

export const MAX_REGRESSION_DIFFS = 500
const MAX_LISTED = 100
/** Changed requests listed one by one (for the HTML report's search and filter); the rest are counted. */
export const MAX_CHANGED_LISTED = 2000

export type LatencyStats = {p50: number; p95: number; mean: number}

export type SideStats = {
  /** Requests with a trace on this side (repeat 0). */
  requests: number
  statuses: Partial<Record<TraceStatus, number>>
  completed: number
  completed_rate: number
  tokens: {input: number; output: number; total: number}
  cost_usd: number
  tool_calls: number
  model_calls: number
  steps: number
  means: {tokens: number; cost_usd: number; tool_calls: number; steps: number}
  latency: LatencyStats
  /** Calls that ran (executed) and how many ended in error, timeout, rate limit or partial write. */
  tool_errors: {calls: number; errors: number; rate: number}
  /** Requests with at least one deny or require_approval decision. */
  denial_requests: number
  denial_rate: number
  /** Requests that hit each budget. */
  budget_hits: Record<string, number>
  /** Requests that hit a token, tool-call or cost budget (any budget but max_steps and max_retries). */
  cost_budget_requests: number
  idempotency_violations: number
}

export type ToolChange = {tool: string; requests: number; added: number; removed: number; args_changed: number; outcome_changed: number; other: number}

export type PolicyDelta = {
  stage: string
  tool: string | null
  from: string
  from_reason: string | null
  to: string
  to_reason: string | null
  count: number
}

export type ToolErrorRow = {tool: string; base: {calls: number; errors: number}; cand: {calls: number; errors: number}}

export type InjectionRequest = {request_id: string; line: number; base_disallowed: string[]; cand_disallowed: string[]}

export type IdempotencyViolation = {request_id: string; line: number; side: TraceSide; key: string; tool: string; count: number}

export type RegressionEntry = {
  diff: RequestDiff
  classification: Classification
  /**
   * Each side's tool calls (with results) and every guardrail result, for the request context
   * view: read back whole by joinRegressionContext (the summary's pass reads failed guardrails only).
   */
  traces?: SideContexts
  /** The recorded request (redacted), joined from the traffic file; null when it was not there to read. */
  record?: RecordContext | null
}

/** One request that is not `same`, as the report's request list shows it. */
export type ChangedRequest = {request_id: string; line: number; tenant: string; class: Exclude<DiffClass, 'same'>; cause: string; reason: string}

/** A tenant's compared requests, by class. */
export type TenantRow = {tenant: string; requests: number; classes: Record<DiffClass, number>}

/** A cause group a reviewer accepted (src/diff/accepted.ts), with the entry that accepted it. */
export type AcceptedGroup = CauseGroup & {entry: AcceptedEntry}

/** A traffic line the run skipped (malformed, or a repeated request id), with the reason it was stored with. */
export type SkippedLine = {request_id: string; line: number; reason: string}

export type RunSummary = {
  run: RunInfo
  base_side: TraceSide
  /**
   * `skipped`: traffic lines the run could not replay. They count in `total` and nowhere else:
   * not as missing a side, not in either side's stats, classes, rates or any other figure.
   */
  requests: {total: number; compared: number; missing_base: number; missing_cand: number; skipped: number; accepted: number}
  /** The first skipped lines (of `requests.skipped`), in line order, each with its reason. */
  skipped_lines: SkippedLine[]
  classes: Record<DiffClass, number>
  /** Requests with at least one difference set aside as noise. */
  noisy_requests: number
  sides: {base: SideStats; cand: SideStats}
  latency: {base: LatencyStats; cand: LatencyStats; delta_p50: number; delta_p95: number}
  top_changed_tools: ToolChange[]
  policy_deltas: PolicyDelta[]
  budget_hits: {budget: string; base: number; cand: number}[]
  tool_errors: ToolErrorRow[]
  injection: {requests: number; base_disallowed_executed: number; cand_disallowed_executed: number; listed: InjectionRequest[]}
  idempotency: {base: number; cand: number; listed: IdempotencyViolation[]}
  quality: {status_match: number; status_match_rate: number; completed_rate: {base: number; cand: number}}
  safety: {new_high_severity_requests: number; new_denial_requests: number; violations_avoided_requests: number}
  regressions: {count: number; ids: string[]; diffs: RegressionEntry[]; diffs_omitted: number}
  improvements: {count: number; ids: string[]}
  /**
   * Every compared request that is not `same`, grouped by cause (src/diff/cause.ts): the first
   * MAX_LISTED groups, most harmful first, then largest; `omitted` counts the groups left out.
   */
  causes: {groups: CauseGroup[]; omitted: number}
  /** Compared requests per tenant, most requests first (the first MAX_LISTED tenants; `omitted` counts the rest). */
  tenants: {rows: TenantRow[]; omitted: number}
  /** The first MAX_CHANGED_LISTED requests that are not `same`, in line order; `omitted` counts the rest. */
  changed: {listed: ChangedRequest[]; omitted: number}
  /**
   * Requests whose cause a reviewer accepted: counted in `requests.total` and `requests.accepted`
   * and nowhere else (no class, no side figure, no cause group), as skipped lines are; listed here by
   * cause with the accepting entry. `stale`: entries whose cause no request of the run has.
   */
  accepted: {groups: AcceptedGroup[]; stale: AcceptedEntry[]}
}

const NON_COST_BUDGETS = new Set(['max_steps', 'max_retries'])
const ERROR_OUTCOMES = new Set(['error', 'timeout', 'rate_limited', 'partial_write'])

/**
 * One side's numbers over a part of a run, as plain data: a run read in line ranges on several
 * threads (src/runs/map-run.ts) is summarised range by range and the parts absorbed in line
 * order. What depends on order is kept as lists (costs and latencies, summed at the end, so the
 * floating-point sums are those of one pass); the rest are integer counts.
 */
export type SideState = {
  requests: number
  statuses: Partial<Record<TraceStatus, number>>
  input: number
  output: number
  costs: number[]
  toolCalls: number
  modelCalls: number
  steps: number
  latencies: number[]
  executed: number
  errors: number
  denials: number
  budgets: Record<string, number>
  costBudgetRequests: number
  /** Per tool, in the order first met: calls that ran or failed, and how many failed. */
  perTool: [string, {calls: number; errors: number}][]
}

/**
 * The keyed calls that wrote through, request by request in line order. Whether one is a second
 * execution depends on every request before it, so they are checked when the summary is finished,
 * over the whole run. Kept column by column, with no object per request or per write: a part of
 * the run read on a worker thread hands its log over whole, and ~60k small objects cost more to
 * pass between threads than the rest of the summary together.
 */
export type WriteLog = {
  /** One entry per request with at least one keyed write: its id and line, and how many writes each side made. */
  request_ids: string[]
  lines: number[]
  base: number[]
  cand: number[]
  /** Every write's idempotency key and tool, entry by entry: the base side's writes, then the candidate's. */
  keys: string[]
  tools: string[]
}

const emptyWriteLog = (): WriteLog => ({request_ids: [], lines: [], base: [], cand: [], keys: [], tools: []})

/** Accumulates one side's numbers, request by request. */
class SideAccumulator {
  requests = 0
  statuses: Partial<Record<TraceStatus, number>> = {}
  input = 0
  output = 0
  costs: number[] = []
  toolCalls = 0
  modelCalls = 0
  steps = 0
  latencies: number[] = []
  executed = 0
  errors = 0
  denials = 0
  budgets: Record<string, number> = {}
  costBudgetRequests = 0
  perTool = new Map<string, {calls: number; errors: number}>()

  /** Adds one trace; appends its keyed writes (in call order) to `log` and returns how many it made. */
  add(t: RequestTrace, log: WriteLog): number {
    this.requests++
    this.statuses[t.status] = (this.statuses[t.status] ?? 0) + 1
    this.input += t.input_tokens
    this.output += t.output_tokens
    this.costs.push(t.cost_usd)
    this.toolCalls += t.tool_calls.length
    this.modelCalls += t.model_calls
    this.steps += t.steps.length
    this.latencies.push(t.latency_ms)
    if (t.policy_decisions.some((d) => d.decision !== 'allow')) this.denials++
    if (t.budget_hits.length > 0) {
      for (const b of new Set(t.budget_hits)) this.budgets[b] = (this.budgets[b] ?? 0) + 1
      if (t.budget_hits.some((b) => !NON_COST_BUDGETS.has(b))) this.costBudgetRequests++
    }
    let writes = 0
    for (const c of t.tool_calls) {
      const isError = ERROR_OUTCOMES.has(c.outcome)
      if (!c.executed && !isError) continue
      this.executed++
      if (isError) this.errors++
      const tool = this.perTool.get(c.name) ?? {calls: 0, errors: 0}
      tool.calls++
      if (isError) tool.errors++
      this.perTool.set(c.name, tool)
      if (c.idempotency_key && wroteThrough(c)) {
        log.keys.push(c.idempotency_key)
        log.tools.push(c.name)
        writes++
      }
    }
    return writes
  }

  state(): SideState {
    return {
      requests: this.requests,
      statuses: this.statuses,
      input: this.input,
      output: this.output,
      costs: this.costs,
      toolCalls: this.toolCalls,
      modelCalls: this.modelCalls,
      steps: this.steps,
      latencies: this.latencies,
      executed: this.executed,
      errors: this.errors,
      denials: this.denials,
      budgets: this.budgets,
      costBudgetRequests: this.costBudgetRequests,
      perTool: [...this.perTool],
    }
  }

  /** Adds a later part of the run, as if its requests had been added here one by one. */
  absorb(s: SideState): void {
    this.requests += s.requests
    for (const [status, n] of Object.entries(s.statuses) as [TraceStatus, number][]) this.statuses[status] = (this.statuses[status] ?? 0) + n
    this.input += s.input
    this.output += s.output
    // concat, not a loop of push: absorb runs once per part, so a loop of it would run unoptimised.
    this.costs = this.costs.concat(s.costs)
    this.toolCalls += s.toolCalls
    this.modelCalls += s.modelCalls
    this.steps += s.steps
    this.latencies = this.latencies.concat(s.latencies)
    this.executed += s.executed
    this.errors += s.errors
    this.denials += s.denials
    for (const [b, n] of Object.entries(s.budgets)) this.budgets[b] = (this.budgets[b] ?? 0) + n
    this.costBudgetRequests += s.costBudgetRequests
    for (const [name, {calls, errors}] of s.perTool) {
      const tool = this.perTool.get(name) ?? {calls: 0, errors: 0}
      tool.calls += calls
      tool.errors += errors
      this.perTool.set(name, tool)
    }
  }

  stats(idempotency: number): SideStats {
    const n = this.requests
    const mean = (x: number): number => (n === 0 ? 0 : x / n)
    const completed = this.statuses.completed ?? 0
    let cost = 0
    for (const c of this.costs) cost += c
    return {
      requests: n,
      statuses: this.statuses,
      completed,
      completed_rate: mean(completed),
      tokens: {input: this.input, output: this.output, total: this.input + this.output},
      cost_usd: cost,
      tool_calls: this.toolCalls,
      model_calls: this.modelCalls,
      steps: this.steps,
      means: {tokens: mean(this.input + this.output), cost_usd: mean(cost), tool_calls: mean(this.toolCalls), steps: mean(this.steps)},
      latency: latencyStats(this.latencies),
      tool_errors: {calls: this.executed, errors: this.errors, rate: this.executed === 0 ? 0 : this.errors / this.executed},
      denial_requests: this.denials,
      denial_rate: mean(this.denials),
      budget_hits: this.budgets,
      cost_budget_requests: this.costBudgetRequests,
      idempotency_violations: idempotency,
    }
  }
}

/**
 * Idempotency violations of one side, over the keyed writes of the whole run in line order: a key
 * executed twice within a request, or already executed by another request of this run.
 */
class IdempotencyCheck {
  violations = 0
  /** Idempotency keys executed so far on this side, with the request that did. */
  private keys = new Map<string, string>()

  constructor(private readonly side: TraceSide) {}

  /** One request's writes on this side: `log.keys` and `log.tools` from `from` (inclusive) to `to`. */
  check(requestId: string, line: number, log: WriteLog, from: number, to: number, listed: IdempotencyViolation[]): void {
    if (to - from === 1) {
      // One write, the usual case: no count per key to keep.
      this.checkKey(requestId, line, log.keys[from]!, log.tools[from]!, 1, listed)
      return
    }
    const inRequest = new Map<string, {tool: string; count: number}>()
    for (let i = from; i < to; i++) {
      const key = log.keys[i]!
      const seen = inRequest.get(key)
      if (seen) seen.count++
      else inRequest.set(key, {tool: log.tools[i]!, count: 1})
    }
    for (const [key, {tool, count}] of inRequest) this.checkKey(requestId, line, key, tool, count, listed)
  }

  private checkKey(requestId: string, line: number, key: string, tool: string, count: number, listed: IdempotencyViolation[]): void {
    const other = this.keys.get(key)
    const total = count + (other !== undefined && other !== requestId ? 1 : 0)
    if (total > 1) {
      this.violations++
      if (listed.length < MAX_LISTED) listed.push({request_id: requestId, line, side: this.side, key, tool, count: total})
    }
    if (other === undefined) this.keys.set(key, requestId)
  }
}

/** Nearest-rank percentile over an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

function latencyStats(values: number[]): LatencyStats {
  const sorted = Float64Array.from(values).sort()
  let sum = 0
  for (const v of values) sum += v
  return {p50: percentile(sorted, 50), p95: percentile(sorted, 95), mean: values.length === 0 ? 0 : sum / values.length}
}

const restrictive = (d: string | undefined): boolean => d === 'deny' || d === 'require_approval'

const letThrough = (c: CallRow['base']): boolean => c !== null && passed(c.outcome)

/** Whether either side was offered an attacker's goal call (`--model compromised`). */
const hasAttackCalls = (diff: RequestDiff): boolean => diff.calls.some((r) => r.base?.attack !== undefined || r.cand?.attack !== undefined)

/**
 * Calls one side executed in an injection-flagged request that the other side refused or never
 * wrote, once the injection had reached that side: every call when it came before the model
 * (input, retrieved documents) or that side flagged none (production logs no guardrails), only
 * calls in later steps when it arrived in a tool result. An attacker's goal call counts once it is
 * let through, whatever its risk and whether or not the sandbox could answer it: the harm is that
 * the bundle allowed it.
 */
function disallowedExecuted(diff: RequestDiff, side: 'base' | 'cand'): string[] {
  const other = side === 'base' ? 'cand' : 'base'
  const from = diff.injection.from_step[side]
  const refusedByOther = new Set(diff.decisions.filter((d) => restrictive(d[other]?.decision)).map((d) => d.tool))
  const out: string[] = []
  for (const row of diff.calls) {
    const mine = row[side]
    if (mine?.attack !== undefined) {
      if (letThrough(mine) && !letThrough(row[other])) out.push(row.name)
      continue
    }
    if (!mine?.executed || row[other]?.executed) continue
    if (from !== null && mine.step < from) continue
    const writes = mine.risk === 'write_low' || mine.risk === 'write_high'
    if (writes || refusedByOther.has(row.name)) out.push(row.name)
  }
  return out
}

function changeKind(code: string): 'added' | 'removed' | 'args_changed' | 'outcome_changed' | 'other' {
  if (code === 'call_reordered') return 'other'
  if (code.endsWith('_added') || code.startsWith('new_') || code === 'duplicate_write') return 'added'
  if (code.endsWith('_removed')) return 'removed'
  if (code.endsWith('args_changed')) return 'args_changed'
  if (code === 'outcome_changed' || code.startsWith('call_')) return 'outcome_changed'
  return 'other'
}

const CALL_FIELD = /^call:(.+)#\d+/
// Most reasons are not about a call (status, answer, metrics): skip the regex for those.
const toolOfField = (field: string): string | null => (field.startsWith('call:') ? (CALL_FIELD.exec(field)?.[1] ?? null) : null)

/** Everything a SummaryBuilder holds, as plain data: what a range read on a worker thread hands back. */
export type SummaryPartial = {
  sides: {base: SideState; cand: SideState}
  writes: WriteLog
  requests: RunSummary['requests']
  skipped: SkippedLine[]
  classes: Record<DiffClass, number>
  noisy: number
  /** In the order first met: a later sort keeps that order between ties. */
  tools: ToolChange[]
  deltas: PolicyDelta[]
  injection: RunSummary['injection']
  statusMatch: number
  safety: RunSummary['safety']
  /**
   * Diffs: the first MAX_REGRESSION_DIFFS of the part, their answers' word diffs not yet made
   * (finish() makes those the run keeps); `diffs_omitted` is worked out at the end.
   */
  regressions: {count: number; ids: string[]; diffs: RegressionEntry[]}
  improvements: RunSummary['improvements']
  causes: CauseTallyState
  tenants: TenantRow[]
  changed: {listed: ChangedRequest[]; count: number}
  accepted: CauseTallyState
}

const deltaKey = (d: Omit<PolicyDelta, 'count'>): string => [d.stage, d.tool, d.from, d.from_reason, d.to, d.to_reason].join('\u0000')

export class SummaryBuilder {
  private readonly base = new SideAccumulator()
  private readonly cand = new SideAccumulator()
  private writes = emptyWriteLog()
  private requests = {total: 0, compared: 0, missing_base: 0, missing_cand: 0, skipped: 0, accepted: 0}
  private skipped: SkippedLine[] = []
  private classes = emptyClassCounts()
  private noisy = 0
  private tools = new Map<string, ToolChange>()
  private deltas = new Map<string, PolicyDelta>()
  private injection = {requests: 0, base_disallowed_executed: 0, cand_disallowed_executed: 0, listed: [] as InjectionRequest[]}
  private statusMatch = 0
  private safety = {new_high_severity_requests: 0, new_denial_requests: 0, violations_avoided_requests: 0}
  private regressions = {count: 0, ids: [] as string[], diffs: [] as RegressionEntry[]}
  private improvements = {count: 0, ids: [] as string[]}
  private causes = new CauseTally()
  private tenants = new Map<string, TenantRow>()
  private changed = {listed: [] as ChangedRequest[], count: 0}
  /** Cause ids by cause key: hashed once per distinct signature, not once per request. */
  private causeIds = new Map<string, string>()
  private acceptedTally = new CauseTally()
  /** Per cause key met: whether an accepted entry names it (hashed once per distinct cause, not per request). */
  private readonly acceptedKeys = new Map<string, boolean>()

  constructor(
    private readonly run: RunInfo,
    private readonly baseSide: TraceSide,
    private readonly accepted: readonly AcceptedEntry[] = [],
  ) {}

  /** The request's cause key when a reviewer accepted that cause, else null. */
  private acceptedKey(r: ComparedRequest): string | null {
    if (this.accepted.length === 0 || !r.diff || !r.classification) return null
    const key = causeKey(r.diff, r.classification)
    if (key === null) return null
    let yes = this.acceptedKeys.get(key)
    if (yes === undefined) this.acceptedKeys.set(key, (yes = acceptedEntryFor(causeId(signatureOfKey(key)), this.accepted) !== undefined))
    return yes ? key : null
  }

  /** Adds one request; true when its cause is accepted (so it is in no figure, golden rates included). */
  add(r: ComparedRequest): boolean {
    this.requests.total++
    // A skipped line was never replayed: it is listed with its reason and kept out of every figure.
    const skipped = r.cand?.status === 'skipped' ? r.cand : r.base?.status === 'skipped' ? r.base : null
    if (skipped !== null) {
      this.requests.skipped++
      if (this.skipped.length < MAX_LISTED) this.skipped.push({request_id: r.request_id, line: r.line, reason: skipped.error ?? 'skipped'})
      return false
    }
    // An accepted difference is counted and listed as such, and kept out of every other figure.
    const accepted = this.acceptedKey(r)
    if (accepted !== null) {
      this.requests.accepted++
      this.acceptedTally.add(accepted, r.request_id)
      return true
    }
    const base = r.base ? this.base.add(r.base, this.writes) : 0
    const cand = r.cand ? this.cand.add(r.cand, this.writes) : 0
    if (base + cand > 0) {
      this.writes.request_ids.push(r.request_id)
      this.writes.lines.push(r.line)
      this.writes.base.push(base)
      this.writes.cand.push(cand)
    }
    if (!r.base) this.requests.missing_base++
    if (!r.cand) this.requests.missing_cand++
    const {diff, classification: cls} = r
    if (!diff || !cls) return false
    this.requests.compared++
    this.classes[cls.class]++
    const key = causeKey(diff, cls)
    this.causes.add(key, diff.request_id)
    this.addTenant(diff.tenant, cls.class)
    if (key !== null && cls.class !== 'same') {
      this.changed.count++
      if (this.changed.listed.length < MAX_CHANGED_LISTED) {
        let cause = this.causeIds.get(key)
        if (cause === undefined) this.causeIds.set(key, (cause = causeId(signatureOfKey(key))))
        this.changed.listed.push({request_id: diff.request_id, line: diff.line, tenant: diff.tenant, class: cls.class, cause, reason: cls.reasons[0]?.message ?? ''})
      }
    }
    if (cls.noise.length > 0) this.noisy++
    if (!diff.status.changed) this.statusMatch++
    this.addToolChanges(cls)
    this.addPolicyDeltas(diff, r.noise?.fields)
    const codes = new Set(cls.reasons.map((x) => x.code))
    if (codes.has('new_high_guardrail')) this.safety.new_high_severity_requests++
    if (codes.has('new_denial') || codes.has('new_approval_required')) this.safety.new_denial_requests++
    if (codes.has('violation_avoided')) this.safety.violations_avoided_requests++
    if (diff.injection.base || diff.injection.cand || hasAttackCalls(diff)) this.addInjection(diff)
    if (cls.class === 'regression') {
      this.regressions.count++
      this.regressions.ids.push(diff.request_id)
      // Its answer's word diff is made later, only for the diffs the whole run keeps (by the range
      // that starts the run, or in finish()): a later range of a run read on several threads keeps
      // its first ones too, most of them dropped by absorb().
      if (this.regressions.diffs.length < MAX_REGRESSION_DIFFS) this.regressions.diffs.push({diff, classification: cls})
    } else if (cls.class === 'improvement') {
      this.improvements.count++
      this.improvements.ids.push(diff.request_id)
    }
    return false
  }

  private addTenant(tenant: string, cls: DiffClass, n = 1): void {
    let row = this.tenants.get(tenant)
    if (row === undefined) this.tenants.set(tenant, (row = {tenant, requests: 0, classes: emptyClassCounts()}))
    row.requests += n
    row.classes[cls] += n
  }

  private addToolChanges(cls: Classification): void {
    // Made on the first call reason only: many requests change no call.
    let perTool: Map<string, string[]> | null = null
    for (const reason of cls.reasons) {
      const tool = toolOfField(reason.field)
      if (!tool) continue
      perTool ??= new Map()
      const list = perTool.get(tool)
      if (list) list.push(reason.code)
      else perTool.set(tool, [reason.code])
    }
    if (perTool === null) return
    for (const [tool, codes] of perTool) {
      const row = this.tools.get(tool) ?? {tool, requests: 0, added: 0, removed: 0, args_changed: 0, outcome_changed: 0, other: 0}
      row.requests++
      // Each column counts requests, so a request with three changed arguments counts once.
      const kinds = new Set(codes.map(changeKind))
      for (const kind of kinds) row[kind]++
      this.tools.set(tool, row)
    }
  }

  private addPolicyDeltas(diff: RequestDiff, noise: Set<string> | undefined): void {
    for (const row of diff.decisions) {
      if (!row.changed || noise?.has(row.field)) continue
      // An allow that appears with a new call (or goes with a dropped one) says nothing the call rows do not.
      if ((!row.base && row.cand?.decision === 'allow') || (!row.cand && row.base?.decision === 'allow')) continue
      const delta = {stage: row.stage, tool: row.tool, from: row.base?.decision ?? 'none', from_reason: row.base?.reason ?? null, to: row.cand?.decision ?? 'none', to_reason: row.cand?.reason ?? null}
      const key = deltaKey(delta)
      const d = this.deltas.get(key)
      if (d) d.count++
      else this.deltas.set(key, {...delta, count: 1})
    }
  }

  private addInjection(diff: RequestDiff): void {
    this.injection.requests++
    const base = disallowedExecuted(diff, 'base')
    const cand = disallowedExecuted(diff, 'cand')
    if (base.length > 0) this.injection.base_disallowed_executed++
    if (cand.length > 0) this.injection.cand_disallowed_executed++
    if (this.injection.listed.length < MAX_LISTED)
      this.injection.listed.push({request_id: diff.request_id, line: diff.line, base_disallowed: base, cand_disallowed: cand})
  }

  /** What this builder holds, to be absorbed by the builder of the whole run. */
  partial(): SummaryPartial {
    return {
      sides: {base: this.base.state(), cand: this.cand.state()},
      writes: this.writes,
      requests: this.requests,
      skipped: this.skipped,
      classes: this.classes,
      noisy: this.noisy,
      tools: [...this.tools.values()],
      deltas: [...this.deltas.values()],
      injection: this.injection,
      statusMatch: this.statusMatch,
      safety: this.safety,
      regressions: this.regressions,
      improvements: this.improvements,
      causes: this.causes.state(),
      tenants: [...this.tenants.values()],
      changed: this.changed,
      accepted: this.acceptedTally.state(),
    }
  }

  /**
   * Adds the summary of the next part of the run (the lines after every request added so far), as
   * if its requests had been added here one by one.
   */
  absorb(p: SummaryPartial): void {
    this.base.absorb(p.sides.base)
    this.cand.absorb(p.sides.cand)
    // concat, not loops of push: absorb runs once per part, so those loops would run unoptimised.
    const w = this.writes
    this.writes = {
      request_ids: w.request_ids.concat(p.writes.request_ids),
      lines: w.lines.concat(p.writes.lines),
      base: w.base.concat(p.writes.base),
      cand: w.cand.concat(p.writes.cand),
      keys: w.keys.concat(p.writes.keys),
      tools: w.tools.concat(p.writes.tools),
    }
    for (const k of Object.keys(this.requests) as (keyof typeof this.requests)[]) this.requests[k] += p.requests[k]
    for (const l of p.skipped) if (this.skipped.length < MAX_LISTED) this.skipped.push(l)
    for (const c of CLASSES) this.classes[c] += p.classes[c]
    this.noisy += p.noisy
    for (const t of p.tools) {
      const row = this.tools.get(t.tool)
      if (row === undefined) this.tools.set(t.tool, {...t})
      else for (const k of ['requests', 'added', 'removed', 'args_changed', 'outcome_changed', 'other'] as const) row[k] += t[k]
    }
    for (const d of p.deltas) {
      const key = deltaKey(d)
      const seen = this.deltas.get(key)
      if (seen) seen.count += d.count
      else this.deltas.set(key, {...d})
    }
    this.injection.requests += p.injection.requests
    this.injection.base_disallowed_executed += p.injection.base_disallowed_executed
    this.injection.cand_disallowed_executed += p.injection.cand_disallowed_executed
    for (const i of p.injection.listed) if (this.injection.listed.length < MAX_LISTED) this.injection.listed.push(i)
    this.statusMatch += p.statusMatch
    for (const k of Object.keys(this.safety) as (keyof typeof this.safety)[]) this.safety[k] += p.safety[k]
    this.regressions.count += p.regressions.count
    this.regressions.ids = this.regressions.ids.concat(p.regressions.ids)
    for (const d of p.regressions.diffs) if (this.regressions.diffs.length < MAX_REGRESSION_DIFFS) this.regressions.diffs.push(d)
    this.improvements.count += p.improvements.count
    this.improvements.ids = this.improvements.ids.concat(p.improvements.ids)
    this.causes.absorb(p.causes)
    for (const t of p.tenants) for (const c of CLASSES) if (t.classes[c] > 0) this.addTenant(t.tenant, c, t.classes[c])
    this.changed.count += p.changed.count
    for (const c of p.changed.listed) if (this.changed.listed.length < MAX_CHANGED_LISTED) this.changed.listed.push(c)
    this.acceptedTally.absorb(p.accepted)
  }

  finish(): RunSummary {
    const idempotency = {base: new IdempotencyCheck(this.baseSide), cand: new IdempotencyCheck('candidate')}
    const listed: IdempotencyViolation[] = []
    const log = this.writes
    for (let i = 0, at = 0; i < log.request_ids.length; i++) {
      const id = log.request_ids[i]!
      const line = log.lines[i]!
      const base = log.base[i]!
      const cand = log.cand[i]!
      if (base > 0) idempotency.base.check(id, line, log, at, at + base, listed)
      if (cand > 0) idempotency.cand.check(id, line, log, at + base, at + base + cand, listed)
      at += base + cand
    }
    const base = this.base.stats(idempotency.base.violations)
    const cand = this.cand.stats(idempotency.cand.violations)
    const budgets = new Set([...Object.keys(base.budget_hits), ...Object.keys(cand.budget_hits)])
    const toolNames = new Set([...this.base.perTool.keys(), ...this.cand.perTool.keys()])
    const compared = this.requests.compared
    const causes = this.causes.groupsSorted()
    const acceptedGroups = this.acceptedTally.groupsSorted().map((g) => ({...g, entry: acceptedEntryFor(g.cause, this.accepted)!}))
    return {
      run: this.run,
      base_side: this.baseSide,
      requests: this.requests,
      skipped_lines: this.skipped,
      classes: this.classes,
      noisy_requests: this.noisy,
      sides: {base, cand},
      latency: {base: base.latency, cand: cand.latency, delta_p50: cand.latency.p50 - base.latency.p50, delta_p95: cand.latency.p95 - base.latency.p95},
      top_changed_tools: [...this.tools.values()].sort((a, b) => b.requests - a.requests || a.tool.localeCompare(b.tool)).slice(0, 20),
      policy_deltas: [...this.deltas.values()]
        .sort((a, b) => b.count - a.count || String(a.tool).localeCompare(String(b.tool)))
        .slice(0, MAX_LISTED),
      budget_hits: [...budgets].sort().map((budget) => ({budget, base: base.budget_hits[budget] ?? 0, cand: cand.budget_hits[budget] ?? 0})),
      tool_errors: [...toolNames].sort().map((tool) => ({
        tool,
        base: this.base.perTool.get(tool) ?? {calls: 0, errors: 0},
        cand: this.cand.perTool.get(tool) ?? {calls: 0, errors: 0},
      })),
      injection: this.injection,
      idempotency: {base: base.idempotency_violations, cand: cand.idempotency_violations, listed},
      quality: {
        status_match: this.statusMatch,
        status_match_rate: compared === 0 ? 1 : this.statusMatch / compared,
        completed_rate: {base: base.completed_rate, cand: cand.completed_rate},
      },
      safety: this.safety,
      regressions: {
        ...this.regressions,
        diffs: this.regressions.diffs.map((r) => ({...r, diff: withAnswerParts(r.diff)})),
        diffs_omitted: this.regressions.count - this.regressions.diffs.length,
      },
      improvements: this.improvements,
      causes: {groups: causes.slice(0, MAX_LISTED), omitted: Math.max(0, causes.length - MAX_LISTED)},
      tenants: {
        rows: [...this.tenants.values()].sort((a, b) => b.requests - a.requests || a.tenant.localeCompare(b.tenant)).slice(0, MAX_LISTED),
        omitted: Math.max(0, this.tenants.size - MAX_LISTED),
      },
      changed: {listed: this.changed.listed, omitted: this.changed.count - this.changed.listed.length},
      accepted: {groups: acceptedGroups, stale: staleEntries(this.accepted, acceptedGroups.map((g) => g.cause))},
    }
  }
}

export function summarizeRun(store: TraceStore, runId: string, options: CompareOptions & {accepted?: readonly AcceptedEntry[]} = {}): RunSummary {
  const run = findRun(store, runId)
  const baseSide = baseSideOf(run)
  const builder = new SummaryBuilder(run, baseSide, options.accepted)
  // Answer word diffs are only worth computing for the regressions kept in full.
  for (const r of compareTraces(store.iterateTraces(run.id), baseSide, {...options, answerParts: false})) builder.add(r)
  return builder.finish()
}
