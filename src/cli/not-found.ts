import type {Hook} from '@oclif/core'
import {terminalText} from '../util/terminal-text.js'
import {confirmed} from './confirm.js'

/**
 * oclif's `command_not_found` hook: one line naming the closest command, on every output (CI logs
 * too, where a question cannot be asked), exit 127. On a terminal the person is then asked whether
 * to run it (anything but y/yes is no), as a shell would offer.
 */
const hook: Hook.CommandNotFound = async function (opts) {
  const bin = opts.config.bin
  const visible = opts.config.commands.filter((c) => !c.hidden).flatMap((c) => [c.id, ...c.aliases])
  const typed = spaced(opts.id)
  const topic = opts.id.split(':')[0]!
  const guess = closestCommand(opts.id, visible)
  const list = opts.config.findTopic(topic) ? `${bin} help ${topic}` : `${bin} help`
  const line = guess === null ? `${bin}: ${typed} is not a command (\`${list}\` lists them)` : `${bin}: ${typed} is not a command; did you mean \`${bin} ${spaced(guess)}\`? (\`${list}\` lists them)`
  process.stderr.write(`${terminalText(line)}\n`)
  if (guess !== null && process.stdin.isTTY && process.stderr.isTTY && (await confirmed(`Run ${bin} ${spaced(guess)}`, false))) {
    // What followed the mistyped command words: the arguments and flags, kept for the command meant.
    const argv = opts.argv ?? []
    return opts.config.runCommand(guess, argv)
  }
  this.exit(127)
}

export default hook

const spaced = (id: string): string => id.replaceAll(':', ' ')

/**
 * The command id nearest to `id` by edit distance (topic separators included), or null when even
 * the nearest needs more edits than a third of the longer of the two: a guess that far off helps no one.
 * Ties go to the shorter id, then the first in order.
 */
export function closestCommand(id: string, ids: readonly string[]): string | null {
  let best: string | null = null
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of ids) {
    const d = editDistance(id, candidate)
    if (d < bestDistance || (d === bestDistance && best !== null && candidate.length < best.length)) {
      best = candidate
      bestDistance = d
    }
  }
  if (best === null || bestDistance > Math.max(1, Math.floor(Math.max(id.length, best.length) / 3))) return null
  return best
}

/** Levenshtein distance, with an adjacent swap counting as one edit (`lsit` → `list`). */
export function editDistance(a: string, b: string): number {
  let prev2: number[] = []
  let prev = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1)
      row.push(d)
    }
    prev2 = prev
    prev = row
  }
  return prev[b.length]!
}
