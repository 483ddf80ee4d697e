import {StoreError} from '../errors.js'
import {HistoryStage, type BundleHistoryEntry, type NewBundleHistoryEntry} from './api.js'
import type {StoreConnection} from './database.js'

/** The append-only bundle history (`bundle_history`): promotions and bad marks. See TraceDatabase. */
export class RolloutRepo {
  private readonly stmt: ReturnType<typeof prepare>

  constructor(private readonly conn: StoreConnection) {
    this.stmt = prepare(conn)
  }

  /** Appends one event and returns it as stored. */
  add(entry: NewBundleHistoryEntry): BundleHistoryEntry {
    const stage = HistoryStage.safeParse(entry.stage)
    if (!stage.success) {
      throw new StoreError(
        `${this.conn.label}: cannot record bundle history: stage must be one of ${HistoryStage.options.join(', ')} (got ${JSON.stringify(entry.stage)})`,
      )
    }
    return this.conn.guard(() => {
      const at = entry.promoted_at ?? new Date().toISOString()
      const id = this.stmt.insert.run(entry.bundle_hash, entry.bundle_ref, stage.data, entry.tenant, at, entry.note).lastInsertRowid
      return {id: Number(id), bundle_hash: entry.bundle_hash, bundle_ref: entry.bundle_ref, stage: stage.data, tenant: entry.tenant, promoted_at: at, note: entry.note}
    })
  }

  /** Oldest first (by id, i.e. in the order the events were recorded). */
  list(): BundleHistoryEntry[] {
    return this.conn.guard(() => this.stmt.list.all() as BundleHistoryEntry[])
  }
}

function prepare({db}: StoreConnection) {
  return {
    insert: db.prepare(
      'INSERT INTO bundle_history (bundle_hash, bundle_ref, stage, tenant, promoted_at, note) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    list: db.prepare('SELECT id, bundle_hash, bundle_ref, stage, tenant, promoted_at, note FROM bundle_history ORDER BY id'),
  }
}
