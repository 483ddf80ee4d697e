import {existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {RequestTrace} from '../../src/trace/schema.js'
import {openStore} from '../../src/store/sqlite.js'
import {openTraceWriter as openFromSource} from '../../src/store/trace-writer.js'
import {repoRoot} from '../helpers/cli.js'
import {fullTrace, newRun} from '../factories/index.js'

// The worker thread only exists compiled (dist/; `npm test` builds first); from the sources the
// writer falls back to synchronous writes. Both are exercised here.
type Open = typeof openFromSource
const compiled = (await import(pathToFileURL(path.join(repoRoot, 'dist', 'src', 'store', 'trace-writer.js')).href)) as {openTraceWriter: Open}

let dir: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-writer-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const batch = (from: number, n: number): RequestTrace[] => Array.from({length: n}, (_, i) => fullTrace(`req-${from + i}`, from + i))

describe.each([
  ['worker thread (compiled)', compiled.openTraceWriter],
  ['synchronous (sources)', openFromSource],
])('trace writer: %s', (_label, openTraceWriter) => {
  it('commits every batch, in order, before drain resolves', async () => {
    const store = openStore(path.join(dir, 'a.db'))
    const run = store.createRun(newRun())
    const writer = openTraceWriter(store, run.id)
    for (let b = 0; b < 5; b++) writer.write(batch(1 + b * 20, 20))
    await writer.drain()
    expect(writer.backlog).toBe(0)
    expect(store.countTraces(run.id)).toBe(100)
    expect([...store.iterateTraces(run.id)].map((t) => t.line)).toEqual(Array.from({length: 100}, (_, i) => i + 1))
    expect([...store.iterateTraces(run.id, {requestId: 'req-7'})][0]).toEqual(fullTrace('req-7', 7))
    await writer.close()
    store.close()
  })

  it('add() queues traces for the next flush, which hands them over as one batch', async () => {
    const store = openStore(path.join(dir, 'q.db'))
    const run = store.createRun(newRun())
    const writer = openTraceWriter(store, run.id)
    writer.add(batch(1, 2))
    writer.add([])
    writer.add(batch(3, 1))
    expect(writer.queued).toBe(3)
    writer.flush()
    expect(writer.queued).toBe(0)
    writer.flush() // nothing queued: no batch
    await writer.drain()
    expect(store.countTraces(run.id)).toBe(3)
    expect([...store.iterateTraces(run.id, {requestId: 'req-3'})][0]).toEqual(fullTrace('req-3', 3))
    await writer.close()
    store.close()
  })

  it('keeps the order of a row the packer cannot carry (sent as it is) among packed ones', async () => {
    const file = path.join(dir, 'o.db')
    const store = openStore(file)
    const run = store.createRun(newRun())
    const writer = openTraceWriter(store, run.id)
    writer.add(batch(1, 2))
    // A BigInt is no value the packer carries; SQLite stores it as the number it is.
    writer.add([{...fullTrace('req-3', 3), input_tokens: 7n as unknown as number}])
    writer.add(batch(4, 2))
    writer.flush()
    await writer.drain()
    await writer.close()
    store.close()
    const db = new Database(file, {readonly: true})
    expect(db.prepare('SELECT line, input_tokens FROM requests ORDER BY id').raw().all()).toEqual(
      [1, 2, 3, 4, 5].map((line) => [line, line === 3 ? 7 : fullTrace(`req-${line}`, line).input_tokens]),
    )
    db.close()
  })

  it('drops the traces added since the last flush when one of them is refused', async () => {
    const store = openStore(path.join(dir, 'd.db'))
    const run = store.createRun(newRun())
    const writer = openTraceWriter(store, run.id)
    const bad = {...fullTrace('req-3', 3), steps: [{...fullTrace('req-3', 3).steps[0]!, latency_ms: -1}]}
    writer.write(batch(1, 1))
    let thrown: unknown = null
    try {
      writer.add(batch(2, 1))
      writer.add([bad])
      writer.flush()
      await writer.drain()
    } catch (e) {
      thrown = e
    }
    expect(thrown).toMatchObject({name: 'StoreError'})
    await writer.close()
    expect([...store.iterateTraces(run.id)].map((t) => t.request_id)).toEqual(['req-1'])
    store.close()
  })

  it('reports a failed batch as a StoreError naming the trace, keeps earlier batches and refuses later ones', async () => {
    const store = openStore(path.join(dir, 'b.db'))
    const run = store.createRun(newRun())
    const writer = openTraceWriter(store, run.id)
    let thrown: unknown = null
    try {
      writer.write(batch(1, 10))
      writer.write(batch(5, 2)) // req-5 is already stored
      writer.write(batch(11, 10))
      await writer.drain()
    } catch (e) {
      thrown = e
    }
    expect(thrown).toMatchObject({name: 'StoreError'})
    expect(String((thrown as Error).message)).toMatch(/trace already stored: request "req-5"/)
    await writer.close()
    expect(store.countTraces(run.id)).toBe(10)
    store.close()
  })

  // The writer's thread inserts without SQLite's per-row foreign-key check: what keeps a trace from
  // outliving its run is the run's check in each batch's own transaction.
  it('stores nothing for a run deleted between two batches, and leaves no trace without its run', async () => {
    const file = path.join(dir, 'd.db')
    const store = openStore(file)
    const run = store.createRun(newRun())
    const writer = openTraceWriter(store, run.id)
    writer.write(batch(1, 5))
    await writer.drain()
    const other = openStore(file)
    expect(other.deleteRun(run.id)).toBe(true)
    other.close()
    let thrown: unknown = null
    try {
      writer.write(batch(6, 5))
      await writer.drain()
    } catch (e) {
      thrown = e
    }
    expect(String((thrown as Error | null)?.message)).toContain(`no run ${run.id}`)
    await writer.close()
    store.close()
    const raw = new Database(file, {readonly: true})
    try {
      expect(raw.prepare('SELECT count(*) FROM requests').pluck().get()).toBe(0)
      expect(raw.pragma('foreign_key_check')).toEqual([])
    } finally {
      raw.close()
    }
  })

  // The writer thread's connection has SQLite evaluate no CHECK (TracesRepo makes them): a trace
  // breaking one is refused all the same, as one the encoders reject, naming it and the column.
  it.each([
    ['a step the row encoders reject', {steps: [{...fullTrace('req-12', 12).steps[0]!, latency_ms: -1}]}, 'line 12', /steps\[0\]\.latency_ms: invalid value -1/],
    ['input_tokens breaking the table CHECK', {input_tokens: -1}, 'line 12', /input_tokens/],
    ['cost_usd breaking the table CHECK', {cost_usd: -0.5}, 'line 12', /cost_usd/],
    ['line breaking the table CHECK', {line: 0}, 'line 0', /line/],
  ] as const)('refuses a trace with %s as a StoreError naming it, earlier batches kept', async (_what, change, line, field) => {
    const store = openStore(path.join(dir, 'c.db'))
    const run = store.createRun(newRun())
    const writer = openTraceWriter(store, run.id)
    const bad = {...fullTrace('req-12', 12), ...change}
    let thrown: unknown = null
    try {
      writer.write(batch(1, 10))
      writer.write([...batch(11, 1), bad])
      writer.write(batch(13, 10))
      await writer.drain()
    } catch (e) {
      thrown = e
    }
    expect(thrown).toMatchObject({name: 'StoreError'})
    const message = String((thrown as Error).message)
    expect(message).toMatch(new RegExp(`cannot store request "req-12" \\(${line}, candidate, repeat 0\\) of run \\S+: `))
    expect(message.slice(message.indexOf(' of run '))).toMatch(field)
    await writer.close()
    expect(store.countTraces(run.id)).toBe(10)
    store.close()
  })
})

describe('trace writer: worker thread closed before its first batch', () => {
  const openFiles = (): Set<string> => {
    const out = new Set<string>()
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`)
        if (target.startsWith(repoRoot)) out.add(`${fd} ${target}`)
      } catch {
        // closed while listing
      }
    }
    return out
  }

  // A run that fails at its first model call closes the writer at once; stopping the worker while
  // it still read its modules left those files open in this process for good.
  it.runIf(existsSync('/proc/self/fd'))('leaves no file of the worker open', async () => {
    const store = openStore(path.join(dir, 'early.db'))
    const run = store.createRun(newRun())
    const before = openFiles()
    // Closed at once and after up to 300 ms (a worker takes ~50 ms to start alone, several times
    // that in a busy test process): some of these land while the worker reads its modules.
    for (let ms = 0; ms <= 300; ms += 20) {
      const writer = compiled.openTraceWriter(store, run.id)
      await new Promise((r) => setTimeout(r, ms))
      await writer.close()
    }
    await new Promise((r) => setTimeout(r, 500))
    expect([...openFiles()].filter((f) => !before.has(f))).toEqual([])
    store.close()
  })
})

describe('trace writer on an in-memory store', () => {
  it('writes synchronously (a worker cannot share the connection)', async () => {
    const store = openStore(':memory:')
    const run = store.createRun(newRun())
    const writer = compiled.openTraceWriter(store, run.id)
    writer.write(batch(1, 3))
    expect(store.countTraces(run.id)).toBe(3)
    await writer.close()
    store.close()
  })
})
