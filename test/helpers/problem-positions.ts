import {readFileSync} from 'node:fs'
import {pathLocator} from '../../src/util/path-position.js'

/**
 * `file:LINE:COL: a.b.0: message` → `file:a.b.0: message` when LINE:COL is where the field path
 * starts in the file, so tests written against field paths keep asserting them; a problem located
 * anywhere else (an expression error inside a value, or a wrong position) is left as it is and
 * shows up in the comparison. test/util/path-position.test.ts pins the positions themselves.
 */
export function fieldPathsOnly(file: string, problems: readonly string[]): string[] {
  const locate = pathLocator(readFileSync(file, 'utf8'))
  return problems.map((p) => {
    if (!p.startsWith(`${file}:`)) return p
    const m = /^(\d+:\d+): ([^:\s]+): /.exec(p.slice(file.length + 1))
    if (!m) return p
    const fieldPath = m[2]!.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s))
    return locate(fieldPath) === m[1] ? `${file}:${p.slice(file.length + 1 + m[1]!.length + 2)}` : p
  })
}
