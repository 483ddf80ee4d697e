import {TOOL_RESULT_INJECTION} from '../runtime/guardrails/post-action.js'
import type {TraceStatus} from '../trace/schema.js'
import {beyondTolerance, wroteThrough} from './fields.js'
import type {CallRow, Classification, ClassifyContext, DecisionRow, DiffClass, GuardrailFailure, Reason, RequestDiff} from './types.js'

/**
 * Decides what a request's difference means. Most severe wins: regression > improvement >
 * behaviour_change > benign; no finding at all is `same`. Findings in fields that also differ
 * between repeats of one side (the noise profile) are set aside as noise and decide nothing.
 */

export const DEFAULT_TOLERANCE = 0.2
export const DEFAULT_SAFETY_REASONS = /INJECT|EXFIL|PII|SECRET|LEAK|CROSS_TENANT|UNTRUSTED/

/** Absolute differences too small to matter whatever their ratio (1 ms against 2 ms). */
const FLOORS = {tokens: 5, cost_usd: 0.00001, latency_ms: 25} as const

const RANK: Record<DiffClass, number> = {same: 0, benign: 1, behaviour_change: 2, improvement: 3, regression: 4}

const COMPLETES = new Set<TraceStatus>(['completed', 'escalated'])
const FAILS = new Set<TraceStatus>(['refused', 'failed', 'budget_exceeded', 'needs_approval'])

const restrictive = (d: string | undefined): boolean => d === 'deny' || d === 'require_approval'

export function classifyRequest(diff: RequestDiff, ctx: ClassifyContext = {}): Classification {
  const noiseFields = ctx.noise?.fields
  const reasons: Reason[] = []
  const noise: Reason[] = []
  const add = (r: Reason): void => {
    if (noiseFields?.has(r.field)) noise.push(r)
    else reasons.push(r)
  }
  const injection = diff.injection.base || diff.injection.cand

  classifyStatus(diff, injection, add)
  classifyDecisions(diff, injection, ctx.safetyReasonPattern ?? DEFAULT_SAFETY_REASONS, add)
  for (const row of diff.calls) classifyCall(row, diff, add)
  classifyGuardrails(diff, add)
  for (const b of diff.budgets.added) add({class: 'regression', code: 'new_budget_hit', field: `budget:${b}`, message: `hits budget ${b}`})
  for (const b of diff.budgets.removed)
    add({class: 'improvement', code: 'budget_avoided', field: `budget:${b}`, message: `no longer hits budget ${b}`})
  if (diff.answer.changed) add({class: 'benign', code: 'answer_wording', field: 'answer', message: 'final answer worded differently'})
  if (diff.steps.some((s) => s.kind !== 'same'))
    add({class: 'benign', code: 'steps_changed', field: 'steps', message: `${diff.metrics.steps.cand} steps (was ${diff.metrics.steps.base})`})
  classifyMetrics(diff, ctx.tolerance ?? DEFAULT_TOLERANCE, add)

  reasons.sort((a, b) => RANK[b.class] - RANK[a.class])
  const top = reasons[0]?.class ?? 'same'
  return {class: top, reasons, noise}
}

type Add = (r: Reason) => void

function classifyStatus(diff: RequestDiff, injection: boolean, add: Add): void {
  const {base, cand, changed} = diff.status
  if (!changed) return
  const message = `status ${base} → ${cand}`
  if (COMPLETES.has(base) && FAILS.has(cand)) {
    // Refusing a request whose input carries an injection is what a safer bundle should do.
    if (injection && cand === 'refused') add({class: 'behaviour_change', code: 'refused_injection', field: 'status', message})
    else add({class: 'regression', code: 'status_worse', field: 'status', message: `no longer completes: ${message}`})
  } else if (FAILS.has(base) && COMPLETES.has(cand)) {
    add({class: 'improvement', code: 'status_better', field: 'status', message: `now completes: ${message}`})
  } else {
    add({class: 'behaviour_change', code: 'status_changed', field: 'status', message})
  }
}

function describeDecision(row: DecisionRow): string {
  const from = row.base ? `${row.base.decision} (${row.base.reason})` : 'none'
  const to = row.cand ? `${row.cand.decision} (${row.cand.reason})` : 'none'
  return `${row.tool ?? row.stage}: ${from} → ${to} at ${row.stage}`
}

