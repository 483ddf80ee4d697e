import type {NewRun, RunInfo, TraceFilter, TraceStore} from '../../src/store/api.js'
import type {RequestTrace} from '../../src/trace/schema.js'

/** A TraceStore in memory, for testing the pure summary logic without SQLite. Same ordering contract. */
const SIDE_ORDER = {recorded: 0, baseline: 1, candidate: 2} as const

export class MemoryStore implements TraceStore {
  readonly path = ':memory-fake:'
  private runs: RunInfo[] = []
  private traces = new Map<string, RequestTrace[]>()
  /** How many traces iterateTraces has handed out, to check that it is consumed lazily. */
  yielded = 0

  createRun(run: NewRun): RunInfo {
    const info: RunInfo = {...run, id: `run-${this.runs.length + 1}`, status: 'running', started_at: '2025-11-25T14:00:00.000Z', finished_at: null, requests_done: 0, requests_total: null}
    this.runs.push(info)
    this.traces.set(info.id, [])
    return info
  }
  getRun(idOrPrefix: string): RunInfo | undefined {
    return this.runs.find((r) => r.id === idOrPrefix) ?? this.runs.find((r) => r.id.startsWith(idOrPrefix))
  }
  listRuns(): RunInfo[] {
    return [...this.runs]
  }
  writeTraces(runId: string, traces: RequestTrace[]): void {
    this.traces.get(runId)!.push(...traces)
  }
  setRequestsTotal(): void {}
  finishRun(runId: string, status: 'completed' | 'interrupted' | 'failed'): void {
    this.getRun(runId)!.status = status
  }
  storedTraceKeys(): Set<string> {
    return new Set()
  }
  *iterateTraces(runId: string, filter: TraceFilter = {}): IterableIterator<RequestTrace> {
    const sorted = [...(this.traces.get(runId) ?? [])].sort((a, b) => a.line - b.line || SIDE_ORDER[a.side] - SIDE_ORDER[b.side] || a.repeat - b.repeat)
    for (const t of sorted) {
      if (filter.side && t.side !== filter.side) continue
      if (filter.requestId && t.request_id !== filter.requestId) continue
      if (filter.repeat !== undefined && t.repeat !== filter.repeat) continue
      this.yielded++
      yield t
    }
  }
  countTraces(runId: string): number {
    return this.traces.get(runId)?.length ?? 0
  }
  close(): void {}
}
