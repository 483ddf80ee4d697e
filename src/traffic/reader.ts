import {createHash} from 'node:crypto'
import type {FileHandle} from 'node:fs/promises'
import {addAbortSignal} from 'node:stream'
import type {z} from 'zod'
import {UnderstudyError} from '../errors.js'
import {findJsonSyntaxError} from '../util/json-error.js'
import {jsonTooDeepAt, tooDeepMessage} from '../util/nesting.js'
import {NotRegularFileError, openRegular} from '../util/regular-file.js'
import {parseTrafficJson} from './json.js'
import {safeParseTrafficRecord} from './parse-record.js'
import {type LineKeys, MAX_READABLE_ID, peekLineKeys} from './peek.js'
import type {TrafficRecord} from './schema.js'
import {firstInvalidUtf8} from './utf8.js'

/**
 * One thing wrong with a line. `field` is the dotted path of the offending field
 * (`production.tool_calls.0.args`), or a word naming what failed before there were fields to
 * name (`json`, `encoding`, `line`). Neither part contains a newline.
 */
export type TrafficProblem = {field: string; message: string}

export type {LineKeys} from './peek.js'

/**
 * One non-blank line of a traffic file. `bytes` is the line's size on disk including its newline
 * (and the BOM on line 1), so the `bytes` of every line, blank ones aside, add up to the file size. A bad line carries every problem found on it (at least one),
 * `error`, a one-line summary `<file>:<line>: <field>: <message>` of the first that still names the
 * field of every other (see summarizeProblems), and, where it could still be read, the request id.
 */
export type TrafficLine =
  | {line: number; ok: true; record: TrafficRecord; bytes: number; text?: string}
  | {line: number; ok: false; error: string; problems: TrafficProblem[]; id: string | null; bytes: number}

export type ReadTrafficOptions = {
  /** A longer line is reported and skipped without being buffered. Default 16 MiB. */
  maxLineBytes?: number
  /** Aborting stops reading; the generator throws the signal's reason. */
  signal?: AbortSignal
  /** 1-based; lines before it are counted but neither decoded nor yielded (resuming a run). */
  startLine?: number
  /**
   * Asked of each line that is a JSON object, with its top-level `id` and `session_id`, before its
   * schema check: false drops the line unchecked and unyielded (`shadow --shard`: another shard's
   * line). Where peekLineKeys can read both off the bytes, it is asked before the line is even
   * decoded or parsed, and a dropped line costs only that scan; otherwise after JSON.parse.
   */
  keep?: (keys: LineKeys, line: number) => boolean
  /**
   * A good line also carries its decoded `text`, which recordOfCheckedText turns back into the
   * same record (a replay thread is handed the text: a string crosses threads as a copy of its
   * characters, a record as a clone that costs more than parsing it again).
   */
  withText?: boolean
}

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
// Large reads keep syscalls and per-chunk overhead low; memory stays bounded by one chunk plus one line.
const CHUNK_BYTES = 1024 * 1024
// An id sits near the start of a line; this much of a bad line is enough to find it.
const ID_PEEK_BYTES = 1024
const NEWLINE = 0x0a
const EMPTY: Buffer = Buffer.alloc(0)

