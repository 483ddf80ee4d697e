import {isScalar, parseDocument} from 'yaml'
import {lineColumn} from './path-position.js'

/**
 * `LINE:COL` (1-based) of a character inside a string value of a YAML or JSON file (JSON is YAML),
 * so a problem inside an embedded expression points at the character, not only the field.
 * `path` leads to the value (`['policies', 2, 'if']`), `offset` is the character within the string.
 * Exact for plain and quoted one-line values without escapes and for block scalars (`|`, `>`);
 * null when the path does not lead to a string in the text.
 */
export function positionInValue(text: string, path: readonly (string | number)[], offset: number): string | null {
  let node: unknown
  try {
    node = parseDocument(text, {prettyErrors: false}).getIn(path, true)
  } catch {
    return null
  }
  if (!isScalar(node) || typeof node.value !== 'string' || !node.range) return null
  const value = node.value
  const before = value.slice(0, Math.max(0, Math.min(offset, value.length)))
  const line = before.split('\n').length - 1
  const col = before.length - (before.lastIndexOf('\n') + 1)
  const start = node.range[0]
  const [startLine, startCol] = lineColumn(text, start)
  if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') {
    // The header (`|`, `>-`) ends its line; the value's lines follow, indented alike.
    // The block's indentation: the first value line's, less the spaces the value itself starts with.
    const first = text.split('\n')[startLine + 1] ?? ''
    const indent = first.length - first.trimStart().length - (value.length - value.trimStart().length)
    return `${startLine + 1 + line + 1}:${indent + col + 1}`
  }
  const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0
  if (line === 0) return `${startLine + 1}:${startCol + quoted + col + 1}`
  return `${startLine + line + 1}:${col + 1}`
}
