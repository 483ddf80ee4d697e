import {diffWords} from 'diff'
import type {GuardrailResult, PolicyDecisionTrace, RequestTrace, ToolCallTrace} from '../trace/schema.js'
import {alignByKey} from './align.js'
import {
  callField,
  callKey,
  decisionField,
  decisionKey,
  flattenArgs,
  getPath,
  guardrailField,
  isInjectionCheck,
  occurrences,
  totalTokens,
} from './fields.js'
import type {
  AnswerPart,
  ArgChange,
  CallRow,
  CallView,
  DecisionRow,
  GuardrailDelta,
  GuardrailFailure,
  NumberDelta,
  RequestDiff,
  StepRow,
} from './types.js'

export type DiffOptions = {
  /** Compute the word-level answer diff now (default true); summaries skip it and fill it in later. */
  answerParts?: boolean
}

/** Compares what the base did with what the candidate did for the same request. Pure. */
export function diffRequest(base: RequestTrace, cand: RequestTrace, options: DiffOptions = {}): RequestDiff {
  const answerChanged = base.final_answer !== cand.final_answer
  const diff: RequestDiff = {
    request_id: cand.request_id,
    line: cand.line,
    base_side: base.side,
    cand_side: cand.side,
    tenant: cand.tenant,
    user: cand.user,
    role: cand.role,
    status: {base: base.status, cand: cand.status, changed: base.status !== cand.status},
    answer: {base: base.final_answer, cand: cand.final_answer, changed: answerChanged},
    steps: diffSteps(base, cand),
    calls: diffCalls(base.tool_calls, cand.tool_calls),
    decisions: diffDecisions(base, cand),
    guardrails: diffGuardrails(base.guardrails, cand.guardrails),
    budgets: diffBudgets(base.budget_hits, cand.budget_hits),
    metrics: {
      tokens: numberDelta(totalTokens(base), totalTokens(cand)),
      cost_usd: numberDelta(base.cost_usd, cand.cost_usd),
      latency_ms: numberDelta(base.latency_ms, cand.latency_ms),
      tool_calls: numberDelta(base.tool_calls.length, cand.tool_calls.length),
      steps: numberDelta(base.steps.length, cand.steps.length),
    },
    injection: injectionOf(base, cand),
    error: {base: base.error, cand: cand.error},
    diverged: {base: base.diverged ?? null, cand: cand.diverged ?? null},
  }
  if (answerChanged && options.answerParts !== false) diff.answer.parts = answerWordDiff(base.final_answer, cand.final_answer)
  return diff
}

function injectionOf(base: RequestTrace, cand: RequestTrace): RequestDiff['injection'] {
  const from = (t: RequestTrace): number | null => {
    let first: number | null = null
    for (const g of t.guardrails) {
      if (!isInjectionCheck(g)) continue
      const step = g.stage === 'pre_model' ? 0 : g.step + 1
      if (first === null || step < first) first = step
    }
    return first
  }
  const from_step = {base: from(base), cand: from(cand)}
  return {base: from_step.base !== null, cand: from_step.cand !== null, from_step}
}

export function answerWordDiff(base: string, cand: string): AnswerPart[] {
  return diffWords(base, cand).map((c) => ({value: c.value, added: c.added, removed: c.removed}))
}

/** Fills in the word-level answer diff if it was skipped. */
export function withAnswerParts(diff: RequestDiff): RequestDiff {
  if (diff.answer.changed && !diff.answer.parts) diff.answer.parts = answerWordDiff(diff.answer.base, diff.answer.cand)
  return diff
}

function numberDelta(base: number, cand: number): NumberDelta {
  return {base, cand, delta: cand - base, ratio: base === 0 ? null : (cand - base) / base}
}

/** Spelled out rather than a rest spread, which is several times slower on the hot path. */
function view(c: ToolCallTrace): CallView {
  const v: CallView = {
    seq: c.seq,
    step: c.step,
    name: c.name,
    risk: c.risk,
    args: c.args,
    args_hash: c.args_hash,
    idempotency_key: c.idempotency_key,
    attempt: c.attempt,
    outcome: c.outcome,
    executed: c.executed,
    error: c.error,
    latency_ms: c.latency_ms,
  }
  if (c.attack !== undefined) v.attack = c.attack
  if (c.turn !== undefined) v.turn = c.turn
  return v
}

function diffCalls(base: ToolCallTrace[], cand: ToolCallTrace[]): CallRow[] {
  const baseOcc = occurrences(base, callKey)
  const candOcc = occurrences(cand, callKey)
  return alignByKey(base, cand, callKey).map((p) => {
    const b = p.base === null ? null : base[p.base]!
    const c = p.cand === null ? null : cand[p.cand]!
    const name = (c ?? b)!.name
    const field = c ? callField(name, candOcc[p.cand!]!) : callField(name, baseOcc[p.base!]!)
    return {
      kind: p.kind,
      field,
      name,
      base: b && view(b),
      cand: c && view(c),
      args: b && c ? diffArgs(b, c, field) : [],
      outcome_changed: !!b && !!c && b.outcome !== c.outcome,
      executed_changed: !!b && !!c && b.executed !== c.executed,
    }
  })
}

