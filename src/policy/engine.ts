import type {PolicyCondition, PolicyEffect, PolicyRule, RiskLevel} from '../bundle/schema.js'
import {ValidationError} from '../errors.js'
import type {Decision} from '../traffic/schema.js'
import {type Activation, type CompiledExpression, compileExpression, type PolicyCall, PolicyTool} from './expression.js'

export {PolicyCall} from './expression.js'

/** Guardrail findings the policy can test, e.g. `signals.injection_in_retrieved`. */
export type Signals = Record<string, boolean | number | string>

export type PolicyContext = {
  tool: string
  risk: RiskLevel | 'unknown'
  tenant: string
  user: string
  role: string
  step: number
  tool_calls: number
  args: Record<string, unknown>
  signals: Signals
  /** The tool contract's flags, for `tool.escalates` and `tool.idempotency` in expressions. */
  escalates?: boolean
  idempotency?: string
  session?: string
  labels?: Record<string, string>
  /** Calls already made in this request, oldest first. */
  history?: readonly PolicyCall[]
  /** Tainted argument paths (src/policy/taint.ts), computed only when a rule reads `taint`. */
  taint?: () => readonly string[]
  /** The request's messages, and its recorded time in ms since the epoch. */
  messages?: readonly {role: string; content: string}[]
  nowMs?: number
}

/** A rule whose `if` could not be evaluated for this call, and why. */
export type ConditionError = {rule: string; message: string}

export type PolicyVerdict = {
  decision: Decision
  reason: string
  rule: string | null
  fired: string[]
  /** Present only when some rule's `if` failed to evaluate (see POLICY_CONDITION_ERROR). */
  errors?: ConditionError[]
}
export type CompiledPolicy = (ctx: PolicyContext) => PolicyVerdict

/** Reason and rule reported when no rule fires. */
export const POLICY_DEFAULT_REASON = 'POLICY_DEFAULT'
export const POLICY_DEFAULT_RULE = 'default'
/**
 * Reason reported when the winning rule fired because its `if` failed to evaluate (a missing key,
 * a value of the wrong type). Fail closed: a deny or require_approval rule whose condition cannot
 * be evaluated fires, an allow rule does not, so a condition error never widens what is allowed.
 */
export const POLICY_CONDITION_ERROR = 'POLICY_CONDITION_ERROR'

/** Higher is more restrictive; the most restrictive fired effect wins. */
const EFFECT_RANK: Record<PolicyEffect, number> = {allow: 0, require_approval: 1, deny: 2}

const CONTEXT_FIELDS = new Set(['tool', 'risk', 'tenant', 'user', 'role', 'step', 'tool_calls'])

type Getter = (ctx: PolicyContext) => unknown
type Test = (ctx: PolicyContext) => boolean
/** A rule's `if`: true, false, or the evaluation error's message. */
type ExprTest = (activation: Activation) => boolean | string

/** One problem in a rule list, `path` relative to the `policies` array (`2.when.0.value`). */
export type PolicyProblem = {path: string; message: string; /** In an `if`: where in the expression. */ offset?: number}

/**
 * Problems that would make a rule list uncompilable or silently meaningless: unknown field roots,
 * `in` without an array, bad regexes, ordering ops without a number. The bundle validator reports
 * these with file and line; compilePolicy refuses them.
 */
export function policyRuleProblems(rules: PolicyRule[]): PolicyProblem[] {
  const problems: PolicyProblem[] = []
  const seen = new Map<string, number>()
  rules.forEach((rule, i) => {
    const first = seen.get(rule.id)
    if (first !== undefined) problems.push({path: `${i}.id`, message: `duplicate rule id "${rule.id}" (also rule ${first})`})
    else seen.set(rule.id, i)
    // `when` defaults to [] in the schema; rules built in code may still leave it out.
    ;(rule.when ?? []).forEach((cond, j) => {
      const at = `${i}.when.${j}`
      const fieldProblem = checkField(cond.field)
      if (fieldProblem) problems.push({path: `${at}.field`, message: fieldProblem})
      const valueProblem = checkValue(cond)
      if (valueProblem) problems.push({path: `${at}.value`, message: valueProblem})
    })
    if (rule.if !== undefined) {
      const compiled = compileExpression(rule.if, 'bool')
      if (!compiled.ok) problems.push({path: `${i}.if`, message: `${compiled.problem.message} (at character ${compiled.problem.offset + 1})`, offset: compiled.problem.offset})
    }
  })
  return problems
}