/** Streams a JSONL traffic file, one result per non-blank line, never holding more than one line. */
export async function* readTraffic(file: string, opts: ReadTrafficOptions = {}): AsyncGenerator<TrafficLine> {
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES
  const startLine = opts.startLine ?? 1
  if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) {
    throw new UnderstudyError(`maxLineBytes must be a positive integer, got ${maxLineBytes}`)
  }
  if (!Number.isSafeInteger(startLine) || startLine < 1) {
    throw new UnderstudyError(`startLine must be a positive integer, got ${startLine}`)
  }
  opts.signal?.throwIfAborted()

  const parser = new LineParser(file, maxLineBytes, opts.keep, opts.withText === true)
  const handle = await openForReading(file)
  const stream = handle.createReadStream({highWaterMark: CHUNK_BYTES})
  if (opts.signal) addAbortSignal(opts.signal, stream)

  let lineNo = 0
  // The current line so far: subarrays of the chunks it spans (no copy until it is complete).
  let parts: Buffer[] = []
  let pendingLen = 0
  // Over the limit: the rest of the line is counted and dropped; `head` keeps its start for the id.
  let overLen = -1
  let head: Buffer = EMPTY

  const skipping = (): boolean => lineNo + 1 < startLine

  const appendPartial = (seg: Buffer): void => {
    if (skipping() || seg.length === 0) return
    if (overLen >= 0) {
      overLen += seg.length
      return
    }
    if (pendingLen + seg.length > maxLineBytes) {
      overLen = pendingLen + seg.length
      head = prefix([...parts, seg], ID_PEEK_BYTES)
      parts = []
      pendingLen = 0
      return
    }
    parts.push(seg)
    pendingLen += seg.length
  }

  /** Ends the current line with `seg` as its last piece; returns what to yield, if anything. */
  const completeLine = (seg: Buffer, hasNewline: boolean): TrafficLine | null => {
    lineNo++
    const newline = hasNewline ? 1 : 0
    let result: TrafficLine | null = null
    if (lineNo >= startLine) {
      if (overLen >= 0 || pendingLen + seg.length > maxLineBytes) {
        const total = overLen >= 0 ? overLen + seg.length : pendingLen + seg.length
        if (overLen < 0) head = prefix([...parts, seg], ID_PEEK_BYTES)
        result = parser.overLimit(lineNo, head, total, total + newline)
      } else {
        const buf = parts.length === 0 ? seg : Buffer.concat([...parts, seg], pendingLen + seg.length)
        result = parser.parse(lineNo, buf, buf.length + newline, hasNewline)
      }
    }
    // Reset without allocating: nearly every line fits in one chunk and leaves these untouched.
    if (parts.length > 0) parts = []
    pendingLen = 0
    overLen = -1
    head = EMPTY
    return result
  }

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let pos = 0
      while (pos < chunk.length) {
        const nl = chunk.indexOf(NEWLINE, pos)
        if (nl === -1) {
          appendPartial(chunk.subarray(pos))
          break
        }
        const out = completeLine(chunk.subarray(pos, nl), true)
        pos = nl + 1
        if (out) {
          opts.signal?.throwIfAborted()
          yield out
        }
      }
    }
    if (pendingLen > 0 || overLen >= 0) {
      const out = completeLine(EMPTY, false)
      if (out) yield out
    }
  } catch (err) {
    throw isFsError(err) ? fileError(file, err) : err
  } finally {
    stream.destroy()
  }
}

/** Streaming sha256 of the file's bytes (hex), recorded by runs to name the traffic they replayed. */
export async function sha256File(file: string): Promise<string> {
  return (await digestTraffic(file)).sha256
}

/**
 * One pass over a traffic file: its sha256 (hex) and its number of non-blank lines, which is
 * exactly how many lines `readTraffic` yields (each one request, replayed or skipped), so a run
 * knows its total before the first request finishes.
 */
export async function digestTraffic(file: string): Promise<{sha256: string; lines: number}> {
  const handle = await openForReading(file)
  const hash = createHash('sha256')
  const stream = handle.createReadStream({highWaterMark: CHUNK_BYTES})
  let lines = 0
  // Whether the current line has a byte that is not blank (see isBlank) so far.
  let content = false
  let atStart = true
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk)
      let pos = 0
      if (atStart) {
        atStart = false
        if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) pos = 3
      }
      while (pos < chunk.length) {
        if (!content) {
          let i = pos
          while (i < chunk.length && chunk[i] !== NEWLINE && isBlankByte(chunk[i]!)) i++
          if (i === chunk.length) break
          if (chunk[i] === NEWLINE) {
            pos = i + 1
            continue
          }
          content = true
          pos = i
        }
        const nl = chunk.indexOf(NEWLINE, pos)
        if (nl === -1) break
        lines++
        content = false
        pos = nl + 1
      }
    }
  } catch (err) {
    throw isFsError(err) ? fileError(file, err) : err
  } finally {
    stream.destroy()
  }
  if (content) lines++
  return {sha256: hash.digest('hex'), lines}
}

/**
 * The record of a line's `text` that readTraffic yielded as good (withText): the same parse and the
 * same schema, so the same record. Throws when the text is not such a line.
 */
export function recordOfCheckedText(text: string): TrafficRecord {
  const parsed = safeParseTrafficRecord(parseTrafficJson(text))
  if (!parsed.success) throw new UnderstudyError('internal: a traffic line read as good no longer parses as a record')
  return parsed.data
}

