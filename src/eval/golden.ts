import type {RequestTrace} from '../runtime/trace.js'
import type {TrafficRecord} from '../traffic/schema.js'
import type {CheckFailure, SuiteVerdict} from './types.js'

/**
 * The golden suite: a request's `expect` block against the candidate's trace. Applies only to
 * requests that carry one. Answer checks are case-insensitive substring tests on the (redacted)
 * final answer.
 */
export function evaluateGolden(record: TrafficRecord, trace: RequestTrace): SuiteVerdict | null {
  const expect = record.expect
  if (expect === undefined) return null
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
  if (record.labels.known_issue !== undefined) verdict.known_issue = true
  return verdict
}
