import {spawnSync} from 'node:child_process'
import {hostname} from 'node:os'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {RunBusyError} from '../../src/errors.js'
import type {RunWriter, TraceDatabase} from '../../src/store/api.js'
import {processStart, REMOTE_STALE_MS, thisWriter, writerAlive} from '../../src/store/run-writer.js'
import {openStore} from '../../src/store/sqlite.js'
import {fullTrace, newRun, tempStore, type TempStore} from '../factories/index.js'

let tmp: TempStore
let file: string
let store: TraceDatabase

beforeEach(() => {
  tmp = tempStore()
  file = tmp.file
  store = tmp.store
})
afterEach(() => {
  store.close()
  tmp.cleanup()
})

/** A pid that was a process a moment ago and is none now (spawnSync reaps it). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''])
  expect(r.status).toBe(0)
  return r.pid!
}

const linux = processStart(process.pid) !== null

/** RunBusyError's message, or what was thrown instead. */
function refusal(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(RunBusyError)
    return (e as Error).message
  }
  throw new Error('expected a RunBusyError, nothing was thrown')
}

describe('run writer claims', () => {
  it('claims a run for this process, refuses a second claim while it lives, and frees it on release', () => {
    const run = store.createRun(newRun())
    const first = store.claimRun(run.id)
    expect(store.runWriter(run.id)).toEqual(first)
    expect(first).toMatchObject({pid: process.pid, host: hostname()})
    if (linux) expect(first.pid_start).toMatch(/^[0-9a-f-]*:\d+$/)

    // Another claimant (another token) while the holder is alive: refused, nothing changed.
    expect(refusal(() => store.claimRun(run.id))).toBe(
      `run ${run.id} is being written by process ${process.pid} on this host; wait for it or stop it`,
    )
    expect(store.runWriter(run.id)).toEqual(first)
    expect(store.getRun(run.id)!.status).toBe('running')
    // The holder itself may claim again.
    expect(store.claimRun(run.id, first)).toEqual(first)

    expect(store.releaseRun(run.id, first.token, 'interrupted')).toBe(true)
    expect(store.runWriter(run.id)).toBeUndefined()
    expect(store.getRun(run.id)).toMatchObject({status: 'interrupted', finished_at: expect.any(String)})
    const second = store.claimRun(run.id)
    expect(second.token).not.toBe(first.token)
  })

  it('takes over a run whose writer died, and the dead writer can no longer finish or renew it', () => {
    const run = store.createRun(newRun())
    const dead: RunWriter = {...thisWriter(), pid: deadPid()}
    store.claimRun(run.id, dead)
    expect(writerAlive(dead)).toBe(false)
    const next = store.claimRun(run.id)
    expect(store.runWriter(run.id)).toEqual(next)

    expect(store.heartbeatRun(run.id, dead.token)).toBe(false)
    expect(store.releaseRun(run.id, dead.token, 'failed')).toBe(false)
    expect(store.getRun(run.id)!.status).toBe('running')
    expect(store.runWriter(run.id)).toEqual(next)
  })

  it.runIf(linux)('treats a live pid that started at another time as a reused pid, not the writer', () => {
    const run = store.createRun(newRun())
    const reused: RunWriter = {...thisWriter(), pid_start: `${processStart(process.pid)}0`}
    expect(writerAlive(reused)).toBe(false)
    store.claimRun(run.id, reused)
    expect(store.claimRun(run.id).pid_start).toBe(processStart(process.pid))
  })

  it('judges a claim from another host by its heartbeat', () => {
    const run = store.createRun(newRun())
    const now = new Date()
    const remote: RunWriter = {...thisWriter(now), host: 'elsewhere.example', pid: 1}
    store.claimRun(run.id, remote)
    expect(refusal(() => store.claimRun(run.id))).toBe(
      `run ${run.id} is being written by process 1 on host elsewhere.example; wait for it or stop it`,
    )
    expect(writerAlive(remote, new Date(now.getTime() + REMOTE_STALE_MS - 1))).toBe(true)
    expect(writerAlive(remote, new Date(now.getTime() + REMOTE_STALE_MS))).toBe(false)

    // Its heartbeat stopped long ago: stale.
    const old = new Date(now.getTime() - REMOTE_STALE_MS - 1000).toISOString()
    store.claimRun(run.id, {...remote, heartbeat_at: old})
    expect(store.claimRun(run.id).host).toBe(hostname())
  })

  it('renews the heartbeat of its own claim only', () => {
    const run = store.createRun(newRun())
    const w = store.claimRun(run.id, thisWriter(new Date(Date.now() - 5000)))
    expect(store.heartbeatRun(run.id, w.token)).toBe(true)
    expect(Date.parse(store.runWriter(run.id)!.heartbeat_at)).toBeGreaterThan(Date.parse(w.heartbeat_at))
    expect(store.heartbeatRun(run.id, 'someone-else')).toBe(false)
  })

  it('creates a run already claimed, so nobody else can claim it first', () => {
    const {run, writer} = store.createClaimedRun(newRun())
    expect(store.runWriter(run.id)).toEqual(writer)
    const other = openStore(file)
    try {
      expect(refusal(() => other.claimRun(run.id))).toMatch(/is being written by process/)
    } finally {
      other.close()
    }
    expect(store.releaseRun(run.id, writer.token, 'completed')).toBe(true)
    expect(store.getRun(run.id)!.status).toBe('completed')
  })

  it('refuses a claim on a run that does not exist, and a deleted run takes its claim with it', () => {
    expect(() => store.claimRun('r-nope')).toThrow(`${file}: no run r-nope`)
    const run = store.createRun(newRun())
    const w = store.claimRun(run.id)
    store.writeTraces(run.id, [fullTrace('a', 1)])
    expect(store.deleteRun(run.id)).toBe(true)
    expect(store.runWriter(run.id)).toBeUndefined()
    expect(store.releaseRun(run.id, w.token, 'completed')).toBe(false)
  })
})

describe('writerAlive', () => {
  it('is false for pids that name no process (or a process group)', () => {
    const w = thisWriter()
    expect(writerAlive(w)).toBe(true)
    for (const pid of [deadPid(), 0, -1, 2 ** 31]) expect(writerAlive({...w, pid}), String(pid)).toBe(false)
  })
})