/** Turns one complete line's bytes into a TrafficLine. Pure apart from the decoder it reuses. */
class LineParser {
  private readonly decoder = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})

  constructor(
    private readonly file: string,
    private readonly maxLineBytes: number,
    private readonly keep?: ReadTrafficOptions['keep'],
    private readonly withText = false,
  ) {}

  parse(line: number, raw: Buffer, bytes: number, hasNewline: boolean): TrafficLine | null {
    let b = raw
    // A BOM is only a BOM at the very start of the file; anywhere else it is a stray character.
    if (line === 1 && b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3)
    if (b.length > 0 && b[b.length - 1] === 0x0d) b = b.subarray(0, b.length - 1)
    if (isBlank(b)) return null

    // A line the scan vouches for is a JSON object with exactly these keys: asking now or after
    // JSON.parse gets the same answer, and now a dropped line is never decoded or parsed.
    let kept = false
    if (this.keep !== undefined) {
      const keys = peekLineKeys(b)
      if (keys !== null) {
        if (!this.keep(keys, line)) return null
        kept = true
      }
    }

    let text: string
    try {
      text = this.decoder.decode(b)
    } catch {
      const bad = firstInvalidUtf8(b)
      const where = bad ? `at byte ${bad.offset} of the line: ${bad.reason}` : 'in the line'
      return this.fail(line, bytes, [{field: 'encoding', message: `invalid UTF-8 ${where}`}], peekId(b.subarray(0, bad?.offset ?? 0)))
    }

    let value: unknown
    try {
      value = parseTrafficJson(text)
    } catch (err) {
      const where = findJsonSyntaxError(text)
      const detail = where
        ? `invalid JSON at column ${where.column}: ${where.message}`
        : `invalid JSON: ${oneLine((err as Error).message)}`
      const id = peekId(b.subarray(0, ID_PEEK_BYTES))
      const message = hasNewline ? detail : `truncated last line (no newline at end of file): ${detail}`
      return this.fail(line, bytes, [{field: 'json', message}], id)
    }

    // What comes after (schema, redaction, hashing) recurses: a line nested thousands deep would overflow the stack.
    const deepAt = jsonTooDeepAt(text)
    if (deepAt >= 0) return this.fail(line, bytes, [{field: 'json', message: `at column ${deepAt + 1}: ${tooDeepMessage()}`}], peekId(b.subarray(0, ID_PEEK_BYTES)))

    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return this.fail(line, bytes, [{field: 'json', message: `expected a JSON object (one request per line), got ${jsonKind(value)}`}], null)
    }

    if (this.keep !== undefined && !kept && !this.keep(lineKeys(value as Record<string, unknown>), line)) return null
    const parsed = safeParseTrafficRecord(value)
    if (parsed.success) return this.withText ? {line, ok: true, record: parsed.data, bytes, text} : {line, ok: true, record: parsed.data, bytes}
    return this.fail(line, bytes, describeIssues(parsed.error.issues), readableId((value as {id?: unknown}).id))
  }

  overLimit(line: number, head: Buffer, lineBytes: number, bytes: number): TrafficLine {
    return this.fail(line, bytes, [{field: 'line', message: `line is ${lineBytes} bytes, over the ${formatBytes(this.maxLineBytes)} limit`}], peekId(head))
  }

  private fail(line: number, bytes: number, problems: TrafficProblem[], id: string | null): TrafficLine {
    return {line, ok: false, error: summarizeProblems(this.file, line, problems), problems, id, bytes}
  }
}

/** `<file>:<line>: <field>: <message>`: how one problem is shown, one per output line. */
export function formatProblem(file: string, line: number, p: TrafficProblem): string {
  return `${file}:${line}: ${p.field}: ${p.message}`
}

/**
 * One line for a bad line as a whole (a skipped request's stored reason, an error naming the line):
 * the first problem in full, then the field of every further one, so no field goes unnamed.
 */
export function summarizeProblems(file: string, line: number, problems: TrafficProblem[]): string {
  const [first, ...rest] = problems
  if (!first) return formatProblem(file, line, {field: 'record', message: 'does not match the traffic schema'})
  const head = formatProblem(file, line, first)
  if (rest.length === 0) return head
  const fields = rest.map((p) => p.field).join(', ')
  return `${head} (and ${rest.length} more problem${rest.length === 1 ? '' : 's'} on this line: ${fields})`
}

