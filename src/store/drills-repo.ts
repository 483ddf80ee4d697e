import {canonicalJson} from '../util/canonical.js'
import type {DrillRecord, NewDrillRecord} from './api.js'
import type {StoreConnection} from './database.js'

type DrillRow = {id: number; scenario: string; started_at: string; finished_at: string; passed: number; report_json: string}

/** Stored incident drills and their reports (`drills`). See TraceDatabase for the contract. */
export class DrillsRepo {
  private readonly stmt: ReturnType<typeof prepare>

  constructor(private readonly conn: StoreConnection) {
    this.stmt = prepare(conn)
  }

  record(drill: NewDrillRecord): DrillRecord {
    return this.conn.guard(() => {
      const id = this.stmt.insert.run(
        drill.scenario, drill.started_at, drill.finished_at, drill.passed ? 1 : 0, canonicalJson(drill.report),
      ).lastInsertRowid
      return {id: Number(id), ...drill}
    })
  }

  /** Newest first; at most `limit` when given. */
  list(limit?: number): DrillRecord[] {
    return this.conn.guard(() => {
      const rows = (limit === undefined ? this.stmt.list.all() : this.stmt.listLimit.all(limit)) as DrillRow[]
      return rows.map((r) => ({id: r.id, scenario: r.scenario, started_at: r.started_at, finished_at: r.finished_at, passed: r.passed === 1, report: JSON.parse(r.report_json)}))
    })
  }
}

function prepare({db}: StoreConnection) {
  return {
    insert: db.prepare('INSERT INTO drills (scenario, started_at, finished_at, passed, report_json) VALUES (?, ?, ?, ?, ?)'),
    list: db.prepare('SELECT id, scenario, started_at, finished_at, passed, report_json FROM drills ORDER BY id DESC'),
    listLimit: db.prepare('SELECT id, scenario, started_at, finished_at, passed, report_json FROM drills ORDER BY id DESC LIMIT ?'),
  }
}
