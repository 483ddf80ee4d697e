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
  // Columns count from the first visible character: a byte-order mark is not one.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  return (path) => {
    if (!parsed) {
      parsed = true
      try {
        const doc = parseDocument(body, {prettyErrors: false, uniqueKeys: false})
        // Positions come only from a clean parse: a file with syntax errors is reported by them.
        root = doc.errors.length === 0 ? doc.contents : null
      } catch {
        root = null
      }
    }
    const offset = offsetOf(root, path)
    if (offset === null) return null
    const [line, col] = lineColumn(body, offset)
    return `${line + 1}:${col + 1}`
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

/** 0-based line and column of a character offset in `text`. */
export function lineColumn(text: string, offset: number): [number, number] {
  const before = text.slice(0, offset)
  const nl = before.lastIndexOf('\n')
  return [before.split('\n').length - 1, offset - (nl + 1)]
}
