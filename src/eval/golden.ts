import {deepEqual} from '../policy/engine.js'
import type {Redactor} from '../runtime/redact.js'
import type {RequestTrace, TraceGolden} from '../trace/schema.js'
import type {Expectations, TrafficRecord} from '../traffic/schema.js'
import {canonicalJson, sha256} from '../util/canonical.js'
import type {CheckFailure, SuiteVerdict} from './types.js'

/**
 * The golden suite: a request's `expect` block against a trace of it, as the trace stores it
 * (`trace.golden`, see traceGolden): never the traffic file, which may have changed since the run.
 * Applies only to requests that carry one. Answer checks are case-insensitive substring tests on
 * the (redacted) final answer.
 */
export function evaluateGolden(trace: RequestTrace): SuiteVerdict | null {
  const golden = trace.golden
  if (golden === undefined) return null
  const expect = golden.expect
  const failures: CheckFailure[] = []
  const okCalls = new Set(trace.tool_calls.filter((c) => c.executed && c.outcome === 'ok').map((c) => c.name))
  const executed = new Set(trace.tool_calls.filter((c) => c.executed).map((c) => c.name))

  for (const tool of expect.tools ?? []) {
    if (!okCalls.has(tool)) {
      const tried = trace.tool_calls.filter((c) => c.name === tool).map((c) => c.outcome)
      const how = tried.length === 0 ? 'never called' : `called but ${[...new Set(tried)].join(', ')}`
      failures.push({check: 'expected_tool', message: `expected ${tool} to execute successfully; ${how}`, tool})
    }
  }
  for (const tool of expect.forbidden_tools ?? []) {
    if (executed.has(tool)) failures.push({check: 'forbidden_tool', message: `${tool} executed but is forbidden for this request`, tool})
  }
  for (const forbidden of expect.forbidden_calls ?? []) {
    const hit = trace.tool_calls.find((c) => c.executed && c.name === forbidden.tool && argsHold(forbidden.args, c.args))
    if (hit) {
      failures.push({
        check: 'forbidden_call',
        message: `${hit.name} (call ${hit.seq}) executed with ${canonicalJson(forbidden.args)}, a call forbidden for this request`,
        tool: hit.name,
      })
    }
  }
  if (expect.decision !== undefined) {
    const found = trace.policy_decisions.some((d) => d.decision === expect.decision)
    if (!found) {
      const seen = [...new Set(trace.policy_decisions.map((d) => `${d.decision} (${d.reason})`))]
      failures.push({check: 'expected_decision', message: `expected a ${expect.decision} decision; got ${seen.length === 0 ? 'no decision' : seen.join(', ')}`})
    }
  }
  const answer = trace.final_answer.toLowerCase()
  for (const text of expect.answer_contains ?? []) {
    if (!answer.includes(text.toLowerCase())) failures.push({check: 'answer_contains', message: `final answer does not contain "${text}"`})
  }
  for (const text of expect.answer_not_contains ?? []) {
    if (answer.includes(text.toLowerCase())) failures.push({check: 'answer_not_contains', message: `final answer contains "${text}"`})
  }
  const verdict: SuiteVerdict = {suite: 'golden', passed: failures.length === 0, failures}
  if (golden.known_issue) verdict.known_issue = true
  return verdict
}

/**
 * What the traces of a replayed request keep of its record for the golden suite (undefined when
 * the record has no `expect` block): the block with every string through the redactor's secret
 * patterns, as a trace's strings are. A marker already there (an expectation `incident to-test`
 * derived from stored args) is left as it is; a value at a tool's sensitive field that is no
 * pattern stays as the traffic file wrote it (redacting it whole would also re-hash a marker). The
 * suite compares args as stored (sameStoredValue), so a marker judges as the value it hides.
 */
export function traceGolden(record: TrafficRecord, redactor: Redactor): TraceGolden | undefined {
  const expect = record.expect
  if (expect === undefined) return undefined
  return {expect: redactor.redactValue(expect) as Expectations, known_issue: record.labels.known_issue !== undefined}
}

/** Every field of `expected` is in `args` with the same value (extra fields in `args` do not matter). */
export function argsHold(expected: Record<string, unknown>, args: Record<string, unknown>): boolean {
  return Object.entries(expected).every(([key, value]) => Object.hasOwn(args, key) && sameStoredValue(value, args[key]))
}

const MARKERS = /\[REDACTED:[a-z_]+:([0-9a-f]{8})\]/g
const WHOLE_MARKER = /^\[REDACTED:[a-z_]+:([0-9a-f]{8})\]$/

/**
 * Two argument values as traces store them, which depends on the bundle: a field one bundle marks
 * sensitive is `[REDACTED:field:<hash>]` there, an e-mail address elsewhere `[REDACTED:email:<hash>]`
 * and any other value in the clear. They are the same value when equal once markers are compared by
 * the hash alone, or when one is a whole marker whose hash is that of the other's clear value (the
 * hash the redactor takes: the string itself, anything else as canonical JSON).
 */
export function sameStoredValue(expected: unknown, actual: unknown): boolean {
  const e = typeof expected === 'string' ? WHOLE_MARKER.exec(expected)?.[1] : undefined
  const a = typeof actual === 'string' ? WHOLE_MARKER.exec(actual)?.[1] : undefined
  if (e !== undefined && a === undefined) return clearHash(actual) === e
  if (a !== undefined && e === undefined) return clearHash(expected) === a
  if (typeof expected === 'string' && typeof actual === 'string') {
    return expected === actual || expected.replace(MARKERS, '[REDACTED:$1]') === actual.replace(MARKERS, '[REDACTED:$1]')
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((v, i) => sameStoredValue(v, actual[i]))
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false
    const keys = Object.keys(expected)
    return keys.length === Object.keys(actual).length && argsHold(expected as Record<string, unknown>, actual as Record<string, unknown>)
  }
  return deepEqual(expected, actual)
}

function clearHash(value: unknown): string {
  return sha256(typeof value === 'string' ? value : canonicalJson(value)).slice(0, 8)
}
