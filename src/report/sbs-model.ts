import type {AnswerPart, CallView, Classification, DecisionView, RequestDiff} from '../diff/types.js'
import {answerWordDiff} from '../diff/request-diff.js'

/**
 * One request's difference laid out as rows of two cells (base | candidate), shared by the text
 * and the HTML side-by-side views so both show the same alignment.
 */

export type CellMark = 'same' | 'changed' | 'removed' | 'added'

export type SbsRow = {left: string | null; right: string | null; mark: CellMark; /** The difference also varies between repeats. */ noise: boolean}

export type SbsSection = {title: string; rows: SbsRow[]}

export type SbsModel = {
  sections: SbsSection[]
  answer: {changed: boolean; parts: AnswerPart[]; base: string; cand: string}
}

/**
 * A value on one line, at most about `max` characters. A longer one is folded, never cut silently:
 * it ends with how many characters are left out (the request context shows it whole).
 */
export function compactJson(value: unknown, max = 80): string {
  const s = value === undefined ? '∅' : JSON.stringify(value) ?? String(value)
  if (s.length <= max) return s
  const keep = Math.max(1, max - 16)
  return `${s.slice(0, keep)}… +${(s.length - keep).toLocaleString('en-US')} chars`
}

function callCell(c: CallView | null): string | null {
  if (!c) return null
  const ran = c.executed ? '' : ' (not executed)'
  const retry = c.attempt > 1 ? ` [attempt ${c.attempt}]` : ''
  // Outcome before arguments: when a narrow column cuts the cell, the arguments are what is lost.
  return `${c.name} → ${c.outcome}${ran}${retry} ${compactJson(c.args, 100)}`
}

function decisionCell(stage: string, tool: string | null, d: DecisionView | null): string | null {
  return d ? `${stage} ${tool ?? '-'}: ${d.decision} ${d.reason}` : null
}

const mark = (left: string | null, right: string | null, changed: boolean): CellMark =>
  left === null ? 'added' : right === null ? 'removed' : changed ? 'changed' : 'same'

function pct(base: number, cand: number): string {
  if (base === cand) return ''
  if (base === 0) return ' (new)'
  const r = ((cand - base) / base) * 100
  return ` (${r > 0 ? '+' : ''}${r.toFixed(Math.abs(r) < 10 ? 1 : 0)}%)`
}

