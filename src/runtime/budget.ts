import type {Budgets, ToolContract} from '../bundle/schema.js'

/** What one request has consumed so far on one side. */
export type BudgetUsage = {
  steps: number
  tool_calls: number
  total_tokens: number
  retries: number
  cost_usd: number
  calls_by_tool: Record<string, number>
  /**
   * Calls by tool and budget key (`budget.per`), as `tool\u0000key`; absent until a tool with a
   * keyed budget is called.
   */
  calls_by_key?: Record<string, number>
}

export function emptyUsage(): BudgetUsage {
  return {steps: 0, tool_calls: 0, total_tokens: 0, retries: 0, cost_usd: 0, calls_by_tool: {}}
}

/**
 * Budgets already overrun, in a fixed order. A budget is overrun when usage goes past it:
 * reaching the limit exactly is still within budget.
 */
export function exceededBudgets(budgets: Budgets, usage: BudgetUsage): string[] {
  const hit: string[] = []
  if (usage.steps > budgets.max_steps) hit.push('max_steps')
  if (usage.tool_calls > budgets.max_tool_calls) hit.push('max_tool_calls')
  if (usage.total_tokens > budgets.max_total_tokens) hit.push('max_total_tokens')
  if (usage.retries > budgets.max_retries) hit.push('max_retries')
  if (budgets.max_cost_usd !== undefined && usage.cost_usd > budgets.max_cost_usd) hit.push('max_cost_usd')
  return hit
}

/** The per-tool budget name for a tool, as reported by canCallTool. */
export function perToolBudget(tool: string): string {
  return `tool:${tool}.max_calls_per_request`
}

/** The `calls_by_key` entry of a tool and a budget key. */
export function budgetKeyOf(tool: string, key: string): string {
  return `${tool}\u0000${key}`
}

/** Counts one call of `tool` under its budget key (a tool with a keyed budget). */
export function countKeyedCall(usage: BudgetUsage, tool: string, key: string): void {
  const counts = (usage.calls_by_key ??= {})
  const k = budgetKeyOf(tool, key)
  counts[k] = (Object.hasOwn(counts, k) ? counts[k]! : 0) + 1
}

/**
 * Whether one more call of `tool` stays within the request's tool-call budgets. `key`: the value
 * of the tool's `budget.per` for this call; the per-tool limit then counts only the calls of the
 * tool with that key ("once per order"), else every call of the tool.
 */
export function canCallTool(
  budgets: Budgets,
  usage: BudgetUsage,
  tool: ToolContract,
  key?: string,
): {ok: true} | {ok: false; budget: string} {
  if (usage.tool_calls + 1 > budgets.max_tool_calls) return {ok: false, budget: 'max_tool_calls'}
  const perTool = tool.budget?.max_calls_per_request
  if (perTool !== undefined) {
    let made: number
    if (key !== undefined) {
      const k = budgetKeyOf(tool.name, key)
      made = usage.calls_by_key && Object.hasOwn(usage.calls_by_key, k) ? usage.calls_by_key[k]! : 0
    } else {
      made = Object.hasOwn(usage.calls_by_tool, tool.name) ? (usage.calls_by_tool[tool.name] ?? 0) : 0
    }
    if (made + 1 > perTool) return {ok: false, budget: perToolBudget(tool.name)}
  }
  return {ok: true}
}

/**
 * Reason code for a budget refusal: `BUDGET_MAX_TOOL_CALLS`; per-tool budgets share
 * `BUDGET_MAX_CALLS_PER_REQUEST` so the code does not vary with the tool's name.
 */
export function budgetReason(budget: string): string {
  const name = budget.startsWith('tool:') ? budget.slice(budget.indexOf('.') + 1) : budget
  return `BUDGET_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`
}
