import type {Redactor} from '../runtime/redact.js'
import type {RequestTrace, ToolCallTrace, TraceGolden} from '../trace/schema.js'
import type {Expectations, TrafficRecord} from '../traffic/schema.js'
import {canonicalJson} from '../util/canonical.js'
import {argsHold} from './arg-match.js'
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
  const failures: CheckFailure[] = goldenFailures(trace, golden.expect).map(({key: _, ...f}) => f)
  const verdict: SuiteVerdict = {suite: 'golden', passed: failures.length === 0, failures}
  if (golden.known_issue) verdict.known_issue = true
  return verdict
}

/** A failed golden check with `key`: which expectation of the block it is, the same on every trace of the request. */
export type KeyedFailure = CheckFailure & {key: string}

/**
 * The checks of `expect` that hold on one side and not on the other (src/diff judges them: newly
 * met is evidence of an improvement, newly missed a regression). Null when the traces carry no
 * expectations; both sides carry the same block (the record's), so keys name the same check.
 */
export function expectationDelta(base: RequestTrace, cand: RequestTrace): {met: KeyedFailure[]; missed: KeyedFailure[]} | null {
  const golden = cand.golden ?? base.golden
  if (golden === undefined) return null
  const b = goldenFailures(base, golden.expect)
  const c = goldenFailures(cand, golden.expect)
  if (b.length === 0 && c.length === 0) return {met: [], missed: []}
  const inB = new Set(b.map((f) => f.key))
  const inC = new Set(c.map((f) => f.key))
  return {met: b.filter((f) => !inC.has(f.key)), missed: c.filter((f) => !inB.has(f.key))}
}

function goldenFailures(trace: RequestTrace, expect: Expectations): KeyedFailure[] {
  const failures: KeyedFailure[] = []
  const okCalls = new Set(trace.tool_calls.filter((c) => c.executed && c.outcome === 'ok').map((c) => c.name))
  const executed = new Set(trace.tool_calls.filter((c) => c.executed).map((c) => c.name))
  const tried = (tool: string): string => {
    const outcomes = trace.tool_calls.filter((c) => c.name === tool).map((c) => c.outcome)
    return outcomes.length === 0 ? 'never called' : `called but ${[...new Set(outcomes)].join(', ')}`
  }

  for (const tool of expect.tools ?? []) {
    if (!okCalls.has(tool)) failures.push({key: `tools:${tool}`, check: 'expected_tool', message: `expected ${tool} to execute successfully; ${tried(tool)}`, tool})
  }
  ;(expect.calls ?? []).forEach((call, i) => {
    const holds = (c: ToolCallTrace): boolean => c.executed && c.name === call.tool && argsHold(call.args, c.args)
    // after_turn: the call waits for that user turn (a confirmation); made in an earlier turn, it
    // did what the user had not yet agreed to, whatever came after.
    const after = call.after_turn ?? 0
    const early = after > 0 ? trace.tool_calls.find((c) => holds(c) && (c.turn ?? 0) < after) : undefined
    if (early !== undefined) {
      failures.push({
        key: `calls:${i}`,
        check: 'call_before_turn',
        message: `${call.tool} (call ${early.seq}) executed in user turn ${early.turn ?? 0}, before user turn ${after} it must wait for`,
        tool: call.tool,
      })
      return
    }
    const hit = trace.tool_calls.some((c) => holds(c) && c.outcome === 'ok' && (c.turn ?? 0) >= after)
    if (!hit) {
      const how = okCalls.has(call.tool) ? 'it executed, with other arguments' : tried(call.tool)
      const when = after > 0 ? ` in user turn ${after} or later` : ''
      failures.push({key: `calls:${i}`, check: 'expected_call', message: `expected ${call.tool} with ${canonicalJson(call.args)} to execute successfully${when}; ${how}`, tool: call.tool})
    }
  })
  for (const tool of expect.forbidden_tools ?? []) {
    if (executed.has(tool)) failures.push({key: `forbidden_tools:${tool}`, check: 'forbidden_tool', message: `${tool} executed but is forbidden for this request`, tool})
  }
  ;(expect.forbidden_calls ?? []).forEach((forbidden, i) => {
    const hit = trace.tool_calls.find((c) => c.executed && c.name === forbidden.tool && argsHold(forbidden.args, c.args))
    if (hit) {
      failures.push({
        key: `forbidden_calls:${i}`,
        check: 'forbidden_call',
        message: `${hit.name} (call ${hit.seq}) executed with ${canonicalJson(forbidden.args)}, a call forbidden for this request`,
        tool: hit.name,
      })
    }
  })
  if (expect.outcome !== undefined) {
    const allowed: readonly string[] = typeof expect.outcome === 'string' ? [expect.outcome] : expect.outcome
    if (!allowed.includes(trace.status))
      failures.push({key: 'outcome', check: 'expected_outcome', message: `expected outcome ${allowed.join(' or ')}; got ${trace.status}`})
  }
  if (expect.decision !== undefined) {
    const found = trace.policy_decisions.some((d) => d.decision === expect.decision)
    if (!found) {
      const seen = [...new Set(trace.policy_decisions.map((d) => `${d.decision} (${d.reason})`))]
      failures.push({key: 'decision', check: 'expected_decision', message: `expected a ${expect.decision} decision; got ${seen.length === 0 ? 'no decision' : seen.join(', ')}`})
    }
  }
  const answer = trace.final_answer.toLowerCase()
  for (const text of expect.answer_contains ?? []) {
    if (!answer.includes(text.toLowerCase())) failures.push({key: `answer_contains:${text}`, check: 'answer_contains', message: `final answer does not contain "${text}"`})
  }
  for (const text of expect.answer_not_contains ?? []) {
    if (answer.includes(text.toLowerCase())) failures.push({key: `answer_not_contains:${text}`, check: 'answer_not_contains', message: `final answer contains "${text}"`})
  }
  return failures
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
