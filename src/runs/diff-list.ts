import {baseSideOf, compareGroup} from '../diff/compare.js'
import {CLASSES, emptyClassCounts, type DiffClass, type Reason} from '../diff/types.js'
import type {TraceSide} from '../trace/schema.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {mapRun, type MapRunOptions} from './map-run.js'
import {taskRef, type GroupTask} from './task.js'

/**
 * `understudy diff`'s listing: every request of a run compared and classified, those the filter
 * keeps handed on in line order, the rest only counted. Split across threads for a large run.
 */

/** Which requests to list: regressions, changes (anything not same), all, or none (counts only). */
export type ListFilter = 'regressions' | 'changes' | 'all' | 'none'

export type ListedRequest = {request_id: string; line: number; class: DiffClass; reasons: Reason[]; noise: Reason[]}

export type ListTotals = {
  counts: Record<DiffClass, number>
  /** Requests missing the base or the candidate trace, not compared. */
  incomplete: number
  /** Traffic lines the run skipped (malformed, or a repeated id): neither compared nor incomplete. */
  skipped: number
}

export type DiffListArgs = {baseSide: TraceSide; only: ListFilter}

function listed(cls: DiffClass, only: ListFilter): boolean {
  if (only === 'all') return true
  if (only === 'changes') return cls !== 'same'
  if (only === 'regressions') return cls === 'regression'
  return false
}

export function diffListTask(args: DiffListArgs): GroupTask<ListedRequest, ListTotals> {
  const totals: ListTotals = {counts: emptyClassCounts(), incomplete: 0, skipped: 0}
  return {
    map(group) {
      if (group.traces.some((t) => t.status === 'skipped')) {
        totals.skipped++
        return undefined
      }
      const r = compareGroup(group, args.baseSide, {answerParts: false})
      if (!r.classification) {
        totals.incomplete++
        return undefined
      }
      const c = r.classification
      totals.counts[c.class]++
      return listed(c.class, args.only) ? {request_id: r.request_id, line: r.line, class: c.class, reasons: c.reasons, noise: c.noise} : undefined
    },
    finish: () => totals,
  }
}

/** Lists a run's requests through `onListed` (line order) and returns the counts over all of them. */
export async function listRun(
  store: TraceStore,
  run: RunInfo,
  only: ListFilter,
  onListed: (r: ListedRequest) => void,
  options: MapRunOptions = {},
): Promise<ListTotals> {
  // A diff compares failing guardrail results only.
  const ref = taskRef(import.meta.url, 'diffListTask', diffListTask, {baseSide: baseSideOf(run), only}, {guardrails: 'failed'})
  const parts = await mapRun(store, run.id, ref, onListed, options)
  const totals: ListTotals = {counts: emptyClassCounts(), incomplete: 0, skipped: 0}
  for (const p of parts) {
    for (const c of CLASSES) totals.counts[c] += p.counts[c]
    totals.incomplete += p.incomplete
    totals.skipped += p.skipped
  }
  return totals
}
