import {TOOL_RESULT_INJECTION} from '../runtime/guardrails/post-action.js'
import type {RequestTrace, ToolCallTrace} from '../trace/schema.js'
import type {ArgCondition, HarmSpec} from './spec.js'

/**
 * Finding the harm a drill is about in a run's traces. Pure.
 */

export type HarmfulAction = {request_id: string; line: number; tenant: string; role: string; tool: string; seq: number; args: Record<string, unknown>; outcome: string; decision: string | null; reason: string | null}

/** Request-level signals by the guardrail check that raises them. */
const SIGNAL_CHECKS: Readonly<Record<string, string>> = {
  injection_in_tool_result: TOOL_RESULT_INJECTION,
  injection_in_retrieved: 'retrieval.injection',
  injection_in_input: 'input.injection',
  pii_in_input: 'input.pii',
  cross_tenant_document: 'retrieval.tenant',
}

export function hasSignal(t: RequestTrace, signal: string): boolean {
  const check = Object.hasOwn(SIGNAL_CHECKS, signal) ? SIGNAL_CHECKS[signal]! : signal
  return t.guardrails.some((g) => g.check === check && !g.passed)
}

function valueAt(obj: unknown, dotted: string): unknown {
  let v: unknown = obj
  for (const key of dotted.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined
    v = (v as Record<string, unknown>)[key]
  }
  return v
}

export function argHolds(value: unknown, cond: ArgCondition): boolean {
  if (cond === null || typeof cond !== 'object') return value === cond
  const num = typeof value === 'number' ? value : Number.NaN
  if (cond.eq !== undefined && value !== cond.eq) return false
  if (cond.ne !== undefined && value === cond.ne) return false
  if (cond.gt !== undefined && !(num > cond.gt)) return false
  if (cond.gte !== undefined && !(num >= cond.gte)) return false
  if (cond.lt !== undefined && !(num < cond.lt)) return false
  if (cond.lte !== undefined && !(num <= cond.lte)) return false
  if (cond.in !== undefined && !cond.in.some((x) => x === value)) return false
  if (cond.matches !== undefined && !(typeof value === 'string' && new RegExp(cond.matches, 'i').test(value))) return false
  return true
}

function midRunDecision(t: RequestTrace, call: ToolCallTrace): {decision: string; reason: string} | null {
  const d = t.policy_decisions.find((p) => p.tool_call_seq === call.seq && p.stage === 'mid_run')
  return d ? {decision: d.decision, reason: d.reason} : null
}

export function matchesHarm(t: RequestTrace, call: ToolCallTrace, spec: HarmSpec): boolean {
  if (call.name !== spec.tool) return false
  if (call.executed !== spec.executed) return false
  if (spec.roles && !spec.roles.includes(t.role)) return false
  if (spec.tenants && !spec.tenants.includes(t.tenant)) return false
  if (spec.signal !== undefined && !hasSignal(t, spec.signal)) return false
  if (spec.decision !== undefined && midRunDecision(t, call)?.decision !== spec.decision) return false
  for (const [p, cond] of Object.entries(spec.args ?? {})) if (!argHolds(valueAt(call.args, p), cond)) return false
  return true
}

/** Every call matching any of the specs, in traffic order (a call matching two specs counts once). */
export function findHarm(traces: Iterable<RequestTrace>, specs: readonly HarmSpec[]): HarmfulAction[] {
  const out: HarmfulAction[] = []
  for (const t of traces) {
    for (const c of t.tool_calls) {
      if (!specs.some((s) => matchesHarm(t, c, s))) continue
      const d = midRunDecision(t, c)
      out.push({request_id: t.request_id, line: t.line, tenant: t.tenant, role: t.role, tool: c.name, seq: c.seq, args: c.args, outcome: c.outcome, decision: d?.decision ?? null, reason: d?.reason ?? null})
    }
  }
  return out
}
