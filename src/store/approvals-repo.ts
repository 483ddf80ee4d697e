import type {ApprovalDecision, NewApprovalDecision} from './api.js'
import type {StoreConnection} from './database.js'

type DecisionRow = {
  id: number
  run_id: string
  request_id: string
  seq: number
  tool: string
  args_hash: string
  decision: string
  decided_by: string
  decided_at: string
  reason: string | null
}

/** People's decisions on held calls (`approval_decisions`), append-only. See TraceDatabase for the contract. */
export class ApprovalsRepo {
  private readonly stmt: ReturnType<typeof prepare>
  private readonly insertAll: (runId: string, decisions: readonly NewApprovalDecision[]) => void

  constructor(private readonly conn: StoreConnection) {
    this.stmt = prepare(conn)
    // All of one `decide` or none: a refusal half-way leaves no partial set behind.
    this.insertAll = conn.immediate((runId: string, decisions: readonly NewApprovalDecision[]) => {
      for (const d of decisions) {
        this.stmt.insert.run(runId, d.request_id, d.seq, d.tool, d.args_hash, d.decision, d.by, d.at, d.reason)
      }
    })
  }

  record(runId: string, decisions: readonly NewApprovalDecision[]): void {
    this.conn.guard(() => this.insertAll(runId, decisions))
  }

  /** The decision in force on each call (the latest), ordered by request id then seq. */
  current(runId: string): ApprovalDecision[] {
    return this.conn.guard(() =>
      (this.stmt.current.all(runId) as DecisionRow[]).map((r) => ({
        id: r.id,
        request_id: r.request_id,
        seq: r.seq,
        tool: r.tool,
        args_hash: r.args_hash,
        decision: r.decision as ApprovalDecision['decision'],
        by: r.decided_by,
        at: r.decided_at,
        reason: r.reason,
      })),
    )
  }
}

function prepare({db}: StoreConnection) {
  return {
    insert: db.prepare(
      'INSERT INTO approval_decisions (run_id, request_id, seq, tool, args_hash, decision, decided_by, decided_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    current: db.prepare(
      `SELECT d.* FROM approval_decisions d
       WHERE d.run_id = ? AND d.id = (SELECT max(e.id) FROM approval_decisions e WHERE e.run_id = d.run_id AND e.request_id = d.request_id AND e.seq = d.seq)
       ORDER BY d.request_id, d.seq`,
    ),
  }
}
