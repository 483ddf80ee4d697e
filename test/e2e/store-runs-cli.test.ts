import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {openStore} from '../../src/store/sqlite.js'
import {repoRoot, runCli} from '../helpers/cli.js'
import {fullTrace, newRun, skippedTrace} from '../factories/index.js'

// End-to-end: these run the built CLI (dist/), which `npm test` builds first.

let dir: string
let db: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-runs-cli-'))
  db = path.join(dir, 'understudy.db')
})
afterEach(() => {
  rmSync(dir, {recursive: true, force: true})
})

function seed(): {done: string; running: string} {
  const store = openStore(db)
  const done = store.createRun(newRun({name: 'first', model: 'scripted:v1'}))
  store.setRequestsTotal(done.id, 3)
  store.writeTraces(done.id, [
    fullTrace('a', 1, 'baseline'), fullTrace('a', 1, 'candidate'),
    fullTrace('b', 2, 'baseline'), fullTrace('b', 2, 'candidate'),
    fullTrace('c', 3, 'baseline'), skippedTrace('c', 3, 'candidate'),
  ])
  store.finishRun(done.id, 'completed')
  const running = store.createRun(newRun({name: 'second', candidate_ref: 'support@3.0.0#feedfacecafe'}))
  store.writeTraces(running.id, [fullTrace('a', 1, 'candidate')])
  store.close()
  return {done: done.id, running: running.id}
}

describe('understudy runs list', () => {
  it('prints an aligned table, newest first', async () => {
    const {done, running} = seed()
    const r = await runCli(['runs', 'list', '--db', db])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+STARTED \(UTC\)\s+CANDIDATE\s+BASELINE\s+MODEL\s+DONE\/TOTAL$/)
    expect(lines[1]).toMatch(new RegExp(`^${running}\\s+running\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+support@3\\.0\\.0#feedfacecafe\\s+support@1\\.4\\.2#ba5e11ae0000\\s+scripted:support-v2\\s+1/\\?$`))
    expect(lines[2]).toMatch(new RegExp(`^${done}\\s+completed\\s+.*\\s+scripted:v1\\s+3/3$`))
    // Aligned: every column starts at the same offset on every line.
    const col = (line: string, header: string) => line.indexOf(header)
    expect(lines[1]!.indexOf('running')).toBe(col(lines[0]!, 'STATUS'))
    expect(lines[2]!.indexOf('completed')).toBe(col(lines[0]!, 'STATUS'))
    expect(lines[2]!.indexOf('support@2.0.0')).toBe(col(lines[0]!, 'CANDIDATE'))
  })

  it('honours --limit and prints JSON with --json', async () => {
    const {running} = seed()
    const r = await runCli(['runs', 'list', '--db', db, '--limit', '1', '--json'])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.db).toBe(db)
    expect(out.runs).toHaveLength(1)
    expect(out.runs[0]).toMatchObject({id: running, status: 'running', requests_done: 1, requests_total: null, name: 'second'})
  })

  it('says so when the store is missing, without creating it', async () => {
    const r = await runCli(['runs', 'list', '--db', db])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`no runs in ${db}\n`)
    expect(existsSync(db)).toBe(false)
  })

  it('says so when the store is empty, and reads UNDERSTUDY_DB', async () => {
    openStore(db).close()
    const r = await runCli(['runs', 'list'], {cwd: dir, env: {UNDERSTUDY_DB: db}})
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`no runs in ${db}\n`)
  })

  it('refuses a file that is not a store with one line and a non-zero exit', async () => {
    const r = await runCli(['runs', 'list', '--db', path.join(repoRoot, 'package.json')])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`understudy: ${path.join(repoRoot, 'package.json')}: not a SQLite database (file is not a database)\n`)
  })
})

