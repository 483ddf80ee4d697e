import {existsSync} from 'node:fs'
import path from 'node:path'
import {isSeq, parseDocument} from 'yaml'
import {ACCEPTED_FILE, AcceptedEntry, AcceptedFile, acceptedEntryFor} from '../diff/accepted.js'
import {UnderstudyError} from '../errors.js'
import {writeFileAtomic} from '../util/atomic-write.js'
import {loadConfigFile, parseConfigFile, readConfigText} from '../util/config-file.js'

/**
 * The accepted-differences file (src/diff/accepted.ts) on disk: found, read with every problem
 * located (`file:LINE:COL: accepted.2.by: …`), and added to with the file's comments and order kept.
 */

export type AcceptedList = {file: string; entries: AcceptedEntry[]}

const WHAT = 'accepted differences'

/** The file and its entries, every problem located. */
export function loadAccepted(file: string): AcceptedList {
  return {file, entries: loadConfigFile(file, AcceptedFile, {what: WHAT}).accepted}
}

/**
 * The accepted differences a command honours: the file `flag` names (which must exist), else
 * `understudy.accepted.yaml` in `cwd` when there is one, else none.
 */
export function resolveAccepted(flag: string | undefined, cwd: string = process.cwd()): AcceptedList | null {
  if (flag !== undefined) {
    if (!existsSync(flag)) throw new UnderstudyError(`${flag}: no such ${WHAT} file`)
    return loadAccepted(flag)
  }
  const file = path.join(cwd, ACCEPTED_FILE)
  return existsSync(file) ? loadAccepted(path.relative(cwd, file) || file) : null
}

/**
 * Appends one entry to `file` (created when absent), keeping what is there (comments included).
 * The file is checked first, so a broken one is reported, not overwritten; an entry already
 * accepting the same cause is refused, naming who accepted it. Written whole or not at all.
 */
export function addAccepted(file: string, entry: AcceptedEntry): void {
  const next = AcceptedEntry.parse(entry)
  const text = existsSync(file) ? readConfigText(file, WHAT) : ''
  const current = parseConfigFile(file, text, AcceptedFile).accepted
  const already = acceptedEntryFor(next.cause, current) ?? current.find((e) => next.cause.startsWith(e.cause) || e.cause.startsWith(next.cause))
  if (already !== undefined) throw new UnderstudyError(`${file}: cause ${next.cause} is already accepted (by ${already.by} on ${already.at}: ${already.reason})`)
  const doc = parseDocument(text.trim() === '' ? 'version: 1\naccepted: []\n' : text)
  if (!doc.has('version')) doc.set('version', 1)
  const list = doc.get('accepted')
  const item = doc.createNode(next)
  if (isSeq(list)) {
    // An empty list written `[]` stays in flow style unless told otherwise.
    list.flow = false
    list.items.push(item)
  } else doc.set('accepted', doc.createNode([next]))
  writeFileAtomic(file, doc.toString({lineWidth: 0}))
}
