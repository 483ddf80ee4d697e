import {StoreError} from '../errors.js'
import type {RequestTrace, TraceSide, TraceStatus} from '../runtime/trace.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {baseSideOf, compareTraces, type ComparedRequest, type CompareOptions} from '../diff/compare.js'
import {withAnswerParts} from '../diff/request-diff.js'
import {CLASSES, type Classification, type DiffClass, type RequestDiff} from '../diff/types.js'
import {wroteThrough} from '../diff/fields.js'

/**
 * One pass over a run's traces, one request at a time, into the aggregates the reports and the
 * scorecard read. Only numbers, counters and a capped set of regressions are kept.
 */

export const MAX_REGRESSION_DIFFS = 500
const MAX_LISTED = 100

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

export type RegressionEntry = {diff: RequestDiff; classification: Classification}

export type RunSummary = {
  run: RunInfo
  base_side: TraceSide
  requests: {total: number; compared: number; missing_base: number; missing_cand: number; skipped: number}
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
}

const NON_COST_BUDGETS = new Set(['max_steps', 'max_retries'])
const ERROR_OUTCOMES = new Set(['error', 'timeout', 'rate_limited', 'partial_write'])

/** Accumulates one side's numbers, trace by trace. */
class SideAccumulator {
  requests = 0
  statuses: Partial<Record<TraceStatus, number>> = {}
  input = 0
  output = 0
  cost = 0
  toolCalls = 0
  modelCalls = 0
  steps = 0
  latencies: number[] = []
  executed = 0
  errors = 0
  denials = 0
  budgets: Record<string, number> = {}
  costBudgetRequests = 0
  idempotency = 0
  perTool = new Map<string, {calls: number; errors: number}>()
  /** Idempotency keys executed so far in this run on this side, with the request that did. */
  private keys = new Map<string, string>()

  constructor(readonly side: TraceSide) {}

