import type {ToolAnswer, ToolError} from '../../src/tools/sandbox.js'
import {hash32} from './prng.js'

/** Milliseconds a simulated tool takes, `[lo, hi]` per tool name (50–200 when the table has none). */
export type LatencyTable = Record<string, [number, number]>

/**
 * A simulated production tool's latency: drawn from its range by a hash of the request, the tool and
 * the call's position in the request, so regenerating the traffic gives the same numbers.
 */
export function toolLatency(table: LatencyTable, requestId: string, name: string, position: number): number {
  const [lo, hi] = table[name] ?? [50, 200]
  return lo + (hash32(`${requestId}|${name}|${position}|lat`) % (hi - lo + 1))
}

/** What a simulated production tool that ran hands the runtime: its result or its error, executed. */
export function executedAnswer(out: {result: unknown} | {error: ToolError}, latency: number): ToolAnswer {
  return 'error' in out
    ? {outcome: 'error', result: null, error: out.error, latency_ms: latency, executed: true, source: 'recorded'}
    : {outcome: 'ok', result: out.result, error: null, latency_ms: latency, executed: true, source: 'recorded'}
}
