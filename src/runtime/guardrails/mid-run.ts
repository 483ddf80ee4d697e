import type {Budgets, BundleManifest, TenantQuota, ToolContract} from '../../bundle/schema.js'
import type {ModelToolCall} from '../../model/types.js'
import {activationOf, type CompiledPolicy, type PolicyCall, type PolicyContext, type Signals} from '../../policy/engine.js'
import {type Activation, compileKey, KEY_ERROR} from '../../policy/expression.js'
import {checkRbac} from '../../policy/rbac.js'
import {compileArgValidator, formatArgIssues, type ArgIssue} from '../../tools/contract.js'
import type {Decision, TrafficRecord} from '../../traffic/schema.js'
import {budgetReason, canCallTool, type BudgetUsage} from '../budget.js'
import type {RateLimiter} from '../rate-limit.js'
import type {GuardrailResult, GuardrailSeverity} from '../../trace/schema.js'
import {sharedConstant, SharedResults} from './shared-results.js'

type KeyFn = (activation: Activation) => string

export type CompiledTool = {
  contract: ToolContract
  validate: (args: unknown) => ArgIssue[]
  /** `budget.per` and `rate_limits.per`, compiled; null when the contract has none. */
  budgetKey: KeyFn | null
  rateKey: KeyFn | null
}

export type MidRunInput = {
  call: ModelToolCall
  tools: Map<string, CompiledTool>
  policy: CompiledPolicy
  record: TrafficRecord
  usage: BudgetUsage
  budgets: Budgets
  signals: Signals
  step: number
  limiter: RateLimiter
  nowMs: number
  /** The tenant's quota from `tenant_quotas` (max_tool_calls_per_minute is enforced here). */
  tenantQuota?: TenantQuota
  /** Calls already made in this request, for policy conditions. */
  history?: readonly PolicyCall[]
  /** The conversation so far (`messages` of conditions); the record's input when absent. */
  messages?: readonly {role: string; content: string}[]
  /** Tainted argument paths of this call, computed only if a condition reads them. */
  taint?: () => readonly string[]
}

export type MidRunRefusal = 'unknown_tool' | 'invalid_args' | 'denied' | 'needs_approval' | 'budget_exceeded'

export type MidRunVerdict = {
  guardrails: GuardrailResult[]
  decision: Decision
  reason: string
  rule: string | null
  refusal: null | MidRunRefusal
  message: string
  /** The call's `budget.per` key, when its tool has one: the caller counts the call under it. */
  budgetKey?: string
}

export const TOOL_NOT_ALLOWED = 'TOOL_NOT_ALLOWED'
export const SCHEMA_INVALID = 'SCHEMA_INVALID'
export const RATE_LIMITED_USER = 'RATE_LIMITED_USER'
export const RATE_LIMITED_TENANT = 'RATE_LIMITED_TENANT'

/** Rate-limiter keys, exported so callers and tests can inspect the same windows. */
export const rateKeys = {
  user: (tool: string, tenant: string, user: string) => `tool:${tool}:user:${tenant}/${user}`,
  tenant: (tool: string, tenant: string) => `tool:${tool}:tenant:${tenant}`,
  quota: (tenant: string) => `quota:tool_calls:${tenant}`,
  requests: (tenant: string) => `quota:requests:${tenant}`,
  tokens: (tenant: string) => `quota:tokens:${tenant}`,
}

// What a passing check says, shared between requests (shared-results.ts): each detail below is the
// one the check's own code would write.
const PASS = {
  allowlist: new SharedResults('mid_run', 'tool.allowlist', true, 'info', (tool: string) => `${tool} is allowed`),
  schema: sharedConstant('mid_run', 'tool.schema', true, 'info', 'arguments match the contract'),
  rbac: new SharedResults('mid_run', 'tool.rbac', true, 'info', (role: string, tool: string) => `role ${role} may call ${tool}`),
  budget: new SharedResults('mid_run', 'budget.tool_calls', true, 'info', (call: number, max: number) => `call ${call} of ${max}`),
  // `who` of the limits below, written out from its parts.
  rateUser: new SharedResults(
    'mid_run',
    'rate_limit.user',
    true,
    'info',
    (user: string, forKey: string, limit: number) => `user ${user}${forKey} within ${limit} per minute`,
  ),
  rateTenant: new SharedResults(
    'mid_run',
    'rate_limit.tenant',
    true,
    'info',
    (tenant: string, forKey: string, limit: number) => `tenant ${tenant}${forKey} within ${limit} per minute`,
  ),
  rateQuota: new SharedResults(
    'mid_run',
    'rate_limit.tenant_quota',
    true,
    'info',
    (tenant: string, limit: number) => `tenant ${tenant} (all tools) within ${limit} per minute`,
  ),
  policy: new SharedResults(
    'mid_run',
    'policy',
    true,
    'info',
    (decision: string, reason: string, rule: string | null) => `${decision}: ${reason} (rule ${rule ?? 'none'})`,
  ),
}

