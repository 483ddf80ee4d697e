import type {ComparedRequest} from '../diff/compare.js'
import {CLASSES, type DiffClass} from '../diff/types.js'

/**
 * What the request list keeps per request: enough to show, count and filter it, nothing more, so
 * that a run of 100k requests fits in memory. The full traces are read again when one is opened.
 */

export type EntryClass = DiffClass | 'incomplete'

export type RequestEntry = {
  request_id: string
  line: number
  tenant: string
  class: EntryClass
  /** The first reason messages, most severe first. */
  reasons: string[]
  reasonCount: number
  noiseCount: number
  /** The id of its cause (src/diff/cause.ts), null when it is the same or incomplete; set by the loader. */
  cause: string | null
  /**
   * The tool the request is grouped under: the first tool its cause names (set by the loader), else
   * the first tool the candidate called, else ''.
   */
  tool: string
  /** Lower-cased id, tenant, tool names, reason codes and messages: what `/` searches. */
  haystack: string
}

const KEPT_REASONS = 2

export function toEntry(r: ComparedRequest): RequestEntry {
  const tenant = r.cand?.tenant ?? r.base?.tenant ?? ''
  const tools = new Set<string>()
  for (const t of [r.cand, r.base]) for (const c of t?.tool_calls ?? []) tools.add(c.name)
  const tool = tools.values().next().value ?? ''
  if (!r.classification) {
    const missing = r.cand ? 'no base trace' : 'no candidate trace'
    return {
      request_id: r.request_id,
      line: r.line,
      tenant,
      class: 'incomplete',
      reasons: [missing],
      reasonCount: 1,
      noiseCount: 0,
      cause: null,
      tool,
      haystack: [r.request_id, tenant, ...tools, missing].join('\n').toLowerCase(),
    }
  }
  const {reasons, noise} = r.classification
  return {
    request_id: r.request_id,
    line: r.line,
    tenant,
    class: r.classification.class,
    reasons: reasons.slice(0, KEPT_REASONS).map((x) => x.message),
    reasonCount: reasons.length,
    noiseCount: noise.length,
    cause: null,
    tool,
    haystack: [r.request_id, tenant, ...tools, ...[...reasons, ...noise].flatMap((x) => [x.code, x.message])].join('\n').toLowerCase(),
  }
}

/** The class tabs, in number-key order. */
export const TABS = [
  {key: '1', id: 'all', label: 'all', short: 'all'},
  {key: '2', id: 'regression', label: 'regressions', short: 'regr'},
  {key: '3', id: 'behaviour_change', label: 'behaviour', short: 'behav'},
  {key: '4', id: 'improvement', label: 'improved', short: 'impr'},
  {key: '5', id: 'benign', label: 'benign/noise', short: 'benign'},
] as const

export type TabId = (typeof TABS)[number]['id']

/** Tab 5 also holds requests that differ only in ways their repeats already differ (noise). */
export function inTab(e: RequestEntry, tab: TabId): boolean {
  switch (tab) {
    case 'all':
      return true
    case 'benign':
      return e.class === 'benign' || (e.class === 'same' && e.noiseCount > 0)
    default:
      return e.class === tab
  }
}

export function matchesText(e: RequestEntry, needle: string): boolean {
  return needle === '' || e.haystack.includes(needle.toLowerCase())
}

export type ClassCounts = Record<EntryClass, number> & {noiseOnly: number; total: number}

export function emptyCounts(): ClassCounts {
  const c = Object.fromEntries([...CLASSES, 'incomplete'].map((k) => [k, 0])) as Record<EntryClass, number>
  return {...c, noiseOnly: 0, total: 0}
}

export function addToCounts(counts: ClassCounts, e: RequestEntry): void {
  counts[e.class]++
  counts.total++
  if (e.class === 'same' && e.noiseCount > 0) counts.noiseOnly++
}

export function tabCount(counts: ClassCounts, tab: TabId): number {
  if (tab === 'all') return counts.total
  if (tab === 'benign') return counts.benign + counts.noiseOnly
  return counts[tab]
}

/**
 * Keeps the filtered view of a growing list without rescanning it: while the filter stays the
 * same, only entries added since the last call are tested.
 */
export class IncrementalFilter {
  private key = ''
  private scanned = 0
  private result: number[] = []

  /** Indexes into `entries` of the entries that pass (of `cause` only, when given). The returned array is reused: do not keep it. */
  update(entries: readonly RequestEntry[], tab: TabId, needle: string, cause: string | null = null): readonly number[] {
    const key = `${tab}\u0000${needle.toLowerCase()}\u0000${cause ?? ''}`
    if (key !== this.key || entries.length < this.scanned) {
      this.key = key
      this.scanned = 0
      this.result = []
    }
    for (let i = this.scanned; i < entries.length; i++) {
      const e = entries[i]!
      if ((cause === null || e.cause === cause) && inTab(e, tab) && matchesText(e, needle)) this.result.push(i)
    }
    this.scanned = entries.length
    return this.result
  }
}

/** The first row to show so that `cursor` stays inside a window of `height` rows. */
export function scrollTop(cursor: number, top: number, height: number, total: number): number {
  const h = Math.max(1, height)
  let t = top
  if (cursor < t) t = cursor
  if (cursor >= t + h) t = cursor - h + 1
  return Math.max(0, Math.min(t, Math.max(0, total - h)))
}
