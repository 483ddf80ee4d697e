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

/**
 * What the summary keeps of one side's trace of a request: a few numbers, not the trace. Small and
 * plain, so that a worker thread reading part of the run can hand it back (src/parallel/map-run.ts).
 */
export type SideFacts = {
  request_id: string
  line: number
  side: TraceSide
  status: TraceStatus
  input_tokens: number
  output_tokens: number
  cost_usd: number
  tool_calls: number
  model_calls: number
  steps: number
  latency_ms: number
  /** At least one deny or require_approval decision. */
  denial: boolean
  budget_hits: string[]
  /** Calls that ran or failed, in order: `[tool, failed]`. */
  calls: [string, boolean][]
  /** Keyed calls that wrote through, in order: `[idempotency key, tool]`. */
  writes: [string, string][]
}

export function sideFacts(t: RequestTrace): SideFacts {
  let denial = false
  for (const d of t.policy_decisions) {
    if (d.decision !== 'allow') {
      denial = true
      break
    }
  }
  const calls: [string, boolean][] = []
  const writes: [string, string][] = []
  for (const c of t.tool_calls) {
    const failed = ERROR_OUTCOMES.has(c.outcome)
    if (!c.executed && !failed) continue
    calls.push([c.name, failed])
    if (c.idempotency_key && wroteThrough(c)) writes.push([c.idempotency_key, c.name])
  }
  return {
    request_id: t.request_id,
    line: t.line,
    side: t.side,
    status: t.status,
    input_tokens: t.input_tokens,
    output_tokens: t.output_tokens,
    cost_usd: t.cost_usd,
    tool_calls: t.tool_calls.length,
    model_calls: t.model_calls,
    steps: t.steps.length,
    latency_ms: t.latency_ms,
    denial,
    budget_hits: t.budget_hits,
    calls,
    writes,
  }
}

