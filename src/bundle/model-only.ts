import type {BundleDiff, Change} from './diff.js'

/**
 * The changes between two bundles that only a model can show the effect of: prompts, the model and
 * its options, the agent mode's prompting, what tools say about themselves. A model-free replay
 * (`--model recorded`) proposes what production's model proposed whatever the prompt says, so these
 * changes are not measured by it; guardrails, policies, tool contracts, budgets and pricing are.
 * Pure: one line per change, in the order a reviewer reads the bundle diff.
 */
export function modelOnlyChanges(d: BundleDiff): string[] {
  const out: string[] = []
  for (const p of d.prompts) {
    const what = p.patch === '' ? `${p.before ?? 'none'} → ${p.after ?? 'none'}` : `+${p.lines_added} −${p.lines_removed} lines`
    out.push(`prompt ${p.slot} (${what})`)
  }
  // Pricing is applied to the recorded tokens and timeouts never fire without a model: both are measured or moot.
  for (const c of d.model) if (!/^model\.(pricing|timeout_ms)(\.|$)/.test(c.path)) out.push(change(c))
  for (const c of d.agent) out.push(change(c))
  for (const t of d.tools.changed) for (const c of t.changes) if (c.path === 'description') out.push(`tool ${t.name}: description`)
  for (const t of d.tools.added) out.push(`tool ${t.name}: added (production's model never had it to propose)`)
  return out
}

function change(c: Change): string {
  return c.kind === 'changed' ? `${c.path}: ${show(c.before)} → ${show(c.after)}` : `${c.path}: ${c.kind}`
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? 'undefined'
  return s.length > 40 ? `${s.slice(0, 37)}…` : s
}