function checkField(field: string): string | null {
  const [root, ...rest] = field.split('.')
  if (root === 'args' || root === 'signals') {
    return rest.length > 0 && rest.every((s) => s.length > 0) ? null : `"${field}" needs a name after "${root}."`
  }
  if (root !== undefined && CONTEXT_FIELDS.has(root) && rest.length === 0) return null
  return `unknown field "${field}" (use tool, risk, tenant, user, role, step, tool_calls, args.<path> or signals.<name>)`
}

function checkValue(cond: PolicyCondition): string | null {
  const {op, value} = cond
  switch (op) {
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return typeof value === 'number' && Number.isFinite(value) ? null : `${op} needs a number value`
    case 'in':
    case 'not_in':
      return Array.isArray(value) ? null : `${op} needs an array value`
    case 'matches':
    case 'not_matches':
      if (typeof value !== 'string') return `${op} needs a regular expression string`
      try {
        new RegExp(value, 'i')
        return null
      } catch {
        return `"${value}" is not a valid regular expression`
      }
    case 'eq':
    case 'ne':
    case 'contains':
    case 'not_contains':
      return value === undefined ? `${op} needs a value` : null
    case 'exists':
    case 'missing':
      return null
  }
}

/**
 * Compiles a rule list once into a closure: selectors become Set lookups, field paths become
 * getters and regexes are built here, so evaluating a proposed call allocates almost nothing.
 * A rule fires when every selector it lists matches and every `when` condition holds; an empty
 * selector list is treated like an absent one (it restricts nothing).
 */
export function compilePolicy(rules: PolicyRule[], defaultEffect: PolicyEffect): CompiledPolicy {
  const problems = policyRuleProblems(rules)
  if (problems.length > 0) {
    throw new ValidationError(problems.map((p) => `policies.${p.path}: ${p.message}`))
  }
  // Most restrictive first, then by id, so the first fired rule in this order is the winner
  // and the rule order in the file never changes the verdict.
  const compiled = rules
    .map((rule) => ({rule, ...compileRule(rule)}))
    .sort((a, b) => EFFECT_RANK[b.rule.effect] - EFFECT_RANK[a.rule.effect] || compareIds(a.rule.id, b.rule.id))
  const readsTaint = compiled.some((c) => c.readsTaint)
  const defaultVerdict = (errors: ConditionError[] | null): PolicyVerdict => ({
    decision: defaultEffect,
    reason: POLICY_DEFAULT_REASON,
    rule: POLICY_DEFAULT_RULE,
    fired: [],
    ...(errors ? {errors} : {}),
  })

  // One decision path: a rule's selectors and `when` list run first (cheap, and they keep their
  // exact old meaning), then its `if`; the activation for `if` is built once per decision, and
  // only when some rule gets that far.
  return (ctx) => {
    let winner: PolicyRule | null = null
    let winnerErred = false
    let fired: string[] | null = null
    let errors: ConditionError[] | null = null
    let activation: Activation | null = null
    for (const {rule, test, expr} of compiled) {
      if (!test(ctx)) continue
      let erred = false
      if (expr) {
        activation ??= activationOf(ctx, readsTaint)
        const holds = expr(activation)
        if (typeof holds === 'string') {
          ;(errors ??= []).push({rule: rule.id, message: holds})
          if (rule.effect === 'allow') continue
          erred = true
        } else if (!holds) continue
      }
      if (winner === null) {
        winner = rule
        winnerErred = erred
      }
      ;(fired ??= []).push(rule.id)
    }
    if (errors) errors.sort((a, b) => compareIds(a.rule, b.rule))
    if (winner === null || fired === null) return defaultVerdict(errors)
    return {
      decision: winner.effect,
      reason: winnerErred ? POLICY_CONDITION_ERROR : winner.reason,
      rule: winner.id,
      fired: fired.sort(compareIds),
      ...(errors ? {errors} : {}),
    }
  }
}

