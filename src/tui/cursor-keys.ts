import type {Key} from 'ink'

/** Where a list key moves the cursor, from the cursor, the page height and the number of rows. */
export type CursorStep = (cursor: number, page: number, total: number) => number

/**
 * The list keys every list screen shares: j/k and the arrows (one row), page down/up (one page),
 * g/home (first row), G/end (last row). The step the key asks for, or null for any other key.
 */
export function cursorStep(input: string, key: Key): CursorStep | null {
  if (key.downArrow || input === 'j') return (c) => c + 1
  if (key.upArrow || input === 'k') return (c) => c - 1
  if (key.pageDown) return (c, page) => c + page
  if (key.pageUp) return (c, page) => c - page
  if (input === 'g' || key.home) return () => 0
  if (input === 'G' || key.end) return (_c, _p, total) => total - 1
  return null
}
