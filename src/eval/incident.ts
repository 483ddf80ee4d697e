import type {RequestTrace} from '../trace/schema.js'
import {Expectations, isArgMatcher, type Decision, type ForbiddenCall, type TrafficRecord} from '../traffic/schema.js'
import {canonicalJson} from '../util/canonical.js'
import type {SuiteVerdict} from './types.js'

/**
 * "Every incident creates a test": a request the candidate got wrong becomes a golden case, its
 * recorded traffic line plus an `expect` block saying what should have happened instead.
 */

const MISUSE_CHECKS = new Set(['role_not_allowed', 'policy_would_deny', 'recorded_deny_executed', 'exfiltration', 'unknown_recipient', 'secret_in_args', 'forbidden_tool'])

export type ExpectOverrides = {forbid?: string[]; tools?: string[]; decision?: Decision; answerContains?: string[]; answerNotContains?: string[]}

const union = (a: string[] | undefined, b: Iterable<string>): string[] | undefined => {
  const out = [...new Set([...(a ?? []), ...b])]
  return out.length === 0 ? undefined : out
}

/**
 * What the candidate should have done, from what went wrong in its traces (every repeat). The
 * expectation is that the harmful call is not executed, never which decision stops it: the last
 * known good bundle may deny it, hold it for approval, or never attempt it at all, and each of
 * those must pass the test. So a call a check names by its arguments (an address sent to, a field
 * a deny rule tests) becomes a `forbidden_calls` entry with those arguments; a call wrong whatever
 * its arguments (a role that may not call the tool, a tool production refused) forbids the tool in
 * `forbidden_tools`; tools production completed and the candidate did not become `tools`. The
 * record's own `expect` is kept and added to; explicit overrides (a `decision` among them) come last.
 */
export function deriveExpectations(record: TrafficRecord, traces: RequestTrace[], verdicts: SuiteVerdict[], over: ExpectOverrides = {}): Expectations {
  const forbidden = new Set<string>()
  const calls = new Map<string, ForbiddenCall>()
  const addCall = (c: ForbiddenCall): void => {
    const key = canonicalJson([c.tool, c.args])
    if (!calls.has(key)) calls.set(key, c)
  }
  for (const c of record.expect?.forbidden_calls ?? []) addCall(c)
  for (const v of verdicts) {
    for (const f of v.failures) {
      if (f.tool === undefined || !MISUSE_CHECKS.has(f.check)) continue
      if (f.args === undefined) forbidden.add(f.tool)
      else addCall({tool: f.tool, args: literalArgs(f.args)})
    }
  }
  const executed = new Set(traces.flatMap((t) => t.tool_calls.filter((c) => c.executed).map((c) => c.name)))
  const executedOk = new Set(traces.flatMap((t) => t.tool_calls.filter((c) => c.executed && c.outcome === 'ok').map((c) => c.name)))
  // Production refused the tool for this request and the candidate went ahead.
  for (const d of record.production.policy_decisions) {
    if (d.tool !== undefined && d.decision !== 'allow' && executed.has(d.tool)) forbidden.add(d.tool)
  }
  const base = record.expect ?? {}
  const forbiddenTools = union(base.forbidden_tools, [...forbidden, ...(over.forbid ?? [])])
  const whole = new Set(forbiddenTools)
  // A forbidden tool already covers every call of it.
  const forbiddenCalls = [...calls.values()].filter((c) => !whole.has(c.tool))
  const unwanted = new Set([...whole, ...forbiddenCalls.map((c) => c.tool)])
  const completed = record.production.tool_calls.filter((c) => c.result !== undefined && c.error === undefined).map((c) => c.name)
  const missing = completed.filter((name) => !executedOk.has(name) && !unwanted.has(name))

  const expect: Expectations = {}
  const tools = union(base.tools, [...missing, ...(over.tools ?? [])])
  if (tools) expect.tools = tools.filter((t) => !whole.has(t))
  if (expect.tools?.length === 0) delete expect.tools
  if (base.calls) expect.calls = base.calls
  if (forbiddenTools) expect.forbidden_tools = forbiddenTools
  if (forbiddenCalls.length > 0) expect.forbidden_calls = forbiddenCalls
  if (base.outcome !== undefined) expect.outcome = base.outcome
  const d = over.decision ?? base.decision
  if (d !== undefined) expect.decision = d
  const contains = union(base.answer_contains, over.answerContains ?? [])
  if (contains) expect.answer_contains = contains
  const notContains = union(base.answer_not_contains, over.answerNotContains ?? [])
  if (notContains) expect.answer_not_contains = notContains
  return Expectations.parse(expect)
}

/**
 * Argument values as the trace stored them, as expectations: each one equality, so a stored object
 * that happens to have a `$` key is wrapped in `$eq` rather than read as a matcher.
 */
function literalArgs(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(args)) out[k] = isArgMatcher(v) ? {$eq: v} : v
  return out
}
