import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {storedRequestId} from '../../src/runtime/redact.js'
import {resumeShadow, startShadow} from '../../src/shadow/run.js'
import type {TraceDatabase} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'
import {removeTempDirs, tempDir} from '../factories/index.js'
import {repoRoot} from '../helpers/cli.js'

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const v2 = path.join(scenario, 'v2')
const fixtures = path.join(scenario, 'fixtures.yaml')
const skills = [path.join(scenario, 'skill', 'index.ts')]

let dir: string
let store: TraceDatabase
beforeEach(() => {
  dir = tempDir('understudy-secret-ids-')
  store = openStore(path.join(dir, 'u.db'))
})
afterEach(() => {
  store.close()
  removeTempDirs()
})

/** An API key per request, used as its id: distinct keys, so the requests must stay distinct. */
const secretId = (i: number): string => `sk-live-Zq81mNw4Rt6Yb2Xc9V${String(i).padStart(4, '0')}`

function secretIdTraffic(count: number): string {
  const lines = readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').slice(0, count)
  const file = path.join(dir, 'traffic.jsonl')
  writeFileSync(file, lines.map((l, i) => JSON.stringify({...JSON.parse(l), id: secretId(i)})).join('\n') + '\n')
  return file
}

describe('a request id that is a secret', () => {
  it('is stored as its marker, one per request, and a resumed run neither loses nor repeats one', async () => {
    const traffic = secretIdTraffic(40)
    const controller = new AbortController()
    const first = await startShadow({traffic, candidate: v2, fixtures, skills, concurrency: 2}, store, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.requests >= 10) controller.abort()
      },
    })
    expect(first.run.status).toBe('interrupted')
    const stored = store.countTraces(first.run.id, {side: 'candidate'})
    expect(stored).toBeLessThan(40)

    const second = await resumeShadow(first.run.id, store)
    expect(second.run.status).toBe('completed')
    expect(second.progress.already_stored).toBe(stored)
    const traces = [...store.iterateTraces(first.run.id)]
    const ids = new Set(traces.map((t) => t.request_id))
    expect(ids).toEqual(new Set(Array.from({length: 40}, (_, i) => storedRequestId(secretId(i)))))
    for (const id of ids) expect(id).toMatch(/^\[REDACTED:api_key:[0-9a-f]{8}\]$/)
    expect(traces).toHaveLength(80)

    // Found by the id as recorded or as stored; the store file holds neither key.
    expect([...store.iterateTraces(first.run.id, {requestId: secretId(7)})]).toHaveLength(2)
    expect([...store.iterateTraces(first.run.id, {requestId: storedRequestId(secretId(7))})]).toHaveLength(2)
    store.close()
    const bytes = readFileSync(path.join(dir, 'u.db')).toString('latin1')
    for (let i = 0; i < 40; i++) expect(bytes).not.toContain(secretId(i))
    store = openStore(path.join(dir, 'u.db'))
  })

  it('duplicate and unreadable lines are stored under redacted ids and messages', async () => {
    const traffic = secretIdTraffic(2)
    const lines = readFileSync(traffic, 'utf8').trimEnd().split('\n')
    writeFileSync(traffic, [...lines, lines[0], JSON.stringify({id: secretId(9), broken: true})].join('\n') + '\n')
    const run = await startShadow({traffic, candidate: v2, fixtures, skills}, store)
    const skipped = [...store.iterateTraces(run.run.id)].filter((t) => t.status === 'skipped')
    expect(skipped.map((t) => t.request_id)).toEqual([`${storedRequestId(secretId(0))}#line3`, storedRequestId(secretId(9))])
    for (const t of skipped) {
      expect(t.error).not.toContain('sk-live-')
    }
  })
})
