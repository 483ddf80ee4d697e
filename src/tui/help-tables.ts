import {CAUSES_KEYS} from './causes-screen.js'
import type {KeyTable} from './key-table.js'
import {REASON_KEYS, REQUEST_KEYS} from './request-screen.js'
import {FILTER_KEYS, REQUESTS_KEYS} from './requests-screen.js'
import {RUNS_KEYS} from './runs-screen.js'
import {SCORECARD_KEYS} from './scorecard-screen.js'

export type ScreenName = 'runs' | 'causes' | 'requests' | 'request' | 'scorecard'

export type ScreenKeys = {screen: ScreenName; title: string; tables: {heading?: string; table: KeyTable}[]}

/**
 * Every screen's keys: the same tables the screens dispatch with, for the `?` help screen and for
 * the README's keys table (test/tui/keys.test.ts holds the README to them).
 */
export const TUI_KEY_TABLES: readonly ScreenKeys[] = [
  {screen: 'runs', title: 'runs', tables: [{table: RUNS_KEYS}]},
  {screen: 'causes', title: 'causes', tables: [{table: CAUSES_KEYS}]},
  {screen: 'requests', title: 'requests', tables: [{table: REQUESTS_KEYS}, {heading: 'while typing a / filter', table: FILTER_KEYS}]},
  {screen: 'request', title: 'one request', tables: [{table: REQUEST_KEYS}, {heading: 'while typing a reason for a decision', table: REASON_KEYS}]},
  {screen: 'scorecard', title: 'scorecard', tables: [{table: SCORECARD_KEYS}]},
]
