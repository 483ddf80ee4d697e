import type {RequestTrace} from '../trace/schema.js'

/** Live counters of a shadow run, shared by the Ink view, the plain-line printer and the JSON result. */
export type ShadowProgress = {
  started_at_ms: number
  /** Requests this run will have gone through at the end (replayed, skipped or already stored). */
  requests_total: number
  /** Requests whose traces were produced in this process. */
  requests: number
  /** Requests skipped because the traffic line was malformed or a duplicate. */
  skipped: number
  /** Requests found already stored when resuming. */
  already_stored: number
  /** Per side: status -> count. */
  status: Record<string, Record<string, number>>
  /** Candidate tool calls refused by policy (denied or needing approval). */
  denials: number
  /** Candidate tool calls that ended in a tool error, timeout or rate limit. */
  tool_errors: number
  budget_hits: number
}

export function emptyProgress(requestsTotal: number): ShadowProgress {
  return {
    started_at_ms: Date.now(),
    requests_total: requestsTotal,
    requests: 0,
    skipped: 0,
    already_stored: 0,
    status: {},
    denials: 0,
    tool_errors: 0,
    budget_hits: 0,
  }
}

export function recordProgress(p: ShadowProgress, traces: RequestTrace[]): void {
  let counted = false
  for (const t of traces) {
    const bySide = (p.status[t.side] ??= {})
    bySide[t.status] = (bySide[t.status] ?? 0) + 1
    if (t.status === 'skipped') {
      p.skipped++
      counted = true
      continue
    }
    if (t.side !== 'candidate' || t.repeat !== 0) continue
    for (const c of t.tool_calls) {
      if (c.outcome === 'denied' || c.outcome === 'needs_approval') p.denials++
      else if (c.outcome === 'error' || c.outcome === 'timeout' || c.outcome === 'rate_limited') p.tool_errors++
    }
    if (t.budget_hits.length > 0) p.budget_hits++
  }
  if (!counted) p.requests++
}

/** What one replay thread counted (recordProgress on an emptyProgress) added into the run's progress. */
export function mergeProgress(p: ShadowProgress, part: ShadowProgress): void {
  p.requests += part.requests
  p.skipped += part.skipped
  p.already_stored += part.already_stored
  p.denials += part.denials
  p.tool_errors += part.tool_errors
  p.budget_hits += part.budget_hits
  for (const [side, counts] of Object.entries(part.status)) {
    const bySide = (p.status[side] ??= {})
    for (const [status, n] of Object.entries(counts)) bySide[status] = (bySide[status] ?? 0) + n
  }
}

export type ProgressFigures = {
  done: number
  /** Finished requests over the total; requests read ahead and still in flight do not count. */
  fraction: number
  rate_per_s: number
  eta_s: number | null
  elapsed_s: number
}

export function progressFigures(p: ShadowProgress, nowMs = Date.now()): ProgressFigures {
  const elapsed = Math.max(0.001, (nowMs - p.started_at_ms) / 1000)
  const done = p.requests + p.skipped
  const finished = done + p.already_stored
  const fraction = p.requests_total > 0 ? Math.min(1, finished / p.requests_total) : 1
  const rate = done / elapsed
  const eta = fraction > 0 && fraction < 1 ? (elapsed / fraction) * (1 - fraction) : fraction >= 1 ? 0 : null
  return {done, fraction, rate_per_s: rate, eta_s: eta, elapsed_s: elapsed}
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`
  const m = Math.floor(seconds / 60)
  const s = Math.round(seconds % 60)
  return `${m}m${String(s).padStart(2, '0')}s`
}

/** One line for piped output and logs. */
export function progressLine(p: ShadowProgress, nowMs = Date.now()): string {
  const f = progressFigures(p, nowMs)
  const eta = f.eta_s === null ? '?' : formatDuration(f.eta_s)
  return (
    `${f.done} requests (${(f.fraction * 100).toFixed(0)}%), ${f.rate_per_s.toFixed(0)}/s, ` +
    `denials ${p.denials}, tool errors ${p.tool_errors}, skipped ${p.skipped}, eta ${eta}`
  )
}
