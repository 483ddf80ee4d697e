import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {RunBusyError} from '../../src/errors.js'
import {resumeShadow, startShadow} from '../../src/shadow/run.js'
import {openStore} from '../../src/store/sqlite.js'
import {repoRoot, runCli} from '../helpers/cli.js'
import {bigTraffic} from '../helpers/big-traffic.js'

/**
 * A run has one writer. The CLI (built, as a user runs it) is killed with SIGKILL at seeded random
 * points, a concurrent resume is tried while each writer lives and must be refused at once
 * without touching the run, and a dead writer never blocks the next `--resume`. Kill times vary;
 * every assertion holds whichever request the kill lands on.
 */

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const bin = path.join(repoRoot, 'bin', 'run.js')
/** Requests replayed; with a baseline bundle and two repeats, four traces each. */
const LIMIT = 1000
const KILLS = 3
const SEED = Number(process.env.UNDERSTUDY_STRESS_SEED ?? 0x5eed12)

let dir: string
const children = new Set<ChildProcess>()

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-single-writer-'))
})
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  children.clear()
  rmSync(dir, {recursive: true, force: true})
})

/** mulberry32: a small seeded generator, so a failing kill schedule can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Exit = {code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}
type Cli = {child: ChildProcess; exited: Promise<Exit>}

function startCli(args: string[]): Cli {
  const child = spawn(process.execPath, [bin, ...args], {cwd: dir, env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0'}})
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  const exited = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({code, signal, stdout, stderr})))
  return {child, exited}
}

const alive = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null

/** Plain SQL on the store file, read-only, so the check itself cannot change what it checks. */
function query<T>(db: string, sql: string, ...params: unknown[]): T[] {
  let conn: Database.Database | undefined
  try {
    conn = new Database(db, {readonly: true, fileMustExist: true})
    conn.pragma('busy_timeout = 5000')
    return conn.prepare(sql).all(...params) as T[]
  } catch (e) {
    // Not created yet by the first writer.
    if (/no such table|unable to open|SQLITE_CANTOPEN/i.test(String(e))) return []
    throw e
  } finally {
    conn?.close()
  }
}

function runState(db: string): {id: string; status: string; traces: number} | undefined {
  return query<{id: string; status: string; traces: number}>(
    db,
    'SELECT id, status, (SELECT count(*) FROM requests q WHERE q.run_id = r.id) AS traces FROM runs r',
  )[0]
}

/** Resolves once `cli` has stored traces beyond `before` (so it is the run's writer), or has exited. */
async function writing(db: string, cli: Cli, before: number): Promise<void> {
  const deadline = Date.now() + 60_000
  while (alive(cli.child) && Date.now() < deadline) {
    const s = runState(db)
    if (s !== undefined && s.traces > before) return
    await new Promise((r) => setTimeout(r, 50))
  }
}

const busy = (id: string, pid: number) => `run ${id} is being written by process ${pid} on this host; wait for it or stop it`