function diffArgs(b: ToolCallTrace, c: ToolCallTrace, field: string): ArgChange[] {
  if (b.args_hash === c.args_hash) return []
  const fb = flattenArgs(b.args)
  const fc = flattenArgs(c.args)
  const out: ArgChange[] = []
  for (const [path, v] of fb) {
    const w = fc.get(path)
    if (w === undefined) out.push({path, field: `${field}.args.${path}`, base: getPath(b.args, path), cand: undefined, kind: 'removed'})
    else if (w !== v) out.push({path, field: `${field}.args.${path}`, base: getPath(b.args, path), cand: getPath(c.args, path), kind: 'changed'})
  }
  for (const path of fc.keys()) {
    if (!fb.has(path)) out.push({path, field: `${field}.args.${path}`, base: undefined, cand: getPath(c.args, path), kind: 'added'})
  }
  // The hashes cover the unredacted arguments: a difference hidden by redaction still shows.
  if (out.length === 0) out.push({path: '(sensitive)', field: `${field}.args`, base: '[REDACTED]', cand: '[REDACTED]', kind: 'changed'})
  return out
}

/** The attack a decision's call served, if any. */
function attackOf(t: RequestTrace, d: PolicyDecisionTrace | null): string | null {
  if (d === null || d.tool_call_seq === null) return null
  return t.tool_calls[d.tool_call_seq]?.attack ?? null
}

function diffDecisions(baseTrace: RequestTrace, candTrace: RequestTrace): DecisionRow[] {
  const base = baseTrace.policy_decisions
  const cand = candTrace.policy_decisions
  const baseOcc = occurrences(base, decisionKey)
  const candOcc = occurrences(cand, decisionKey)
  return alignByKey(base, cand, decisionKey).map((p) => {
    const b = p.base === null ? null : base[p.base]!
    const c = p.cand === null ? null : cand[p.cand]!
    const d = (c ?? b)!
    const key = decisionKey(d)
    return {
      kind: p.kind,
      field: c ? decisionField(key, candOcc[p.cand!]!) : decisionField(key, baseOcc[p.base!]!),
      stage: d.stage,
      tool: d.tool,
      base: b && {decision: b.decision, reason: b.reason, rule: b.rule},
      cand: c && {decision: c.decision, reason: c.reason, rule: c.rule},
      changed: !b || !c || b.decision !== c.decision || b.reason !== c.reason,
      attack: attackOf(candTrace, c) ?? attackOf(baseTrace, b),
    }
  })
}

function diffSteps(base: RequestTrace, cand: RequestTrace): StepRow[] {
  return alignByKey(base.steps, cand.steps, (s) => s.state).map((p) => {
    const b = p.base === null ? null : base.steps[p.base]!
    const c = p.cand === null ? null : cand.steps[p.cand]!
    const view = (s: RequestTrace['steps'][number]) => ({state: s.state, detail: s.detail, ...(s.thinking === undefined ? {} : {thinking: s.thinking})})
    return {kind: p.kind, base: b && view(b), cand: c && view(c)}
  })
}

const failureKey = (g: GuardrailFailure): string => `${g.stage}\u0000${g.check}\u0000${g.severity}`

function failures(results: GuardrailResult[]): GuardrailFailure[] {
  return results.filter((g) => !g.passed).map((g) => ({stage: g.stage, check: g.check, severity: g.severity, detail: g.detail}))
}

/** Multiset difference: a check failing twice in the candidate and once in the base is one new failure. */
function diffGuardrails(base: GuardrailResult[], cand: GuardrailResult[]): RequestDiff['guardrails'] {
  const fb = failures(base)
  const fc = failures(cand)
  const count = new Map<string, number>()
  for (const g of fb) count.set(failureKey(g), (count.get(failureKey(g)) ?? 0) + 1)
  const added: GuardrailDelta[] = []
  for (const g of fc) {
    const k = failureKey(g)
    const n = count.get(k) ?? 0
    if (n > 0) count.set(k, n - 1)
    else added.push({field: guardrailField(g), failure: g})
  }
  const countCand = new Map<string, number>()
  for (const g of fc) countCand.set(failureKey(g), (countCand.get(failureKey(g)) ?? 0) + 1)
  const removed: GuardrailDelta[] = []
  for (const g of fb) {
    const k = failureKey(g)
    const n = countCand.get(k) ?? 0
    if (n > 0) countCand.set(k, n - 1)
    else removed.push({field: guardrailField(g), failure: g})
  }
  return {base: fb, cand: fc, added, removed}
}

function diffBudgets(base: string[], cand: string[]): RequestDiff['budgets'] {
  const b = new Set(base)
  const c = new Set(cand)
  return {base, cand, added: [...c].filter((x) => !b.has(x)), removed: [...b].filter((x) => !c.has(x))}
}
