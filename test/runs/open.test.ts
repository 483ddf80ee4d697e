import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {StoreError} from '../../src/errors.js'
import {findRun, openExistingStore, openRun} from '../../src/runs/open.js'
import type {NewRun, RunInfo} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'

const NEW_RUN: NewRun = {
  name: null,
  candidate_ref: 'support@2.0.0#abcdef123456',
  candidate_hash: 'abcdef',
  baseline_ref: 'recorded',
  baseline_hash: null,
  traffic_file: 'traffic.jsonl',
  traffic_hash: 'f00',
  model: 'scripted',
  repeat: 1,
  faults: null,
  seed: 0,
  config: {},
}

let dir: string
let db: string
let runs: RunInfo[]

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-open-run-'))
  db = path.join(dir, 'store.db')
  const store = openStore(db)
  try {
    runs = [store.createRun(NEW_RUN), store.createRun(NEW_RUN)]
  } finally {
    store.close()
  }
})

afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** The error `fn` throws; fails the test when it throws none. */
function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (e) {
    return e as Error
  }
  throw new Error('expected an error')
}

describe('openRun', () => {
  it('opens a run by its full id or a unique prefix, read-only', () => {
    const [a, b] = runs as [RunInfo, RunInfo]
    let i = 0
    while (a.id[i] === b.id[i]) i++
    for (const id of [a.id, a.id.slice(0, i + 1)]) {
      const opened = openRun(db, id)
      try {
        expect(opened.run.id).toBe(a.id)
        expect(() => opened.store.createRun(NEW_RUN)).toThrow(StoreError)
      } finally {
        opened.store.close()
      }
    }
  })

  it('names the missing store file and the run it was asked for, and creates no store', () => {
    const missing = path.join(dir, 'nowhere.db')
    const e = thrown(() => openRun(missing, 'r2026'))
    expect(e).toBeInstanceOf(StoreError)
    expect(e.message).toBe(`${missing}: no trace store there, so no run r2026`)
    expect(existsSync(missing)).toBe(false)
  })

  it('names the store as given and the id when no run matches', () => {
    const e = thrown(() => openRun(db, 'nope'))
    expect(e).toBeInstanceOf(StoreError)
    expect(e.message).toBe(`${db}: no run matches "nope"`)
  })

  it('refuses an ambiguous prefix, listing the runs it matches', () => {
    const e = thrown(() => openRun(db, 'r'))
    expect(e).toBeInstanceOf(StoreError)
    expect(e.message).toBe(`${db}: run id prefix "r" is ambiguous: ${runs.map((r) => r.id).sort().join(', ')}`)
  })
})

describe('findRun', () => {
  it('gives the same error over an open store, naming its path', () => {
    const store = openStore(db, {readonly: true})
    try {
      expect(findRun(store, runs[1]!.id).id).toBe(runs[1]!.id)
      expect(thrown(() => findRun(store, 'nope')).message).toBe(`${store.path}: no run matches "nope"`)
    } finally {
      store.close()
    }
  })
})

describe('openExistingStore', () => {
  it('never creates a store', () => {
    const missing = path.join(dir, 'none.db')
    expect(thrown(() => openExistingStore(missing))).toBeInstanceOf(StoreError)
    expect(existsSync(missing)).toBe(false)
  })
})
