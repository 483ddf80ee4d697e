import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli} from '../helpers/cli.js'

/** Command-line mistakes through the built CLI: one line on stderr, or one small JSON error under --json. */

const dir = mkdtempSync(path.join(tmpdir(), 'understudy-usage-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const db = path.join(dir, 'none.db')

const cases: {what: string; args: string[]; message: RegExp}[] = [
  {what: 'a missing argument', args: ['diff', '--db', db], message: /^missing argument RUNID \(run id, or a unique prefix of one\); see `understudy diff --help`$/},
  {what: 'an unknown flag', args: ['diff', 'r1', '--bogus', '--db', db], message: /^unknown flag --bogus; see `understudy diff --help`$/},
  {what: 'a flag value that does not parse', args: ['diff', 'r1', '--width', 'wide', '--db', db], message: /^--width: expected an integer but received: wide; see/},
  {what: 'an unexpected extra argument', args: ['diff', 'r1', 'r2', '--db', db], message: /^unexpected argument r2; see/},
  {what: 'a missing required flag', args: ['trace', 'export', 'r1', '--db', db], message: /^missing required flag --otlp; see `understudy trace export --help`$/},
]

describe('usage errors', () => {
  for (const c of cases) {
    it(`${c.what}: one line on stderr, exit 2`, async () => {
      const r = await runCli(c.args, {cwd: dir})
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr.endsWith('\n')).toBe(true)
      const lines = r.stderr.slice(0, -1).split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]!.replace(/^understudy: /, '')).toMatch(c.message)
    })

    it(`${c.what} under --json: one small JSON error, nothing of oclif's internals`, async () => {
      const r = await runCli([...c.args, '--json'], {cwd: dir})
      expect(r.code).toBe(2)
      expect(r.stderr).toBe('')
      expect(r.stdout.length).toBeLessThan(1000)
      const doc = JSON.parse(r.stdout) as {error: {message: string; code: string; problems: string[]}}
      expect(Object.keys(doc)).toEqual(['error'])
      expect(Object.keys(doc.error).sort()).toEqual(['code', 'message', 'problems'])
      expect(doc.error.code).toBe('usage')
      expect(doc.error.message).toMatch(c.message)
      expect(doc.error.problems).toEqual([doc.error.message])
    })
  }
})