describe('understudy runs show', () => {
  it("prints a run's metadata and its counts by side and status, found by prefix", async () => {
    const {done} = seed()
    const r = await runCli(['runs', 'show', done, '--db', db])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`run        ${done}\n`)
    expect(r.stdout).toContain('status     completed\n')
    expect(r.stdout).toContain('requests   3/3 done\n')
    expect(r.stdout).toContain('faults     timeouts@0.1\n')
    expect(r.stdout).toMatch(/SIDE\s+COMPLETED\s+NEEDS_APPROVAL\s+SKIPPED\s+TOTAL\n/)
    expect(r.stdout).toMatch(/baseline\s+2\s+1\s+0\s+3\n/)
    expect(r.stdout).toMatch(/candidate\s+2\s+0\s+1\s+3\n/)
  })

  it('prints JSON with --json and accepts a unique prefix', async () => {
    const {done, running} = seed()
    let i = 0
    while (done[i] === running[i]) i++
    const r = await runCli(['runs', 'show', done.slice(0, i + 1), '--db', db, '--json'])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.run).toMatchObject({id: done, status: 'completed', requests_done: 3, requests_total: 3, seed: 42})
    expect(out.run.config).toEqual(newRun().config)
    expect(out.counts).toEqual({
      baseline: {completed: 2, needs_approval: 1},
      candidate: {completed: 2, skipped: 1},
    })
  })

  it('fails with one line on an unknown or ambiguous id', async () => {
    const {done, running} = seed()
    const unknown = await runCli(['runs', 'show', 'nope', '--db', db])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toBe(`understudy: ${db}: no run matches "nope"\n`)
    const ambiguous = await runCli(['runs', 'show', 'r', '--db', db])
    expect(ambiguous.code).toBe(1)
    expect(ambiguous.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(ambiguous.stderr).toContain('ambiguous')
    expect(ambiguous.stderr).toContain(done)
    expect(ambiguous.stderr).toContain(running)
  })
})

describe('a writer killed mid-run', () => {
  it('leaves a consistent store that shows the run as running and can be written again', async () => {
    const batch = 40
    const storeUrl = pathToFileURL(path.join(repoRoot, 'dist', 'src', 'store', 'sqlite.js')).href
    const benchUrl = pathToFileURL(path.join(repoRoot, 'dist', 'bench', 'store.js')).href
    const script = `
      import {openStore} from ${JSON.stringify(storeUrl)}
      import {syntheticTrace} from ${JSON.stringify(benchUrl)}
      const store = openStore(${JSON.stringify(db)})
      const run = store.createRun({name: 'doomed', candidate_ref: 'c', candidate_hash: 'c', baseline_ref: 'recorded',
        baseline_hash: null, traffic_file: 't', traffic_hash: 'h', model: 'm', repeat: 1, faults: null, seed: 1, config: {}})
      console.log('run ' + run.id)
      for (let b = 0; ; b++) {
        store.writeTraces(run.id, Array.from({length: ${batch}}, (_, i) => syntheticTrace(b * ${batch} + i)))
        console.log('batch ' + (b + 1))
      }`
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    // Kill once a few batches are committed: the writer is then in the middle of another one.
    const {runId, committed} = await new Promise<{runId: string; committed: number}>((resolve, reject) => {
      let out = ''
      let runId = ''
      child.stdout.on('data', (d) => {
        out += d
        runId ||= /run (\S+)/.exec(out)?.[1] ?? ''
        const batches = [...out.matchAll(/batch (\d+)/g)]
        const last = Number(batches.at(-1)?.[1] ?? 0)
        if (last >= 5) {
          child.kill('SIGKILL')
          resolve({runId, committed: last})
        }
      })
      child.on('exit', (code) => reject(new Error(`writer exited early (${code}): ${stderr}`)))
    })
    await new Promise((resolve) => child.on('close', resolve))

    const raw = new Database(db, {readonly: true})
    expect(raw.pragma('integrity_check', {simple: true})).toBe('ok')
    expect(raw.pragma('foreign_key_check')).toEqual([])
    raw.close()

    const store = openStore(db)
    const run = store.getRun(runId)!
    expect(run.status).toBe('running')
    const stored = store.countTraces(runId)
    // Only whole batches: each batch was one transaction.
    expect(stored % batch).toBe(0)
    expect(stored).toBeGreaterThanOrEqual(committed * batch)
    let complete = 0
    for (const t of store.iterateTraces(runId)) {
      if (t.steps.length === 5 && t.tool_calls.length === 3 && t.policy_decisions.length === 3 && t.guardrails.length === 6) complete++
    }
    expect(complete).toBe(stored)
    store.finishRun(runId, 'interrupted')
    store.reopenRun(runId)
    store.writeTraces(runId, [fullTrace('after-crash', 1_000_000)])
    expect(store.countTraces(runId)).toBe(stored + 1)
    store.close()
  })
})
