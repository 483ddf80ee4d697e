import {terminalText as t} from '../util/terminal-text.js'
import type {AuditReport} from './audit.js'

/** Tenants, users, roles, ids, tools, arguments and reasons are data: each is escaped onto one line (src/util/terminal-text.ts). */

export function renderAudit(runId: string, side: string, r: AuditReport): string[] {
  const out = [
    `Executed actions in run ${t(runId)} (${side} side), ${t(r.from ?? 'start')} → ${t(r.to ?? 'end')}: ${r.actions} action(s), ${r.writes} write(s), in ${r.requests_in_window} request(s)`,
  ]
  for (const g of r.groups) {
    out.push('', `${t(g.tenant)} / ${t(g.tool)}: ${g.count}`)
    for (const a of g.actions) {
      const decisions = a.decisions.map((d) => `${t(d.decision)} ${t(d.reason)}${d.rule ? ` (${t(d.rule)})` : ''}`).join('; ') || 'no decision recorded'
      out.push(`  ${t(a.at)} ${t(a.request_id)} line ${a.line} ${t(a.user)} (${t(a.role)}) ${a.outcome}: ${t(JSON.stringify(a.args))} — ${decisions}`)
    }
  }
  if (r.untimed.length) out.push('', `${r.untimed.length} request(s) without a timestamp in the traffic file were left out`)
  return out
}
