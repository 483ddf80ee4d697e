import {terminalText} from '../util/terminal-text.js'
import type {BundleDiff, Change} from './diff.js'

type Paint = (code: string, text: string) => string

const BOLD = '1'
const RED = '31'
const GREEN = '32'
const YELLOW = '33'
const CYAN = '36'

/**
 * The terminal form of a bundle diff: one section per group with a header, `+` added, `-` removed,
 * `~` changed, and unified diffs for prompts. ANSI colour only when asked for.
 */
export function renderBundleDiff(d: BundleDiff, opts: {color: boolean}): string {
  // Every line is painted (or not) through `paint`, which escapes the bundle's text in it first.
  const paint: Paint = opts.color ? (code, text) => (code ? `\u001B[${code}m${terminalText(text)}\u001B[0m` : terminalText(text)) : (_code, text) => terminalText(text)
  const lines: string[] = [paint(BOLD, `from ${d.from.ref}`), paint(BOLD, `to   ${d.to.ref}`)]
  const sections: [string, string[]][] = [
    ['bundle', changeLines(d.meta, paint, '  ')],
    ['model', changeLines(d.model, paint, '  ')],
    ['agent', changeLines(d.agent, paint, '  ')],
    ['autonomy', changeLines(d.autonomy, paint, '  ')],
    ['feature flags', changeLines(d.flags, paint, '  ')],
    ['prompts', promptLines(d, paint)],
    ['tools', toolLines(d, paint)],
    ['policies', policyLines(d, paint)],
    ['budgets', changeLines(d.budgets, paint, '  ')],
    ['tenant quotas', changeLines(d.tenant_quotas, paint, '  ')],
    ['retrieval', changeLines(d.retrieval, paint, '  ')],
    ['memory', changeLines(d.memory, paint, '  ')],
    ['guardrails', changeLines(d.guardrails, paint, '  ')],
  ]
  const shown = sections.filter(([, body]) => body.length > 0)
  if (shown.length === 0) return [...lines, '', 'no differences'].join('\n') + '\n'
  for (const [title, body] of shown) lines.push('', paint(BOLD + ';' + CYAN, `== ${title} ==`), ...body)
  return lines.join('\n') + '\n'
}

function changeLines(changes: Change[], paint: Paint, indent: string): string[] {
  return changes.map((c) => {
    switch (c.kind) {
      case 'added':
        return paint(GREEN, `${indent}+ ${c.path}: ${value(c.after)}`)
      case 'removed':
        return paint(RED, `${indent}- ${c.path}: ${value(c.before)}`)
      case 'gained':
        return paint(GREEN, `${indent}+ ${c.path} gained ${value(c.value)}`)
      case 'lost':
        return paint(RED, `${indent}- ${c.path} lost ${value(c.value)}`)
      case 'changed':
        return paint(YELLOW, `${indent}~ ${c.path}: ${value(c.before)} -> ${value(c.after)}`)
    }
  })
}

function promptLines(d: BundleDiff, paint: Paint): string[] {
  const out: string[] = []
  for (const p of d.prompts) {
    const where = p.before === p.after ? `${p.before}` : `${p.before ?? '(none)'} -> ${p.after ?? '(none)'}`
    out.push(paint(YELLOW, `  ~ ${p.slot} (${where}): +${p.lines_added} -${p.lines_removed} lines`))
    for (const line of p.patch.split('\n').filter((l) => l !== '')) {
      const code = line.startsWith('+++') || line.startsWith('---') ? BOLD : line.startsWith('@@') ? CYAN : line.startsWith('+') ? GREEN : line.startsWith('-') ? RED : ''
      out.push(paint(code, `    ${line}`))
    }
  }
  return out
}

function toolLines(d: BundleDiff, paint: Paint): string[] {
  return [
    ...d.tools.added.map((t) => paint(GREEN, `  + ${t.name} (${t.risk})`)),
    ...d.tools.removed.map((t) => paint(RED, `  - ${t.name} (${t.risk})`)),
    ...d.tools.changed.flatMap((t) => [paint(YELLOW, `  ~ ${t.name}`), ...changeLines(t.changes, paint, '      ')]),
  ]
}

function policyLines(d: BundleDiff, paint: Paint): string[] {
  return [
    ...changeLines(d.policies.default, paint, '  '),
    ...d.policies.added.map((p) => paint(GREEN, `  + ${p.id} (${p.effect} ${p.reason})`)),
    ...d.policies.removed.map((p) => paint(RED, `  - ${p.id} (${p.effect} ${p.reason})`)),
    ...d.policies.changed.flatMap((p) => [paint(YELLOW, `  ~ ${p.id}`), ...changeLines(p.changes, paint, '      ')]),
  ]
}

function value(v: unknown): string {
  return JSON.stringify(v) ?? String(v)
}