const NO_CALLS: readonly PolicyCall[] = []
const NO_PATHS: readonly string[] = []
const NO_LABELS: Record<string, string> = {}
const NO_MESSAGES: readonly {role: string; content: string}[] = []

/** The variables an `if` sees, built from the context once per decision. */
export function activationOf(ctx: PolicyContext, withTaint: boolean): Activation {
  return {
    tool: new PolicyTool(ctx.tool, ctx.risk, ctx.escalates === true, ctx.idempotency ?? 'none'),
    args: ctx.args,
    step: BigInt(ctx.step),
    tool_calls: BigInt(ctx.tool_calls),
    tenant: ctx.tenant,
    user: ctx.user,
    role: ctx.role,
    session: ctx.session ?? '',
    labels: ctx.labels ?? NO_LABELS,
    signals: ctx.signals,
    history: ctx.history ?? NO_CALLS,
    taint: withTaint && ctx.taint ? ctx.taint() : NO_PATHS,
    messages: ctx.messages ?? NO_MESSAGES,
    now: new Date(ctx.nowMs ?? 0),
  }
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function compileRule(rule: PolicyRule): {test: Test; expr: ExprTest | null; readsTaint: boolean} {
  const tests: Test[] = []
  const tools = selector(rule.tools)
  if (tools) tests.push((ctx) => tools.has(ctx.tool))
  const risks = selector(rule.risk)
  if (risks) tests.push((ctx) => risks.has(ctx.risk))
  const tenants = selector(rule.tenants)
  if (tenants) tests.push((ctx) => tenants.has(ctx.tenant))
  const roles = selector(rule.roles)
  if (roles) tests.push((ctx) => roles.has(ctx.role))
  for (const cond of rule.when ?? []) tests.push(compileCondition(cond))
  const compiled = rule.if === undefined ? null : compileExpression(rule.if, 'bool')
  // policyRuleProblems has already refused an `if` that does not compile.
  const expr = compiled?.ok ? exprTest(compiled.expr) : null
  const readsTaint = compiled?.ok === true && compiled.expr.readsTaint
  if (tests.length === 0) return {test: () => true, expr, readsTaint}
  return {
    test: (ctx) => {
      for (const t of tests) if (!t(ctx)) return false
      return true
    },
    expr,
    readsTaint,
  }
}

/** An `if` as a test: a bool result is the answer; a non-bool result or a throw is an error message. */
function exprTest(expr: CompiledExpression): ExprTest {
  return (activation) => {
    try {
      const v = expr.run(activation)
      return typeof v === 'boolean' ? v : `the condition gave ${typeof v === 'bigint' ? 'an int' : typeof v}, not a bool`
    } catch (e) {
      return ((e as Error).message ?? String(e)).split('\n')[0]!.trim()
    }
  }
}

function selector(values: string[] | undefined): Set<string> | null {
  return values && values.length > 0 ? new Set(values) : null
}

/**
 * One condition as a predicate. The `not_*` and `ne` ops are exact negations of their positive
 * forms, so a missing field satisfies them; ordering ops hold only for numbers.
 */
export function compileCondition(cond: PolicyCondition): Test {
  const get = compileGetter(cond.field)
  const value = cond.value
  switch (cond.op) {
    case 'eq':
      return (ctx) => deepEqual(get(ctx), value)
    case 'ne':
      return (ctx) => !deepEqual(get(ctx), value)
    case 'gt':
      return numeric(get, value, (a, b) => a > b)
    case 'gte':
      return numeric(get, value, (a, b) => a >= b)
    case 'lt':
      return numeric(get, value, (a, b) => a < b)
    case 'lte':
      return numeric(get, value, (a, b) => a <= b)
    case 'in': {
      const member = membership(value)
      return (ctx) => member(get(ctx))
    }
    case 'not_in': {
      const member = membership(value)
      return (ctx) => !member(get(ctx))
    }
    case 'contains':
      return (ctx) => contains(get(ctx), value)
    case 'not_contains':
      return (ctx) => !contains(get(ctx), value)
    case 'matches': {
      const re = new RegExp(String(value), 'i')
      return (ctx) => matches(re, get(ctx))
    }
    case 'not_matches': {
      const re = new RegExp(String(value), 'i')
      return (ctx) => !matches(re, get(ctx))
    }
    case 'exists':
      return (ctx) => present(get(ctx))
    case 'missing':
      return (ctx) => !present(get(ctx))
  }
}

function compileGetter(field: string): Getter {
  const [root, ...rest] = field.split('.')
  if (root === 'signals') {
    // Signal names are flat: everything after `signals.` is one key.
    const name = rest.join('.')
    return (ctx) => (Object.hasOwn(ctx.signals, name) ? ctx.signals[name] : undefined)
  }
  if (root === 'args') return (ctx) => walk(ctx.args, rest)
  switch (root) {
    case 'tool':
      return (ctx) => ctx.tool
    case 'risk':
      return (ctx) => ctx.risk
    case 'tenant':
      return (ctx) => ctx.tenant
    case 'user':
      return (ctx) => ctx.user
    case 'role':
      return (ctx) => ctx.role
    case 'step':
      return (ctx) => ctx.step
    case 'tool_calls':
      return (ctx) => ctx.tool_calls
    default:
      return () => undefined
  }
}

/** Follows a dotted path through objects and arrays (`items.0.sku`); own properties only. */
export function walk(value: unknown, path: readonly string[]): unknown {
  let cur = value
  for (const key of path) {
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(key)) return undefined
      cur = cur[Number(key)]
    } else if (cur !== null && typeof cur === 'object') {
      if (!Object.hasOwn(cur, key)) return undefined
      cur = (cur as Record<string, unknown>)[key]
    } else {
      return undefined
    }
  }
  return cur
}

