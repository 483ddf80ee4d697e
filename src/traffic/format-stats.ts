import {terminalText} from '../util/terminal-text.js'
import type {Counts, TrafficStats} from './stats.js'

type Align = 'left' | 'right'

/**
 * Renders rows as aligned plain-text columns (no colour: output goes to logs and pipes as often as
 * to a terminal). Cells are data from the traffic file: each is escaped (one line, nothing a
 * terminal acts on) before the widths are measured.
 */
export function renderTable(headers: string[], data: string[][], align: Align[]): string[] {
  const rows = data.map((r) => r.map((c) => terminalText(c)))
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => (align[i] === 'right' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [fmt(headers), ...rows.map(fmt)]
}

/** The human-readable form of `understudy traffic stats`, as lines. */
export function formatTrafficStats(s: TrafficStats): string[] {
  const out: string[] = []
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
  out.push(`${terminalText(s.file)}: ${plural(s.requests, 'request')}, ${plural(s.invalidLines, 'invalid line')}`)
  if (s.invalidLines > 0) out.push(`  (invalid lines are left out below; \`understudy traffic validate ${s.file}\` lists them)`)
  out.push(`tokens: ${s.tokens.input} in, ${s.tokens.output} out; production cost: $${s.costUsd.toFixed(4)}`)
  const ms = (v: number | null): string => (v === null ? '-' : String(v))
  out.push(`latency (ms): p50 ${ms(s.latencyMs.p50)}, p95 ${ms(s.latencyMs.p95)}, max ${ms(s.latencyMs.max)}`)

  const share = (n: number): string => (s.requests === 0 ? '-' : `${((100 * n) / s.requests).toFixed(1)}%`)
  const countTable = (title: string, counts: Counts): void => {
    out.push('')
    const rows = byCount(counts).map(([k, n]) => [k, String(n), share(n)])
    out.push(...renderTable([title, 'REQUESTS', 'SHARE'], rows, ['left', 'right', 'right']))
  }
  countTable('TENANT', s.byTenant)
  countTable('ROLE', s.byRole)
  countTable('OUTCOME', s.byOutcome)
  countTable('CATEGORY', s.byCategory)

  out.push('')
  const toolRows = Object.entries(s.tools)
    .sort((a, b) => b[1].calls - a[1].calls || (a[0] < b[0] ? -1 : 1))
    .map(([name, t]) => [
      name,
      String(t.calls),
      String(t.errors),
      String(t.retries),
      byCount(t.errorsByCode).map(([code, n]) => `${code}=${n}`).join(' '),
    ])
  if (toolRows.length === 0) out.push('TOOLS: no recorded tool calls')
  else out.push(...renderTable(['TOOL', 'CALLS', 'ERRORS', 'RETRIES', 'ERROR CODES'], toolRows, ['left', 'right', 'right', 'right', 'left']))

  out.push('')
  if (s.policy.decisions === 0) {
    out.push('POLICY: no recorded policy decisions')
  } else {
    const rows = s.policy.byReason.map((r) => [r.decision, r.reason, String(r.count)])
    out.push(`policy decisions: ${byCount(s.policy.byDecision).map(([d, n]) => `${terminalText(d)} ${n}`).join(', ')}`)
    out.push(...renderTable(['DECISION', 'REASON', 'COUNT'], rows, ['left', 'left', 'right']))
  }
  return out
}

// Object key order puts integer-like keys first; display order is by count, then name.
function byCount(counts: Counts): [string, number][] {
  return Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}
