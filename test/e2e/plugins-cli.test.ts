import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {removeTempDirs, tempDir} from '../factories/index.js'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * "Did you mean" for a mistyped command (our `command_not_found` hook, src/cli/not-found.ts) and
 * shell completion (@oclif/plugin-autocomplete, registered in package.json `oclif.plugins`).
 */

afterAll(removeTempDirs)

describe('a mistyped command', () => {
  it('off a terminal (CI): one line naming the closest command, exit 127, nothing run', async () => {
    const r = await runCli(['runs', 'lst', '--db', '/nonexistent/x.db'])
    expect(r.code).toBe(127)
    expect(r.stderr).toBe('understudy: runs lst is not a command; did you mean `understudy runs list`? (`understudy help runs` lists them)\n')
  })

  // On a terminal the person is asked whether to run it: a pseudo-terminal from util-linux's `script`.
  const onTerminal = (args: string, answer: string) =>
    new Promise<{out: string; code: number | null}>((resolve, reject) => {
      const child = spawn('/usr/bin/script', ['-qec', `${process.execPath} ${path.join(repoRoot, 'bin', 'run.js')} ${args}`, '/dev/null'], {
        cwd: repoRoot,
        env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0'},
      })
      let text = ''
      let answered = false
      // The child may have gone by the time the answer is written: EPIPE then is no failure of the test.
      child.stdin.on('error', () => {})
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString('utf8')
        if (!answered && text.includes('[y/N]')) {
          answered = true
          child.stdin.write(`${answer}\n`)
        }
      })
      child.on('error', reject)
      child.on('close', (code) => resolve({out: text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, ''), code}))
    })

  it.runIf(existsSync('/usr/bin/script'))('on a terminal: asks, and "n" runs nothing', async () => {
    const {out, code} = await onTerminal('runs lst', 'n')
    expect(code).toBe(127)
    expect(out).toContain('did you mean `understudy runs list`?')
    expect(out).toContain('Run understudy runs list? [y/N]')
  })

  it.runIf(existsSync('/usr/bin/script'))('on a terminal: "y" runs the command meant, with the flags typed', async () => {
    const {out, code} = await onTerminal(`runs lst --db ${path.join(tempDir(), 'empty.db')}`, 'y')
    expect(out).toContain('no runs')
    expect(code).toBe(0)
  })
})

describe('shell completion', () => {
  it('`autocomplete` is a command', async () => {
    const r = await runCli(['autocomplete', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('autocomplete [SHELL]')
  })
})
