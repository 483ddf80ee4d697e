import type {AuditReport} from './audit.js'

export function renderAudit(runId: string, side: string, r: AuditReport): string[] {
  const out = [
    `Executed actions in run ${runId} (${side} side), ${r.from ?? 'start'} → ${r.to ?? 'end'}: ${r.actions} action(s), ${r.writes} write(s), in ${r.requests_in_window} request(s)`,
  ]
  for (const g of r.groups) {
    out.push('', `${g.tenant} / ${g.tool}: ${g.count}`)
    for (const a of g.actions) {
      const decisions = a.decisions.map((d) => `${d.decision} ${d.reason}${d.rule ? ` (${d.rule})` : ''}`).join('; ') || 'no decision recorded'
      out.push(`  ${a.at} ${a.request_id} line ${a.line} ${a.user} (${a.role}) ${a.outcome}: ${JSON.stringify(a.args)} — ${decisions}`)
    }
  }
  if (r.untimed.length) out.push('', `${r.untimed.length} request(s) without a timestamp in the traffic file were left out`)
  return out
}
