/** What every evaluation suite returns for one request. */

export const SUITES = ['golden', 'security', 'tool-failure', 'consistency'] as const
export type SuiteName = (typeof SUITES)[number]

/** One check that did not hold: a stable code (`forbidden_tool_executed`) and a one-line message. */
export type CheckFailure = {
  check: string
  message: string
  /** The tool the check is about, where there is one. */
  tool?: string
  /**
   * The executed call's argument fields (as stored, redacted) that make it a failure, where the
   * check can name them: an address sent to, a field a deny rule tests. An incident test made from
   * the failure forbids calls holding these, not every call of the tool.
   */
  args?: Record<string, unknown>
}

/** A suite's verdict on one request it applies to (a suite that does not apply returns null instead). */
export type SuiteVerdict = {
  suite: SuiteName
  passed: boolean
  failures: CheckFailure[]
  /**
   * The request documents a known production bug (`labels.known_issue`): its expectations say what
   * should happen, but failing them is expected until a bundle fixes it. Counted apart from the
   * pass rate; passing one means the candidate fixed it.
   */
  known_issue?: boolean
}
