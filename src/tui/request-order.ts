import type {EntryClass, RequestEntry} from './entries.js'

/**
 * The order of the requests list: by line (as recorded), or grouped by class (most severe first),
 * cause, tenant or tool, each group in line order. Pure; `s` cycles through ORDERS.
 */

export const ORDERS = ['line', 'class', 'cause', 'tenant', 'tool'] as const
export type OrderBy = (typeof ORDERS)[number]

export const nextOrder = (o: OrderBy): OrderBy => ORDERS[(ORDERS.indexOf(o) + 1) % ORDERS.length]!

/** Most severe first: what a reviewer must look at, then what could not be compared, then the rest. */
export const SEVERITY: Record<EntryClass, number> = {regression: 0, incomplete: 1, behaviour_change: 2, improvement: 3, benign: 4, same: 5}

/** The group an entry falls in under `order` (shown in the GROUP column); '' for the plain line order. */
export function groupOf(e: RequestEntry, order: OrderBy): string {
  switch (order) {
    case 'line':
      return ''
    case 'class':
      return e.class
    case 'cause':
      return e.cause ?? '—'
    case 'tenant':
      return e.tenant || '—'
    case 'tool':
      return e.tool || '—'
  }
}

/**
 * `rows` (indexes into `entries`, in line order) reordered under `order`: a stable sort by group,
 * so each group keeps line order. Classes go by severity, causes by their class's severity, the
 * rest alphabetically; the empty group (`—`) last.
 */
export function orderRows(entries: readonly RequestEntry[], rows: readonly number[], order: OrderBy): number[] {
  if (order === 'line') return [...rows]
  const rank = (i: number): number => {
    const e = entries[i]!
    if (order === 'class' || order === 'cause') return order === 'cause' && e.cause === null ? 99 : SEVERITY[e.class]
    return groupOf(e, order) === '—' ? 1 : 0
  }
  const keyed = rows.map((i) => ({i, rank: rank(i), group: order === 'class' ? '' : groupOf(entries[i]!, order)}))
  keyed.sort((a, b) => a.rank - b.rank || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0) || a.i - b.i)
  return keyed.map((k) => k.i)
}

/** How many groups `rows` fall into under `order` (0 for the line order). */
export function groupCount(entries: readonly RequestEntry[], rows: readonly number[], order: OrderBy): number {
  if (order === 'line') return 0
  return new Set(rows.map((i) => groupOf(entries[i]!, order))).size
}