const compiledTools = new WeakMap<BundleManifest, Map<string, CompiledTool>>()

/** Every tool of a bundle with its argument validator, compiled once per manifest. */
export function compileTools(manifest: BundleManifest): Map<string, CompiledTool> {
  let tools = compiledTools.get(manifest)
  if (!tools) {
    tools = new Map(
      manifest.tools.map((contract) => [
        contract.name,
        {
          contract,
          validate: compileArgValidator(contract.args),
          budgetKey: contract.budget?.per === undefined ? null : compileKey(contract.budget.per),
          rateKey: contract.rate_limits?.per === undefined ? null : compileKey(contract.rate_limits.per),
        },
      ]),
    )
    compiledTools.set(manifest, tools)
  }
  return tools
}

/**
 * Decides one proposed tool call. The order is fixed and cheap checks come first: a call that
 * fails one check never reaches the next, so an unknown tool never reaches the policy engine and
 * a policy rule can rely on arguments having passed the schema.
 */
export function midRunGuardrails(input: MidRunInput): MidRunVerdict {
  const {call, record, step} = input
  const guardrails: GuardrailResult[] = []
  const result = (check: string, passed: boolean, severity: GuardrailSeverity, detail: string): void => {
    guardrails.push({stage: 'mid_run', step, check, passed, severity, detail})
  }
  const refuse = (refusal: MidRunRefusal, decision: Decision, reason: string, rule: string | null, message: string): MidRunVerdict => ({
    guardrails,
    decision,
    reason,
    rule,
    refusal,
    message,
  })

  // 1. Allowlist.
  const tool = input.tools.get(call.name)
  if (!tool?.contract.enabled) {
    const why = tool ? `tool ${call.name} is disabled` : `tool ${call.name} is not in the bundle`
    result('tool.allowlist', false, 'medium', why)
    return refuse('unknown_tool', 'deny', TOOL_NOT_ALLOWED, 'allowlist', why)
  }
  const contract = tool.contract
  guardrails.push(PASS.allowlist.get(step, call.name))

  // 2. Arguments against the contract.
  const issues = tool.validate(call.arguments)
  if (issues.length > 0) {
    const detail = formatArgIssues(issues)
    result('tool.schema', false, 'medium', detail)
    return refuse('invalid_args', 'deny', SCHEMA_INVALID, 'schema', `invalid arguments for ${call.name}: ${detail}`)
  }
  guardrails.push(PASS.schema.get(step))

  // 3. Role-based access.
  const rbac = checkRbac(contract, record.tenant, record.role)
  if (!rbac.allowed) {
    const why = `role ${record.role} of tenant ${record.tenant} may not call ${call.name}`
    result('tool.rbac', false, 'high', why)
    return refuse('denied', 'deny', rbac.reason, 'rbac', why)
  }
  guardrails.push(PASS.rbac.get(step, record.role, call.name))

  // What the policy (and any `per` key) sees; the activation for keys is built only when needed.
  const context: PolicyContext = {
    tool: call.name,
    risk: contract.risk,
    tenant: record.tenant,
    user: record.user,
    role: record.role,
    step,
    tool_calls: input.usage.tool_calls,
    args: call.arguments,
    signals: input.signals,
    escalates: contract.escalates === true,
    idempotency: contract.idempotency,
    session: record.session_id ?? '',
    labels: record.labels,
    messages: input.messages ?? record.input,
    nowMs: input.nowMs,
  }
  // Added in place (same key order as spreads of them would give), not spread in.
  if (input.history) context.history = input.history
  if (input.taint) context.taint = input.taint
  let activation: Activation | null = null
  const keyOf = (fn: KeyFn): string => fn((activation ??= activationOf(context, true)))

  // 4. Per-request budgets.
  const budgetKey = tool.budgetKey ? keyOf(tool.budgetKey) : undefined
  const budget = canCallTool(input.budgets, input.usage, contract, budgetKey)
  if (!budget.ok) {
    const why = `one more call of ${call.name} would exceed ${budget.budget}`
    result('budget.tool_calls', false, 'medium', why)
    return withBudgetKey(refuse('budget_exceeded', 'deny', budgetReason(budget.budget), 'budget', why), budgetKey)
  }
  guardrails.push(PASS.budget.get(step, input.usage.tool_calls + 1, input.budgets.max_tool_calls))

  // 5. Rate limits, over recorded time. Every window is checked before any is charged, and
  // charging waits for the policy: a call refused anyway must not use up anyone's quota.
  const limits: {check: string; key: string; limit: number; reason: string; who: string}[] = []
  // `rate_limits.per` keeps each window per value of its key (per user and order, say).
  const rateKey = tool.rateKey ? keyOf(tool.rateKey) : null
  const keyed = (key: string) => (rateKey === null ? key : `${key}:per:${rateKey}`)
  const forKey = rateKey === null ? '' : ` for ${contract.rate_limits?.per} = ${rateKey === KEY_ERROR ? '(error)' : rateKey}`
  const perUser = contract.rate_limits?.per_user_per_minute
  if (perUser !== undefined) {
    limits.push({check: 'rate_limit.user', key: keyed(rateKeys.user(call.name, record.tenant, record.user)), limit: perUser, reason: RATE_LIMITED_USER, who: `user ${record.user}${forKey}`})
  }
  const perTenant = contract.rate_limits?.per_tenant_per_minute
  if (perTenant !== undefined) {
    limits.push({check: 'rate_limit.tenant', key: keyed(rateKeys.tenant(call.name, record.tenant)), limit: perTenant, reason: RATE_LIMITED_TENANT, who: `tenant ${record.tenant}${forKey}`})
  }
  const quota = input.tenantQuota?.max_tool_calls_per_minute
  if (quota !== undefined) {
    limits.push({check: 'rate_limit.tenant_quota', key: rateKeys.quota(record.tenant), limit: quota, reason: RATE_LIMITED_TENANT, who: `tenant ${record.tenant} (all tools)`})
  }
  for (const l of limits) {
    if (!input.limiter.allows(l.key, l.limit, input.nowMs)) {
      const why = `${l.who} is over ${l.limit} call(s) per minute of ${l.check === 'rate_limit.tenant_quota' ? 'any tool' : call.name}`
      result(l.check, false, 'medium', why)
      return refuse('budget_exceeded', 'deny', l.reason, 'rate_limit', why)
    }
    guardrails.push(
      l.check === 'rate_limit.user'
        ? PASS.rateUser.get(step, record.user, forKey, l.limit)
        : l.check === 'rate_limit.tenant'
          ? PASS.rateTenant.get(step, record.tenant, forKey, l.limit)
          : PASS.rateQuota.get(step, record.tenant, l.limit),
    )
  }

  // 6. Policy.
  const verdict = input.policy(context)
  const rule = verdict.rule
  // A condition that failed to evaluate is named in the detail, whichever rule won.
  const errors = verdict.errors ? `; condition error${verdict.errors.map((e) => ` in rule ${e.rule}: ${e.message}`).join(';')}` : ''
  const detail = (): string => `${verdict.decision}: ${verdict.reason} (rule ${rule ?? 'none'})${errors}`
  if (verdict.decision === 'deny') {
    result('policy', false, 'high', detail())
    return refuse('denied', 'deny', verdict.reason, rule, `policy denied ${call.name}: ${verdict.reason}`)
  }
  for (const l of limits) input.limiter.record(l.key, input.nowMs)
  if (verdict.decision === 'require_approval') {
    result('policy', false, 'low', detail())
    // An approved call runs, and is counted under its budget key like any other.
    return withBudgetKey(refuse('needs_approval', 'require_approval', verdict.reason, rule, `${call.name} needs approval: ${verdict.reason}`), budgetKey)
  }
  if (errors === '') guardrails.push(PASS.policy.get(step, verdict.decision, verdict.reason, rule))
  else result('policy', true, 'info', detail())
  return withBudgetKey({guardrails, decision: 'allow', reason: verdict.reason, rule, refusal: null, message: ''}, budgetKey)
}

/** `verdict` with its budget key when the tool has one: the key added in place, not by a spread copy. */
function withBudgetKey(verdict: MidRunVerdict, budgetKey: string | undefined): MidRunVerdict {
  if (budgetKey !== undefined) verdict.budgetKey = budgetKey
  return verdict
}
