import type {Classification, RequestDiff} from '../diff/types.js'
import {breakToWidth, displayWidth, fitWidth} from '../util/display-width.js'
import {terminalText} from '../util/terminal-text.js'
import {contextTextLines, type RequestContext} from './request-context.js'
import {sideBySideModel, type CellMark, type SbsRow} from './sbs-model.js'

/**
 * The two-column text view of one request: base on the left, candidate on the right, each row
 * aligned, with a gutter that says how the row differs:
 *   │ same   ≠ changed   < base only   > candidate only   ~ differs, but also between repeats (noise)
 */

export type SideBySideOptions = {
  /** Total width in characters (default 120, at least 40). */
  width?: number
  /** ANSI colour; only when asked (a TTY), never in pipes or files. */
  color?: boolean
  classification?: Classification
  /** The request's context (conversation, documents, memory, full tool calls), shown around the diff. */
  context?: RequestContext
  /** Unfold every long text of the context instead of showing its first lines and the folded size. */
  full?: boolean
}

/** Context sections shown after the answer rather than before the columns: the calls in full. */
const AFTER = / tool calls in full$/

/** A context line hard-wrapped at `width` (never cut): continuation lines keep the indent. */
function wrapContext(line: string, width: number): string[] {
  const text = clean(line).replace(/\t/g, ' ')
  if (displayWidth(text) <= width) return [text]
  const indent = /^ */.exec(text)![0].slice(0, Math.max(0, width - 10))
  const pieces = breakToWidth(text.slice(indent.length), width - indent.length, width - indent.length)
  return pieces.map((p) => indent + p)
}

const ESC = '\u001b['
const paint = (on: boolean, code: string, s: string): string => (on && s ? `${ESC}${code}m${s}${ESC}0m` : s)

const GUTTER: Record<CellMark, string> = {same: '│', changed: '≠', removed: '<', added: '>'}
const MARK_COLOUR: Record<CellMark, string> = {same: '', changed: '33', removed: '31', added: '32'}

/** Control characters from user text would corrupt the terminal; show them escaped (newlines and tabs are laid out here). */
function clean(s: string): string {
  return terminalText(s, {lineBreaks: true})
}

/** One cell: exactly `width` display columns (a tab counts as one space, as it is shown). */
function fit(s: string, width: number): string {
  return fitWidth(clean(s).replace(/\n/g, ' ⏎ ').replace(/\t/g, ' '), width)
}

type Styled = {text: string; style: '' | 'del' | 'ins'}

/**
 * Word-wraps styled text into lines of at most `width` display columns. A word wider than the room
 * left starts a new line; one wider than a whole line is broken at the column.
 */
function wrap(parts: Styled[], width: number): Styled[][] {
  const lines: Styled[][] = [[]]
  let used = 0
  const newLine = (): void => {
    lines.push([])
    used = 0
  }
  const push = (text: string, style: Styled['style']): void => {
    const line = lines[lines.length - 1]!
    const last = line[line.length - 1]
    if (last && last.style === style) last.text += text
    else line.push({text, style})
    used += displayWidth(text)
  }
  for (const part of parts) {
    for (const token of clean(part.text).split(/(\n|\s+)/)) {
      if (token === '') continue
      if (token === '\n') {
        newLine()
        continue
      }
      if (/^\s+$/.test(token)) {
        // Spaces never start a line, and those that do not fit at a line's end are dropped.
        if (used > 0 && used + displayWidth(token) <= width) push(token, part.style)
        continue
      }
      const need = displayWidth(token)
      if (used > 0 && need > width - used && need <= width) newLine()
      breakToWidth(token, width - used, width).forEach((piece, i) => {
        if (i > 0) newLine()
        if (piece !== '') push(piece, part.style)
      })
    }
  }
  return lines
}

function renderStyled(line: Styled[], width: number, color: boolean): string {
  let out = ''
  let used = 0
  for (const s of line) {
    used += displayWidth(s.text)
    out += s.style === 'del' ? paint(color, '31;7', s.text) : s.style === 'ins' ? paint(color, '32;7', s.text) : s.text
  }
  return out + ' '.repeat(Math.max(0, width - used))
}

export function renderSideBySide(diff: RequestDiff, options: SideBySideOptions = {}): string {
  const width = Math.max(40, options.width ?? 120)
  const color = options.color ?? false
  const col = Math.floor((width - 3) / 2)
  const model = sideBySideModel(diff, options.classification)
  const out: string[] = []
  const rule = (title: string): string => paint(color, '1;36', fit(`── ${title} `.padEnd(width, '─'), width).trimEnd())

  out.push(paint(color, '1', `request ${clean(diff.request_id)}  (traffic line ${diff.line})  tenant ${clean(diff.tenant)}  user ${clean(diff.user)}  role ${clean(diff.role)}`))
  const cls = options.classification
  if (cls) {
    const colour = cls.class === 'regression' ? '1;31' : cls.class === 'improvement' ? '1;32' : cls.class === 'behaviour_change' ? '1;33' : '1'
    out.push(`class: ${paint(color, colour, cls.class)}`)
    for (const r of cls.reasons) out.push(`  - [${r.class}] ${clean(r.message)}`)
    for (const r of cls.noise) out.push(paint(color, '2', `  ~ noise: ${clean(r.message)}`))
  }
  const context = options.context ? contextTextLines(options.context, {full: options.full}) : []
  const contextSection = (section: {title: string; lines: string[]}): void => {
    out.push(rule(section.title))
    for (const l of section.lines) out.push(...wrapContext(l, width))
  }
  for (const section of context) if (!AFTER.test(section.title)) contextSection(section)
  out.push(fit(`BASE (${diff.base_side})`, col) + ' │ ' + `CANDIDATE (${diff.cand_side})`)

  const row = (r: SbsRow): string => {
    const g = r.noise && r.mark !== 'same' ? '~' : GUTTER[r.mark]
    const c = r.noise ? '2' : MARK_COLOUR[r.mark]
    const left = fit(r.left ?? '', col)
    const right = fit(r.right ?? '', col).trimEnd()
    const leftPainted = r.mark === 'added' ? left : paint(color, r.mark === 'same' ? '' : c, left)
    const rightPainted = r.mark === 'removed' ? right : paint(color, r.mark === 'same' ? '' : c, right)
    return `${leftPainted} ${paint(color, c, g)} ${rightPainted}`.trimEnd()
  }

  for (const section of model.sections) {
    if (section.rows.length === 0) continue
    out.push(rule(section.title))
    for (const r of section.rows) out.push(row(r))
  }

  out.push(rule(model.answer.changed ? 'final answer (changed)' : 'final answer'))
  const left = wrap(
    model.answer.parts.filter((p) => !p.added).map((p): Styled => ({text: p.value, style: p.removed ? 'del' : ''})),
    col,
  )
  const right = wrap(
    model.answer.parts.filter((p) => !p.removed).map((p): Styled => ({text: p.value, style: p.added ? 'ins' : ''})),
    col,
  )
  const g = model.answer.changed ? '≠' : '│'
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const l = renderStyled(left[i] ?? [], col, color)
    const r = renderStyled(right[i] ?? [], col, color)
    out.push(`${l} ${paint(color, model.answer.changed ? '33' : '', g)} ${r}`.trimEnd())
  }
  for (const section of context) if (AFTER.test(section.title)) contextSection(section)
  return out.join('\n') + '\n'
}
