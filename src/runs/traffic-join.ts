import {existsSync, statSync} from 'node:fs'
import {UnderstudyError, ValidationError} from '../errors.js'
import type {RequestTrace} from '../trace/schema.js'
import type {RunInfo} from '../store/api.js'
import {formatProblem, readTraffic, type TrafficLine} from '../traffic/reader.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {storedRequestId} from '../runtime/redact.js'

/**
 * A run's traffic file, joined to its traces: the one way to find the file a run replayed, and
 * the readers that pair its lines with the run's traces (in step, by line), look one request up,
 * or take the timestamps and labels that traces do not carry.
 */

/**
 * Whether a traffic record's id is `requestId`, given as recorded or as stored (storedRequestId).
 * The plain comparison first: most ids hold nothing to redact, and this runs for every trace joined.
 */
function sameRequest(recordId: string, requestId: string): boolean {
  return recordId === requestId || storedRequestId(recordId) === requestId
}

/** A stored trace with the traffic line it replayed, when that line is still there and readable. */
export type JoinedTrace = {trace: RequestTrace; record: TrafficRecord | null}

/**
 * Reads a traffic file forward, in step with traces that come in traffic-line order (the store
 * orders them by line), so one pass over the file suffices and only the current line is held.
 * A line is paired only when its request id is the trace's: a traffic file edited since the run
 * gives null, never another request's record.
 */
export interface RecordCursor {
  /** The record at `line` when it is request `requestId`'s. Lines asked for must not go backwards. */
  recordAt(line: number, requestId: string): Promise<TrafficRecord | null>
  close(): Promise<void>
}

export class TrafficCursor implements RecordCursor {
  private readonly lines: AsyncGenerator<TrafficLine>
  private current: {line: number; record: TrafficRecord | null} | null = null
  private done = false

  constructor(trafficFile: string) {
    this.lines = readTraffic(trafficFile)
  }

  async recordAt(line: number, requestId: string): Promise<TrafficRecord | null> {
    while (!this.done && (this.current === null || this.current.line < line)) {
      const next = await this.lines.next()
      if (next.done) {
        this.done = true
        this.current = null
        break
      }
      this.current = {line: next.value.line, record: next.value.ok ? next.value.record : null}
    }
    const c = this.current
    return c !== null && c.line === line && c.record !== null && sameRequest(c.record.id, requestId) ? c.record : null
  }

  async close(): Promise<void> {
    await this.lines.return(undefined)
  }
}

/** Pairs a run's traces (in line order) with the traffic file's records; see TrafficCursor. */
export async function* joinTraffic(traces: Iterable<RequestTrace>, trafficFile: string | null): AsyncGenerator<JoinedTrace> {
  const cursor = trafficFile === null ? null : new TrafficCursor(trafficFile)
  try {
    for (const trace of traces) yield {trace, record: cursor === null ? null : await cursor.recordAt(trace.line, trace.request_id)}
  } finally {
    await cursor?.close()
  }
}

/**
 * The traffic file of a run: `override` when given, else the one the run replayed (as stored, so
 * relative to where the run was started); null when it is not there to read.
 */
export function runTrafficFile(run: Pick<RunInfo, 'traffic_file'>, override?: string): string | null {
  const file = override ?? run.traffic_file
  return existsSync(file) && statSync(file).isFile() ? file : null
}

/** runTrafficFile for a caller that cannot go on without it. */
export function requireRunTrafficFile(run: Pick<RunInfo, 'id' | 'traffic_file'>, override?: string): string {
  const file = runTrafficFile(run, override)
  if (file === null) throw new UnderstudyError(`${override ?? run.traffic_file}: traffic file of run ${run.id} not found (pass --traffic)`)
  return file
}

/**
 * Request timestamps, which traces do not carry: they come from the traffic file (the recorded
 * timeline), keyed by request id as traces store it (storedRequestId). Lines that do not parse have no time and are left out.
 */
export async function readRequestTimes(file: string): Promise<Map<string, number>> {
  const times = new Map<string, number>()
  try {
    for await (const item of readTraffic(file)) {
      if (!item.ok) continue
      const id = storedRequestId(item.record.id)
      if (!times.has(id)) times.set(id, Date.parse(item.record.timestamp))
    }
  } catch (e) {
    if (e instanceof UnderstudyError) throw e
    throw new UnderstudyError(`${file}: cannot read the run's traffic file for request timestamps (${(e as Error).message})`, {cause: e})
  }
  return times
}

/** Labels (category etc.) by request id as traces store it, for drills and golden tasks. */
export async function readRequestLabels(file: string): Promise<Map<string, Record<string, string>>> {
  const labels = new Map<string, Record<string, string>>()
  for await (const item of readTraffic(file)) {
    if (!item.ok) continue
    const id = storedRequestId(item.record.id)
    if (!labels.has(id)) labels.set(id, item.record.labels)
  }
  return labels
}

/** The request's record from a traffic file, by id (streamed; the first valid line with that id). */
export async function findRecord(file: string, requestId: string): Promise<{record: TrafficRecord; line: number}> {
  for await (const l of readTraffic(file)) {
    if (l.ok && sameRequest(l.record.id, requestId)) return {record: l.record, line: l.line}
    if (!l.ok && l.id !== null && sameRequest(l.id, requestId)) {
      const problems = l.problems.map((p) => formatProblem(file, l.line, p))
      throw new ValidationError(problems, `${file}:${l.line}: request ${storedRequestId(requestId)} is on a line that does not validate`)
    }
  }
  throw new UnderstudyError(`${file}: no request ${storedRequestId(requestId)} in the traffic file`)
}
