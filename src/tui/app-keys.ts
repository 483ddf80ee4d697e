import {char, type KeyTable} from './key-table.js'

/**
 * Keys that act on the open run or the request under the cursor wherever they are shown: handled
 * by the app (the screens hand them up), listed in each screen's table like any other key.
 */
export type RunAction = 'scorecard' | 'report'

export const RUN_KEYS: KeyTable<RunAction> = [
  char('scorecard', 'c', 'the run’s scorecard (green / amber / red per dimension, its metrics)'),
  char('report', 'w', 'write the run’s HTML report to a file and show its path'),
]

export const COPY_KEY: KeyTable<'copy'> = [char('copy', 'y', 'copy the request id to the clipboard (OSC 52)')]
