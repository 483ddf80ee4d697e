import type {ModelToolCall} from '../types.js'
import type {Exchange} from './conversation.js'

/**
 * Reading the tool exchanges so far, the same way in every skill: tool results as plain records,
 * and whether the last call failed transiently and may be retried.
 */

/** Tool calls to make now; every skill's action union includes it. */
export type CallAction = {kind: 'call'; calls: ModelToolCall[]; note: string}

/** Error codes a tool may answer differently on the next attempt. */
export const RETRYABLE: ReadonlySet<string> = new Set(['timeout', 'rate_limited', 'server_error'])

/** `v` when it is a JSON object, else null. */
export function record(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null
}

/** How many times in a row, ending with `last`, this exact call (same name and arguments) has failed. */
export function trailingFailures(done: readonly Exchange[], last: Exchange): number {
  let n = 0
  const same = JSON.stringify(last.args)
  for (let i = done.length - 1; i >= 0; i--) {
    const e = done[i]!
    if (e.name !== last.name || JSON.stringify(e.args) !== same) continue
    if (e.ok) break
    n++
  }
  return n
}

/** The same call again when the last one failed transiently and `maxRetries` allows another try; else null. */
export function retryLast(done: readonly Exchange[], maxRetries: number): CallAction | null {
  const last = done.at(-1)
  if (!last || last.ok || !RETRYABLE.has(last.error?.code ?? '')) return null
  // The runtime may retry on its own and say so when its retry budget is spent: then stop retrying.
  const budgetSpent = /retry budget spent/i.test(last.error?.message ?? '')
  if (!budgetSpent && trailingFailures(done, last) <= maxRetries) {
    return {kind: 'call', calls: [{name: last.name, arguments: last.args}], note: `Retrying ${last.name}.`}
  }
  return null
}
