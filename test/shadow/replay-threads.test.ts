import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import Database from 'better-sqlite3'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {ShadowOptionsInput} from '../../src/store/run-config.js'
import {openStore} from '../../src/store/sqlite.js'
import {repoRoot} from '../helpers/cli.js'
import {runViews} from '../helpers/run-views.js'

// Replay threads exist only compiled (dist/; `npm test` builds first): the run is started from there.
const dist = (p: string) => pathToFileURL(path.join(repoRoot, 'dist', p)).href
const {startShadow, resumeShadow} = (await import(dist('src/shadow/run.js'))) as typeof import('../../src/shadow/run.js')

const banking = path.join(repoRoot, 'scenarios', 'banking-assistant')
const support = path.join(repoRoot, 'scenarios', 'support-refunds')
const START = Date.parse('2025-03-10T09:00:00Z')

let dir: string
/** Banking traffic in bursts: rate limits and tenant quotas are reached, which only a tenant kept on one thread replays the same. */
let burst: string

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-replay-threads-'))
  const records = readFileSync(path.join(banking, 'traffic.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  const out: string[] = []
  for (let copy = 0; copy < 4; copy++) {
    for (const r of records) {
      const i = out.length
      // A third tenant (no quota of its own, the tools' rate limits still apply), half a second apart.
      const tenant = copy % 3 === 2 ? 'eastbrook' : r.tenant
      out.push(JSON.stringify({...r, id: `${r.id}-c${copy}`, tenant, timestamp: new Date(START + i * 500).toISOString()}))
    }
  }
  burst = path.join(dir, 'burst.jsonl')
  writeFileSync(burst, out.join('\n') + '\n')
})

afterAll(() => {
  rmSync(dir, {recursive: true, force: true})
})

/** Every stored column of every trace of the run, in the order readers read them. */
function rows(file: string, runId: string): string[] {
  const db = new Database(file, {readonly: true})
  try {
    const cols = (db.prepare(`SELECT name FROM pragma_table_info('requests') WHERE name NOT IN ('id', 'run_id')`).pluck().all() as string[]).map((c) => `quote(${c})`).join(` || '|' || `)
    return db.prepare(`SELECT ${cols} FROM requests WHERE run_id = ? ORDER BY line, side_rank, repeat`).pluck().all(runId) as string[]
  } finally {
    db.close()
  }
}

async function replay(name: string, input: ShadowOptionsInput, threads: number) {
  const file = path.join(dir, `${name}-${threads}.db`)
  const store = openStore(file)
  try {
    const result = await startShadow(input, store, {threads})
    return {file, result, rows: rows(file, result.run.id), views: await runViews(file, result.run)}
  } finally {
    store.close()
  }
}

/** The banking bursts on one thread, replayed once for every test that compares with it. */
let bankingOnce: ReturnType<typeof replay> | null = null
const bankingOnOneThread = () => (bankingOnce ??= replay('banking', bankingRun(), 1))

const bankingRun = (): ShadowOptionsInput => ({
  traffic: burst,
  candidate: path.join(banking, 'v2-no-injection-defence'),
  baseline: path.join(banking, 'v1'),
  fixtures: path.join(banking, 'fixtures.yaml'),
  model: 'recorded',
})

