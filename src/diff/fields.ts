import {canonicalJson} from '../util/canonical.js'
import type {GuardrailResult, PolicyDecisionTrace, RequestTrace, ToolCallTrace} from '../trace/schema.js'

/**
 * Stable field names shared by the diff (base vs candidate) and the noise profile (repeat vs
 * repeat), so a difference can be looked up in the set of fields known to vary between repeats.
 */

export const callKey = (c: Pick<ToolCallTrace, 'name'>): string => c.name
export const decisionKey = (d: Pick<PolicyDecisionTrace, 'stage' | 'tool'>): string => `${d.stage}:${d.tool ?? '-'}`

/** Per item, how many earlier items share its key: the `#n` in a field name. */
export function occurrences<T>(items: readonly T[], key: (item: T) => string): number[] {
  const seen = new Map<string, number>()
  return items.map((item) => {
    const k = key(item)
    const n = seen.get(k) ?? 0
    seen.set(k, n + 1)
    return n
  })
}

export const callField = (name: string, n: number): string => `call:${name}#${n}`
export const decisionField = (key: string, n: number): string => `decision:${key}#${n}`
export const guardrailField = (g: Pick<GuardrailResult, 'stage' | 'check'>): string => `guardrail:${g.stage}:${g.check}`
export const budgetField = (name: string): string => `budget:${name}`

/** Arguments flattened to dotted paths; arrays and scalars are leaves, compared as canonical JSON. */
export function flattenArgs(args: Record<string, unknown>, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const key of Object.keys(args)) {
    const value = args[key]
    const path = prefix ? `${prefix}.${key}` : key
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const nested = value as Record<string, unknown>
      if (Object.keys(nested).length === 0) out.set(path, '{}')
      else flattenArgs(nested, path, out)
    } else if (value !== undefined) {
      out.set(path, canonicalJson(value))
    }
  }
  return out
}

export function getPath(args: Record<string, unknown>, path: string): unknown {
  let cur: unknown = args
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

/** A failed check that flagged prompt injection (in input, a document or a tool result). */
export const isInjectionCheck = (g: {check: string; passed?: boolean}): boolean => g.passed !== true && /inject/i.test(g.check)

export const totalTokens = (t: Pick<RequestTrace, 'input_tokens' | 'output_tokens'>): number => t.input_tokens + t.output_tokens

/** Numeric fields: they count as differing only when the relative spread exceeds the tolerance. */
export const NUMERIC_FIELDS = ['tokens', 'cost_usd', 'latency_ms'] as const
export type NumericField = (typeof NUMERIC_FIELDS)[number]

export function numericValue(t: RequestTrace, field: NumericField): number {
  if (field === 'tokens') return totalTokens(t)
  return field === 'cost_usd' ? t.cost_usd : t.latency_ms
}

/**
 * True when `to` differs from `from` by more than `tolerance` relative to `from` (and by more than
 * `floor` in absolute terms, so that 1 ms against 2 ms is not a 100% change).
 */
export function beyondTolerance(from: number, to: number, tolerance: number, floor = 0): boolean {
  const d = Math.abs(to - from)
  if (d <= floor) return false
  return from === 0 ? true : d / Math.abs(from) > tolerance
}

/**
 * Whether a call's write took effect: answered ok, or done with its response lost. A tool that
 * answered with an error, or never answered, did not write, so retrying it is not a double write.
 */
export const wroteThrough = (c: Pick<ToolCallTrace, 'outcome'>): boolean => c.outcome === 'ok' || c.outcome === 'partial_write'