export function sideBySideModel(diff: RequestDiff, classification?: Classification): SbsModel {
  const noise = new Set(classification?.noise.map((r) => r.field) ?? [])
  const isNoise = (field: string): boolean => noise.has(field)
  const sections: SbsSection[] = []

  const status: SbsRow[] = [
    {left: `status: ${diff.status.base}`, right: `status: ${diff.status.cand}`, mark: diff.status.changed ? 'changed' : 'same', noise: isNoise('status')},
  ]
  if (diff.error.base || diff.error.cand)
    status.push({left: `error: ${diff.error.base ?? '-'}`, right: `error: ${diff.error.cand ?? '-'}`, mark: diff.error.base === diff.error.cand ? 'same' : 'changed', noise: false})
  sections.push({title: 'status', rows: status})

  // Unchanged steps say little in a diff: one row naming them keeps the view short.
  const stepsSame = diff.steps.length > 0 && diff.steps.every((s) => s.kind === 'same')
  const stepRows: SbsRow[] = stepsSame
    ? [{left: diff.steps.map((s) => s.base!.state).join(' → '), right: diff.steps.map((s) => s.cand!.state).join(' → '), mark: 'same', noise: false}]
    : diff.steps.map((s) => {
        const left = s.base && `${s.base.state}: ${s.base.detail}`
        const right = s.cand && `${s.cand.state}: ${s.cand.detail}`
        return {left, right, mark: mark(left, right, s.kind === 'moved'), noise: isNoise('steps')}
      })
  sections.push({title: 'steps', rows: stepRows})

  // A thinking model's reasoning, step by step where either side thought; no section when neither did.
  const thinkingRows: SbsRow[] = diff.steps
    .filter((s) => s.base?.thinking !== undefined || s.cand?.thinking !== undefined)
    .map((s) => {
      const left = s.base?.thinking === undefined ? null : `${s.base.state}: ${s.base.thinking}`
      const right = s.cand?.thinking === undefined ? null : `${s.cand.state}: ${s.cand.thinking}`
      return {left, right, mark: mark(left, right, left !== right), noise: false}
    })
  if (thinkingRows.length > 0) sections.push({title: 'thinking', rows: thinkingRows})

  const calls: SbsRow[] = []
  for (const row of diff.calls) {
    const left = callCell(row.base)
    const right = callCell(row.cand)
    const changed = row.kind === 'moved' || row.outcome_changed || row.executed_changed || row.args.length > 0
    calls.push({left, right, mark: mark(left, right, changed), noise: isNoise(row.field)})
    for (const a of row.args) {
      calls.push({
        left: `  .${a.path} = ${compactJson(a.base)}`,
        right: `  .${a.path} = ${compactJson(a.cand)}`,
        mark: 'changed',
        noise: isNoise(a.field),
      })
    }
  }
  sections.push({title: 'tool calls', rows: calls})

  sections.push({
    title: 'policy decisions',
    rows: diff.decisions.map((d) => {
      const left = decisionCell(d.stage, d.tool, d.base)
      const right = decisionCell(d.stage, d.tool, d.cand)
      return {left, right, mark: mark(left, right, d.changed), noise: isNoise(d.field)}
    }),
  })

  const guard: SbsRow[] = []
  const unchanged = diff.guardrails.base.length - diff.guardrails.removed.length
  if (unchanged > 0) guard.push({left: `${unchanged} failing on both sides`, right: `${unchanged} failing on both sides`, mark: 'same', noise: false})
  for (const g of diff.guardrails.removed)
    guard.push({left: `${g.failure.stage} ${g.failure.check} (${g.failure.severity}): ${g.failure.detail}`, right: null, mark: 'removed', noise: isNoise(g.field)})
  for (const g of diff.guardrails.added)
    guard.push({left: null, right: `${g.failure.stage} ${g.failure.check} (${g.failure.severity}): ${g.failure.detail}`, mark: 'added', noise: isNoise(g.field)})
  sections.push({title: 'guardrail failures', rows: guard})

  const budgets = [...new Set([...diff.budgets.base, ...diff.budgets.cand])].map((b) => {
    const left = diff.budgets.base.includes(b) ? `hit ${b}` : null
    const right = diff.budgets.cand.includes(b) ? `hit ${b}` : null
    return {left, right, mark: mark(left, right, false), noise: isNoise(`budget:${b}`)}
  })
  sections.push({title: 'budgets', rows: budgets})

  const m = diff.metrics
  const metric = (label: string, key: keyof typeof m, unit = '', digits = 0): SbsRow => {
    const v = m[key]
    const f = (n: number): string => `${label} ${n.toFixed(digits)}${unit}`
    return {left: f(v.base), right: f(v.cand) + pct(v.base, v.cand), mark: v.delta === 0 ? 'same' : 'changed', noise: isNoise(key)}
  }
  sections.push({
    title: 'metrics',
    // Recorded traffic logs no steps (the recorded side's are made up, one act/observe pair per
    // call), so steps compare like with like only between two replays.
    rows: [
      metric('tokens', 'tokens'),
      metric('cost $', 'cost_usd', '', 6),
      metric('latency', 'latency_ms', ' ms'),
      metric('tool calls', 'tool_calls'),
      ...(diff.base_side === 'recorded' ? [] : [metric('steps', 'steps')]),
    ],
  })

  const parts = diff.answer.changed ? (diff.answer.parts ?? answerWordDiff(diff.answer.base, diff.answer.cand)) : [{value: diff.answer.base, added: false, removed: false}]
  return {sections, answer: {changed: diff.answer.changed, parts, base: diff.answer.base, cand: diff.answer.cand}}
}
