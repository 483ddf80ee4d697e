import {existsSync, mkdirSync, statSync} from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import Database from 'better-sqlite3'
import {StoreError} from '../errors.js'
import {SCHEMA_SQL, SCHEMA_VERSION} from './schema.js'

export type OpenStoreOptions = {
  readonly?: boolean
  /** SQLite's page cache of this connection, KiB (better-sqlite3 builds SQLite with 16,000). */
  cacheKiB?: number
  /**
   * false: this connection does not enforce foreign keys (every other one does). Only for a
   * connection whose writes check their parent rows themselves inside the same IMMEDIATE
   * transaction, as the trace writer's thread does (TracesRepo checks the run once per batch,
   * under the write lock no delete can pass), where SQLite's check of each inserted trace row
   * against `runs` was a noticeable share of that thread's inserts (docs/performance.md).
   */
  foreignKeys?: false
  /**
   * false: SQLite evaluates no CHECK constraint on this connection (every other one does; STRICT
   * types and NOT NULL still hold), and TracesRepo makes the `requests` table's checks on each row
   * in JavaScript instead (rows.ts badRequestParam): SQLite's evaluation of them was ~1.4 µs of each
   * row's ~7 µs insert (docs/performance.md). Only for a connection that writes nothing else with
   * a CHECK, as the trace writer's thread (traces and guardrail lists).
   */
  checks?: false
}

/** How long a writer waits for another process's lock before giving up with "database is locked". */
const BUSY_TIMEOUT_MS = 5000

// SQLite reads `file:` URIs (the immutable fallback of openDatabase) only when told so before its
// first connection; better-sqlite3 reads this from the environment once, when it first opens one.
process.env.SQLITE_USE_URI ??= '1'

/**
 * The one connection a store's repositories share, and the store's error conventions: every
 * driver error leaves as a one-line StoreError naming the file; our own errors pass through.
 */
export class StoreConnection {
  /** Cursors still being iterated, ended on close so that close always succeeds. */
  private readonly cursors = new Set<() => void>()

  constructor(
    readonly db: Database.Database,
    /** Absolute path of the database file (`:memory:` for an in-memory store). */
    readonly path: string,
    /** The file as the user named it, for messages. */
    readonly label: string,
    /** Whether SQLite evaluates CHECK constraints on this connection (OpenStoreOptions.checks). */
    readonly checks = true,
  ) {}

  /** Driver errors become one-line StoreErrors naming the file; ours pass through. */
  guard<T>(fn: () => T): T {
    try {
      return fn()
    } catch (e) {
      throw this.storeError(e)
    }
  }

  storeError(e: unknown): unknown {
    if (e instanceof StoreError || !isDriverError(e)) return e
    return new StoreError(`${this.label}: ${e.message}`, {cause: e})
  }

  noRun(id: string): StoreError {
    return new StoreError(`${this.label}: no run ${id}`)
  }

  /**
   * `fn` as an IMMEDIATE transaction. A deferred transaction that reads first and then writes
   * cannot wait for another process's write lock (SQLITE_BUSY at once); taking the lock up front
   * lets busy_timeout work. Nested in another transaction, it runs as a savepoint of that one.
   */
  immediate<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    const tx = this.db.transaction(fn)
    return (...args) => tx.immediate(...args)
  }

  /** Registers an iterator's clean-up; returns its unregistration. */
  track(end: () => void): () => void {
    this.cursors.add(end)
    return () => this.cursors.delete(end)
  }

  close(): void {
    if (!this.db.open) return
    for (const end of this.cursors) end()
    this.cursors.clear()
    this.db.close()
  }
}

/**
 * Opens (creating when missing, unless read-only) the store in `file`, checks its schema version,
 * creating the schema in a new store, and hands the connection to `compose`. `:memory:` gives a
 * private in-memory store. Every failure, `compose`'s driver errors included, is a one-line
 * StoreError naming the file, and leaves no connection open.
 */
export function openConnection<T>(file: string, opts: OpenStoreOptions, compose: (conn: StoreConnection) => T): T {
  const readonly = opts.readonly ?? false
  const memory = file === ':memory:'
  const abs = memory ? file : path.resolve(file)
  if (!memory) checkPath(file, abs, readonly)
  let db: Database.Database | undefined
  try {
    db = openDatabase(abs, file, readonly)
    prepareConnection(db, file, readonly)
    if (opts.cacheKiB !== undefined) db.pragma(`cache_size = -${Math.max(1, Math.floor(opts.cacheKiB))}`)
    if (opts.foreignKeys === false) db.pragma('foreign_keys = OFF')
    if (opts.checks === false) db.pragma('ignore_check_constraints = ON')
    return compose(new StoreConnection(db, abs, file, opts.checks !== false))
  } catch (e) {
    db?.close()
    throw openError(file, e)
  }
}

/**
 * The connection. A store is in WAL mode, and SQLite reading a WAL database wants its `-shm` file,
 * creating it when missing: in a directory this user may not write to (a store handed over
 * read-only, a mounted snapshot), even a read-only open could not read. Read-only, it then opens the
 * file as immutable (no -shm, no locks). That is safe exactly there: without write access to the
 * directory no writer of ours can have a `-wal` beside it, so the file alone is the whole store.
 */
