import type {RequestTrace} from '../../src/trace/schema.js'

const SIDE_RANK = {recorded: 0, baseline: 1, candidate: 2} as const

/** The store contract's trace order: line, then recorded/baseline/candidate, then repeat. */
function contractOrder(a: RequestTrace, b: RequestTrace): number {
  return a.line - b.line || SIDE_RANK[a.side] - SIDE_RANK[b.side] || a.repeat - b.repeat
}

/** A copy of `traces` in the store contract's order. */
export const inOrder = (traces: readonly RequestTrace[]): RequestTrace[] => [...traces].sort(contractOrder)

/** `line/side/repeat` of each trace, to compare orders readably. */
export const orderKeys = (traces: Iterable<RequestTrace>): string[] => [...traces].map((t) => `${t.line}/${t.side}/${t.repeat}`)
