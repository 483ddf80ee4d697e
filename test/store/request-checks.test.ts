import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {openConnection} from '../../src/store/database.js'
import {badRequestParam, REQUEST_INSERT_COLUMNS, requestParams} from '../../src/store/rows.js'
import {openStore} from '../../src/store/sqlite.js'
import {fullTrace, newRun} from '../factories/index.js'

/**
 * The trace writer's connection has SQLite evaluate no CHECK constraint; TracesRepo makes the
 * `requests` table's checks itself (badRequestParam). These hold the two to the same answers: a row
 * that only a connection evaluating CHECKs refuses is exactly a row badRequestParam names.
 */
let dir: string
let checked: ReturnType<typeof open>
let unchecked: ReturnType<typeof open>
let runId: string

function open(file: string, checks: boolean) {
  return openConnection(file, checks ? {} : {checks: false}, (conn) => {
    const insert = conn.db.prepare(`INSERT INTO requests (${REQUEST_INSERT_COLUMNS.join(', ')}) VALUES (${REQUEST_INSERT_COLUMNS.map(() => '?').join(', ')})`)
    return {
      conn,
      /** Whether SQLite takes the row (inside a savepoint rolled back: nothing stays). */
      takes(row: unknown[]): boolean {
        conn.db.exec('SAVEPOINT probe')
        try {
          insert.run(row)
          return true
        } catch {
          return false
        } finally {
          conn.db.exec('ROLLBACK TO probe; RELEASE probe')
        }
      },
    }
  })
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-checks-'))
  const file = path.join(dir, 'store.db')
  const store = openStore(file)
  runId = store.createRun(newRun()).id
  store.close()
  checked = open(file, true)
  unchecked = open(file, false)
})

afterAll(() => {
  checked.conn.close()
  unchecked.conn.close()
  rmSync(dir, {recursive: true, force: true})
})

const col = (c: (typeof REQUEST_INSERT_COLUMNS)[number]) => REQUEST_INSERT_COLUMNS.indexOf(c)
const CASES: [(typeof REQUEST_INSERT_COLUMNS)[number], unknown[]][] = [
  ['line', [0, -1, 1, 2, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '3', null, 0n, 2n]],
  ['side', ['candidate', 'baseline', 'recorded', 'other', '', 'Candidate', 1, null]],
  ['repeat', [-1, 0, 3, -0.5, Number.NaN]],
  ['input_tokens', [-1, 0, 7, Number.NaN, -1n, 7n]],
  ['output_tokens', [-1, 0, 7]],
  ['model_calls', [-1, 0, 2]],
  ['cost_usd', [-0.01, 0, -0, 0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]],
  ['latency_ms', [-1, 0, 12.5, Number.NaN, Number.POSITIVE_INFINITY]],
]

describe("the requests table's CHECKs, made in JavaScript where SQLite makes none", () => {
  it('a good row passes both', () => {
    const row = requestParams(runId, fullTrace('req-ok', 1))
    expect(badRequestParam(row)).toBeUndefined()
    expect(checked.takes(row)).toBe(true)
  })

  it.each(CASES)('%s: refused in JavaScript exactly where only the CHECK refuses it, naming the column', (name, values) => {
    let n = 0
    for (const value of values) {
      const row = requestParams(runId, fullTrace(`req-${name}-${n++}`, 1))
      row[col(name)] = value
      const byCheck = !checked.takes(row) && unchecked.takes(row)
      const js = badRequestParam(row)
      if (byCheck) expect([value, js]).toEqual([value, expect.stringMatching(new RegExp(`^${name}: invalid value`))])
      // Beyond the CHECKs, JavaScript may be stricter (a number's text), never looser: whatever it
      // lets through, a connection evaluating CHECKs takes or STRICT refuses on either connection.
      if (js === undefined) expect([value, checked.takes(row) || !unchecked.takes(row)]).toEqual([value, true])
      if (typeof value === 'number' && !Number.isNaN(value) && Number.isInteger(value)) expect([value, js === undefined]).toEqual([value, checked.takes(row)])
    }
  })
})
