import type Database from 'better-sqlite3'
import {StoreError} from '../errors.js'
import {SCHEMA_V1} from './schema-v1.js'
import {SCHEMA_V2} from './schema-v2.js'
import {SCHEMA_V3} from './schema-v3.js'
import {SCHEMA_V4} from './schema-v4.js'
import {SCHEMA_V5} from './schema-v5.js'
import {SCHEMA_V6} from './schema-v6.js'

/**
 * Versioned schema migrations. The database's `PRAGMA user_version` is the number of the last
 * migration applied; opening a store applies every later one, in order, inside one transaction,
 * so a crash mid-upgrade leaves the previous version intact. Never edit a shipped migration:
 * append a new one.
 */
export type Migration = {
  version: number
  description: string
  up: string | ((db: Database.Database) => void)
}

export const MIGRATIONS: readonly Migration[] = [
  {version: 1, description: 'runs, requests, steps, tool calls, policy decisions, guardrails, bundles', up: SCHEMA_V1},
  {version: 2, description: 'bundle history (promotions, bad marks), drills, bundle templates', up: SCHEMA_V2},
  {version: 3, description: 'guardrail results as one JSON column per trace', up: SCHEMA_V3},
  {version: 4, description: 'steps as one JSON column per trace', up: SCHEMA_V4},
  {version: 5, description: 'tool calls and policy decisions as JSON columns per trace; audit views', up: SCHEMA_V5},
  {version: 6, description: 'the process writing each run (one writer per run)', up: SCHEMA_V6},
]

export function latestVersion(migrations: readonly Migration[] = MIGRATIONS): number {
  return migrations.at(-1)?.version ?? 0
}

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', {simple: true}) as number
}

export function newerSchemaError(file: string, found: number, known: number): StoreError {
  return new StoreError(
    `${file}: written by a newer understudy (schema v${found}, this build knows up to v${known}); ` +
      'upgrade understudy or pass another --db',
  )
}

/**
 * Brings the schema up to the last migration. Returns the versions before and after. Refuses a
 * database from a newer build instead of touching it: migrating down would lose data.
 */
export function migrate(
  db: Database.Database,
  file: string,
  migrations: readonly Migration[] = MIGRATIONS,
): {from: number; to: number} {
  assertOrdered(migrations)
  const known = latestVersion(migrations)
  // Up to date (the usual case): no write lock, so a reader opening next to a busy writer never waits.
  const current = schemaVersion(db)
  if (current === known) return {from: current, to: current}
  // IMMEDIATE takes the write lock before reading the version, so two processes opening the
  // same new file cannot both apply migration 1.
  return db
    .transaction(() => {
      const from = schemaVersion(db)
      if (from > known) throw newerSchemaError(file, from, known)
      for (const m of migrations) {
        if (m.version <= from) continue
        if (typeof m.up === 'string') db.exec(m.up)
        else m.up(db)
      }
      if (known !== from) db.pragma(`user_version = ${known}`)
      return {from, to: Math.max(from, known)}
    })
    .immediate()
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version !== i + 1) {
      throw new Error(`migration list out of order: entry ${i} has version ${m.version}, expected ${i + 1}`)
    }
  })
}
