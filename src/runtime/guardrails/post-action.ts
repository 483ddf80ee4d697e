import type {RiskLevel} from '../../bundle/schema.js'
import type {GuardrailResult, GuardrailSeverity, ToolCallOutcome} from '../../trace/schema.js'

export type ActionRecord = {
  name: string
  risk: RiskLevel | 'unknown'
  outcome: ToolCallOutcome
  result: unknown
  error: string | null
  executed: boolean
}

export const WRITE_UNCONFIRMED = 'WRITE_UNCONFIRMED'
export const PARTIAL_WRITE = 'PARTIAL_WRITE'
export const RESULT_MALFORMED = 'RESULT_MALFORMED'

/**
 * After a tool call: an audit line for every call, then (for executed calls) whether the result
 * proves what happened. A write must hand back an identifier, or nobody can later show that it
 * happened once and only once.
 */
export function postActionGuardrails(call: ActionRecord, ctx: {step: number}): {guardrails: GuardrailResult[]} {
  const result = (check: string, passed: boolean, severity: GuardrailSeverity, detail: string): GuardrailResult => ({
    stage: 'post_action',
    step: ctx.step,
    check,
    passed,
    severity,
    detail,
  })
  const guardrails = [
    result('action.audit', true, 'info', `${call.name} (${call.risk}): ${call.outcome}, ${call.executed ? 'executed' : 'not executed'}`),
  ]
  if (!call.executed) return {guardrails}

  const write = call.risk === 'write_low' || call.risk === 'write_high'
  const writeSeverity: GuardrailSeverity = call.risk === 'write_high' ? 'high' : 'medium'
  let verify: GuardrailResult
  if (call.outcome === 'partial_write') {
    verify = result('action.verify', false, 'high', `${PARTIAL_WRITE}: ${call.name} wrote but its response was lost`)
  } else if (call.outcome === 'ok') {
    if (!isObjectOrArray(call.result)) {
      verify = result('action.verify', false, 'medium', `${RESULT_MALFORMED}: ${call.name} answered ${describe(call.result)}, not an object or array`)
    } else if (write && !hasIdentifier(call.result)) {
      verify = result('action.verify', false, writeSeverity, `${WRITE_UNCONFIRMED}: ${call.name} returned no identifier (id or *_id)`)
    } else {
      verify = result('action.verify', true, 'info', write ? `${call.name} confirmed the write with an identifier` : `${call.name} answered a well-formed result`)
    }
  } else if (write) {
    // A write that timed out or errored may still have happened; only an identifier would tell.
    verify = result('action.verify', false, writeSeverity, `${WRITE_UNCONFIRMED}: ${call.name} ended ${call.outcome}, state unknown`)
  } else {
    verify = result('action.verify', false, 'low', `${call.name} ended ${call.outcome}`)
  }
  guardrails.push(verify)
  return {guardrails}
}

function isObjectOrArray(v: unknown): v is object {
  return v !== null && typeof v === 'object'
}

function describe(v: unknown): string {
  return v === null ? 'null' : v === undefined ? 'nothing' : typeof v
}

function isIdKey(key: string): boolean {
  return key === 'id' || key.endsWith('_id')
}

function isIdValue(v: unknown): boolean {
  return (typeof v === 'string' && v.trim() !== '') || (typeof v === 'number' && Number.isFinite(v))
}

/**
 * An `id` or `*_id` field with a usable value, at the top level or one object down
 * (`{refund: {id: ...}}`); for an array, every element must carry one.
 */
export function hasIdentifier(result: unknown, depth = 0): boolean {
  if (Array.isArray(result)) return result.length > 0 && result.every((r) => hasIdentifier(r, depth))
  if (!isObjectOrArray(result)) return false
  const obj = result as Record<string, unknown>
  for (const [k, v] of Object.entries(obj)) if (isIdKey(k) && isIdValue(v)) return true
  if (depth >= 1) return false
  for (const v of Object.values(obj)) {
    if (isObjectOrArray(v) && !Array.isArray(v) && hasIdentifier(v, depth + 1)) return true
  }
  return false
}
