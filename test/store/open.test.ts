import {existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {StoreError} from '../../src/errors.js'
import {SCHEMA_SQL, SCHEMA_VERSION} from '../../src/store/schema.js'
import {openStore} from '../../src/store/sqlite.js'
import {fullTrace, newRun} from '../factories/index.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-open-'))
})
afterEach(() => {
  rmSync(dir, {recursive: true, force: true})
})

function storeError(fn: () => unknown): StoreError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError)
    return e as StoreError
  }
  throw new Error('expected a StoreError, nothing was thrown')
}

/** Bytes and mtime: the proof that a refused file was not written. */
function fingerprint(file: string): {bytes: Buffer; mtimeMs: number} {
  return {bytes: readFileSync(file), mtimeMs: statSync(file).mtimeMs}
}

function tables(file: string): string[] {
  const db = new Database(file, {readonly: true})
  const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[]
  db.close()
  return names
}

function names(file: string, type: 'table' | 'index' | 'view'): string[] {
  const db = new Database(file, {readonly: true})
  try {
    return db.prepare('SELECT name FROM sqlite_schema WHERE type = ? AND sql IS NOT NULL ORDER BY name').pluck().all(type) as string[]
  } finally {
    db.close()
  }
}

describe('opening', () => {
  it('creates the current schema in an empty database, creating the directory', () => {
    const file = path.join(dir, 'a', 'b', 'understudy.db')
    const store = openStore(file)
    expect(store.path).toBe(file)
    store.close()
    expect(tables(file)).toEqual(['approval_decisions', 'bundle_history', 'bundles', 'drills', 'guardrail_lists', 'model_exchanges', 'requests', 'run_writers', 'runs'])
    expect(names(file, 'index')).toEqual(['approval_decisions_by_run', 'bundle_history_by_hash', 'requests_by_line'])
    expect(names(file, 'view')).toEqual(['trace_guardrails', 'trace_policy_decisions', 'trace_steps', 'trace_tool_calls'])
    const db = new Database(file, {readonly: true})
    expect(db.pragma('user_version', {simple: true})).toBe(SCHEMA_VERSION)
    expect(db.pragma('page_size', {simple: true})).toBe(16_384)
    db.close()
  })

  it('re-opens idempotently, keeping data', () => {
    const file = path.join(dir, 'understudy.db')
    let store = openStore(file)
    const run = store.createRun(newRun())
    store.writeTraces(run.id, [fullTrace('a', 1)])
    store.close()
    store = openStore(file)
    store.close()
    store = openStore(file)
    expect(store.getRun(run.id)?.requests_done).toBe(1)
    expect([...store.iterateTraces(run.id)]).toStrictEqual([fullTrace('a', 1)])
    store.close()
    expect(tables(file)).toEqual(['approval_decisions', 'bundle_history', 'bundles', 'drills', 'guardrail_lists', 'model_exchanges', 'requests', 'run_writers', 'runs'])
    const db = new Database(file, {readonly: true})
    expect(db.pragma('user_version', {simple: true})).toBe(SCHEMA_VERSION)
    db.close()
  })

  it('keeps the page size of a store created with another one, and reads and writes it', () => {
    const file = path.join(dir, 'small-pages.db')
    const db = new Database(file)
    db.pragma('page_size = 4096')
    db.exec(SCHEMA_SQL)
    db.pragma(`user_version = ${SCHEMA_VERSION}`)
    db.close()
    const store = openStore(file)
    const run = store.createRun(newRun())
    store.writeTraces(run.id, [fullTrace('a', 1)])
    expect([...store.iterateTraces(run.id)]).toStrictEqual([fullTrace('a', 1)])
    store.close()
    const raw = new Database(file, {readonly: true})
    expect(raw.pragma('page_size', {simple: true})).toBe(4096)
    raw.close()
  })

  it("sizes a connection's page cache when asked (the trace writer's), else keeps the driver's", () => {
    const file = path.join(dir, 'cache.db')
    const cacheOf = (store: ReturnType<typeof openStore>) => (store as unknown as {conn: {db: Database.Database}}).conn.db.pragma('cache_size', {simple: true})
    const sized = openStore(file, {cacheKiB: 4096})
    expect(cacheOf(sized)).toBe(-4096)
    sized.close()
    const plain = openStore(file)
    expect(cacheOf(plain)).toBe(-16000)
    plain.close()
  })

  it('turns on WAL and foreign keys', () => {
    const file = path.join(dir, 'understudy.db')
    const store = openStore(file)
    const run = store.createRun(newRun())
    store.writeTraces(run.id, [fullTrace('a', 1)])
    // WAL is a property of the file; a second connection sees it.
    const db = new Database(file)
    expect(db.pragma('journal_mode', {simple: true})).toBe('wal')
    db.close()
    // Foreign keys are per connection: the store's own deletes must cascade.
    expect(store.deleteRun(run.id)).toBe(true)
    store.close()
    const raw = new Database(file, {readonly: true})
    expect(raw.prepare('SELECT count(*) FROM requests').pluck().get()).toBe(0)
    expect(raw.prepare('SELECT count(*) FROM trace_steps').pluck().get()).toBe(0)
    raw.close()
  })

  it.each(['DELETE', 'WAL'])('refuses a database from a newer build (%s journal) and leaves it untouched', (mode) => {
    const file = path.join(dir, 'future.db')
    openStore(file).close()
    const db = new Database(file)
    db.pragma(`journal_mode = ${mode}`)
    db.pragma('user_version = 99')
    db.close()
    utimesSync(file, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'))
    const before = fingerprint(file)
    const expected =
      `${file}: written by a newer understudy (schema v99, this build knows up to v${SCHEMA_VERSION}); ` +
      'upgrade understudy or pass another --db'
    expect(storeError(() => openStore(file)).message).toBe(expected)
    expect(storeError(() => openStore(file, {readonly: true})).message).toBe(expected)
    expect(fingerprint(file)).toEqual(before)
    // A rollback-journal file must not have been switched to WAL behind the user's back.
    if (mode === 'DELETE') expect(existsSync(`${file}-wal`)).toBe(false)
  })

  it.each([
    [5, 'DELETE'],
    [5, 'WAL'],
    [1, 'DELETE'],
    [SCHEMA_VERSION - 1, 'WAL'],
  ])('refuses a store of an older schema (v%i, %s journal) with one line saying what to do, and leaves it untouched', (version, mode) => {
    const file = path.join(dir, 'old.db')
    const db = new Database(file)
    db.pragma(`journal_mode = ${mode}`)
    // Something of an older layout: a child table of rows, as old builds kept steps.
    db.exec('CREATE TABLE steps (request_rowid INTEGER NOT NULL, pos INTEGER NOT NULL, detail TEXT, PRIMARY KEY (request_rowid, pos))')
    db.prepare('INSERT INTO steps VALUES (1, 0, ?)').run('planned')
    db.pragma(`user_version = ${version}`)
    db.close()
    utimesSync(file, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'))
    const before = fingerprint(file)
    const expected =
      `${file}: written by an older understudy (schema v${version}); this build reads schema v${SCHEMA_VERSION} only: ` +
      'replay the traffic into a new store (`understudy shadow … --db <new file>`)'
    for (const readonly of [false, true]) {
      const e = storeError(() => openStore(file, {readonly}))
      expect(e.message).toBe(expected)
      expect(e.message).not.toContain('\n')
    }
    expect(fingerprint(file)).toEqual(before)
    if (mode === 'DELETE') expect(existsSync(`${file}-wal`)).toBe(false)
    expect(tables(file)).toEqual(['steps'])
  })

  it.each([
    [7, ['golden_json', 'guardrail_failures_json']],
    [8, ['guardrail_failures_json']],
  ])('refuses a v%i store (this schema without %j), untouched', (version, missing) => {
    const file = path.join(dir, `v${version}.db`)
    let ddl = SCHEMA_SQL
    for (const column of missing) ddl = ddl.replace(new RegExp(`^ *${column} .*\\n`, 'm'), '')
    expect(ddl.length).toBeLessThan(SCHEMA_SQL.length)
    const db = new Database(file)
    db.exec(ddl)
    db.pragma(`user_version = ${version}`)
    db.close()
    const before = fingerprint(file)
    for (const readonly of [true, false]) {
      expect(storeError(() => openStore(file, {readonly})).message).toBe(
        `${file}: written by an older understudy (schema v${version}); this build reads schema v${SCHEMA_VERSION} only: ` +
          'replay the traffic into a new store (`understudy shadow … --db <new file>`)',
      )
    }
    expect(fingerprint(file)).toEqual(before)
  })

  it('refuses a file that is not a SQLite database, without touching it', () => {
    const file = path.join(dir, 'notes.db')
    writeFileSync(file, 'this is a text file, not a database\n'.repeat(200))
    const before = fingerprint(file)
    const e = storeError(() => openStore(file))
    expect(e.message).toBe(`${file}: not a SQLite database (file is not a database)`)
    expect(e.message).not.toContain('\n')
    expect(fingerprint(file)).toEqual(before)
  })

  it('refuses a SQLite database that belongs to something else', () => {
    const file = path.join(dir, 'other.db')
    const db = new Database(file)
    db.exec('CREATE TABLE runs (x)')
    db.close()
    expect(storeError(() => openStore(file)).message).toMatch(/other\.db: not an understudy trace store/)
  })

  it('reports a corrupt database as a one-line error naming the file', () => {
    const file = path.join(dir, 'corrupt.db')
    const store = openStore(file)
    const run = store.createRun(newRun())
    store.writeTraces(run.id, Array.from({length: 50}, (_, i) => fullTrace(`q${i}`, i + 1)))
    store.close()
    const bytes = readFileSync(file)
    const pageSize = bytes.readUInt16BE(16)
    // Keep the header page, scribble over every other page.
    for (let off = pageSize; off < bytes.length; off++) bytes[off] = (off * 31) & 0xff
    writeFileSync(file, bytes)
    const e = storeError(() => {
      const s = openStore(file)
      try {
        s.listRuns()
        ;[...s.iterateTraces(run.id)]
      } finally {
        s.close()
      }
    })
    expect(e.message.startsWith(`${file}: `)).toBe(true)
    expect(e.message).toMatch(/malformed|corrupt|not a database/)
    expect(e.message).not.toContain('\n')
  })

  it('opens read-only: missing file is a clear error, reads work, writes are refused', () => {
    const missing = path.join(dir, 'missing', 'none.db')
    expect(storeError(() => openStore(missing, {readonly: true})).message).toBe(
      `${missing}: no trace store there (opened read-only, so none was created)`,
    )
    expect(existsSync(path.dirname(missing))).toBe(false)

    const file = path.join(dir, 'understudy.db')
    const rw = openStore(file)
    const run = rw.createRun(newRun())
    rw.writeTraces(run.id, [fullTrace('a', 1)])
    const ro = openStore(file, {readonly: true})
    expect(ro.getRun(run.id)?.requests_done).toBe(1)
    expect([...ro.iterateTraces(run.id)]).toStrictEqual([fullTrace('a', 1)])
    expect(() => ro.writeTraces(run.id, [fullTrace('b', 2)])).toThrow(/readonly/)
    ro.close()
    rw.close()
    // With no writer left (WAL and shared-memory files gone), a read-only open still reads.
    const alone = openStore(file, {readonly: true})
    expect(alone.countTraces(run.id)).toBe(1)
    alone.close()
  })

  it('refuses a directory', () => {
    expect(storeError(() => openStore(dir)).message).toBe(`${dir}: is a directory, not a trace store file`)
  })
})
