import type {TraceSide} from '../trace/schema.js'

/**
 * A stored trace's key within its run (request id, side, repeat), as TraceKeys hold them. In a
 * module of its own so that the trace writer's thread, which loads only the traces table's code,
 * does not load zod with api.ts.
 */
export function traceKey(requestId: string, side: TraceSide, repeat: number): string {
  return `${requestId}\u0000${side}\u0000${repeat}`
}
