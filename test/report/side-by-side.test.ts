import {describe, expect, it} from 'vitest'
import {classifyRequest} from '../../src/diff/classify.js'
import {diffRequest} from '../../src/diff/request-diff.js'
import {renderSideBySide} from '../../src/report/side-by-side.js'
import {displayWidth} from '../../src/util/display-width.js'
import {baseTrace, toolCall, trace} from '../factories/index.js'

const segmenter = new Intl.Segmenter(undefined, {granularity: 'grapheme'})
const graphemes = (s: string): string[] => [...segmenter.segment(s)].map((g) => g.segment)
const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*m/g, '')

/** The grapheme that starts at display column `column`, or null when a wide one straddles it. */
function atColumn(line: string, column: number): string | null {
  let at = 0
  for (const g of graphemes(line)) {
    if (at === column) return g
    at += displayWidth(g)
    if (at > column) return null
  }
  return null
}

type View = {text: string; col: number; rows: string[]; answer: {left: string; right: string}[]}

/** Renders one request and splits the view into its table rows and final-answer rows (colour stripped). */
function view(baseAnswer: string, candAnswer: string, width: number, extra: {baseArgs?: Record<string, unknown>; color?: boolean} = {}): View {
  const b = baseTrace({final_answer: baseAnswer, tool_calls: [toolCall('lookup', extra.baseArgs ?? {id: 1})]})
  const c = trace({final_answer: candAnswer, tool_calls: [toolCall('lookup', {id: 1})]})
  const d = diffRequest(b, c)
  const text = stripAnsi(renderSideBySide(d, {width, color: extra.color ?? false, classification: classifyRequest(d)}))
  const col = Math.floor((width - 3) / 2)
  const lines = text.split('\n').filter((l) => l !== '')
  const header = lines.findIndex((l) => l.startsWith('BASE ('))
  expect(header).toBeGreaterThan(-1)
  const rows = lines.slice(header).filter((l) => !l.startsWith('──'))
  const answerRule = lines.findIndex((l) => l.startsWith('── final answer'))
  const answer = lines.slice(answerRule + 1).map((l) => {
    const g = graphemes(l)
    let at = 0
    let i = 0
    while (i < g.length && at < col) at += displayWidth(g[i++]!)
    return {left: g.slice(0, i).join('').trimEnd(), right: g.slice(i + 3).join('')}
  })
  return {text, col, rows, answer}
}

/** Every row keeps its gutter at the same display column and stays within the total width. */
function expectAligned(v: View, width: number): void {
  expect(v.rows.length).toBeGreaterThan(2)
  for (const row of v.rows) {
    expect(displayWidth(row)).toBeLessThanOrEqual(width)
    expect(atColumn(row, v.col)).toBe(' ')
    expect(['│', '≠', '<', '>', '~']).toContain(atColumn(row, v.col + 1))
  }
}

describe('renderSideBySide wraps the final answer by display width', () => {
  it('breaks a word wider than its column at the column', () => {
    const url = 'https://example.com/r/' + 'a'.repeat(120)
    const v = view('Your receipt is on its way.', `Your receipt: ${url}`, 80)
    expectAligned(v, 80)
    for (const r of v.answer) expect(displayWidth(r.right)).toBeLessThanOrEqual(v.col)
    // The URL, too long for any line, fills every line up to the column until its end.
    const right = v.answer.map((r) => r.right).filter((r) => r !== '')
    expect(right.join('')).toBe(`Your receipt: ${url}`)
    expect(right.length).toBe(Math.ceil(displayWidth(`Your receipt: ${url}`) / v.col))
    for (const r of right.slice(0, -1)) expect(displayWidth(r)).toBe(v.col)
  })

  it('keeps a word exactly as wide as the column whole, on a line of its own', () => {
    const col = Math.floor((80 - 3) / 2)
    const word = 'x'.repeat(col)
    const v = view(word, `ok ${word} done`, 80)
    expectAligned(v, 80)
    expect(v.answer.map((r) => r.left).filter((l) => l !== '')).toEqual([word])
    expect(v.answer.map((r) => r.right)).toEqual(['ok', word, 'done'])
  })

  it('counts CJK characters as two columns and breaks between them', () => {
    const cjk = '您的退款已经处理完毕请查收'.repeat(3) // 39 characters, 78 columns, no spaces
    const v = view('Refund processed.', cjk, 80)
    expectAligned(v, 80)
    const right = v.answer.map((r) => r.right).filter((r) => r !== '')
    expect(right.join('')).toBe(cjk)
    for (const r of right) expect(displayWidth(r)).toBeLessThanOrEqual(v.col)
    // 38 columns hold 19 characters: a code-point count would put 38 (76 columns) on a line.
    expect([...right[0]!].length).toBe(19)
  })

  it('counts emoji as two columns and never splits an emoji sequence', () => {
    const family = '👨‍👩‍👧'
    const emoji = '👍'.repeat(18) + family + '🎉'.repeat(5)
    const v = view('Done.', emoji, 80, {color: true})
    expectAligned(v, 80)
    const right = v.answer.map((r) => r.right).filter((r) => r !== '')
    expect(right.join('')).toBe(emoji)
    expect(right.some((r) => r.includes(family))).toBe(true)
    for (const r of right) expect(displayWidth(r)).toBeLessThanOrEqual(v.col)
  })

  it('cuts a cell of wide characters to the column, padding where a wide one would overflow', () => {
    // width 83: 40-column cells; cut to 39 columns plus an ellipsis leaves an odd column to pad.
    const v = view('same', 'same', 83, {baseArgs: {id: '顾客'.repeat(40)}})
    expectAligned(v, 83)
    const cell = v.rows.find((r) => r.includes('顾客'))!
    expect(cell).toContain('…')
    expect(atColumn(cell, 40)).toBe(' ')
  })
})

describe('side-by-side: a thinking model\'s reasoning (#23)', () => {
  it('shows the thinking of each side in its own section, and no section when neither side thought', () => {
    const step = (thinking?: string) => ({index: 0, state: 'plan' as const, detail: 'model call', input_tokens: 1, output_tokens: 1, latency_ms: 1, ...(thinking ? {thinking} : {})})
    const b = baseTrace({steps: [step()]})
    const c = trace({steps: [step('The refund is over the limit; ask first.')]})
    const text = stripAnsi(renderSideBySide(diffRequest(b, c), {width: 160, color: false}))
    expect(text).toContain('── thinking')
    expect(text).toContain('plan: The refund is over the limit; ask first.')
    const none = stripAnsi(renderSideBySide(diffRequest(baseTrace({steps: [step()]}), trace({steps: [step()]})), {width: 160, color: false}))
    expect(none).not.toContain('thinking')
  })
})
