import {acceptedEntryFor, type AcceptedEntry} from '../diff/accepted.js'
import {CauseTally, causeId, causeKey, type CauseGroup, type CauseTallyState, matchesCause, signatureOfKey} from '../diff/cause.js'
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

export type ListedRequest = {
  request_id: string
  line: number
  class: DiffClass
  reasons: Reason[]
  noise: Reason[]
  /** Its cause id, for a listing that asked for causes (not `same`). */
  cause?: string
  /** Set when a reviewer accepted its cause (src/diff/accepted.ts): then it counts as accepted, not in `counts`. */
  accepted?: AcceptedEntry
}

export type ListTotals = {
  counts: Record<DiffClass, number>
  /** Requests missing the base or the candidate trace, not compared. */
  incomplete: number
  /** Traffic lines the run skipped (malformed, or a repeated id): neither compared nor incomplete. */
  skipped: number
  /** Requests whose cause a reviewer accepted: counted here, not in `counts`. */
  accepted: number
  /** With `causes`: the requests the filter keeps, counted per cause. */
  causes?: CauseTallyState
}

export type DiffListArgs = {
  baseSide: TraceSide
  only: ListFilter
  /** Count the kept requests per cause (`diff --by cause`) instead of handing them on. */
  causes?: boolean
  /** Hand on only the kept requests of this cause id (or id prefix): `diff --cause <id>`. */
  cause?: string
  /** Accepted differences: their requests are counted apart and marked as accepted. */
  accepted?: AcceptedEntry[]
  /** Give each listed request its cause id (`report --format junit`). */
  withCause?: boolean
}

function listed(cls: DiffClass, only: ListFilter): boolean {
  if (only === 'all') return true
  if (only === 'changes') return cls !== 'same'
  if (only === 'regressions') return cls === 'regression'
  return false
}

export function diffListTask(args: DiffListArgs): GroupTask<ListedRequest, ListTotals> {
  const totals: ListTotals = {counts: emptyClassCounts(), incomplete: 0, skipped: 0, accepted: 0}
  const accepted = args.accepted ?? []
  // Cause ids and accepting entries, once per distinct signature, not once per request.
  const causeOf = new Map<string, {id: string; entry: AcceptedEntry | undefined}>()
  const named = (key: string): {id: string; entry: AcceptedEntry | undefined} => {
    let c = causeOf.get(key)
    if (c === undefined) {
      const id = causeId(signatureOfKey(key))
      causeOf.set(key, (c = {id, entry: acceptedEntryFor(id, accepted)}))
    }
    return c
  }
  const tally = args.causes ? new CauseTally() : null
  // Hashed once per distinct signature, not once per request.
  const wanted = new Map<string, boolean>()
  const ofCause = (key: string | null): boolean => {
    if (key === null || args.cause === undefined) return false
    let yes = wanted.get(key)
    if (yes === undefined) wanted.set(key, (yes = matchesCause(causeId(signatureOfKey(key)), args.cause)))
    return yes
  }
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
      const key = accepted.length > 0 || args.withCause ? causeKey(r.diff!, c) : null
      const cause = key === null ? undefined : named(key)
      if (cause?.entry !== undefined) totals.accepted++
      else totals.counts[c.class]++
      if (!listed(c.class, args.only)) return undefined
      if (tally !== null) {
        tally.add(key ?? causeKey(r.diff!, c), r.request_id)
        return undefined
      }
      if (args.cause !== undefined && !ofCause(key ?? causeKey(r.diff!, c))) return undefined
      return {
        request_id: r.request_id,
        line: r.line,
        class: c.class,
        reasons: c.reasons,
        noise: c.noise,
        ...(args.withCause && cause !== undefined && {cause: cause.id}),
        ...(cause?.entry !== undefined && {accepted: cause.entry}),
      }
    },
    finish: () => (tally === null ? totals : {...totals, causes: tally.state()}),
  }
}

/**
 * Lists a run's requests through `onListed` (line order; with `cause`, only that cause's) and
 * returns the counts over all of them.
 */
export async function listRun(
  store: TraceStore,
  run: RunInfo,
  only: ListFilter,
  onListed: (r: ListedRequest) => void,
  options: MapRunOptions & {cause?: string; accepted?: readonly AcceptedEntry[]; withCause?: boolean} = {},
): Promise<ListTotals> {
  const {cause, accepted, withCause, ...mapOptions} = options
  const args: DiffListArgs = {
    baseSide: baseSideOf(run),
    only,
    ...(cause === undefined ? {} : {cause}),
    ...(accepted === undefined || accepted.length === 0 ? {} : {accepted: [...accepted]}),
    ...(withCause ? {withCause} : {}),
  }
  return sumParts(await mapRun(store, run.id, listTaskRef(args), onListed, mapOptions)).totals
}

/** The requests the filter keeps, grouped by cause (`diff --by cause`), with the counts over all requests. */
export async function listCauses(
  store: TraceStore,
  run: RunInfo,
  only: ListFilter,
  options: MapRunOptions & {accepted?: readonly AcceptedEntry[]} = {},
): Promise<{totals: ListTotals; groups: readonly CauseGroup[]}> {
  const {accepted, ...mapOptions} = options
  const args: DiffListArgs = {baseSide: baseSideOf(run), only, causes: true, ...(accepted === undefined || accepted.length === 0 ? {} : {accepted: [...accepted]})}
  const parts = await mapRun(store, run.id, listTaskRef(args), () => {}, mapOptions)
  const {totals, tally} = sumParts(parts)
  return {totals, groups: tally.groupsSorted()}
}

// A diff compares failing guardrail results only.
const listTaskRef = (args: DiffListArgs) => taskRef(import.meta.url, 'diffListTask', diffListTask, args, {guardrails: 'failed'})

function sumParts(parts: ListTotals[]): {totals: ListTotals; tally: CauseTally} {
  const totals: ListTotals = {counts: emptyClassCounts(), incomplete: 0, skipped: 0, accepted: 0}
  const tally = new CauseTally()
  // Parts come in line order, so the tally keeps the run's first examples.
  for (const p of parts) {
    for (const c of CLASSES) totals.counts[c] += p.counts[c]
    totals.incomplete += p.incomplete
    totals.skipped += p.skipped
    totals.accepted += p.accepted
    if (p.causes) tally.absorb(p.causes)
  }
  return {totals, tally}
}