describe('replay threads: the stored run is the same whatever the number of threads (#21)', () => {
  it('rate limits and tenant quotas reached in bursts (banking, three tenants): every stored column and every view', async () => {
    const one = await bankingOnOneThread()
    const three = await replay('banking', bankingRun(), 3)
    expect(one.result.threads).toBe(1)
    expect(three.result.threads).toBe(3)
    // The windows are reached, so which thread replays a tenant's requests, and in what order, counts.
    const limited = one.rows.filter((r) => r.includes('RATE_LIMITED_USER') || r.includes('RATE_LIMITED_TENANT'))
    expect(limited.length).toBeGreaterThan(20)
    expect(one.rows.length).toBe(240 * 2)
    expect(three.rows).toEqual(one.rows)
    expect(three.views).toEqual(one.views)
    expect(three.result.progress.status).toEqual(one.result.progress.status)
    expect(three.result.progress.requests).toBe(one.result.progress.requests)
  }, 120_000)

  it('no window across requests (support refunds, the scripted model and its skill): batches go to any thread', async () => {
    const input: ShadowOptionsInput = {
      traffic: path.join(support, 'traffic.jsonl'),
      candidate: path.join(support, 'v2'),
      baseline: path.join(support, 'v1'),
      fixtures: path.join(support, 'fixtures.yaml'),
      skills: [path.join(support, 'skill', 'index.ts')],
      limit: 400,
    }
    const one = await replay('support', input, 1)
    const two = await replay('support', input, 2)
    expect(two.result.threads).toBe(2)
    expect(one.rows.length).toBe(400 * 2)
    expect(two.rows).toEqual(one.rows)
    expect(two.views).toEqual(one.views)
  }, 120_000)

  // Resuming used to start the windows empty, so a quota the uninterrupted run reached was not reached
  // after a resume, on one thread as on several: the stored requests are now replayed for their windows.
  it.each([1, 3])('a run stopped part way and resumed on %i thread(s) stores what one uninterrupted thread does', async (threads) => {
    const whole = await bankingOnOneThread()
    const file = path.join(dir, `resumed-${threads}.db`)
    const store = openStore(file)
    try {
      const controller = new AbortController()
      const first = await startShadow(bankingRun(), store, {threads, signal: controller.signal, onProgress: (p) => p.requests >= 20 && controller.abort()})
      expect(first.interrupted).toBe(true)
      const stored = rows(file, first.run.id).length
      expect(stored).toBeGreaterThan(0)
      expect(stored).toBeLessThan(whole.rows.length)
      const second = await resumeShadow(first.run.id, store, {threads})
      expect(second.progress.already_stored).toBe(stored / 2)
      expect(rows(file, first.run.id)).toEqual(whole.rows)
    } finally {
      store.close()
    }
  }, 120_000)

  // The files were read again on every thread: a bundle or fixtures file changed or removed once the
  // run had started made a thread fail (or, worse, replay from other contents than the run's hash).
  it('threads replay from the bundles and fixtures the run read, whatever becomes of the files', async () => {
    const whole = await bankingOnOneThread()
    const copy = path.join(dir, 'inputs')
    cpSync(banking, copy, {recursive: true})
    const input = {...bankingRun(), candidate: path.join(copy, 'v2-no-injection-defence'), baseline: path.join(copy, 'v1'), fixtures: path.join(copy, 'fixtures.yaml')}
    const file = path.join(dir, 'inputs-gone.db')
    const store = openStore(file)
    try {
      // Before the threads start: the run has read its inputs, and nothing may read them again.
      const result = await startShadow(input, store, {threads: 2, onRunCreated: () => rmSync(copy, {recursive: true})})
      expect(result.threads).toBe(2)
      expect(rows(file, result.run.id)).toEqual(whole.rows)
    } finally {
      store.close()
    }
  }, 120_000)

  it('a request that fails on a thread fails the run with the error one thread gives', async () => {
    // --model compromised checks each attack's goal against the run's tools: a goal no bundle has, late in the file.
    const lines = readFileSync(burst, 'utf8').trim().split('\n')
    const at = lines.findIndex((l, i) => i > 200 && (JSON.parse(l) as {attacks?: unknown[]}).attacks?.length)
    expect(at).toBeGreaterThan(200)
    const bad = JSON.parse(lines[at]!) as {attacks: {goal: {name: string}[]}[]}
    bad.attacks[0]!.goal[0]!.name = 'wire_everything_abroad'
    lines[at] = JSON.stringify(bad)
    const traffic = path.join(dir, 'bad-goal.jsonl')
    writeFileSync(traffic, lines.join('\n') + '\n')
    const errorOf = async (threads: number) => {
      const store = openStore(path.join(dir, `bad-goal-${threads}.db`))
      try {
        await startShadow({...bankingRun(), traffic, model: 'compromised'}, store, {threads})
        return null
      } catch (e) {
        const run = store.listRuns()[0]!
        return {name: (e as Error).name, message: (e as Error).message, status: run.status}
      } finally {
        store.close()
      }
    }
    const one = await errorOf(1)
    expect(one).toMatchObject({name: 'ValidationError', status: 'failed'})
    expect(one!.message).toContain(`${traffic}:${at + 1}: attacks.0.goal.0.name: "wire_everything_abroad" is not a tool of any bundle`)
    expect(await errorOf(3)).toEqual(one)
  }, 120_000)
})

describe('tenants spread over the threads by their share of a sample of the traffic', () => {
  it('pins the heaviest first, each to the thread with the least weight so far, the same way every time', async () => {
    const {pinTenants} = (await import(dist('src/shadow/replay-threads.js'))) as typeof import('../../src/shadow/replay-threads.js')
    // Pinned as first met, these shares put two tenants (65%) on one of two threads.
    expect([...pinTenants(new Map([['initech', 22], ['acme', 43], ['globex', 35]]), 2)]).toEqual([['acme', 0], ['globex', 1], ['initech', 1]])
    expect([...pinTenants(new Map([['acme', 43], ['globex', 35], ['initech', 22]]), 3)]).toEqual([['acme', 0], ['globex', 1], ['initech', 2]])
    // Equal weights: by name, each to the lowest of the least loaded threads.
    expect([...pinTenants(new Map([['b', 5], ['c', 5], ['a', 5]]), 2)]).toEqual([['a', 0], ['b', 1], ['c', 0]])
    expect(pinTenants(new Map(), 2).size).toBe(0)
  })

  it("counts the good records' tenants among the first lines", async () => {
    const {tenantSample} = (await import(dist('src/shadow/replay-threads.js'))) as typeof import('../../src/shadow/replay-threads.js')
    const head = readFileSync(burst, 'utf8').trim().split('\n').slice(0, 200)
    const mixed = path.join(dir, 'sample.jsonl')
    // A bad line counts as read and names no tenant.
    writeFileSync(mixed, [head[0], 'not json', ...head.slice(1)].join('\n') + '\n')
    const expected = new Map<string, number>()
    for (const l of head.slice(0, 179)) {
      const t = (JSON.parse(l) as {tenant: string}).tenant
      expected.set(t, (expected.get(t) ?? 0) + 1)
    }
    expect(expected.size).toBe(3)
    expect(await tenantSample(mixed, 180)).toEqual(expected)
    // At most so many bytes: the line that reaches the bound is the last one read.
    const two = Buffer.byteLength(`${head[0]}\nnot json\n`)
    expect(await tenantSample(mixed, 180, two)).toEqual(new Map([[(JSON.parse(head[0]!) as {tenant: string}).tenant, 1]]))
  })
})
