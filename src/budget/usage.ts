import type {BudgetUsage} from '../runtime/budget.js'
import type {RequestTrace, ToolCallOutcome} from '../trace/schema.js'

/**
 * What one stored request consumed, counted the way the runtime counts against its budgets
 * (src/runtime/agent.ts): a step is one model call, a tool call is a logical call the guardrails let
 * through (refused calls and retry attempts do not count), a retry is an attempt after the first.
 */
export type RequestUsage = BudgetUsage

/** Outcomes of a call that got past the mid-run guardrails, i.e. one the runtime counted. */
const COUNTED: ReadonlySet<ToolCallOutcome> = new Set<ToolCallOutcome>([
  'ok',
  'error',
  'timeout',
  'rate_limited',
  'partial_write',
  'unrecorded_call',
  'deduplicated',
])

export function countsAsToolCall(call: RequestTrace['tool_calls'][number]): boolean {
  return call.attempt === 1 && COUNTED.has(call.outcome)
}

export function isRetry(call: RequestTrace['tool_calls'][number]): boolean {
  return call.attempt > 1
}

export function traceUsage(t: RequestTrace): RequestUsage {
  const calls_by_tool: Record<string, number> = {}
  let tool_calls = 0
  let retries = 0
  for (const c of t.tool_calls) {
    if (isRetry(c)) retries++
    else if (countsAsToolCall(c)) {
      tool_calls++
      calls_by_tool[c.name] = (Object.hasOwn(calls_by_tool, c.name) ? calls_by_tool[c.name]! : 0) + 1
    }
  }
  return {
    steps: t.model_calls,
    tool_calls,
    total_tokens: t.input_tokens + t.output_tokens,
    retries,
    cost_usd: t.cost_usd,
    calls_by_tool,
  }
}

export type Distribution = {p50: number; p95: number; max: number; mean: number}

/** Nearest-rank percentiles, as the run summary computes latency percentiles. */
export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return {p50: 0, p95: 0, max: 0, mean: 0}
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
  const sum = sorted.reduce((a, b) => a + b, 0)
  return {p50: at(50), p95: at(95), max: sorted.at(-1)!, mean: sum / sorted.length}
}