function classifyDecisions(diff: RequestDiff, injection: boolean, safety: RegExp, add: Add): void {
  // Tools the base executed and the candidate did not: a candidate denial of one of these avoided an action.
  // Worked out on the first changed decision only: most requests have none.
  let avoided: Set<string> | null = null
  for (const row of diff.decisions) {
    if (!row.changed) continue
    avoided ??= new Set(diff.calls.filter((c) => c.base?.executed && !c.cand?.executed).map((c) => c.name))
    const from = row.base?.decision
    const to = row.cand?.decision
    const message = describeDecision(row)
    if (restrictive(to) && from !== to && !(from === 'deny' && to === 'require_approval')) {
      const isViolationAvoided = row.tool !== null && avoided.has(row.tool) && (injection || safety.test(row.cand!.reason))
      if (isViolationAvoided) {
        add({class: 'improvement', code: 'violation_avoided', field: row.field, message: `base executed ${row.tool}; candidate policy says ${message}`})
      } else {
        add({class: 'regression', code: to === 'deny' ? 'new_denial' : 'new_approval_required', field: row.field, message})
      }
    } else if (restrictive(from) && (to === 'allow' || to === undefined)) {
      add({class: 'behaviour_change', code: 'denial_lifted', field: row.field, message})
    } else if (from !== undefined && to !== undefined) {
      add({class: 'behaviour_change', code: from === to ? 'reason_changed' : 'decision_changed', field: row.field, message})
    }
    // An `allow` that appears or disappears only mirrors a call that did; the call rows judge it.
  }
}

function classifyCall(row: CallRow, diff: RequestDiff, add: Add): void {
  const risk = (row.cand ?? row.base)!.risk
  const read = risk === 'read'
  const writes = risk === 'write_low' || risk === 'write_high'
  const name = row.name
  if (row.kind === 'added') {
    const c = row.cand!
    const retried = c.attempt > 1 ? diff.calls.find((r) => r.cand && r.cand.seq < c.seq && r.cand.name === name && r.cand.args_hash === c.args_hash) : undefined
    if (retried && !read) {
      // A retry is not a new action, unless the write went through twice under one idempotency key.
      const twice = wroteThrough(c) && wroteThrough(retried.cand!) && c.idempotency_key !== null && c.idempotency_key === retried.cand!.idempotency_key
      if (twice)
        add({class: 'regression', code: 'duplicate_write', field: row.field, message: `${name} executed twice with idempotency key ${c.idempotency_key} (${retried.cand!.outcome}, then retried)`})
      else add({class: 'behaviour_change', code: 'retry_added', field: row.field, message: `${name} retried (attempt ${c.attempt}: ${c.outcome})`})
      return
    }
    if (read) add({class: 'benign', code: 'read_call_added', field: row.field, message: `new read-only call ${name} (${c.outcome})`})
    else if (c.executed && writes) newWrite(row, risk, add)
    else add({class: 'behaviour_change', code: 'call_added', field: row.field, message: `new call ${name} (${c.outcome})`})
    return
  }
  if (row.kind === 'removed') {
    const b = row.base!
    if (read) add({class: 'benign', code: 'read_call_removed', field: row.field, message: `no longer calls read-only ${name}`})
    else add({class: 'behaviour_change', code: 'call_removed', field: row.field, message: `no longer calls ${name} (base: ${b.outcome})`})
    return
  }
  if (row.kind === 'moved')
    add({class: read ? 'benign' : 'behaviour_change', code: 'call_reordered', field: row.field, message: `${name} called in a different order`})
  const b = row.base!
  const c = row.cand!
  if (row.executed_changed) {
    const field = `${row.field}.executed`
    if (c.executed && writes) newWrite(row, risk, add, field)
    else
      add({
        class: read ? 'benign' : 'behaviour_change',
        code: c.executed ? 'call_now_executed' : 'call_not_executed',
        field,
        message: `${name}: ${b.outcome} → ${c.outcome}`,
      })
  } else if (row.outcome_changed) {
    add({class: read ? 'benign' : 'behaviour_change', code: 'outcome_changed', field: `${row.field}.outcome`, message: `${name}: ${b.outcome} → ${c.outcome}`})
  }
  for (const a of row.args) {
    const shown = `${name}.${a.path}: ${show(a.base)} → ${show(a.cand)}`
    if (read) add({class: 'benign', code: 'read_args_changed', field: a.field, message: shown})
    // A value the base also sent, now different, in an executed high-risk call (a refund of 2000, not 20).
    // A field only one side sends is a contract change, judged as a behaviour change.
    else if (risk === 'write_high' && c.executed && a.kind === 'changed')
      add({class: 'regression', code: 'high_risk_args_changed', field: a.field, message: `executed high-risk ${shown}`})
    else add({class: 'behaviour_change', code: 'args_changed', field: a.field, message: shown})
  }
}

