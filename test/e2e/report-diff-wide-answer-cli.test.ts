import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {displayWidth} from '../../src/util/display-width.js'
import {repoRoot, runCli, runCliProcess} from '../helpers/cli.js'

/** `diff --request` on an answer holding a word wider than its column, through the built CLI. */

const dir = mkdtempSync(path.join(tmpdir(), 'understudy-wide-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('understudy diff --request with a word wider than its column', () => {
  it('prints the side-by-side view promptly, every line within the width', async () => {
    const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
    const first = JSON.parse(readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n')[0]!) as {id: string; production: {final_answer: string}}
    const url = 'https://example.com/r/' + 'a'.repeat(120)
    first.production.final_answer = `Your receipt: ${url}`
    const traffic = path.join(dir, 'traffic.jsonl')
    writeFileSync(traffic, JSON.stringify(first) + '\n')
    const db = path.join(dir, 'u.db')

    const shadow = await runCli(['shadow', traffic, '--scenario', scenario, '--db', db, '--json'], {cwd: dir})
    expect(shadow.code, shadow.stderr).toBe(0)
    const runId = (JSON.parse(shadow.stdout) as {run: {id: string}}).run.id

    // The wrapper used to loop until the heap ran out; a hang is killed here and fails the test.
    const diff = await runCliProcess(['diff', runId, '--request', first.id, '--db', db], {cwd: dir, timeoutMs: 20_000})
    expect(diff.code, diff.stderr).toBe(0)
    const lines = diff.stdout.split('\n')
    for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(120)
    // Base side (the recorded answer): the URL broken over lines, none of it lost.
    const col = Math.floor((120 - 3) / 2)
    const answer = lines.slice(lines.findIndex((l) => l.startsWith('── final answer')) + 1).filter((l) => l !== '')
    expect(answer.map((l) => l.slice(0, col)).join('').replace(/ /g, '')).toContain(url)
  }, 60_000)
})
