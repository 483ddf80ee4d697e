import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import type Database from 'better-sqlite3'
import {afterEach, describe, expect, it} from 'vitest'
import type {StoreError} from '../../src/errors.js'
import {ShadowStopped, resumeShadow, startShadow} from '../../src/shadow/run.js'
import {resumeCommand, withResumeHint} from '../../src/shadow/summary.js'
import {openStore, type SqliteTraceStore} from '../../src/store/sqlite.js'
import {removeTempDirs, tempDir} from '../factories/index.js'
import {repoRoot} from '../helpers/cli.js'
import {fullTrace, newRun} from '../factories/index.js'
import {pathToFileURL} from 'node:url'
import type {openTraceWriter} from '../../src/store/trace-writer.js'

// The worker thread that writes traces for a store on disk only exists compiled (dist/).
const compiled = (await import(pathToFileURL(path.join(repoRoot, 'dist', 'src', 'store', 'trace-writer.js')).href)) as {openTraceWriter: typeof openTraceWriter}

/**
 * "database or disk is full" in the middle of a run. SQLite's own SQLITE_FULL is produced by
 * capping the store's size (PRAGMA max_page_count) on the connection the run writes through (from
 * the sources the trace writer writes on that connection; see src/store/trace-writer.ts).
 */

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const skills = [path.join(scenario, 'skill', 'index.ts')]

afterEach(() => removeTempDirs())

/** The store's connection: the one the run writes its traces through. */
const connectionOf = (store: SqliteTraceStore): Database.Database => (store as unknown as {conn: {db: Database.Database}}).conn.db

describe('a store that fills up mid-run', () => {
  it('ends the run interrupted, resumable, with the cause on one line; --resume finishes it once there is room', async () => {
    const dir = tempDir('understudy-full-')
    const traffic = path.join(dir, 'traffic.jsonl')
    writeFileSync(traffic, readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').slice(0, 40).join('\n') + '\n')
    const store = openStore(path.join(dir, 'u.db'))
    const db = connectionOf(store)
    try {
      const error = await startShadow({traffic, candidate: path.join(scenario, 'v2'), fixtures: path.join(scenario, 'fixtures.yaml'), skills}, store, {
        // Full from the first trace on: not one more page may be added.
        onRunCreated: () => void db.pragma(`max_page_count = ${db.pragma('page_count', {simple: true}) as number}`),
      }).catch((e: unknown) => e)

      expect(error).toBeInstanceOf(ShadowStopped)
      expect(((error as ShadowStopped).cause as StoreError).full).toBe(true)
      const [run] = store.listRuns()
      expect((error as Error).message).toMatch(new RegExp(`^${path.join(dir, 'u.db')}: cannot store request "req-\\d+" .*: database or disk is full; run ${run!.id} interrupted$`))
      expect(run!.status).toBe('interrupted')
      expect(store.runWriter(run!.id)).toBeUndefined()
      // The command's line ends with the command that continues the run.
      expect((withResumeHint(error, 'u.db') as Error).message).toMatch(new RegExp(`; resume with: ${resumeCommand(run!.id, 'u.db')}$`))

      db.pragma('max_page_count = 1073741823')
      const resumed = await resumeShadow(run!.id, store)
      expect(resumed.run.status).toBe('completed')
      const ids = [...store.iterateTraces(run!.id, {side: 'candidate'})].map((t) => t.request_id)
      expect(ids).toHaveLength(40)
      expect(new Set(ids).size).toBe(40)
      expect(store.countTraces(run!.id, {side: 'recorded'})).toBe(40)
    } finally {
      store.close()
    }
  })
})

describe('the worker-thread trace writer', () => {
  it("hands SQLite's error code back with the error, so a run can tell a full store from others", async () => {
    const dir = tempDir('understudy-full-')
    const store = openStore(path.join(dir, 'u.db'))
    try {
      // The same trace twice: the unique key refuses the second batch on the worker's own connection.
      const run = store.createRun(newRun())
      const writer = compiled.openTraceWriter(store, run.id)
      writer.write([fullTrace('req-1', 1)])
      writer.write([fullTrace('req-1', 1)])
      const error = await writer.drain().catch((e: unknown) => e)
      await writer.close()
      expect((error as Error).message).toMatch(/trace already stored/)
      expect((error as StoreError).sqliteCode).toBe('SQLITE_CONSTRAINT_UNIQUE')
    } finally {
      store.close()
    }
  })
})
