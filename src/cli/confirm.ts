import {createInterface} from 'node:readline/promises'
import {UsageError} from '../errors.js'
import {terminalText} from '../util/terminal-text.js'

/**
 * Whether to go on with something that cannot be undone. `--yes` says so; on a terminal the person
 * is asked (anything but y/yes is no); anywhere else (CI, a pipe) it is a usage error, exit 2,
 * nothing done: a script must say --yes.
 */
export async function confirmed(question: string, yes: boolean, stdin: NodeJS.ReadStream = process.stdin): Promise<boolean> {
  if (yes) return true
  if (!stdin.isTTY) throw new UsageError(`${question}: not confirmed; add --yes (this shell is not interactive, so it cannot ask)`)
  const rl = createInterface({input: stdin, output: process.stderr})
  try {
    const answer = await rl.question(`${terminalText(question)}? [y/N] `)
    return /^y(es)?$/i.test(answer.trim())
  } finally {
    rl.close()
  }
}