/** Accumulates one side's numbers, request by request. */
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

  add(t: SideFacts, violations: IdempotencyViolation[]): void {
    this.requests++
    this.statuses[t.status] = (this.statuses[t.status] ?? 0) + 1
    this.input += t.input_tokens
    this.output += t.output_tokens
    this.cost += t.cost_usd
    this.toolCalls += t.tool_calls
    this.modelCalls += t.model_calls
    this.steps += t.steps
    this.latencies.push(t.latency_ms)
    if (t.denial) this.denials++
    if (t.budget_hits.length > 0) {
      for (const b of new Set(t.budget_hits)) this.budgets[b] = (this.budgets[b] ?? 0) + 1
      if (t.budget_hits.some((b) => !NON_COST_BUDGETS.has(b))) this.costBudgetRequests++
    }
    for (const [name, failed] of t.calls) {
      this.executed++
      if (failed) this.errors++
      const tool = this.perTool.get(name) ?? {calls: 0, errors: 0}
      tool.calls++
      if (failed) tool.errors++
      this.perTool.set(name, tool)
    }
    if (t.writes.length === 0) return
    const inRequest = new Map<string, {tool: string; count: number}>()
    for (const [key, tool] of t.writes) {
      const seen = inRequest.get(key)
      if (seen) seen.count++
      else inRequest.set(key, {tool, count: 1})
    }
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

type ChangeKind = 'added' | 'removed' | 'args_changed' | 'outcome_changed' | 'other'
type PolicyDeltaFact = Omit<PolicyDelta, 'count'>

/** What the summary keeps of one compared request (both sides present). */
export type ComparedFacts = {
  request_id: string
  class: DiffClass
  noisy: boolean
  status_changed: boolean
  /** Per tool the request's call reasons are about, the kinds of change (each once). */
  tool_changes: [string, ChangeKind[]][]
  policy_deltas: PolicyDeltaFact[]
  new_high_guardrail: boolean
  new_denial: boolean
  violation_avoided: boolean
  injection: InjectionRequest | null
  /** The regression in full, for the first MAX_REGRESSION_DIFFS regressions of the range read. */
  regression: RegressionEntry | null
}

/** What the summary keeps of one request. */
export type RequestFacts = {base: SideFacts | null; cand: SideFacts | null; skipped: boolean; compared: ComparedFacts | null}

/**
 * Turns compared requests into facts, in line order. Holds one count: a regression's diff is kept
 * in full only while fewer than MAX_REGRESSION_DIFFS were seen, so a range read on its own (see
 * SummaryBuilder.addFacts) keeps at least every full diff the run's summary can need.
 */
export class RequestFactsReader {
  private regressions = 0

  facts(r: ComparedRequest): RequestFacts {
    const out: RequestFacts = {
      base: r.base ? sideFacts(r.base) : null,
      cand: r.cand ? sideFacts(r.cand) : null,
      skipped: r.base?.status === 'skipped' || r.cand?.status === 'skipped',
      compared: null,
    }
    const {diff, classification: cls} = r
    if (!diff || !cls) return out
    let regression: RegressionEntry | null = null
    if (cls.class === 'regression' && this.regressions++ < MAX_REGRESSION_DIFFS) regression = {diff: withAnswerParts(diff), classification: cls}
    const codes = new Set(cls.reasons.map((x) => x.code))
    out.compared = {
      request_id: diff.request_id,
      class: cls.class,
      noisy: cls.noise.length > 0,
      status_changed: diff.status.changed,
      tool_changes: toolChanges(cls),
      policy_deltas: policyDeltas(diff, r.noise?.fields),
      new_high_guardrail: codes.has('new_high_guardrail'),
      new_denial: codes.has('new_denial') || codes.has('new_approval_required'),
      violation_avoided: codes.has('violation_avoided'),
      injection:
        diff.injection.base || diff.injection.cand
          ? {request_id: diff.request_id, line: diff.line, base_disallowed: disallowedExecuted(diff, 'base'), cand_disallowed: disallowedExecuted(diff, 'cand')}
          : null,
      regression,
    }
    return out
  }
}

function toolChanges(cls: Classification): [string, ChangeKind[]][] {
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
  if (perTool === null) return []
  // Each column counts requests, so a request with three changed arguments counts once.
  return [...perTool].map(([tool, codes]) => [tool, [...new Set(codes.map(changeKind))]])
}

function policyDeltas(diff: RequestDiff, noise: Set<string> | undefined): PolicyDeltaFact[] {
  const out: PolicyDeltaFact[] = []
  for (const row of diff.decisions) {
    if (!row.changed || noise?.has(row.field)) continue
    // An allow that appears with a new call (or goes with a dropped one) says nothing the call rows do not.
    if ((!row.base && row.cand?.decision === 'allow') || (!row.cand && row.base?.decision === 'allow')) continue
    out.push({stage: row.stage, tool: row.tool, from: row.base?.decision ?? 'none', from_reason: row.base?.reason ?? null, to: row.cand?.decision ?? 'none', to_reason: row.cand?.reason ?? null})
  }
  return out
}

export class SummaryBuilder {
  private readonly base: SideAccumulator
  private readonly cand = new SideAccumulator('candidate')
  private readonly reader = new RequestFactsReader()
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
    this.addFacts(this.reader.facts(r))
  }

  /**
   * Facts must come in line order, whoever read them: a request's idempotency keys are checked
   * against those of the requests before it, and the lists keep the first ones met.
   */
  addFacts(f: RequestFacts): void {
    this.requests.total++
    if (f.base) this.base.add(f.base, this.idempotencyListed)
    if (f.cand) this.cand.add(f.cand, this.idempotencyListed)
    if (f.skipped) this.requests.skipped++
    if (!f.base) this.requests.missing_base++
    if (!f.cand) this.requests.missing_cand++
    const c = f.compared
    if (!c) return
    this.requests.compared++
    this.classes[c.class]++
    if (c.noisy) this.noisy++
    if (!c.status_changed) this.statusMatch++
    for (const [tool, kinds] of c.tool_changes) {
      const row = this.tools.get(tool) ?? {tool, requests: 0, added: 0, removed: 0, args_changed: 0, outcome_changed: 0, other: 0}
      row.requests++
      for (const kind of kinds) row[kind]++
      this.tools.set(tool, row)
    }
    for (const d of c.policy_deltas) {
      const key = [d.stage, d.tool, d.from, d.from_reason, d.to, d.to_reason].join('\u0000')
      const seen = this.deltas.get(key)
      if (seen) seen.count++
      else this.deltas.set(key, {...d, count: 1})
    }
    if (c.new_high_guardrail) this.safety.new_high_severity_requests++
    if (c.new_denial) this.safety.new_denial_requests++
    if (c.violation_avoided) this.safety.violations_avoided_requests++
    if (c.injection) {
      this.injection.requests++
      if (c.injection.base_disallowed.length > 0) this.injection.base_disallowed_executed++
      if (c.injection.cand_disallowed.length > 0) this.injection.cand_disallowed_executed++
      if (this.injection.listed.length < MAX_LISTED) this.injection.listed.push(c.injection)
    }
    if (c.class === 'regression') {
      this.regressions.count++
      this.regressions.ids.push(c.request_id)
      if (this.regressions.diffs.length < MAX_REGRESSION_DIFFS) {
        // A range's reader keeps its first MAX_REGRESSION_DIFFS in full, so one kept here always has it.
        if (c.regression === null) throw new Error(`summary: regression ${c.request_id} came without its diff`)
        this.regressions.diffs.push(c.regression)
      } else this.regressions.diffs_omitted++
    } else if (c.class === 'improvement') {
      this.improvements.count++
      this.improvements.ids.push(c.request_id)
    }
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
