import {describe, expect, it} from 'vitest'
import {Budgets, ToolContract} from '../../src/bundle/schema.js'
import {budgetReason, canCallTool, emptyUsage, exceededBudgets, type BudgetUsage} from '../../src/runtime/budget.js'

const budgets = Budgets.parse({max_steps: 6, max_tool_calls: 4, max_total_tokens: 1000, max_retries: 2, max_cost_usd: 0.05})
const tool = (over: Record<string, unknown> = {}) =>
  ToolContract.parse({name: 'issue_refund', description: 'Refund', risk: 'write_high', args: {type: 'object'}, roles: {'*': ['agent']}, ...over})
const usage = (over: Partial<BudgetUsage> = {}): BudgetUsage => ({...emptyUsage(), ...over})

describe('exceededBudgets', () => {
  it('is empty for a fresh request and exactly at every limit', () => {
    expect(exceededBudgets(budgets, emptyUsage())).toEqual([])
    expect(exceededBudgets(budgets, usage({steps: 6, tool_calls: 4, total_tokens: 1000, retries: 2, cost_usd: 0.05}))).toEqual([])
  })

  it('names each budget one past its limit, in a fixed order', () => {
    expect(exceededBudgets(budgets, usage({steps: 7}))).toEqual(['max_steps'])
    expect(exceededBudgets(budgets, usage({tool_calls: 5}))).toEqual(['max_tool_calls'])
    expect(exceededBudgets(budgets, usage({total_tokens: 1001}))).toEqual(['max_total_tokens'])
    expect(exceededBudgets(budgets, usage({retries: 3}))).toEqual(['max_retries'])
    expect(exceededBudgets(budgets, usage({cost_usd: 0.0501}))).toEqual(['max_cost_usd'])
    expect(exceededBudgets(budgets, usage({cost_usd: 1, retries: 9, steps: 9}))).toEqual(['max_steps', 'max_retries', 'max_cost_usd'])
  })

  it('ignores cost when the bundle sets no cost budget', () => {
    const {max_cost_usd: _, ...noCost} = budgets
    expect(exceededBudgets(noCost, usage({cost_usd: 1000}))).toEqual([])
  })
})

describe('canCallTool', () => {
  it('allows the call that reaches max_tool_calls, not the one past it', () => {
    expect(canCallTool(budgets, usage({tool_calls: 3}), tool())).toEqual({ok: true})
    expect(canCallTool(budgets, usage({tool_calls: 4}), tool())).toEqual({ok: false, budget: 'max_tool_calls'})
    expect(canCallTool({...budgets, max_tool_calls: 0}, emptyUsage(), tool())).toEqual({ok: false, budget: 'max_tool_calls'})
  })

  it('applies the per-tool budget to that tool only', () => {
    const limited = tool({budget: {max_calls_per_request: 1}})
    expect(canCallTool(budgets, usage({tool_calls: 1, calls_by_tool: {lookup_order: 1}}), limited)).toEqual({ok: true})
    expect(canCallTool(budgets, usage({tool_calls: 1, calls_by_tool: {issue_refund: 1}}), limited)).toEqual({
      ok: false,
      budget: 'tool:issue_refund.max_calls_per_request',
    })
    expect(canCallTool(budgets, usage({tool_calls: 1, calls_by_tool: {issue_refund: 1}}), tool())).toEqual({ok: true})
  })

  it('turns budget names into reason codes', () => {
    expect(budgetReason('max_tool_calls')).toBe('BUDGET_MAX_TOOL_CALLS')
    expect(budgetReason('tool:issue_refund.max_calls_per_request')).toBe('BUDGET_MAX_CALLS_PER_REQUEST')
  })
})
