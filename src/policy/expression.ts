import {Environment} from '@marcbachmann/cel-js'

/**
 * Policy conditions in CEL (the Common Expression Language, https://cel.dev), through
 * `@marcbachmann/cel-js` (docs/policy-language.md says why this language and this implementation).
 * CEL is deterministic, side-effect free and not Turing-complete: an expression always terminates,
 * and the same variables always give the same answer.
 *
 * Every variable a condition may name is declared here with its type, so an unknown variable, an
 * unknown field of `tool` or of a history entry, or an operator the types rule out
 * (`tool.name > 3`) is found when the bundle loads, not when a request runs. `args`, `signals`,
 * `labels` and a history entry's `args`/`result` are JSON from outside and stay dynamic.
 */

/** One call already made in this request, as a condition sees it in `history`. */
export class PolicyCall {
  constructor(
    readonly name: string,
    readonly args: Record<string, unknown>,
    /** The tool's answer (clear, not redacted) when it succeeded, else null. */
    readonly result: unknown,
    /** `code: message` when the call failed or was refused, else null. */
    readonly error: string | null,
    /** What the mid-run guardrails decided: allow, deny or require_approval. */
    readonly decision: string,
    /** How the call ended: ok, denied, timeout, ... (the trace's outcome). */
    readonly outcome: string,
  ) {}
}

/** The proposed call's tool contract, as a condition sees it in `tool`. */
export class PolicyTool {
  constructor(
    readonly name: string,
    readonly risk: string,
    readonly escalates: boolean,
    readonly idempotency: string,
  ) {}
}

/** The variables of a condition (docs/policy-language.md is the reference). */
export type Activation = {
  tool: PolicyTool
  args: Record<string, unknown>
  /** Model steps so far, and completed tool calls so far: CEL ints. */
  step: bigint
  tool_calls: bigint
  tenant: string
  user: string
  role: string
  session: string
  labels: Record<string, string>
  signals: Record<string, unknown>
  history: readonly PolicyCall[]
  /** Dotted paths of the argument leaves only untrusted content supplied (src/policy/taint.ts). */
  taint: readonly string[]
  /** The request's messages as recorded (`role`, `content`), then each later user turn reached (answer, reply): "the user said yes". */
  messages: readonly {role: string; content: string}[]
  /** The request's recorded time (never the wall clock), a CEL timestamp. */
  now: Date
}

const environment = new Environment({
  unlistedVariablesAreDyn: false,
  homogeneousAggregateLiterals: false,
  // Bounds what one bundle can ask of the parser; generous for hand-written rules.
  limits: {maxAstNodes: 2000, maxDepth: 48},
})
  .registerType('PolicyTool', {ctor: PolicyTool, fields: {name: 'string', risk: 'string', escalates: 'bool', idempotency: 'string'}})
  .registerType('PolicyCall', {
    ctor: PolicyCall,
    fields: {name: 'string', args: 'map<string, dyn>', result: 'dyn', error: 'dyn', decision: 'string', outcome: 'string'},
  })
  .registerVariable('tool', 'PolicyTool')
  .registerVariable('args', 'map<string, dyn>')
  .registerVariable('step', 'int')
  .registerVariable('tool_calls', 'int')
  .registerVariable('tenant', 'string')
  .registerVariable('user', 'string')
  .registerVariable('role', 'string')
  .registerVariable('session', 'string')
  .registerVariable('labels', 'map<string, string>')
  .registerVariable('signals', 'map<string, dyn>')
  .registerVariable('history', 'list<PolicyCall>')
  .registerVariable('taint', 'list<string>')
  .registerVariable('messages', 'list<map<string, string>>')
  .registerVariable('now', 'google.protobuf.Timestamp')

/** A problem in an expression: the message (one line) and the character offset it points at. */
export type ExpressionProblem = {message: string; offset: number}

export type CompiledExpression = {
  /** Evaluates against an activation; throws the library's EvaluationError when evaluation fails. */
  run: (activation: Activation) => unknown
  /** The type the checker inferred (`bool`, `string`, `dyn`, ...). */
  type: string
  /** Whether the expression names `taint`, so callers compute it only when some rule reads it. */
  readsTaint: boolean
}

/** Parses and type-checks once. `want` is the result type the caller needs (`dyn` accepts any). */
export function compileExpression(source: string, want: 'bool' | 'any'): {ok: true; expr: CompiledExpression} | {ok: false; problem: ExpressionProblem} {
  let parsed: ReturnType<Environment['parse']>
  try {
    parsed = environment.parse(source)
  } catch (e) {
    return {ok: false, problem: libraryProblem(e)}
  }
  const checked = parsed.check()
  if (!checked.valid) return {ok: false, problem: libraryProblem(checked.error)}
  const type = checked.type ?? 'dyn'
  if (want === 'bool' && type !== 'bool' && type !== 'dyn') {
    return {ok: false, problem: {message: `a condition must be a bool, this expression is a ${type}`, offset: 0}}
  }
  return {ok: true, expr: {run: parsed as (a: Activation) => unknown, type, readsTaint: /\btaint\b/.test(source)}}
}

/** The library's message without its multi-line source excerpt, and the offset it points at. */
export function libraryProblem(e: unknown): ExpressionProblem {
  const err = e as {message?: string; range?: {start: number}; node?: {range?: {start: number}; pos?: number}} | undefined
  const message = (err?.message ?? String(e)).split('\n')[0]!.trim()
  const offset = err?.range?.start ?? err?.node?.range?.start ?? err?.node?.pos ?? 0
  return {message, offset}
}

/** What a failing key expression counts under: one shared bucket, so an error never escapes a limit. */
export const KEY_ERROR = '\u0000error'

/**
 * A `per` key expression (`budget.per`, `rate_limits.per`) as a function from the activation to a
 * key string: the value as canonical text (ints and doubles of the same value give the same key).
 * A key that fails to evaluate is KEY_ERROR: such calls share one bucket and stay limited.
 */
export function compileKey(source: string): (activation: Activation) => string {
  const compiled = compileExpression(source, 'any')
  // The bundle validator has refused a key that does not compile; code that builds bundles by
  // hand gets the same message as a throw.
  if (!compiled.ok) throw new Error(`${compiled.problem.message} (at character ${compiled.problem.offset + 1})`)
  const run = compiled.expr.run
  return (activation) => {
    try {
      return keyText(run(activation))
    } catch {
      return KEY_ERROR
    }
  }
}

function keyText(v: unknown): string {
  if (typeof v === 'string') return v
  if (typeof v === 'bigint') return String(v)
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x instanceof Map ? Object.fromEntries(x) : x)) ?? 'null'
}
