import type {RunInfo, TraceCount} from './api.js'
import {TraceSide} from '../trace/schema.js'
import {terminalText} from '../util/terminal-text.js'

/** Plain-text views of store contents for `runs list` / `runs show`. Pure: strings in, strings out. */

/**
 * Columns padded to their widest cell; the last column is not padded (no trailing spaces). Cells
 * hold data (run names, refs, paths): each is escaped (one line, nothing a terminal acts on) first.
 */
export function alignColumns(cells: readonly (readonly string[])[]): string[] {
  const rows = cells.map((row) => row.map((cell) => terminalText(cell)))
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)))
  return rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length))).join('  '),
  )
}

/** `2026-11-25T14:30:12.345Z` → `2026-11-25 14:30:12` (UTC). */
export function shortTime(iso: string | null): string {
  return iso === null ? '-' : iso.slice(0, 19).replace('T', ' ')
}

export function progress(run: Pick<RunInfo, 'requests_done' | 'requests_total'>): string {
  return `${run.requests_done}/${run.requests_total ?? '?'}`
}

export function runsTable(runs: readonly RunInfo[]): string[] {
  return alignColumns([
    ['ID', 'STATUS', 'STARTED (UTC)', 'CANDIDATE', 'BASELINE', 'MODEL', 'DONE/TOTAL'],
    ...runs.map((r) => [r.id, r.status, shortTime(r.started_at), r.candidate_ref, r.baseline_ref, r.model, progress(r)]),
  ])
}

/** Counts as side → status → number, sides in contract order, only those present. */
export function countsBySide(counts: readonly TraceCount[]): Partial<Record<TraceSide, Record<string, number>>> {
  const out: Partial<Record<TraceSide, Record<string, number>>> = {}
  for (const side of TraceSide.options) {
    for (const c of counts) if (c.side === side) (out[side] ??= {})[c.status] = c.count
  }
  return out
}

export function runDetail(run: RunInfo, counts: readonly TraceCount[]): string[] {
  const lines = alignColumns([
    ['run', run.id],
    ['name', run.name ?? '-'],
    ['status', run.status],
    ['started', `${shortTime(run.started_at)} UTC`],
    ['finished', run.finished_at === null ? '-' : `${shortTime(run.finished_at)} UTC`],
    ['candidate', `${run.candidate_ref} (${run.candidate_hash})`],
    ['baseline', run.baseline_hash === null ? run.baseline_ref : `${run.baseline_ref} (${run.baseline_hash})`],
    ['traffic', `${run.traffic_file} (sha256 ${run.traffic_hash})`],
    ['model', run.model],
    ['repeat', String(run.repeat)],
    ['faults', run.faults ?? 'none'],
    ['seed', String(run.seed)],
    ['requests', `${progress(run)} done`],
  ])
  lines.push('')
  if (counts.length === 0) {
    lines.push('no traces stored yet')
    return lines
  }
  const statuses = [...new Set(counts.map((c) => c.status))].sort()
  const bySide = countsBySide(counts)
  const rows = Object.entries(bySide).map(([side, byStatus]) => {
    const total = Object.values(byStatus).reduce((a, b) => a + b, 0)
    return [side, ...statuses.map((s) => String(byStatus[s] ?? 0)), String(total)]
  })
  lines.push(...alignColumns([['SIDE', ...statuses.map((s) => s.toUpperCase()), 'TOTAL'], ...rows]))
  return lines
}