/** A copy of the first `n` bytes of a run of buffers (a copy, so the chunks behind it can be freed). */
function prefix(bufs: Buffer[], n: number): Buffer {
  const out: Buffer[] = []
  let len = 0
  for (const b of bufs) {
    if (len >= n) break
    const take = b.subarray(0, n - len)
    out.push(take)
    len += take.length
  }
  return Buffer.concat(out, len)
}

function isBlank(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (!isBlankByte(b[i]!)) return false
  return true
}

function isBlankByte(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d
}

function readableId(id: unknown): string | null {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_READABLE_ID ? id : null
}

/** What `keep` is told of a parsed object (what peekLineKeys reads off a line it vouches for). */
export function lineKeys(value: Record<string, unknown>): LineKeys {
  return {id: readableId(value.id), session: typeof value.session_id === 'string' ? value.session_id : null}
}

// Only an "id" that is the object's first key is certainly the request's (a later one may be nested).
const LEADING_ID = /^\uFEFF?[ \t\r]*\{[ \t\r]*"id"[ \t\r]*:[ \t\r]*("(?:[^"\\\u0000-\u001f]|\\.)*")/

/** The request id of a line that did not parse, when it is the first key and intact. */
function peekId(prefix: Buffer): string | null {
  const m = LEADING_ID.exec(prefix.toString('utf8'))
  if (!m) return null
  try {
    const id: unknown = JSON.parse(m[1]!)
    return typeof id === 'string' && !id.includes('\uFFFD') ? readableId(id) : null
  } catch {
    return null
  }
}

/** Every issue zod found on a line, one problem each; an issue naming several unknown keys gives one per key. */
function describeIssues(issues: z.core.$ZodIssue[]): TrafficProblem[] {
  const out: TrafficProblem[] = []
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({field: fieldPath([...issue.path, key]), message: 'unknown field (not in the traffic schema)'})
      }
      continue
    }
    let message = issue.message
    if (issue.code === 'invalid_type' && /received undefined$/.test(message)) message = `missing (expected ${issue.expected})`
    out.push({field: fieldPath(issue.path), message: oneLine(message)})
  }
  if (out.length === 0) out.push({field: 'record', message: 'does not match the traffic schema'})
  return out
}

// A key that is not a plain name (it holds a dot, a space, a newline) is quoted, so the dotted
// path stays unambiguous and on one line.
const PLAIN_KEY = /^[A-Za-z0-9_-]+$/

/** A zod issue path as `a.b.0.c`; the whole record when empty. */
function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'record'
  return path
    .map((p) => (typeof p === 'number' || (typeof p === 'string' && PLAIN_KEY.test(p)) ? String(p) : JSON.stringify(String(p))))
    .join('.')
}

function jsonKind(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return 'a string'
  if (typeof value === 'number') return 'a number'
  if (typeof value === 'boolean') return 'a boolean'
  return typeof value
}

function formatBytes(n: number): string {
  const MiB = 1024 * 1024
  if (n % MiB === 0) return `${n / MiB} MiB`
  if (n % 1024 === 0) return `${n / 1024} KiB`
  return `${n}-byte`
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ')
}

/** Only a regular file: a named pipe would block the open until a writer came, a directory is a mistake. */
async function openForReading(file: string): Promise<FileHandle> {
  try {
    return await openRegular(file)
  } catch (err) {
    if (err instanceof NotRegularFileError) {
      throw new UnderstudyError(`${file}: cannot read traffic file: ${err.reason === 'is a directory' ? 'is a directory, not a traffic file' : err.reason}`, {cause: err})
    }
    throw isFsError(err) ? fileError(file, err) : err
  }
}

function isFsError(err: unknown): err is NodeJS.ErrnoException & {code: string} {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' &&
    typeof (err as NodeJS.ErrnoException).syscall === 'string'
}

function fileError(file: string, err: NodeJS.ErrnoException & {code: string}): UnderstudyError {
  const why: Record<string, string> = {
    ENOENT: 'no such file',
    EISDIR: 'is a directory, not a traffic file',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
  }
  return new UnderstudyError(`${file}: cannot read traffic file: ${why[err.code] ?? err.message}`, {cause: err})
}
