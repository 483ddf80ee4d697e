import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {removeTempDirs, tempDir} from '../factories/index.js'
import {repoRoot, runCli} from '../helpers/cli.js'

afterEach(removeTempDirs)

const scenario = path.join(repoRoot, 'scenarios', 'banking-assistant')

describe('understudy approvals list → decide → apply', () => {
  it('lists held calls, records decisions (unknown refs refused), and applies them in a new run with the shadow summary', async () => {
    const db = path.join(tempDir('understudy-approvals-cli-'), 'u.db')
    const shadow = await runCli(['shadow', '--scenario', scenario, '--limit', '15', '--db', db, '--json'])
    expect(shadow.code).toBe(0)
    const runId = (JSON.parse(shadow.stdout) as {run: {id: string}}).run.id

    const list = await runCli(['approvals', 'list', runId, '--db', db, '--json'])
    expect(list.code).toBe(0)
    const held = (JSON.parse(list.stdout) as {held: {ref: string; tool: string; decision: null}[]}).held
    expect(held.length).toBeGreaterThan(0)
    const text = await runCli(['approvals', 'list', runId, '--db', db])
    expect(text.stdout).toContain(`${held[0]!.ref}  ${held[0]!.tool} `)

    const bad = await runCli(['approvals', 'decide', runId, '--db', db, '--approve', 'nope#9'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain(`run ${runId} holds no call "nope#9"`)

    const decide = await runCli(['approvals', 'decide', runId, '--db', db, '--approve-all', '--by', 'carol', '--reason', 'checked'])
    expect(decide.code).toBe(0)
    expect(decide.stdout).toContain(`${held[0]!.ref}  ${held[0]!.tool}: approved by carol (checked)`)

    const apply = await runCli(['approvals', 'apply', runId, '--db', db, '--json'])
    expect(apply.code).toBe(0)
    const summary = JSON.parse(apply.stdout) as {run: {id: string; config: {approvals: {source_run: string}}}; status: Record<string, Record<string, number>>; next: string[]}
    expect(summary.run.id).not.toBe(runId)
    expect(summary.run.config.approvals.source_run).toBe(runId)
    expect(summary.status.candidate!.needs_approval ?? 0).toBe(0)
    expect(summary.next[0]).toBe(`understudy diff ${summary.run.id} --db ${db}`)
    const after = await runCli(['approvals', 'list', summary.run.id, '--db', db])
    expect(after.stdout).toBe(`run ${summary.run.id} holds no call for approval\n`)
  })
})
