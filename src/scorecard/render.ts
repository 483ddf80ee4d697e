import type {GateVerdict} from '../util/gate.js'
import {terminalText} from '../util/terminal-text.js'
import {formatMetric, type Colour, type Scorecard} from './scorecard.js'

/** The scorecard as a text table: one block per dimension, its metrics beneath it. */

const ESC = '\u001b['
const COLOUR_CODE: Record<Colour, string> = {green: '32', amber: '33', red: '31'}

export function renderScorecard(card: Scorecard, options: {color?: boolean} = {}): string {
  const paint = (c: Colour, s: string): string => (options.color ? `${ESC}1;${COLOUR_CODE[c]}m${s}${ESC}0m` : s)
  const lines: string[] = []
  const labelWidth = Math.max(...card.dimensions.flatMap((d) => d.metrics.map((m) => `${d.name}: ${m.label}`.length)))
  lines.push(`scorecard for run ${terminalText(card.run_id)}: ${paint(card.colour, card.colour.toUpperCase())}`)
  lines.push('')
  lines.push(`${'DIMENSION'.padEnd(13)}${'STATUS'.padEnd(8)}REASON`)
  for (const d of card.dimensions) {
    lines.push(`${d.name.padEnd(13)}${paint(d.colour, d.colour.toUpperCase().padEnd(6))}  ${terminalText(d.reason)}`)
  }
  lines.push('')
  lines.push(`${'METRIC'.padEnd(labelWidth + 4)}${'VALUE'.padEnd(12)}${'BASE → CAND'.padEnd(24)}${'AMBER'.padEnd(12)}${'RED'.padEnd(12)}STATUS`)
  for (const d of card.dimensions) {
    for (const m of d.metrics) {
      const sideUnit = m.unit === 'points' ? 'rate' : m.unit === 'relative' ? 'count' : m.unit
      const sides = m.base === undefined || m.cand === undefined ? '' : `${fmtSide(m.base, sideUnit)} → ${fmtSide(m.cand, sideUnit)}`
      const op = m.direction === 'max' ? '>' : '<'
      const limits = m.not_judged
        ? `${'—'.padEnd(12)}${'—'.padEnd(12)}not judged: ${m.not_judged}`
        : `${(op + formatMetric(m.limits.amber, m.unit)).padEnd(12)}${(op + formatMetric(m.limits.red, m.unit)).padEnd(12)}` + paint(m.colour, m.colour)
      lines.push(`${d.name}: ${m.label}`.padEnd(labelWidth + 4) + `${formatMetric(m.value, m.unit).padEnd(12)}${sides.padEnd(24)}` + limits)
    }
  }
  return lines.join('\n') + '\n'
}

function fmtSide(v: number, unit: string): string {
  if (unit === 'rate') return `${(v * 100).toFixed(1)}%`
  return Number.isInteger(v) ? String(v) : v.toFixed(2)
}

/** The scorecard's `--gate`: it passes when no dimension is red; each red one is named with its reason. */
export function scorecardGate(card: Scorecard): GateVerdict {
  const failures = card.dimensions.filter((d) => d.colour === 'red').map((d) => `gate: ${d.reason}`)
  failures.push(`gate failed: ${card.red.join(', ')} red`)
  return {passed: card.red.length === 0, failures, passedLine: 'gate passed: no dimension is red'}
}

/** The verdict a run ends with, as data: the scorecard's colour and which dimensions are red and amber. */
export type Verdict = {colour: Colour; red: string[]; amber: string[]; line: string; gate: GateVerdict}

/**
 * One line: the scorecard's overall colour and the dimensions behind it, e.g.
 * `verdict: RED (safety, reliability red; cost amber) under the default thresholds`.
 */
export function verdictOf(card: Scorecard, thresholdsFrom: string | null = null): Verdict {
  const red = card.dimensions.filter((d) => d.colour === 'red').map((d) => d.name)
  const amber = card.dimensions.filter((d) => d.colour === 'amber').map((d) => d.name)
  const parts = [red.length > 0 ? `${red.join(', ')} red` : '', amber.length > 0 ? `${amber.join(', ')} amber` : ''].filter((p) => p !== '')
  const why = parts.length > 0 ? parts.join('; ') : 'every dimension green'
  const under = thresholdsFrom === null ? 'the default thresholds' : `the thresholds of ${thresholdsFrom}`
  return {colour: card.colour, red, amber, line: `verdict: ${card.colour.toUpperCase()} (${why}) under ${under}`, gate: scorecardGate(card)}
}