function openDatabase(abs: string, label: string, readonly: boolean): Database.Database {
  const db = new Database(abs, {readonly, fileMustExist: readonly})
  if (!readonly) return db
  try {
    // The first read of the file is what opens (or fails to create) the -shm.
    db.pragma('user_version', {simple: true})
    return db
  } catch (e) {
    db.close()
    if (!cannotCreateShm(e)) throw e
  }
  try {
    return new Database(`${pathToFileURL(abs).href}?immutable=1`, {readonly: true, fileMustExist: true})
  } catch (e) {
    throw new StoreError(`${label}: cannot read the store: its directory is read-only and SQLite could not create ${path.basename(abs)}-shm there (${(e as Error).message})`, {cause: e})
  }
}

function cannotCreateShm(e: unknown): boolean {
  const code = (e as {code?: unknown}).code
  return typeof code === 'string' && (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN'))
}

function checkPath(label: string, abs: string, readonly: boolean): void {
  if (existsSync(abs)) {
    if (statSync(abs).isDirectory()) throw new StoreError(`${label}: is a directory, not a trace store file`)
    return
  }
  if (readonly) throw new StoreError(`${label}: no trace store there (opened read-only, so none was created)`)
  try {
    mkdirSync(path.dirname(abs), {recursive: true})
  } catch (e) {
    throw new StoreError(`${label}: cannot create its directory (${(e as Error).message})`, {cause: e})
  }
}

/**
 * Page size of a new store. A trace row is ~1–2 KB and runs are written in batches of a thousand
 * and read whole in order: with 16 KiB pages a batch dirties a quarter as many pages (fewer b-tree
 * splits and WAL frames), measured −25% CPU inserting 60k rows and −20% reading them, files ~5–10%
 * smaller. A store created with another size keeps it (SQLite fixes it when the first page is written).
 */
const PAGE_SIZE = 16_384

function prepareConnection(db: Database.Database, label: string, readonly: boolean): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  // Checked before anything writes: a store this build does not read must stay byte-identical.
  const version = schemaVersion(db)
  if (version !== 0) checkVersion(label, version)
  else if (hasTables(db)) throw notOurs(label)
  else if (readonly) throw new StoreError(`${label}: empty database, not an understudy trace store yet`)
  db.pragma('foreign_keys = ON')
  if (readonly) return
  // A new file only (SQLite ignores it once the file has pages).
  if (version === 0) db.pragma(`page_size = ${PAGE_SIZE}`)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  // Current already (the usual case): no write lock, so opening next to a busy writer never waits.
  if (version === 0) createSchema(db, label)
}

/**
 * The whole schema in one IMMEDIATE transaction: a crash leaves an empty file, and the version is
 * read again under the write lock, so two processes opening the same new file create it once.
 */
function createSchema(db: Database.Database, label: string): void {
  db.transaction(() => {
    const version = schemaVersion(db)
    if (version !== 0) return checkVersion(label, version)
    if (hasTables(db)) throw notOurs(label)
    db.exec(SCHEMA_SQL)
    db.pragma(`user_version = ${SCHEMA_VERSION}`)
  }).immediate()
}

function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', {simple: true}) as number
}

/** Refuses any version but this build's; 0 (no schema yet) is the caller's to handle. */
function checkVersion(label: string, version: number): void {
  if (version === SCHEMA_VERSION) return
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      `${label}: written by a newer understudy (schema v${version}, this build knows up to v${SCHEMA_VERSION}); ` +
        'upgrade understudy or pass another --db',
    )
  }
  if (version < 0) throw notOurs(label)
  // There is no upgrade: this build has no reader for an older layout.
  throw new StoreError(
    `${label}: written by an older understudy (schema v${version}); this build reads schema v${SCHEMA_VERSION} only: ` +
      'replay the traffic into a new store (`understudy shadow … --db <new file>`)',
  )
}

function notOurs(label: string): StoreError {
  return new StoreError(`${label}: not an understudy trace store (a SQLite database with other tables)`)
}

function hasTables(db: Database.Database): boolean {
  return (db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number) > 0
}

function openError(label: string, e: unknown): StoreError {
  if (e instanceof StoreError) return e
  const code = (e as {code?: string}).code ?? ''
  const message = (e as Error).message
  if (code === 'SQLITE_NOTADB') return new StoreError(`${label}: not a SQLite database (${message})`, {cause: e})
  if (code.startsWith('SQLITE_CORRUPT')) return new StoreError(`${label}: database is corrupt (${message})`, {cause: e})
  return new StoreError(`${label}: cannot open trace store (${message})`, {cause: e})
}

/** better-sqlite3 reports misuse (closed connection, busy cursor, unbindable value) as TypeError/RangeError. */
export function isDriverError(e: unknown): e is Error {
  return e instanceof Database.SqliteError || e instanceof TypeError || e instanceof RangeError
}