describe('one writer per run', () => {
  it('resume refuses at once while another writer holds the run, leaving it as it was, and takes over once that writer is gone', async () => {
    const traffic = bigTraffic(scenario, dir, 60)
    const store = openStore(path.join(dir, 'u.db'))
    try {
      const controller = new AbortController()
      const first = await startShadow({traffic, candidate: path.join(scenario, 'v2'), fixtures: path.join(scenario, 'fixtures.yaml'), skills: [path.join(scenario, 'skill', 'index.ts')]}, store, {
        signal: controller.signal,
        onProgress: (p) => p.requests >= 10 && controller.abort(),
      })
      const id = first.run.id
      expect(first.run.status).toBe('interrupted')
      // Ending the run ended its claim.
      expect(store.runWriter(id)).toBeUndefined()
      const stored = store.countTraces(id)

      // Another live writer (another claim of this very process, so surely alive).
      const other = store.claimRun(id)
      const refused = await resumeShadow(id, store).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(RunBusyError)
      expect((refused as Error).message).toBe(`run ${id} is being written by process ${process.pid} on this host; wait for it or stop it`)
      expect(store.getRun(id)).toMatchObject({status: 'interrupted', finished_at: first.run.finished_at})
      expect(store.countTraces(id)).toBe(stored)
      expect(store.runWriter(id)).toEqual(other)

      // That writer dies without releasing the run (kill -9): its claim now names a pid that is gone.
      const r = spawnSync(process.execPath, ['-e', ''])
      store.claimRun(id, {...other, pid: r.pid!})
      const second = await resumeShadow(id, store)
      expect(second.run.status).toBe('completed')
      // Two traces (recorded, candidate) per request.
      expect(second.progress.already_stored).toBe(stored / 2)
      expect(store.countTraces(id, {side: 'candidate'})).toBe(60)
      expect(store.countTraces(id, {side: 'recorded'})).toBe(60)
      expect(store.runWriter(id)).toBeUndefined()
    } finally {
      store.close()
    }
  })

  it('refuses a concurrent --resume while the writer lives, and resumes after kill -9 until complete', async () => {
    const rand = random(SEED)
    const db = path.join(dir, 'u.db')
    const traffic = bigTraffic(scenario, dir, LIMIT)
    const start = ['shadow', traffic, '--scenario', scenario, '--baseline', 'scenario', '--repeat', '2', '--limit', String(LIMIT), '--db', db]
    let id: string | undefined
    let refused = 0
    const log: string[] = [`seed ${SEED}`]

    for (let round = 0; round < KILLS; round++) {
      const before = runState(db)
      if (before?.status === 'completed') break
      const writer = startCli(id === undefined ? start : ['shadow', '--resume', id, '--db', db])
      await writing(db, writer, before?.traces ?? 0)
      if (!alive(writer.child)) {
        const exit = await writer.exited
        expect(exit, 'a writer that ends by itself completes the run').toMatchObject({code: 0})
        break
      }
      id ??= runState(db)!.id
      const pid = writer.child.pid!

      // First a `--resume` from the CLI while the writer is stopped (alive, not writing), so that
      // one refusal never depends on timing; later, resumes in this process while the writer keeps
      // writing at full speed (a second CLI start each round would double the test's time).
      let attempt: string
      if (round === 0) {
        writer.child.kill('SIGSTOP')
        const cli = await startCli(['shadow', '--resume', id, '--db', db]).exited
        writer.child.kill('SIGCONT')
        // Refused: one line on stderr, nothing on stdout, a non-zero exit.
        expect(cli).toMatchObject({code: 1, stdout: '', stderr: `understudy: ${busy(id, pid)}\n`})
        attempt = busy(id, pid)
      } else {
        const store = openStore(db)
        attempt = await resumeShadow(id, store).then(
          () => 'resumed',
          (e: Error) => e.message,
        )
        store.close()
      }
      const after = runState(db)!
      log.push(`round ${round}: ${attempt}`)
      if (attempt === busy(id, pid)) {
        refused++
        // Untouched: still the live writer's, never marked failed or interrupted by the refused one.
        expect(['running', 'completed']).toContain(after.status)
      } else {
        // The only other correct outcome: the writer finished the run before the attempt got in.
        expect(round, log.join('; ')).toBeGreaterThan(0)
        expect(attempt).toBe(`run ${id} already completed; nothing to resume`)
        expect((await writer.exited).code).toBe(0)
        break
      }

      const delay = Math.floor(rand() * 600)
      log.push(`round ${round}: kill after ${delay} ms`)
      await new Promise((r) => setTimeout(r, delay))
      writer.child.kill('SIGKILL')
      const exit = await writer.exited
      if (exit.signal !== 'SIGKILL') expect(exit.code).toBe(0)
      // Killed before it released the run (or it had just completed it): never failed, interrupted.
      expect(['running', 'completed']).toContain(runState(db)!.status)
    }
    expect(refused, log.join('; ')).toBeGreaterThan(0)

    // A dead writer never blocks: the next resume finishes the run.
    if (runState(db)!.status !== 'completed') {
      const r = await runCli(['shadow', '--resume', id!, '--db', db, '--json'], {cwd: dir})
      expect(r, log.join('; ')).toMatchObject({code: 0, stderr: ''})
    }

    const state = runState(db)!
    expect(state.status).toBe('completed')
    expect(state.traces).toBe(LIMIT * 4)
    // Exactly one trace per request, side and repeat; every request on every side.
    const perKey = query<{side: string; repeat: number; requests: number; traces: number}>(
      db,
      `SELECT side, repeat, count(DISTINCT request_id) AS requests, count(*) AS traces
       FROM requests WHERE run_id = ? GROUP BY side, repeat ORDER BY side, repeat`,
      id,
    )
    expect(perKey).toEqual([
      {side: 'baseline', repeat: 0, requests: LIMIT, traces: LIMIT},
      {side: 'baseline', repeat: 1, requests: LIMIT, traces: LIMIT},
      {side: 'candidate', repeat: 0, requests: LIMIT, traces: LIMIT},
      {side: 'candidate', repeat: 1, requests: LIMIT, traces: LIMIT},
    ])
  }, 120_000)
})
