import type {Key} from 'ink'
import type {Binding, KeyTable} from './key-table.js'

/** Where a list key moves the cursor, from the cursor, the page height and the number of rows. */
export type CursorStep = (cursor: number, page: number, total: number) => number

export type ListAction = 'down' | 'up' | 'pageDown' | 'pageUp' | 'first' | 'last'

const row = (action: ListAction, keys: string, help: string, match: (input: string, key: Key) => boolean, brief: readonly [string, string]): Binding<ListAction> => ({
  action,
  keys,
  help,
  match,
  brief,
})

const MOVE = ['↑↓/jk', 'move'] as const
const JUMP = ['PgUp/Dn g/G', 'jump'] as const

/**
 * The list keys every list screen shares: j/k and the arrows (one row), page down/up (one page),
 * g/home (first row), G/end (last row).
 */
export const LIST_KEYS: KeyTable<ListAction> = [
  row('down', '↓ j', 'next row', (input, key) => key.downArrow || input === 'j', MOVE),
  row('up', '↑ k', 'previous row', (input, key) => key.upArrow || input === 'k', MOVE),
  row('pageDown', 'PgDn', 'one page down', (_input, key) => key.pageDown, JUMP),
  row('pageUp', 'PgUp', 'one page up', (_input, key) => key.pageUp, JUMP),
  row('first', 'g Home', 'first row', (input, key) => input === 'g' || key.home, JUMP),
  row('last', 'G End', 'last row', (input, key) => input === 'G' || key.end, JUMP),
]

/** The step each list action takes. */
export const STEP: Record<ListAction, CursorStep> = {
  down: (c) => c + 1,
  up: (c) => c - 1,
  pageDown: (c, page) => c + page,
  pageUp: (c, page) => c - page,
  first: () => 0,
  last: (_c, _p, total) => total - 1,
}

export const isListAction = (a: string): a is ListAction => a in STEP