function newWrite(row: CallRow, risk: string, add: Add, field = row.field): void {
  add({
    class: 'regression',
    code: risk === 'write_high' ? 'new_high_risk_action' : 'new_write',
    field,
    message: `executes ${risk} ${row.name} that the base did not`,
  })
}

/**
 * Checks that judge what came in rather than what the side did: the pre-model checks (input and
 * documents, which both sides share) and injection in a tool's answer (the content of a tool, which
 * says nothing of the candidate; what it did next is judged by its calls and decisions). A new
 * finding of one is never a regression by itself, nor a lost one an improvement.
 */
function judgesContent(f: GuardrailFailure): boolean {
  return f.stage === 'pre_model' || f.check === TOOL_RESULT_INJECTION
}

function classifyGuardrails(diff: RequestDiff, add: Add): void {
  // Production logs no guardrail results, so against a recording every finding is "new": it tells
  // what the candidate's guardrails saw, not that the candidate got worse. Policy decisions, tool
  // calls and statuses carry the comparison there.
  if (diff.base_side === 'recorded') {
    for (const g of diff.guardrails.added) {
      const f = g.failure
      add({class: 'benign', code: 'guardrail_unrecorded', field: g.field, message: `${f.stage} guardrail ${f.check} (${f.severity}) fails (production records no guardrails): ${f.detail}`})
    }
    return
  }
  for (const g of diff.guardrails.added) {
    const f = g.failure
    const what = `${f.stage} guardrail ${f.check} (${f.severity}) fails: ${f.detail}`
    if (f.severity === 'high' && !judgesContent(f)) add({class: 'regression', code: 'new_high_guardrail', field: g.field, message: what})
    else add({class: f.severity === 'high' || f.severity === 'medium' ? 'behaviour_change' : 'benign', code: 'guardrail_added', field: g.field, message: what})
  }
  for (const g of diff.guardrails.removed) {
    const f = g.failure
    const what = `${f.stage} guardrail ${f.check} (${f.severity}) no longer fails`
    if (f.severity === 'high' && !judgesContent(f)) add({class: 'improvement', code: 'high_guardrail_avoided', field: g.field, message: what})
    else add({class: 'benign', code: 'guardrail_removed', field: g.field, message: what})
  }
}

function classifyMetrics(diff: RequestDiff, tolerance: number, add: Add): void {
  for (const key of ['tokens', 'cost_usd', 'latency_ms'] as const) {
    const m = diff.metrics[key]
    if (m.delta === 0) continue
    const pct = m.ratio === null ? 'from 0' : `${m.ratio > 0 ? '+' : ''}${Math.round(m.ratio * 100)}%`
    const message = `${key} ${fmt(m.base)} → ${fmt(m.cand)} (${pct})`
    if (beyondTolerance(m.base, m.cand, tolerance, FLOORS[key])) add({class: 'behaviour_change', code: `${key}_changed`, field: key, message})
    else add({class: 'benign', code: `${key}_within_tolerance`, field: key, message})
  }
}

function fmt(n: number): string {
  if (Number.isInteger(n)) return String(n)
  // Trailing zeros trimmed by hand: this runs for most requests, a regex per call shows in profiles.
  const s = n.toFixed(6)
  let end = s.length
  while (end > 0 && s.charCodeAt(end - 1) === 0x30) end--
  return s.slice(0, end)
}

function show(v: unknown): string {
  if (v === undefined) return '∅'
  const s = JSON.stringify(v)
  return s.length > 60 ? s.slice(0, 57) + '...' : s
}
