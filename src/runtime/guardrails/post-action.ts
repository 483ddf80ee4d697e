import type {RiskLevel} from '../../bundle/schema.js'
import type {GuardrailResult, GuardrailSeverity, ToolCallOutcome} from '../../trace/schema.js'
import type {InjectionMatcher} from './patterns.js'
import {normaliseText} from './pre-model.js'
import {SharedResults} from './shared-results.js'

export type ActionRecord = {
  name: string
  risk: RiskLevel | 'unknown'
  outcome: ToolCallOutcome
  result: unknown
  error: string | null
  executed: boolean
  /**
   * What of the tool's own answer goes back to the model: its result, or the error text the tool
   * itself gave. Absent or null when the model is told only what the runtime wrote.
   */
  untrusted?: unknown
  /** The tool contract's `result` checks; absent means both on (src/bundle/schema.ts ToolContract). */
  checks?: {structured?: boolean; confirms_with_id?: boolean}
}

export const WRITE_UNCONFIRMED = 'WRITE_UNCONFIRMED'
export const PARTIAL_WRITE = 'PARTIAL_WRITE'
export const RESULT_MALFORMED = 'RESULT_MALFORMED'

/** The check that flags injection in what a tool handed back. */
export const TOOL_RESULT_INJECTION = 'tool_result.injection'
/** Signal set, for the rest of the request, once any tool result carried injection. */
export const INJECTION_IN_TOOL_RESULT = 'injection_in_tool_result'
/** Signal naming the first tool whose result carried injection. */
export const INJECTION_SOURCE_TOOL = 'injection_source_tool'

const PLAIN = /^[\t\n\x20-\x7e]*$/

/** How much of the flagged text a guardrail detail may quote (escaped), never more. */
const EXCERPT_CHARS = 60

export type ToolResultFinding = {patterns: string[]; excerpt: string}

/**
 * Injection in a tool's answer. Text in a tool result is not the user speaking, so the patterns
 * apply with document scope, the bundle's own patterns included. Every string is checked, object
 * keys too, each normalised as a retrieved document is; each is visited and matched once (an
 * explicit stack, so depth cannot overflow), so the cost is linear in the size of the answer.
 * Null when clean. The excerpt is a short, JSON-escaped slice from the first match.
 */
export function scanToolResult(value: unknown, match: InjectionMatcher): ToolResultFinding | null {
  const found = new Set<string>()
  let excerpt: string | null = null
  const check = (raw: string): void => {
    // Printable ASCII is already normal (NFC and no control or invisible characters): most ids,
    // keys and codes in a result are, and they skip the normalisation.
    const text = PLAIN.test(raw) ? raw : normaliseText(raw).text
    const ids = match(text, 'document')
    if (ids.length === 0) return
    for (const id of ids) found.add(id)
    if (excerpt === null) {
      const at = Math.max(0, match.locate(text, 'document'))
      const slice = text.slice(at, at + EXCERPT_CHARS)
      excerpt = JSON.stringify(slice) + (at + EXCERPT_CHARS < text.length ? '…' : '')
    }
  }
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v === 'string') check(v)
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i])
    else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v)
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push((v as Record<string, unknown>)[keys[i]!])
        stack.push(keys[i])
      }
    }
  }
  return excerpt === null ? null : {patterns: [...found], excerpt}
}

/** The `tool_result.injection` finding for one answer of `tool`, or null when it is clean. */
export function toolResultInjection(tool: string, untrusted: unknown, match: InjectionMatcher, step: number): GuardrailResult | null {
  if (untrusted === null || untrusted === undefined) return null
  const finding = scanToolResult(untrusted, match)
  if (finding === null) return null
  return {
    stage: 'post_action',
    step,
    check: TOOL_RESULT_INJECTION,
    passed: false,
    severity: 'high',
    detail: `injection pattern in the result of ${tool}: ${finding.patterns.join(', ')}; at ${finding.excerpt}`,
  }
}

// The audit line and a passing verify, shared between requests (shared-results.ts): each detail is
// the one postActionGuardrails would write.
const AUDIT = new SharedResults(
  'post_action',
  'action.audit',
  true,
  'info',
  (name: string, risk: string, outcome: string, executed: boolean) => `${name} (${risk}): ${outcome}, ${executed ? 'executed' : 'not executed'}`,
)
const VERIFIED = new SharedResults('post_action', 'action.verify', true, 'info', (name: string, how: string) => `${name} ${how}`)

/**
 * After a tool call: an audit line for every call, then (for executed calls) whether the result
 * proves what happened. A write must hand back an identifier, or nobody can later show that it
 * happened once and only once. With a matcher, what the tool handed back is scanned for injection
 * (`injected`); only a finding is recorded, so a trace without `tool_result.injection` was clean.
 */
export function postActionGuardrails(
  call: ActionRecord,
  ctx: {step: number; match?: InjectionMatcher},
): {guardrails: GuardrailResult[]; injected: boolean} {
  const result = (check: string, passed: boolean, severity: GuardrailSeverity, detail: string): GuardrailResult => ({
    stage: 'post_action',
    step: ctx.step,
    check,
    passed,
    severity,
    detail,
  })
  const guardrails = [AUDIT.get(ctx.step, call.name, call.risk, call.outcome, call.executed)]
  const injection = ctx.match ? toolResultInjection(call.name, call.untrusted, ctx.match, ctx.step) : null
  if (injection) guardrails.push(injection)
  const injected = injection !== null
  if (!call.executed) return {guardrails, injected}

  const write = call.risk === 'write_low' || call.risk === 'write_high'
  const writeSeverity: GuardrailSeverity = call.risk === 'write_high' ? 'high' : 'medium'
  let verify: GuardrailResult
  if (call.outcome === 'partial_write') {
    verify = result('action.verify', false, 'high', `${PARTIAL_WRITE}: ${call.name} wrote but its response was lost`)
  } else if (call.outcome === 'ok') {
    if (call.checks?.structured !== false && !isObjectOrArray(call.result)) {
      verify = result('action.verify', false, 'medium', `${RESULT_MALFORMED}: ${call.name} answered ${describe(call.result)}, not an object or array`)
    } else if (write && call.checks?.confirms_with_id !== false && !hasIdentifier(call.result)) {
      verify = result('action.verify', false, writeSeverity, `${WRITE_UNCONFIRMED}: ${call.name} returned no identifier (id or *_id)`)
    } else {
      const how =
        write && call.checks?.confirms_with_id !== false ? 'confirmed the write with an identifier' : isObjectOrArray(call.result) ? 'answered a well-formed result' : 'answered, as its contract allows'
      verify = VERIFIED.get(ctx.step, call.name, how)
    }
  } else if (write) {
    // A write that timed out or errored may still have happened; only an identifier would tell.
    verify = result('action.verify', false, writeSeverity, `${WRITE_UNCONFIRMED}: ${call.name} ended ${call.outcome}, state unknown`)
  } else {
    verify = result('action.verify', false, 'low', `${call.name} ended ${call.outcome}`)
  }
  guardrails.push(verify)
  return {guardrails, injected}
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
