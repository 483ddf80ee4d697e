import {isMap, isScalar, isSeq, type Node, parseDocument} from 'yaml'

/** `LINE:COL` (1-based) of what a field path names in a config file's text, or null. */
export type Locator = (path: readonly (string | number)[]) => string | null

/**
 * A locator over YAML or JSON text (JSON is YAML). A path that exists points at its key (a
 * mapping entry) or its item (a list entry); a path that does not exist (a missing field) points at
 * the deepest part of it that does, so the line is always where the fix goes. The text is parsed
 * on the first call only: files without problems pay nothing.
 */
export function pathLocator(text: string): Locator {
  let root: unknown
  let parsed = false
  let starts: number[] = []
  return (path) => {
    if (!parsed) {
      parsed = true
      // Columns count from the first visible character: a byte-order mark is not one.
      const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
      try {
        const doc = parseDocument(body, {prettyErrors: false, uniqueKeys: false})
        // Positions come only from a clean parse: a file with syntax errors is reported by them.
        root = doc.errors.length === 0 ? doc.contents : null
      } catch {
        root = null
      }
      starts = lineStarts(body)
    }
    const offset = offsetOf(root, path)
    return offset === null ? null : lineCol(starts, offset)
  }
}

function offsetOf(root: unknown, path: readonly (string | number)[]): number | null {
  let node = root
  let at = rangeStart(node)
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg))
      if (!pair) break
      at = rangeStart(pair.key) ?? rangeStart(pair.value) ?? at
      node = pair.value
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)]
      if (item === undefined) break
      at = rangeStart(item) ?? at
      node = item
    } else break
  }
  return at
}

function rangeStart(node: unknown): number | null {
  const range = (node as Node | null | undefined)?.range
  return Array.isArray(range) ? range[0] : null
}

function lineStarts(text: string): number[] {
  const out = [0]
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) out.push(i + 1)
  return out
}

function lineCol(starts: number[], offset: number): string {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (starts[mid]! <= offset) lo = mid
    else hi = mid - 1
  }
  return `${lo + 1}:${offset - starts[lo]! + 1}`
}
