import {breakToWidth, displayWidth} from '../util/display-width.js'
import {terminalText} from '../util/terminal-text.js'

/**
 * Text helpers for the terminal UI. A cell must stay on one line whatever the data holds, so
 * control characters and newlines from recorded traffic are made visible instead of being sent
 * to the terminal (by terminalText, the one escaping every printed text goes through).
 */

/** One line, control characters escaped, newlines shown as ⏎. */
export function oneLine(s: string): string {
  return terminalText(s.replace(/\r?\n/g, ' ⏎ ').replace(/\t/g, ' '))
}

/** `2026-11-25T14:30:12.345Z` → `2026-11-25 14:30` (UTC). */
export function shortStarted(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ')
}

export type Segment = {text: string; style: '' | 'del' | 'ins'}

/**
 * Word-wraps styled text into lines of at most `width` display columns (CJK and emoji take two); a
 * word wider than a line is broken at the column. Newlines in the text start a new line.
 */
export function wrapSegments(parts: readonly Segment[], width: number): Segment[][] {
  const w = Math.max(1, width)
  const lines: Segment[][] = [[]]
  let used = 0
  const newLine = (): void => {
    lines.push([])
    used = 0
  }
  const push = (text: string, style: Segment['style']): void => {
    const line = lines[lines.length - 1]!
    const last = line[line.length - 1]
    if (last && last.style === style) last.text += text
    else line.push({text, style})
    used += displayWidth(text)
  }
  for (const part of parts) {
    for (const token of part.text.split(/(\n|[ \t]+)/)) {
      if (token === '') continue
      if (token === '\n') {
        newLine()
        continue
      }
      const clean = oneLine(token)
      if (/^\s+$/.test(clean)) {
        // Spaces at a line start or end carry nothing; one space between words is enough.
        if (used > 0 && used < w) push(' ', part.style)
        continue
      }
      const need = displayWidth(clean)
      if (used > 0 && need > w - used && need <= w) newLine()
      breakToWidth(clean, w - used, w).forEach((piece, i) => {
        if (i > 0) newLine()
        if (piece !== '') push(piece, part.style)
      })
    }
  }
  // Trailing spaces pushed before a wrap are harmless but untidy.
  for (const line of lines) {
    const last = line[line.length - 1]
    if (last) last.text = last.text.replace(/ +$/, '')
  }
  return lines
}
