import type {GateVerdict} from '../util/gate.js'
import {suitesBelow, type EvalSummary} from './evaluate.js'
import type {SuiteName} from './types.js'

/** Plain-text report of an evaluation: one line per suite, then its failures. */
export function renderEval(summary: EvalSummary, minPass: number, maxListed = 20): string[] {
  const lines: string[] = []
  const pct = (r: number | null): string => (r === null ? 'n/a' : `${(r * 100).toFixed(1)}%`)
  lines.push(`eval ${summary.run_id}: ${summary.evaluated} request(s) evaluated` +
    (summary.skipped > 0 ? `, ${summary.skipped} skipped` : '') +
    (summary.unmatched > 0 ? `, ${summary.unmatched} without a matching traffic line` : ''))
  for (const suite of summary.suites) {
    const r = summary.results[suite]
    if (!r) continue
    const mark = r.pass_rate === null ? '-' : r.pass_rate >= minPass ? 'ok' : 'BELOW'
    lines.push(`  ${suite.padEnd(13)} ${pct(r.pass_rate).padStart(6)}  ${r.passed}/${r.applicable} passed  [${mark}]`)
    const known = r.known_issues
    if (known.failing > 0 || known.fixed.length > 0) {
      const fixed = known.fixed.length > 0 ? `, ${known.fixed.length} fixed by this run (${known.fixed.slice(0, 5).join(', ')}${known.fixed.length > 5 ? ', …' : ''})` : ''
      lines.push(`  ${''.padEnd(13)} known issues: ${known.failing} still failing${fixed}`)
    }
    for (const note of r.notes ?? []) lines.push(`  ${''.padEnd(13)} note: ${note}`)
  }
  for (const suite of summary.suites) {
    const r = summary.results[suite]
    if (!r || r.failed === 0) continue
    lines.push('', `${suite} failures (${r.failed}):`)
    for (const f of r.failures.slice(0, maxListed)) {
      const where = `${f.request_id} (line ${f.line}${f.repeat > 0 ? `, repeat ${f.repeat}` : ''})`
      for (const c of f.checks) lines.push(`  ${where}: ${c.check}: ${c.message}`)
    }
    const more = r.failed - Math.min(r.failures.length, maxListed)
    if (more > 0) lines.push(`  … and ${more} more (--json lists up to ${r.failures.length})`)
  }
  return lines
}

/** Eval's `--gate`: it passes when no suite's pass rate is below `minPass`; the suites below are named with their rates. */
export function evalGate(summary: EvalSummary, minPass: number): GateVerdict & {below: SuiteName[]} {
  const below = suitesBelow(summary, minPass)
  const pct = (r: number): string => `${(r * 100).toFixed(1)}%`
  return {
    passed: below.length === 0,
    below,
    failures: [`gate failed: ${below.map((s) => `${s} ${pct(summary.results[s]?.pass_rate ?? 0)}`).join(', ')} below ${pct(minPass)}`],
    passedLine: `gate passed: every suite at or above ${pct(minPass)}`,
  }
}
