import type {BisectResult} from './bisect.js'

/**
 * `understudy bisect`'s text: each change (or set of changes that only act together), the cause
 * groups it gives with their request counts, and the verifying replay behind each line.
 */
export function renderBisect(r: BisectResult): string {
  const lines: string[] = []
  lines.push(`bisect ${r.run.id}: ${r.run.candidate}  vs  ${r.run.baseline} (compared with the run's ${r.run.base_side} traces)`)
  lines.push(`${r.changes.length} atomic changes:`)
  for (const c of r.changes) lines.push(`  ${c.id}  ${c.label}`)
  lines.push('')
  if (r.attributions.length === 0) lines.push('no cause group is attributed to a change')
  for (const a of r.attributions) {
    const name = Array.isArray(a.change) ? `${a.change.join(' + ')}  (interaction: only together)` : a.change
    lines.push(`${name}  →  ${a.requests} requests in ${a.groups.length} ${a.groups.length === 1 ? 'group' : 'groups'}`)
    for (const g of a.groups) {
      const v = g.verified
      const share = g.requests === g.of ? `${g.requests}` : `${g.requests} of ${g.of}`
      lines.push(`  ${g.cause}  ${g.class.padEnd(16)} ${share.padStart(9)} requests  ${g.description}`)
      lines.push(`    verified: ${v.applied.join(' + ')} alone reproduces ${v.reproduced} of ${v.replayed} requests`)
    }
  }
  if (r.unattributed.length > 0) {
    lines.push('')
    lines.push('not attributed:')
    for (const u of r.unattributed) lines.push(`  ${u.cause}  ${u.class.padEnd(16)} ${String(u.requests).padStart(9)} requests  ${u.description}: ${u.why}`)
  }
  if (r.invalid.length > 0) {
    lines.push('')
    lines.push('subsets that make no valid bundle (skipped):')
    for (const i of r.invalid) lines.push(`  ${i.changes.join(' + ') || '(none)'}: ${i.problems.join('; ')}`)
  }
  const m = r.replays.model_calls
  lines.push('')
  lines.push(
    `${r.replays.requests} request replays over ${r.replays.hybrids} hybrid bundles in ${r.replays.wall_s.toFixed(1)} s; ` +
      `model calls ${m.made} made, ${m.avoided} avoided (answered from the store's model-call cache); ` +
      `${r.replays.naive_model_calls} without the cache and the memo of tried subsets`,
  )
  return lines.join('\n') + '\n'
}
