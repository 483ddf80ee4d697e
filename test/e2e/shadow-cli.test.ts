import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {openStore} from '../../src/store/sqlite.js'
import {repoRoot, runCli} from '../helpers/cli.js'
import {bigTraffic} from '../helpers/big-traffic.js'

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const skill = path.join(scenario, 'skill', 'index.ts')
const bin = path.join(repoRoot, 'bin', 'run.js')
let dir: string

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-shadow-cli-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

function storedCandidates(db: string): number {
  try {
    const store = openStore(db, {readonly: true})
    try {
      const run = store.listRuns()[0]
      return run ? store.countTraces(run.id, {side: 'candidate'}) : 0
    } finally {
      store.close()
    }
  } catch {
    return 0
  }
}

/**
 * Starts `understudy shadow` and sends `signal` once some requests are stored. A real process (not
 * runCli): what is tested is how the binary takes a signal, and a SIGKILL must not take the test worker with it.
 */
async function interrupted(args: string[], db: string, signal: NodeJS.Signals): Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}> {
  const child = spawn(process.execPath, [bin, 'shadow', ...args, '--db', db], {cwd: dir, env: {...process.env, NO_COLOR: '1'}})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => child.on('exit', (code, sig) => resolve({code, signal: sig})))
  const deadline = Date.now() + 60_000
  while (storedCandidates(db) < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
  child.kill(signal)
  return {...(await exited), stdout, stderr}
}

/**
 * The signal tests start a real process for a 3000-request run, wait for 200 stored requests, then
 * resume: seconds on a quiet machine, but the child competes for the CPU with everything else on a
 * loaded CI host (load at 4x the cores), so they get more than the default 30 s.
 */
const SIGNAL_TEST_TIMEOUT = 120_000

