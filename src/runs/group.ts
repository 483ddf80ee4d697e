import {baseSideOf, compareGroup, type ComparedRequest, type CompareOptions, type TraceGroup} from '../diff/compare.js'
import type {Classification, RequestDiff} from '../diff/types.js'
import {UnderstudyError} from '../errors.js'
import type {RequestTrace, TraceSide} from '../trace/schema.js'
import type {RunInfo, TraceStore} from '../store/api.js'

export type {TraceGroup} from '../diff/compare.js'

/**
 * Groups a stream ordered by line into one group per request, holding only one request's traces
 * at a time, so a run of any size is read in constant memory.
 */
export function* groupByRequest(traces: Iterable<RequestTrace>): Generator<TraceGroup> {
  let current: TraceGroup | null = null
  for (const t of traces) {
    if (current && current.request_id === t.request_id && current.line === t.line) {
      current.traces.push(t)
      continue
    }
    if (current) yield current
    current = {request_id: t.request_id, line: t.line, traces: [t]}
  }
  if (current) yield current
}

/** Each request of a stream ordered by line, diffed and classified (see compareGroup). */
export function* compareTraces(traces: Iterable<RequestTrace>, baseSide: TraceSide, options: CompareOptions = {}): Generator<ComparedRequest> {
  for (const group of groupByRequest(traces)) yield compareGroup(group, baseSide, options)
}

/**
 * One request of a run, its traces grouped: the group at `line` when given (a request id may
 * appear on several lines), else the first; undefined when the run has no such request.
 */
export function requestGroup(store: Pick<TraceStore, 'iterateTraces'>, run: Pick<RunInfo, 'id'>, requestId: string, line?: number): TraceGroup | undefined {
  for (const group of groupByRequest(store.iterateTraces(run.id, {requestId}))) {
    if (line === undefined || group.line === line) return group
  }
  return undefined
}

/**
 * One request of a run (its first line with that id) diffed and classified against the run's
 * base side; an error when the run has no such request or it lacks a side to compare.
 */
export function compareRequest(
  store: Pick<TraceStore, 'iterateTraces'>,
  run: RunInfo,
  requestId: string,
): {diff: RequestDiff; classification: Classification; base: RequestTrace; cand: RequestTrace} {
  const group = requestGroup(store, run, requestId)
  if (group === undefined) throw new UnderstudyError(`run ${run.id} has no request "${requestId}"`)
  const baseSide = baseSideOf(run)
  const compared = compareGroup(group, baseSide)
  if (!compared.diff || !compared.classification) {
    const missing = compared.cand ? `${baseSide} (base)` : 'candidate'
    throw new UnderstudyError(`request "${requestId}" of run ${run.id} has no ${missing} trace, so there is nothing to compare`)
  }
  return {diff: compared.diff, classification: compared.classification, base: compared.base!, cand: compared.cand!}
}
