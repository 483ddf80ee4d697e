import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * The oclif plugins registered in package.json (`oclif.plugins`): "did you mean" for a mistyped
 * command (@oclif/plugin-not-found) and shell completion (@oclif/plugin-autocomplete).
 */

describe('a mistyped command', () => {
  // The suggestion is a question asked on a terminal only: a pseudo-terminal from util-linux's
  // `script`, answered "n" so that nothing runs.
  it.runIf(existsSync('/usr/bin/script'))('on a terminal: suggests the closest command', async () => {
    const {out, code} = await new Promise<{out: string; code: number | null}>((resolve, reject) => {
      const child = spawn('/usr/bin/script', ['-qec', `${process.execPath} ${path.join(repoRoot, 'bin', 'run.js')} runs lst`, '/dev/null'], {
        cwd: repoRoot,
        env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0'},
      })
      let text = ''
      let answered = false
      // The child may have gone by the time the answer is written: EPIPE then is no failure of the test.
      child.stdin.on('error', () => {})
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString('utf8')
        if (!answered && text.includes('Did you mean')) {
          answered = true
          child.stdin.write('n\n')
        }
      })
      child.on('error', reject)
      child.on('close', (code) => resolve({out: text, code}))
    })
    // Declined, nothing ran: the plugin's "not found" status.
    expect(code).toBe(127)
    expect(out).toContain('runs lst is not a understudy command')
    expect(out.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')).toMatch(/Did you mean runs list\?/)
  })
})

describe('shell completion', () => {
  it('`autocomplete` is a command', async () => {
    const r = await runCli(['autocomplete', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('autocomplete [SHELL]')
  })
})
