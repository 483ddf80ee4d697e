import {isUtf8} from 'node:buffer'
import {createReadStream, existsSync, statSync, type ReadStream} from 'node:fs'
import {UnderstudyError, ValidationError} from '../errors.js'
import type {RequestTrace} from '../trace/schema.js'
import type {RunInfo} from '../store/api.js'
import {DEFAULT_MAX_LINE_BYTES, formatProblem, readTraffic, type TrafficLine} from '../traffic/reader.js'
import {parseTrafficJson} from '../traffic/json.js'
import {TrafficRecord} from '../traffic/schema.js'
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

const NEWLINE = 0x0a
const EMPTY = Buffer.alloc(0)
const UNICODE_ESCAPE = Buffer.from('\\u')

/**
 * A TrafficCursor for a caller that only needs the records holding a given key (the golden suite
 * needs only those with `expect`): it parses and validates only the lines it is asked for whose
 * bytes contain `"key"` (or a \u escape, which could spell it), and answers null for the others
 * without decoding them. A line it does decode is judged as readTraffic judges it (same UTF-8,
 * JSON, schema and size checks), so every record it returns is one TrafficCursor would return.
 */
export class KeyedTrafficCursor implements RecordCursor {
  private readonly needle: Buffer
  private readonly stream: ReadStream
  private readonly chunks: AsyncIterator<Buffer>
  private chunk: Buffer = EMPTY
  private pos = 0
  private eof = false
  /** Number of the last complete line read, and its bytes when it was the line asked for. */
  private lineNo = 0
  private kept: Buffer | null = null
  /** The line being collected (it may span chunks), its pieces so far (null once over the limit) and size. */
  private partsOf = 0
  private parts: Buffer[] | null = []
  private len = 0
  private cached: {line: number; requestId: string; record: TrafficRecord | null} | null = null

  constructor(
    private readonly file: string,
    key: string,
    private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES,
  ) {
    this.needle = Buffer.from(JSON.stringify(key))
    this.stream = createReadStream(file, {highWaterMark: 1024 * 1024})
    this.chunks = (this.stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  }

  async recordAt(line: number, requestId: string): Promise<TrafficRecord | null> {
    for (;;) {
      const record = this.recordInChunk(line, requestId)
      if (record !== undefined) return record
      await this.readChunk()
    }
  }

  /**
   * The answer for `line` when the chunk in hand reaches it (or the file has ended); undefined when
   * the next chunk must be read first. Most lines are answered here, without a promise per line.
   */
  recordInChunk(line: number, requestId: string): TrafficRecord | null | undefined {
    const c = this.cached
    if (c !== null && c.line === line && c.requestId === requestId) return c.record
    if (this.lineNo < line && !this.eof && !this.scanTo(line)) return undefined
    const record = this.lineNo === line && this.kept !== null ? this.decode(this.kept, line, requestId) : null
    this.cached = {line, requestId, record}
    return record
  }

  async close(): Promise<void> {
    this.stream.destroy()
  }

  /**
   * Reads on through the chunk in hand until line `target` is complete (kept); lines before it are
   * only counted. False when the chunk ran out first.
   */
  private scanTo(target: number): boolean {
    if (this.partsOf !== target) {
      this.kept = null
      this.parts = []
      this.len = 0
      this.partsOf = target
    }
    const chunk = this.chunk
    while (this.pos < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, this.pos)
      const end = nl === -1 ? chunk.length : nl
      if (this.lineNo + 1 === target && this.parts !== null) {
        this.len += end - this.pos
        if (this.len > this.maxLineBytes) this.parts = null
        else this.parts.push(chunk.subarray(this.pos, end))
      }
      if (nl === -1) {
        this.pos = end
        return false
      }
      this.pos = nl + 1
      if (++this.lineNo === target) {
        this.keep()
        return true
      }
    }
    return false
  }

  private keep(): void {
    const parts = this.parts
    this.kept = parts === null ? null : parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.len)
    this.parts = []
    this.len = 0
    this.partsOf = 0
  }

  private async readChunk(): Promise<void> {
    const next = await this.nextChunk()
    if (next !== null) {
      this.chunk = next
      this.pos = 0
      return
    }
    this.eof = true
    // A last line without a newline still counts, as readTraffic counts it.
    if (this.partsOf === this.lineNo + 1 && (this.len > 0 || this.parts === null)) {
      this.lineNo++
      this.keep()
    }
  }

  private async nextChunk(): Promise<Buffer | null> {
    try {
      const r = await this.chunks.next()
      return r.done ? null : r.value
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a traffic file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message
      throw new UnderstudyError(`${this.file}: cannot read traffic file: ${why}`, {cause: err})
    }
  }

  private decode(raw: Buffer, line: number, requestId: string): TrafficRecord | null {
    if (raw.indexOf(this.needle) === -1 && raw.indexOf(UNICODE_ESCAPE) === -1) return null
    let b = raw
    if (line === 1 && b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3)
    // isUtf8 + toString accept exactly what a fatal TextDecoder accepts, and cost less.
    if (!isUtf8(b)) return null
    let value: unknown
    try {
      value = parseTrafficJson(b.toString('utf8'))
    } catch {
      return null
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null
    const parsed = TrafficRecord.safeParse(value)
    return parsed.success && sameRequest(parsed.data.id, requestId) ? parsed.data : null
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
