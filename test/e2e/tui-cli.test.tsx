import {describe, expect, it} from 'vitest'
import {runCli, runCliProcess} from '../helpers/cli.js'

describe('understudy tui (end to end)', () => {
  it('refuses to start without a terminal, in one line, pointing at `understudy diff`', async () => {
    // Out of process on purpose: what is tested is the binary seeing real pipes, not a TTY, on its stdio.
    const r = await runCliProcess(['tui', '--db', '/nonexistent/store.db'])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^understudy: the TUI needs a terminal \(stdout is not a TTY\).*understudy diff/)
  })

  it('has no --json flag', async () => {
    const r = await runCli(['tui', '--json'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/--json/)
  })
})
