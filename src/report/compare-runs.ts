import type {RunComparison} from '../runs/compare-runs.js'

/** `runs compare` as text: the counts per change, then the changed requests (the first MAX_LISTED). */

const MAX_LISTED = 50

export function comparisonLines(c: RunComparison): string[] {
  const lines = [`${c.changed.length} of ${c.both} requests compared in both runs changed class or cause from ${c.a} to ${c.b}`]
  for (const t of c.transitions) lines.push(`  ${String(t.requests).padStart(6)}  ${t.from === t.to ? `${t.from} (another cause)` : `${t.from} → ${t.to}`}`)
  for (const r of c.changed.slice(0, MAX_LISTED)) {
    const side = (v: RunComparison['changed'][number]['a']): string => (v === null ? 'not compared' : `${v.class}${v.cause ? ` ${v.cause}` : ''}`)
    lines.push(`${r.request_id} (line ${r.line}): ${side(r.a)} → ${side(r.b)}`)
  }
  if (c.changed.length > MAX_LISTED) lines.push(`…and ${c.changed.length - MAX_LISTED} more (--json lists every one)`)
  return lines
}
