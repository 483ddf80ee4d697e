import {closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync} from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import {StoreError} from '../errors.js'
import {canonicalJson} from '../util/canonical.js'
import {NewRun, type RunInfo} from './api.js'
import {openConnection, type StoreConnection} from './database.js'
import {decodeRun, RUN_SELECT, type RunRow} from './rows.js'
import {newRunId} from './run-id.js'
import {INSERT_GUARDRAIL_LIST} from './traces-repo.js'

/** One run to copy: the store file (as the user named it, for messages) and the run's id in it. */
export type MergeSource = {file: string; runId: string}

/** The merged run's row: what a run is created with, and what it finished as. */
export type MergedRun = NewRun & {started_at: string; finished_at: string | null; requests_total: number | null}

/**
 * Copies the traces of the `sources` runs, and the bundles `bundleHashes` names, into `target` as
 * one new `completed` run. The checks that the sources belong together are the caller's
 * (src/runs/merge.ts); this is only the copy, and it is all or nothing:
 * - an existing target gets everything in one IMMEDIATE transaction, rolled back on any failure;
 * - a new target is built in a temporary file beside it and renamed into place once closed, so a
 *   failure (or a kill) leaves no target file at all.
 * Rows are copied column for column (every stored column but the row id, the run id and generated
 * ones, read from the schema itself), so the merged traces are byte-identical to the shards', with
 * the guardrail lists they name.
 */
export function mergeRunsInto(target: string, sources: readonly MergeSource[], run: MergedRun, bundleHashes: readonly string[]): RunInfo {
  const parsed = NewRun.safeParse(run)
  if (!parsed.success) throw new StoreError(`${target}: cannot create the merged run: ${parsed.error.issues[0]?.message}`)
  const existed = existsSync(target)
  const file = existed ? target : path.join(path.dirname(path.resolve(target)), `.${path.basename(target)}.merge-${process.pid}-${Date.now()}`)
  let conn: StoreConnection | undefined
  try {
    conn = openConnection(file, {}, (c) => c)
    // A new store is a temporary file until it is whole, so SQLite need not make each transaction
    // durable on its way: one fsync of the finished file before the rename does (fsyncFile). Nor does
    // it need the WAL: rows written once, into the file, instead of into the WAL and again at each
    // checkpoint; a transaction still rolls back (its journal is kept in memory). The store is
    // published in WAL mode, as every store is.
    if (!existed) {
      conn.db.pragma('journal_mode = MEMORY')
      conn.db.pragma('synchronous = OFF')
    }
    const merged = copyAll(conn, target, sources, run, bundleHashes, existed)
    if (!existed) conn.db.pragma('journal_mode = WAL')
    conn.close()
    if (!existed) {
      // Closing the last connection checkpoints the WAL into the file, so the file alone is the store.
      fsyncFile(file)
      renameSync(file, target)
    }
    return merged
  } catch (e) {
    conn?.close()
    if (!existed) removeStore(file)
    throw e
  }
}