describe('understudy shadow (CLI)', () => {
  it('runs the quick start on the shipped scenario and says what to do next', async () => {
    const db = path.join(dir, 'u.db')
    const r = await runCli(['shadow', '--scenario', scenario, '--db', db])
    expect(r.stderr).not.toMatch(/Error|at .*\.js:\d+/)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^run r\S+ completed: 720 requests/m)
    expect(r.stdout).toMatch(/recorded\s+completed \d+/)
    expect(r.stdout).toContain(`understudy diff `)
    expect(r.stdout).toContain('understudy scorecard ')
  })

  it('prints one JSON document with --json', async () => {
    const db = path.join(dir, 'u.db')
    const r = await runCli(['shadow', '--scenario', scenario, '--limit', '20', '--db', db, '--json'])
    expect(r.code).toBe(0)
    const doc = JSON.parse(r.stdout) as {run: {id: string; status: string}; requests: number; status: Record<string, Record<string, number>>}
    expect(doc.run.status).toBe('completed')
    expect(doc.requests).toBe(20)
    expect(Object.values(doc.status.candidate!).reduce((a, b) => a + b, 0)).toBe(20)
  })

  it('gives a one-line error for a missing traffic file, an invalid bundle, or a model server that is down', async () => {
    const db = path.join(dir, 'u.db')
    const missing = await runCli(['shadow', path.join(dir, 'nope.jsonl'), '--candidate', path.join(scenario, 'v2'), '--db', db])
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
    expect(missing.stderr).toContain('nope.jsonl: no such traffic file')

    const bundle = path.join(dir, 'bad-bundle')
    await runCli(['--version'])
    writeFileSync(path.join(dir, 'placeholder'), '')
    rmSync(bundle, {recursive: true, force: true})
    const bad = await runCli(['shadow', path.join(scenario, 'traffic.jsonl'), '--candidate', dir, '--db', db])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/bundle\.(yaml|json)/)

    const down = await runCli(['shadow', '--scenario', scenario, '--model', 'ollama:llama3.1:8b', '--ollama-host', 'http://127.0.0.1:9', '--db', db])
    expect(down.code).toBe(1)
    expect(down.stderr.trim().split('\n')).toHaveLength(1)
    expect(down.stderr).toMatch(/cannot reach Ollama at http:\/\/127\.0\.0\.1:9/)
    // nothing was started, so nothing half-written is left behind
    const r = await runCli(['runs', 'list', '--db', db, '--json'])
    expect((JSON.parse(r.stdout) as {runs: unknown[]}).runs).toEqual([])
  })

  it('names the skill module in a one-line error when it is missing or exports no skill, before any run starts', async () => {
    const db = path.join(dir, 'u.db')
    const base = ['shadow', path.join(scenario, 'traffic.jsonl'), '--candidate', path.join(scenario, 'v2'), '--db', db]
    const missing = await runCli([...base, '--skill', path.join(dir, 'nope.js')])
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
    expect(missing.stderr).toContain(`skill module ${path.join(dir, 'nope.js')}: no such module`)

    const empty = path.join(dir, 'empty.mjs')
    writeFileSync(empty, 'export default {name: "half"}\n')
    const invalid = await runCli([...base, '--skill', empty])
    expect(invalid.code).toBe(1)
    expect(invalid.stderr.trim().split('\n')).toHaveLength(1)
    expect(invalid.stderr).toContain(`skill module ${empty}: its default export is not a scripted skill`)
    const r = await runCli(['runs', 'list', '--db', db, '--json'])
    expect((JSON.parse(r.stdout) as {runs: unknown[]}).runs).toEqual([])
  })

  it('stops cleanly on Ctrl-C, says how to resume, and --resume finishes the run', async () => {
    const traffic = bigTraffic(scenario, dir, 3000)
    const db = path.join(dir, 'u.db')
    const first = await interrupted([traffic, '--candidate', path.join(scenario, 'v2'), '--fixtures', path.join(scenario, 'fixtures.yaml'), '--skill', skill], db, 'SIGINT')
    expect(first.code).toBe(130)
    expect(first.stdout).toMatch(/interrupted/)
    const resumeLine = first.stdout.split('\n').find((l) => l.includes('--resume'))!
    const id = /--resume (\S+)/.exec(resumeLine)![1]!
    const stored = storedCandidates(db)
    expect(stored).toBeGreaterThan(0)
    expect(stored).toBeLessThan(3000)

    const second = await runCli(['shadow', '--resume', id, '--db', db], {cwd: dir})
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(/completed/)
    expect(storedCandidates(db)).toBe(3000)
  }, SIGNAL_TEST_TIMEOUT)

  it('resumes after SIGKILL with no request lost or stored twice', async () => {
    const traffic = bigTraffic(scenario, dir, 3000)
    const db = path.join(dir, 'u.db')
    const first = await interrupted([traffic, '--candidate', path.join(scenario, 'v2'), '--skill', skill, '--concurrency', '8'], db, 'SIGKILL')
    expect(first.signal).toBe('SIGKILL')
    const list = JSON.parse((await runCli(['runs', 'list', '--db', db, '--json'])).stdout) as {runs: {id: string; status: string}[]}
    expect(list.runs[0]!.status).toBe('running')
    const before = storedCandidates(db)
    expect(before).toBeLessThan(3000)

    const second = await runCli(['shadow', '--resume', list.runs[0]!.id, '--db', db, '--json'], {cwd: dir})
    expect(second.code).toBe(0)
    const doc = JSON.parse(second.stdout) as {already_stored: number; run: {status: string; requests_done: number}}
    expect(doc.run.status).toBe('completed')
    expect(doc.already_stored).toBe(before)
    expect(doc.run.requests_done).toBe(3000)
    const store = openStore(db, {readonly: true})
    const ids = [...store.iterateTraces(list.runs[0]!.id, {side: 'candidate'})].map((t) => t.request_id)
    store.close()
    expect(ids.length).toBe(3000)
    expect(new Set(ids).size).toBe(3000)
  }, SIGNAL_TEST_TIMEOUT)
})
