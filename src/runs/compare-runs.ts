import {UnderstudyError} from '../errors.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import type {DiffClass} from '../diff/types.js'
import {listRun} from './diff-list.js'

/**
 * `runs compare <a> <b>`: two runs of the same traffic, request by request: which requests changed
 * class or cause between them, with counts per change. Runs of different traffic are refused.
 */

export type RequestVerdict = {class: DiffClass; cause: string | null}
export type ChangedRequest = {request_id: string; line: number; a: RequestVerdict | null; b: RequestVerdict | null}
export type Transition = {from: string; to: string; requests: number}

export type RunComparison = {
  a: string
  b: string
  /** Requests compared in both runs. */
  both: number
  /** Requests whose class or cause differs, in line order; a side is null where that run did not compare the request. */
  changed: ChangedRequest[]
  /** Class changes (`regression → same`), and cause-only changes within a class (`regression → regression`), largest first. */
  transitions: Transition[]
}

/** Refuses two runs that did not replay the same traffic, naming both files and hashes. */
export function sameTraffic(a: RunInfo, b: RunInfo): void {
  if (a.traffic_hash === b.traffic_hash) return
  throw new UnderstudyError(
    `runs compare: run ${a.id} replayed ${a.traffic_file} (sha256 ${a.traffic_hash.slice(0, 12)}) but run ${b.id} replayed ${b.traffic_file} (sha256 ${b.traffic_hash.slice(0, 12)}): not the same traffic, so their requests cannot be compared`,
  )
}

async function verdicts(store: TraceStore, run: RunInfo): Promise<Map<string, RequestVerdict & {line: number}>> {
  const out = new Map<string, RequestVerdict & {line: number}>()
  await listRun(store, run, 'all', (r) => out.set(r.request_id, {class: r.class, cause: r.cause ?? null, line: r.line}), {withCause: true})
  return out
}

/** Pure: the comparison of two runs' per-request verdicts. */
export function compareVerdicts(aId: string, bId: string, a: Map<string, RequestVerdict & {line: number}>, b: Map<string, RequestVerdict & {line: number}>): RunComparison {
  const changed: ChangedRequest[] = []
  const counts = new Map<string, Transition>()
  let both = 0
  const ids = new Set([...a.keys(), ...b.keys()])
  for (const id of ids) {
    const x = a.get(id) ?? null
    const y = b.get(id) ?? null
    if (x !== null && y !== null) both++
    if (x !== null && y !== null && x.class === y.class && x.cause === y.cause) continue
    changed.push({request_id: id, line: (x ?? y)!.line, a: x && {class: x.class, cause: x.cause}, b: y && {class: y.class, cause: y.cause}})
    const from = x?.class ?? 'not compared'
    const to = y?.class ?? 'not compared'
    const key = `${from}\u0000${to}`
    const t = counts.get(key) ?? {from, to, requests: 0}
    t.requests++
    counts.set(key, t)
  }
  changed.sort((p, q) => p.line - q.line || (p.request_id < q.request_id ? -1 : 1))
  const transitions = [...counts.values()].sort((p, q) => q.requests - p.requests || p.from.localeCompare(q.from) || p.to.localeCompare(q.to))
  return {a: aId, b: bId, both, changed, transitions}
}

export async function compareRuns(store: TraceStore, a: RunInfo, b: RunInfo): Promise<RunComparison> {
  sameTraffic(a, b)
  return compareVerdicts(a.id, b.id, await verdicts(store, a), await verdicts(store, b))
}
