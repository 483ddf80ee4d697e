import type {Key} from 'ink'

/**
 * A screen's keys as data: the screen dispatches a key by looking its action up in its table, the
 * status line shows the table's brief entries and the `?` help screen lists the whole table. A key
 * works only through its table row, so what the help says and what the screen does cannot drift.
 */

export type Binding<A extends string = string> = {
  action: A
  /** The keys as the help screen names them. */
  keys: string
  /** What the key does, one line. */
  help: string
  match: (input: string, key: Key) => boolean
  /** Shown in the status line as `keys label`; rows with the same brief keys are shown once. */
  brief?: readonly [keys: string, label: string]
}

export type KeyTable<A extends string = string> = readonly Binding<A>[]

/** The action of the first row matching the key, or null. */
export function actionOf<A extends string>(table: KeyTable<A>, input: string, key: Key): A | null {
  for (const b of table) if (b.match(input, key)) return b.action
  return null
}

/** A row matching one printable character (not with ctrl or meta). */
export function char<A extends string>(action: A, c: string, help: string, brief?: string): Binding<A> {
  return {action, keys: c, help, match: (input, key) => input === c && !key.ctrl && !key.meta, brief: brief === undefined ? undefined : [c, brief]}
}

export type KeyHelp = readonly (readonly [key: string, action: string])[]

/** The status line's entries: the brief of each row that has one, each brief once, in table order. */
export function briefKeys(table: KeyTable): KeyHelp {
  const seen = new Set<string>()
  const out: (readonly [string, string])[] = []
  for (const b of table) {
    if (!b.brief || seen.has(b.brief[0])) continue
    seen.add(b.brief[0])
    out.push(b.brief)
  }
  return out
}

/** Every screen ends its table with these: help and quit. */
export function commonKeys(): KeyTable<'help' | 'quit'> {
  return [char('help', '?', 'this help: every key of the screen', 'help'), char('quit', 'q', 'quit the TUI', 'quit')]
}
