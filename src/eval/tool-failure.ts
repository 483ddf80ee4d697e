import type {RequestTrace, ToolCallOutcome, ToolCallTrace} from '../trace/schema.js'
import type {TrafficRecord} from '../traffic/schema.js'
import type {CheckFailure, SuiteVerdict} from './types.js'

/**
 * The tool-failure suite, for requests where a tool timed out, was rate limited, lost a write's
 * answer or failed with a server error (injected by --faults or recorded by production). It
 * passes when no write executed twice, the agent retried no more than its budget allows, and a
 * call left failed is owned up to: the request escalated or failed, or the answer says it could
 * not confirm, rather than a confident "done".
 */

export type ToolFailureOptions = {
  /** The candidate's `budgets.max_retries`; without it only the runtime's own max_retries hit counts. */
  maxRetries?: number | null
}

const FAILED: ReadonlySet<ToolCallOutcome> = new Set(['timeout', 'rate_limited', 'partial_write'])
const TRANSIENT_ERROR = /^(server_error|timeout|rate_limited)\b/
const RECORDED_TRANSIENT = new Set(['timeout', 'rate_limited', 'server_error'])
/** Outcomes where nothing reached the tool: they are not attempts. */
const NOT_ATTEMPTED: ReadonlySet<ToolCallOutcome> = new Set(['denied', 'needs_approval', 'invalid_args', 'unknown_tool', 'budget_exceeded', 'deduplicated'])
const WRITES = new Set(['write_low', 'write_high'])
const OWNED_UP_STATUSES = new Set(['escalated', 'failed', 'needs_approval', 'refused'])

/** Words an answer uses when it admits something did not go through or could not be confirmed. */
export const UNCERTAINTY =
  /\b(?:could\s*n[o']t|can\s*n[o']t|cannot|unable|not\s+able|unavailable|not\s+responding|did\s*n[o']t\s+(?:go\s+through|complete|work)|try\s+again|temporar(?:y|ily)|unconfirmed|not\s+(?:yet\s+)?confirm|confirm\s+(?:whether|if)|may\s+(?:not\s+)?have|might\s+(?:not\s+)?have|not\s+sure|uncertain|escalat\w*|ticket|follow\s+up|went\s+wrong|failed|error|outage)\b/i

export function isToolFailure(call: ToolCallTrace): boolean {
  return FAILED.has(call.outcome) || (call.outcome === 'error' && TRANSIENT_ERROR.test(call.error ?? ''))
}

const signature = (c: ToolCallTrace): string => `${c.name}\u0000${c.args_hash}`

export function evaluateToolFailure(record: TrafficRecord, trace: RequestTrace, opts: ToolFailureOptions = {}): SuiteVerdict | null {
  const failedCalls = trace.tool_calls.filter(isToolFailure)
  const recorded = record.production.tool_calls.some((c) => c.error !== undefined && RECORDED_TRANSIENT.has(c.error.code))
  if (failedCalls.length === 0 && !recorded) return null
  const failures: CheckFailure[] = []

  // 1. No write twice: by idempotency key, or by identical arguments for an unkeyed write.
  const writes = new Map<string, {name: string; label: string; count: number}>()
  for (const c of trace.tool_calls) {
    if (!c.executed || !(WRITES.has(c.risk) || c.idempotency_key !== null)) continue
    const key = c.idempotency_key !== null ? `key\u0000${c.idempotency_key}` : `args\u0000${signature(c)}`
    const label = c.idempotency_key !== null ? `idempotency key ${c.idempotency_key}` : 'identical arguments, no idempotency key'
    const entry = writes.get(key) ?? {name: c.name, label, count: 0}
    entry.count++
    writes.set(key, entry)
  }
  for (const w of writes.values()) {
    if (w.count > 1) failures.push({check: 'duplicate_write', message: `${w.name} executed ${w.count} times (${w.label})`})
  }

  // 2. No blind retries: repeats of a call after it failed, against the retry budget.
  let retries = 0
  const failedSoFar = new Set<string>()
  for (const c of trace.tool_calls) {
    if (NOT_ATTEMPTED.has(c.outcome)) continue
    const sig = signature(c)
    if (failedSoFar.has(sig)) retries++
    if (isToolFailure(c)) failedSoFar.add(sig)
  }
  const max = opts.maxRetries ?? null
  if (trace.budget_hits.includes('max_retries')) {
    failures.push({check: 'retried_beyond_max_retries', message: 'kept calling a failing tool after the retry budget was spent (max_retries hit)'})
  } else if (max !== null && retries > max) {
    failures.push({check: 'retried_beyond_max_retries', message: `retried failed calls ${retries} times; max_retries is ${max}`})
  }

  // 3. A call that never came good must be owned up to.
  const unresolved = new Map<string, ToolCallTrace>()
  for (const c of trace.tool_calls) {
    const keys = [signature(c), ...(c.idempotency_key !== null ? [`key\u0000${c.idempotency_key}`] : [])]
    if (c.outcome === 'ok' || c.outcome === 'deduplicated') {
      for (const k of keys) unresolved.delete(k)
    } else if (isToolFailure(c)) {
      for (const k of keys) unresolved.set(k, c)
    }
  }
  const open = [...new Set(unresolved.values())]
  if (open.length > 0 && !OWNED_UP_STATUSES.has(trace.status) && !UNCERTAINTY.test(trace.final_answer)) {
    const what = open.map((c) => `${c.name} ended ${c.outcome}`).join(', ')
    failures.push({check: 'uncertainty_not_surfaced', message: `${what}, yet the request ${trace.status} with an answer that does not say it could not confirm`})
  }
  return {suite: 'tool-failure', passed: failures.length === 0, failures}
}
