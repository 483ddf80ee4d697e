import {readFileSync} from 'node:fs'
import path from 'node:path'
import type {Key} from 'ink'
import {describe, expect, it} from 'vitest'
import {TUI_KEY_TABLES} from '../../src/tui/help-tables.js'
import {actionOf, briefKeys} from '../../src/tui/key-table.js'
import {repoRoot} from '../helpers/cli.js'

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
} as Key

/** Every printable key and every special key a screen could bind. */
const SAMPLES: [string, Key][] = [
  ...[...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/?* '].map((c): [string, Key] => [c, NO_KEY]),
  ...(['upArrow', 'downArrow', 'pageDown', 'pageUp', 'home', 'end', 'return', 'escape', 'tab', 'backspace', 'delete'] as const).map((k): [string, Key] => ['', {...NO_KEY, [k]: true}]),
]

const ALL = TUI_KEY_TABLES.flatMap((s) => s.tables.map((t) => ({screen: s.screen, heading: t.heading, table: t.table})))

describe('TUI key tables', () => {
  it('bind each key to at most one row, and every row to some key: no row shadowed, none dead', () => {
    for (const {screen, heading, table} of ALL) {
      for (const [input, key] of SAMPLES) {
        const matching = table.filter((b) => b.match(input, key)).map((b) => b.action)
        expect(matching.length, `${screen}${heading ? ` (${heading})` : ''}: ${JSON.stringify(input)} ${JSON.stringify(Object.keys(key).filter((k) => key[k as keyof Key]))} → ${matching.join(', ')}`).toBeLessThanOrEqual(1)
      }
      for (const b of table) expect(SAMPLES.some(([input, key]) => actionOf(table, input, key) === b.action), `${screen}: ${b.action} is reached by no key`).toBe(true)
      // Every screen's status line offers the help, so the full list is one key away.
      if (!heading) expect(briefKeys(table).some(([k]) => k === '?'), `${screen} shows no ? in its status line`).toBe(true)
    }
  })

  it('are all in the README keys table, with the screens they work on', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
    for (const {screen, heading, table} of ALL) {
      for (const b of table) {
        const row = readme.split('\n').find((l) => l.startsWith(`| \`${b.keys}\` |`) && l.endsWith(`| ${b.help} |`))
        expect(row, `README has no row | \`${b.keys}\` | … | ${b.help} |`).toBeDefined()
        expect(row).toContain(heading ? `${screen} (${heading})` : screen)
      }
    }
  })
})
