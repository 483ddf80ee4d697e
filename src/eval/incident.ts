import {existsSync, readFileSync} from 'node:fs'
import {UnderstudyError, ValidationError} from '../errors.js'
import {writeFileAtomic} from '../report/write-atomic.js'
import type {RequestTrace} from '../runtime/trace.js'
import {formatProblem, readTraffic} from '../traffic/reader.js'
import {Decision, Expectations, TrafficRecord} from '../traffic/schema.js'
import type {SuiteVerdict} from './types.js'

/**
 * "Every incident creates a test": a request the candidate got wrong becomes a golden case, its
 * recorded traffic line plus an `expect` block saying what should have happened instead.
 */

const RESTRICTIVE: Record<Decision, number> = {allow: 0, require_approval: 1, deny: 2}
const MISUSE_CHECKS = new Set(['role_not_allowed', 'policy_would_deny', 'recorded_deny_executed', 'exfiltration', 'unknown_recipient', 'secret_in_args', 'forbidden_tool'])
/** Checks where the reference bundle (or production) would have said deny. */
const DENY_CHECKS = new Set(['role_not_allowed', 'policy_would_deny'])

export type ExpectOverrides = {forbid?: string[]; tools?: string[]; decision?: Decision; answerContains?: string[]; answerNotContains?: string[]}

const union = (a: string[] | undefined, b: Iterable<string>): string[] | undefined => {
  const out = [...new Set([...(a ?? []), ...b])]
  return out.length === 0 ? undefined : out
}

/**
 * What the candidate should have done, from what went wrong in its traces (every repeat):
 * tools it executed that it must not have become `forbidden_tools`, with the decision production
 * (or the reference policy) took on them; tools production completed and it did not become
 * `tools`. The record's own `expect` is kept and added to; explicit overrides come last.
 */
export function deriveExpectations(record: TrafficRecord, traces: RequestTrace[], verdicts: SuiteVerdict[], over: ExpectOverrides = {}): Expectations {
  const forbidden = new Set<string>()
  let decision: Decision | undefined
  const raise = (d: Decision): void => {
    if (decision === undefined || RESTRICTIVE[d] > RESTRICTIVE[decision]) decision = d
  }
  for (const v of verdicts) {
    for (const f of v.failures) {
      if (f.tool === undefined || !MISUSE_CHECKS.has(f.check)) continue
      forbidden.add(f.tool)
      if (DENY_CHECKS.has(f.check)) raise('deny')
    }
  }
  const executed = new Set(traces.flatMap((t) => t.tool_calls.filter((c) => c.executed).map((c) => c.name)))
  const executedOk = new Set(traces.flatMap((t) => t.tool_calls.filter((c) => c.executed && c.outcome === 'ok').map((c) => c.name)))
  // Production refused it and the candidate went ahead: production's decision is the expectation.
  for (const d of record.production.policy_decisions) {
    if (d.tool === undefined || d.decision === 'allow' || !executed.has(d.tool)) continue
    forbidden.add(d.tool)
    raise(d.decision)
  }
  const completed = record.production.tool_calls.filter((c) => c.result !== undefined && c.error === undefined).map((c) => c.name)
  const missing = completed.filter((name) => !executedOk.has(name) && !forbidden.has(name))

  const base = record.expect ?? {}
  const expect: Expectations = {}
  const tools = union(base.tools, [...missing, ...(over.tools ?? [])])
  const forbiddenTools = union(base.forbidden_tools, [...forbidden, ...(over.forbid ?? [])])
  if (tools) expect.tools = tools.filter((t) => !forbiddenTools?.includes(t))
  if (expect.tools?.length === 0) delete expect.tools
  if (forbiddenTools) expect.forbidden_tools = forbiddenTools
  const d = over.decision ?? base.decision ?? decision
  if (d !== undefined) expect.decision = d
  const contains = union(base.answer_contains, over.answerContains ?? [])
  if (contains) expect.answer_contains = contains
  const notContains = union(base.answer_not_contains, over.answerNotContains ?? [])
  if (notContains) expect.answer_not_contains = notContains
  return Expectations.parse(expect)
}

/** The request's record from a traffic file, by id (streamed; the first valid line with that id). */
export async function findRecord(file: string, requestId: string): Promise<{record: TrafficRecord; line: number}> {
  for await (const l of readTraffic(file)) {
    if (l.ok && l.record.id === requestId) return {record: l.record, line: l.line}
    if (!l.ok && l.id === requestId) {
      const problems = l.problems.map((p) => formatProblem(file, l.line, p))
      throw new ValidationError(problems, `${file}:${l.line}: request ${requestId} is on a line that does not validate`)
    }
  }
  throw new UnderstudyError(`${file}: no request ${requestId} in the traffic file`)
}

/**
 * Appends a case to a golden file, refusing one whose request id is already there. The whole file
 * is rewritten atomically (old content plus the new line), so nothing already there can be lost.
 */
export async function appendCase(file: string, record: TrafficRecord): Promise<{file: string; line: number}> {
  const checked = TrafficRecord.safeParse(record)
  if (!checked.success) {
    const issue = checked.error.issues[0]
    throw new ValidationError([`${record.id}: ${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}`])
  }
  let existing = ''
  let lines = 0
  if (existsSync(file)) {
    for await (const l of readTraffic(file)) {
      lines = l.line
      const id = l.ok ? l.record.id : l.id
      if (id === record.id) throw new UnderstudyError(`${file}:${l.line}: request ${record.id} is already a test case; not adding it twice`)
    }
    existing = readFileSync(file, 'utf8')
    lines = existing === '' ? 0 : existing.split('\n').length - (existing.endsWith('\n') ? 1 : 0)
  }
  const sep = existing === '' || existing.endsWith('\n') ? '' : '\n'
  writeFileAtomic(file, [existing, sep, JSON.stringify(checked.data) + '\n'])
  return {file, line: lines + 1}
}