function copyAll(conn: StoreConnection, label: string, sources: readonly MergeSource[], run: MergedRun, bundleHashes: readonly string[], inPlace: boolean): RunInfo {
  const {db} = conn
  const columns = copiedColumns(conn)
  const list = columns.map((c) => `"${c}"`).join(', ')
  const insertRun = db.prepare(
    `INSERT INTO runs (id, name, status, started_at, finished_at, candidate_ref, candidate_hash, baseline_ref, baseline_hash,
       traffic_file, traffic_hash, model, repeat, faults, seed, requests_total, config_json)
     VALUES (?, ?, 'completed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const runExists = db.prepare('SELECT 1 FROM runs WHERE id = ?').pluck()
  const id = freshId((candidate) => runExists.get(candidate) !== undefined)
  const createRun = (): void => {
    insertRun.run(
      id, run.name, run.started_at, run.finished_at, run.candidate_ref, run.candidate_hash, run.baseline_ref, run.baseline_hash,
      run.traffic_file, run.traffic_hash, run.model, run.repeat, run.faults, run.seed, run.requests_total, canonicalJson(run.config),
    )
  }
  const bundlesWanted = new Set(bundleHashes)
  const copyRows = rowCopier(conn, id, list, columns.length, bundlesWanted)
  if (inPlace) {
    // An existing store gets the whole run in one transaction, and ATTACH cannot run inside one: the
    // rows go through here, one by one.
    conn.guard(
      conn.immediate(() => {
        createRun()
        for (const source of sources) withSource(source, (src) => copyRows(src, source))
      }),
    )
  } else {
    // A new store is renamed into place only once whole, so each shard may be copied in a transaction
    // of its own, inside SQLite (ATTACH, INSERT … SELECT) rather than row by row through here.
    conn.guard(conn.immediate(createRun))
    for (const source of sources) {
      if (!copyAttached(conn, label, source, id, list, bundlesWanted)) conn.guard(conn.immediate(() => withSource(source, (src) => copyRows(src, source))))
    }
  }
  const row = db.prepare(`${RUN_SELECT} WHERE id = ?`).get(id) as RunRow | undefined
  if (row === undefined) throw conn.noRun(`${id} in ${label}`)
  return decodeRun(row)
}

const BUNDLE_COLUMNS = 'hash, ref, manifest_json, first_seen_at, templates_json'

/** Copies one source run's traces, their guardrail lists and the bundles still wanted, row by row, into run `id`. */
function rowCopier(conn: StoreConnection, id: string, list: string, width: number, bundlesWanted: Set<string>): (src: StoreConnection['db'], source: MergeSource) => void {
  const {db} = conn
  const insertTrace = db.prepare(`INSERT INTO requests (run_id, ${list}) VALUES (?${', ?'.repeat(width)})`)
  const insertBundle = db.prepare(`INSERT OR IGNORE INTO bundles (${BUNDLE_COLUMNS}) VALUES (?, ?, ?, ?, ?)`)
  // Lists are stored under a key of their content (src/store/schema.ts): the same in every store.
  const insertList = db.prepare(INSERT_GUARDRAIL_LIST)
  return (src, source) => {
    for (const hash of bundlesWanted) {
      const b = src.prepare(`SELECT ${BUNDLE_COLUMNS} FROM bundles WHERE hash = ?`).raw().get(hash) as unknown[] | undefined
      if (b === undefined) continue
      insertBundle.run(...b)
      bundlesWanted.delete(hash)
    }
    const rows = src.prepare(`SELECT ${list} FROM requests WHERE run_id = ? ORDER BY line, side_rank, repeat`).raw().iterate(source.runId)
    for (const row of rows) insertTrace.run(id, ...(row as unknown[]))
    const lists = src
      .prepare('SELECT key, json FROM guardrail_lists WHERE key IN (SELECT guardrail_list FROM requests WHERE run_id = ?)')
      .raw()
      .iterate(source.runId)
    for (const l of lists) insertList.run(...(l as unknown[]))
  }
}

/**
 * What rowCopier copies, as three statements run by SQLite over the source attached read-only, in a
 * transaction of its own. False, with nothing copied, when the source cannot be attached (a store in
 * a directory this user cannot write to, whose `-shm` SQLite cannot create: openConnection opens
 * such a store immutable, and the rows are copied through it instead).
 */
function copyAttached(conn: StoreConnection, label: string, source: MergeSource, id: string, list: string, bundlesWanted: Set<string>): boolean {
  const {db} = conn
  try {
    db.prepare('ATTACH DATABASE ? AS shard').run(`${pathToFileURL(path.resolve(source.file)).href}?mode=ro`)
    // The attach is lazy: reading the schema is what opens the file.
    db.prepare('SELECT count(*) FROM shard.sqlite_master').pluck().get()
  } catch {
    detach(db)
    return false
  }
  try {
    conn.guard(
      conn.immediate(() => {
        for (const hash of [...bundlesWanted]) {
          if (db.prepare('SELECT 1 FROM shard.bundles WHERE hash = ?').pluck().get(hash) === undefined) continue
          db.prepare(`INSERT OR IGNORE INTO main.bundles (${BUNDLE_COLUMNS}) SELECT ${BUNDLE_COLUMNS} FROM shard.bundles WHERE hash = ?`).run(hash)
          bundlesWanted.delete(hash)
        }
        db.prepare(`INSERT INTO main.requests (run_id, ${list}) SELECT ?, ${list} FROM shard.requests WHERE run_id = ? ORDER BY line, side_rank, repeat`).run(id, source.runId)
        db.prepare('INSERT OR IGNORE INTO main.guardrail_lists (key, json) SELECT key, json FROM shard.guardrail_lists WHERE key IN (SELECT guardrail_list FROM shard.requests WHERE run_id = ?)').run(source.runId)
      }),
    )
  } catch (e) {
    // The target is still a temporary file: the message names the shard and the store asked for.
    const message = String((e as Error)?.message ?? e)
    const why = message.startsWith(`${conn.label}: `) ? message.slice(conn.label.length + 2) : message
    throw new StoreError(`${source.file}: cannot merge run ${source.runId} into ${label}: ${why}`, {cause: e})
  } finally {
    detach(db)
  }
  return true
}

function detach(db: StoreConnection['db']): void {
  try {
    db.prepare('DETACH DATABASE shard').run()
  } catch {
    // Not attached (the attach failed before it took): nothing to undo.
  }
}

/** Every column of `requests` a trace is made of: not the row id, not the run, not generated ones. */
function copiedColumns(conn: StoreConnection): string[] {
  const info = conn.db.prepare('SELECT name, hidden FROM pragma_table_xinfo(?)').all('requests') as {name: string; hidden: number}[]
  return info.filter((c) => c.hidden === 0 && c.name !== 'id' && c.name !== 'run_id').map((c) => c.name)
}

/** A source store opened read-only for the length of `fn`; its driver errors name its file. */
function withSource(source: MergeSource, fn: (db: StoreConnection['db']) => void): void {
  const conn = openConnection(source.file, {readonly: true}, (c) => c)
  try {
    conn.guard(() => fn(conn.db))
  } finally {
    conn.close()
  }
}

function freshId(taken: (id: string) => boolean): string {
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = newRunId()
    if (!taken(id)) return id
  }
  throw new StoreError('cannot draw a run id that is not taken')
}

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

function removeStore(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) rmSync(f, {force: true})
}
