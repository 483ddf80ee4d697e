import {ValidationError} from '../errors.js'
import type {RequestTrace} from '../trace/schema.js'

/**
 * `understudy incident audit`: every executed action of a run whose request falls in a time window
 * (by the request's recorded timestamp), grouped by tenant and tool, each with the policy decisions
 * taken about it. This is the list an incident review starts from: what actually happened. Pure.
 */

export type AuditWindow = {from_ms: number | null; to_ms: number | null}

export type AuditDecision = {stage: string; decision: string; reason: string; rule: string | null}

export type AuditAction = {
  request_id: string
  line: number
  at: string
  user: string
  role: string
  seq: number
  risk: string
  args: Record<string, unknown>
  outcome: string
  attempt: number
  idempotency_key: string | null
  decisions: AuditDecision[]
}

export type AuditGroup = {tenant: string; tool: string; count: number; actions: AuditAction[]}

export type AuditReport = {
  from: string | null
  to: string | null
  requests_in_window: number
  actions: number
  writes: number
  groups: AuditGroup[]
  /** Requests the traffic file gives no timestamp for (left out). */
  untimed: string[]
}

export function inWindow(at: number, w: AuditWindow): boolean {
  return (w.from_ms === null || at >= w.from_ms) && (w.to_ms === null || at <= w.to_ms)
}

export function auditActions(traces: Iterable<RequestTrace>, times: ReadonlyMap<string, number>, window: AuditWindow): AuditReport {
  const groups = new Map<string, AuditGroup>()
  const untimed: string[] = []
  let requests = 0
  let actions = 0
  let writes = 0
  for (const t of traces) {
    if (t.status === 'skipped') continue
    const at = times.get(t.request_id)
    if (at === undefined || Number.isNaN(at)) {
      untimed.push(t.request_id)
      continue
    }
    if (!inWindow(at, window)) continue
    requests++
    for (const c of t.tool_calls) {
      if (!c.executed) continue
      actions++
      if (c.risk !== 'read') writes++
      const key = `${t.tenant}\u0000${c.name}`
      let g = groups.get(key)
      if (!g) groups.set(key, (g = {tenant: t.tenant, tool: c.name, count: 0, actions: []}))
      g.count++
      g.actions.push({
        request_id: t.request_id,
        line: t.line,
        at: new Date(at).toISOString(),
        user: t.user,
        role: t.role,
        seq: c.seq,
        risk: c.risk,
        args: c.args,
        outcome: c.outcome,
        attempt: c.attempt,
        idempotency_key: c.idempotency_key,
        decisions: t.policy_decisions
          .filter((d) => d.tool_call_seq === c.seq)
          .map((d) => ({stage: d.stage, decision: d.decision, reason: d.reason, rule: d.rule})),
      })
    }
  }
  const sorted = [...groups.values()].sort((a, b) => (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : a.tool < b.tool ? -1 : a.tool > b.tool ? 1 : 0))
  for (const g of sorted) g.actions.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.line - b.line || a.seq - b.seq))
  return {
    from: window.from_ms === null ? null : new Date(window.from_ms).toISOString(),
    to: window.to_ms === null ? null : new Date(window.to_ms).toISOString(),
    requests_in_window: requests,
    actions,
    writes,
    groups: sorted,
    untimed,
  }
}

/** A `--from/--to` value: an ISO date-time (or date); a one-line error otherwise. */
export function parseInstant(flag: string, value: string | undefined): number | null {
  if (value === undefined) return null
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw new ValidationError([`--${flag}: "${value}" is not a date-time (use ISO 8601, e.g. 2025-07-01T00:00:00Z)`])
  return ms
}