  add(t: RequestTrace, violations: IdempotencyViolation[]): void {
    this.requests++
    this.statuses[t.status] = (this.statuses[t.status] ?? 0) + 1
    this.input += t.input_tokens
    this.output += t.output_tokens
    this.cost += t.cost_usd
    this.toolCalls += t.tool_calls.length
    this.modelCalls += t.model_calls
    this.steps += t.steps.length
    this.latencies.push(t.latency_ms)
    if (t.policy_decisions.some((d) => d.decision !== 'allow')) this.denials++
    if (t.budget_hits.length > 0) {
      for (const b of new Set(t.budget_hits)) this.budgets[b] = (this.budgets[b] ?? 0) + 1
      if (t.budget_hits.some((b) => !NON_COST_BUDGETS.has(b))) this.costBudgetRequests++
    }
    // Made on the first keyed write only: most requests have none.
    let inRequest: Map<string, {tool: string; count: number}> | null = null
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
        inRequest ??= new Map()
        const seen = inRequest.get(c.idempotency_key)
        if (seen) seen.count++
        else inRequest.set(c.idempotency_key, {tool: c.name, count: 1})
      }
    }
    if (inRequest === null) return
    for (const [key, {tool, count}] of inRequest) {
      const other = this.keys.get(key)
      // Executed twice within the request, or already executed by another request of this run.
      const total = count + (other !== undefined && other !== t.request_id ? 1 : 0)
      if (total > 1) {
        this.idempotency++
        if (violations.length < MAX_LISTED) violations.push({request_id: t.request_id, line: t.line, side: t.side, key, tool, count: total})
      }
      if (other === undefined) this.keys.set(key, t.request_id)
    }
  }

  stats(): SideStats {
    const n = this.requests
    const mean = (x: number): number => (n === 0 ? 0 : x / n)
    const completed = this.statuses.completed ?? 0
    return {
      requests: n,
      statuses: this.statuses,
      completed,
      completed_rate: mean(completed),
      tokens: {input: this.input, output: this.output, total: this.input + this.output},
      cost_usd: this.cost,
      tool_calls: this.toolCalls,
      model_calls: this.modelCalls,
      steps: this.steps,
      means: {tokens: mean(this.input + this.output), cost_usd: mean(this.cost), tool_calls: mean(this.toolCalls), steps: mean(this.steps)},
      latency: latencyStats(this.latencies),
      tool_errors: {calls: this.executed, errors: this.errors, rate: this.executed === 0 ? 0 : this.errors / this.executed},
      denial_requests: this.denials,
      denial_rate: mean(this.denials),
      budget_hits: this.budgets,
      cost_budget_requests: this.costBudgetRequests,
      idempotency_violations: this.idempotency,
    }
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

/** Calls one side executed in an injection-flagged request that the other side refused or never wrote. */
function disallowedExecuted(diff: RequestDiff, side: 'base' | 'cand'): string[] {
  const other = side === 'base' ? 'cand' : 'base'
  const refusedByOther = new Set(diff.decisions.filter((d) => restrictive(d[other]?.decision)).map((d) => d.tool))
  const out: string[] = []
  for (const row of diff.calls) {
    const mine = row[side]
    if (!mine?.executed || row[other]?.executed) continue
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

export class SummaryBuilder {
  private readonly base: SideAccumulator
  private readonly cand = new SideAccumulator('candidate')
  private requests = {total: 0, compared: 0, missing_base: 0, missing_cand: 0, skipped: 0}
  private classes = Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<DiffClass, number>
  private noisy = 0
  private tools = new Map<string, ToolChange>()
  private deltas = new Map<string, PolicyDelta>()
  private injection = {requests: 0, base_disallowed_executed: 0, cand_disallowed_executed: 0, listed: [] as InjectionRequest[]}
  private idempotencyListed: IdempotencyViolation[] = []
  private statusMatch = 0
  private safety = {new_high_severity_requests: 0, new_denial_requests: 0, violations_avoided_requests: 0}
  private regressions = {count: 0, ids: [] as string[], diffs: [] as RegressionEntry[], diffs_omitted: 0}
  private improvements = {count: 0, ids: [] as string[]}

  constructor(
    private readonly run: RunInfo,
    private readonly baseSide: TraceSide,
  ) {
    this.base = new SideAccumulator(baseSide)
  }

  add(r: ComparedRequest): void {
    this.requests.total++
    if (r.base) this.base.add(r.base, this.idempotencyListed)
    if (r.cand) this.cand.add(r.cand, this.idempotencyListed)
    if (r.base?.status === 'skipped' || r.cand?.status === 'skipped') this.requests.skipped++
    if (!r.base) this.requests.missing_base++
    if (!r.cand) this.requests.missing_cand++
    const {diff, classification: cls} = r
    if (!diff || !cls) return
    this.requests.compared++
    this.classes[cls.class]++
    if (cls.noise.length > 0) this.noisy++
    if (!diff.status.changed) this.statusMatch++
    this.addToolChanges(cls)
    this.addPolicyDeltas(diff, r.noise?.fields)
    const codes = new Set(cls.reasons.map((x) => x.code))
    if (codes.has('new_high_guardrail')) this.safety.new_high_severity_requests++
    if (codes.has('new_denial') || codes.has('new_approval_required')) this.safety.new_denial_requests++
    if (codes.has('violation_avoided')) this.safety.violations_avoided_requests++
    if (diff.injection.base || diff.injection.cand) this.addInjection(diff)
    if (cls.class === 'regression') {
      this.regressions.count++
      this.regressions.ids.push(diff.request_id)
      if (this.regressions.diffs.length < MAX_REGRESSION_DIFFS) this.regressions.diffs.push({diff: withAnswerParts(diff), classification: cls})
      else this.regressions.diffs_omitted++
    } else if (cls.class === 'improvement') {
      this.improvements.count++
      this.improvements.ids.push(diff.request_id)
    }
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
      const from = row.base?.decision ?? 'none'
      const to = row.cand?.decision ?? 'none'
      const key = [row.stage, row.tool, from, row.base?.reason, to, row.cand?.reason].join('\u0000')
      const d = this.deltas.get(key)
      if (d) d.count++
      else
        this.deltas.set(key, {stage: row.stage, tool: row.tool, from, from_reason: row.base?.reason ?? null, to, to_reason: row.cand?.reason ?? null, count: 1})
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

  finish(): RunSummary {
    const base = this.base.stats()
    const cand = this.cand.stats()
    const budgets = new Set([...Object.keys(base.budget_hits), ...Object.keys(cand.budget_hits)])
    const toolNames = new Set([...this.base.perTool.keys(), ...this.cand.perTool.keys()])
    const compared = this.requests.compared
    return {
      run: this.run,
      base_side: this.baseSide,
      requests: this.requests,
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
      idempotency: {base: base.idempotency_violations, cand: cand.idempotency_violations, listed: this.idempotencyListed},
      quality: {
        status_match: this.statusMatch,
        status_match_rate: compared === 0 ? 1 : this.statusMatch / compared,
        completed_rate: {base: base.completed_rate, cand: cand.completed_rate},
      },
      safety: this.safety,
      regressions: this.regressions,
      improvements: this.improvements,
    }
  }
}

/** Looks a run up by id or unique prefix, as every command that takes a run id does. */
export function resolveRun(store: TraceStore, idOrPrefix: string): RunInfo {
  const run = store.getRun(idOrPrefix)
  if (!run) throw new StoreError(`${store.path}: no run matches "${idOrPrefix}" (see \`understudy runs list\`)`)
  return run
}

export function summarizeRun(store: TraceStore, runId: string, options: CompareOptions = {}): RunSummary {
  const run = resolveRun(store, runId)
  const baseSide = baseSideOf(run)
  const builder = new SummaryBuilder(run, baseSide)
  // Answer word diffs are only worth computing for the regressions kept in full.
  for (const r of compareTraces(store.iterateTraces(run.id), baseSide, {...options, answerParts: false})) builder.add(r)
  return builder.finish()
}