function numeric(get: Getter, value: unknown, cmp: (a: number, b: number) => boolean): Test {
  const bound = value as number
  return (ctx) => {
    const v = get(ctx)
    return typeof v === 'number' && !Number.isNaN(v) && cmp(v, bound)
  }
}

function membership(value: unknown): (v: unknown) => boolean {
  const list = value as unknown[]
  // Primitive lists get a Set; lists holding objects fall back to deep comparison.
  if (list.every((x) => x === null || typeof x !== 'object')) {
    const set = new Set(list)
    return (v) => set.has(v)
  }
  return (v) => list.some((x) => deepEqual(v, x))
}

function contains(haystack: unknown, needle: unknown): boolean {
  if (typeof haystack === 'string') return typeof needle === 'string' && haystack.includes(needle)
  if (Array.isArray(haystack)) return haystack.some((x) => deepEqual(x, needle))
  return false
}

function matches(re: RegExp, v: unknown): boolean {
  if (typeof v === 'string') return re.test(v)
  if (typeof v === 'number' || typeof v === 'boolean') return re.test(String(v))
  return false
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null
}

/** Structural equality for JSON values: arrays by position, objects by key set and values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false
    return true
  }
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined)
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined)
  if (ak.length !== bk.length) return false
  for (const k of ak) if (!Object.hasOwn(bo, k) || !deepEqual(ao[k], bo[k])) return false
  return true
}
