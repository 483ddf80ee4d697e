import fs from 'node:fs'
import path from 'node:path'
import {z} from 'zod'
import {FileWriteError, ModelError, ValidationError} from '../errors.js'
import {fileIo, writeAll} from '../util/atomic-write.js'
import {canonicalJson, hashJson} from '../util/canonical.js'
import {jsonTooDeepAt, tooDeepMessage} from '../util/nesting.js'
import {NotRegularFileError, readRegularFileSync} from '../util/regular-file.js'
import type {CassetteRedactor, ChatRequest, ChatResponse, ModelClient} from './types.js'

/**
 * Cassettes: a JSONL file of model exchanges, so a run against a real model can be replayed
 * offline. Each line is one exchange keyed by the sha256 of the canonical, clear (model, messages,
 * tools, options); the answer to a key is what the model said, in order.
 *
 * A line holds no secret in the clear: request and response are stored redacted (version 2), the
 * key being all a replay needs to match. A replay puts back each secret of the answer that the
 * request it is asked holds in the clear (the model could only have repeated those), so it answers
 * what was recorded; a marker of anything else stays a marker. Version 1 lines (clear text, from
 * earlier builds) are still replayed.
 */

const ToolCall = z.object({name: z.string().min(1), arguments: z.record(z.string(), z.unknown())}).strict()

const CassetteResponse = z
  .object({
    message: z
      .object({role: z.literal('assistant'), content: z.string(), tool_calls: z.array(ToolCall)})
      .strict(),
    input_tokens: z.number().int().nonnegative(),
    output_tokens: z.number().int().nonnegative(),
    latency_ms: z.number().nonnegative(),
    done_reason: z.string(),
    thinking: z.string().optional(),
  })
  .strict()

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest')

const CassetteRequest = z.object({
  model: z.string(),
  messages: z.array(z.unknown()),
  tools: z.array(z.unknown()),
  format: z.union([z.literal('json'), z.record(z.string(), z.unknown())]).optional(),
  think: z.union([z.boolean(), z.enum(['low', 'medium', 'high'])]).optional(),
  options: z.record(z.string(), z.unknown()),
})

const CassetteFields = {
  key: Sha256,
  /** The ModelClient that answered when this was recorded, e.g. `ollama:llama3.1:8b`. */
  source: z.string(),
  request: CassetteRequest,
  response: CassetteResponse,
}

export const CassetteEntry = z.discriminatedUnion('v', [
  /** Clear text; `key` is the hash of `request`. Read, never written. */
  z.object({v: z.literal(1), ...CassetteFields}).strict(),
  /** Redacted; `key` is the hash of the clear request, `digest` of the line's request and response as stored. */
  z.object({v: z.literal(2), ...CassetteFields, digest: Sha256}).strict(),
])
export type CassetteEntry = z.infer<typeof CassetteEntry>

/**
 * The cassette key of one exchange: what the model was asked, nothing about when or by whom.
 * `format` and `think` change the answer, so they are in it (only when set: a request without them
 * keeps the key it always had). Ollama's `keep_alive` is not: it says how long the model stays
 * loaded after the call, never what it answers, and it is not part of a ChatRequest at all.
 */
export function cassetteKey(request: ChatRequest): string {
  return hashJson({
    model: request.model,
    messages: request.messages,
    tools: request.tools,
    ...(request.format === undefined ? {} : {format: request.format}),
    ...(request.think === undefined ? {} : {think: request.think}),
    options: request.options,
  })
}

export type CassetteOptions = {redactor: CassetteRedactor; onWarning?: (message: string) => void}

const warnToStderr = (message: string): void => {
  process.stderr.write(`understudy: warning: ${message}\n`)
}

/** Answers through `inner` and appends every exchange to `file`, one fsynced line each. */
export function recordingModel(inner: ModelClient, file: string, opts: CassetteOptions): ModelClient {
  const warn = opts.onWarning ?? warnToStderr
  const {redactor} = opts
  let fd: number | undefined

  const open = (): number => {
    if (fd !== undefined) return fd
    fileIo().mkdirSync(path.dirname(path.resolve(file)), {recursive: true})
    const handle = fileIo().openSync(file, 'a+')
    dropTornTail(handle, file, warn)
    fd = handle
    return handle
  }

  return {
    id: inner.id,
    async chat(request: ChatRequest, signal?: AbortSignal): Promise<ChatResponse> {
      const response = await inner.chat(request, signal)
      const stored = {
        request: redactor.redactValue({
          model: request.model,
          messages: request.messages,
          tools: request.tools,
          ...(request.format === undefined ? {} : {format: request.format}),
          ...(request.think === undefined ? {} : {think: request.think}),
          options: request.options,
        }) as CassetteEntry['request'],
        response: redactor.redactValue(response) as ChatResponse,
      }
      const entry: CassetteEntry = {v: 2, key: cassetteKey(request), source: inner.id, ...stored, digest: hashJson(stored)}
      appendLine(open(), file, canonicalJson(entry) + '\n')
      return response
    },
    async close(): Promise<void> {
      if (fd !== undefined) {
        fs.closeSync(fd)
        fd = undefined
      }
      await inner.close?.()
    },
  }
}

/**
 * Appends one whole line and fsyncs it, or nothing: a short write or a full disk cuts the file back
 * to its size before the append and throws, so the cassette never holds part of an entry (an
 * entry is whole or absent; every earlier one is left as it was).
 */
function appendLine(fd: number, file: string, line: string): void {
  const io = fileIo()
  const before = io.fstatSync(fd).size
  try {
    writeAll(fd, line)
    io.fsyncSync(fd)
  } catch (e) {
    try {
      io.ftruncateSync(fd, before)
    } catch {
      // The torn tail is then cut off on the next open (dropTornTail); the error to report is the write's.
    }
    throw new FileWriteError(file, e, `${file}: cannot append to the cassette`)
  }
}

/**
 * A cassette that ends in a torn line (a recorder crashed mid-write) gets that line cut off before
 * anything is appended, so the next entry does not glue onto it.
 */
function dropTornTail(fd: number, file: string, warn: (m: string) => void): void {
  const size = fs.fstatSync(fd).size
  if (size === 0) return
  const last = Buffer.alloc(1)
  fs.readSync(fd, last, 0, 1, size - 1)
  if (last[0] === 0x0a) return
  const text = fs.readFileSync(file, 'utf8')
  const keep = Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1))
  const lineNo = text.slice(0, keep).split('\n').length
  const tail = text.slice(text.lastIndexOf('\n') + 1)
  if (isJson(tail)) {
    // A complete entry that only lacks its newline (hand-edited): keep it.
    appendLine(fd, file, '\n')
    return
  }
  fs.ftruncateSync(fd, keep)
  warn(`${file}:${lineNo}: dropped a torn last line (the recording was cut short) before appending`)
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

export type ReplayOptions = CassetteOptions & {id?: string}

/**
 * Loads a cassette and answers from it. A key recorded more than once answers its recordings in
 * order, then keeps repeating the last; an exchange that was never recorded is a loud miss.
 */
export async function replayingModel(file: string, opts: ReplayOptions): Promise<ModelClient> {
  const warn = opts.onWarning ?? warnToStderr
  const {redactor} = opts
  const entries = loadCassette(file, warn)
  const byKey = new Map<string, {response: ChatResponse; redacted: boolean}[]>()
  for (const e of entries) {
    const list = byKey.get(e.key) ?? []
    list.push({response: e.response, redacted: e.v === 2})
    byKey.set(e.key, list)
  }
  const served = new Map<string, number>()

  return {
    id: opts.id ?? `cassette:${path.basename(file)}`,
    async chat(request: ChatRequest): Promise<ChatResponse> {
      const key = cassetteKey(request)
      const answers = byKey.get(key)
      if (!answers || answers.length === 0) {
        const lastUser = [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? ''
        // Redacted before it is cut short, so no part of a secret survives the cut.
        throw new ModelError(
          'cassette_miss',
          `no cassette entry for this exchange (key ${key.slice(0, 12)}…, model ${request.model}, last user message "${preview(redactor.redactText(lastUser))}"); re-record with --record-cassette ${file}`,
        )
      }
      const n = served.get(key) ?? 0
      served.set(key, n + 1)
      const answer = answers[Math.min(n, answers.length - 1)]!
      const response = structuredClone(answer.response)
      return answer.redacted ? (redactor.restoreFrom(response, request) as ChatResponse) : response
    },
  }
}

/** Every entry of a cassette, validated; malformed lines are `file:line: field: problem` errors. */
export function loadCassette(file: string, warn: (m: string) => void = warnToStderr): CassetteEntry[] {
  let text: string
  try {
    text = readRegularFileSync(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    const why =
      e instanceof NotRegularFileError ? (e.reason === 'is a directory' ? 'it is a directory' : `it ${e.reason}`) : code === 'ENOENT' ? 'no such file' : (e as Error).message
    throw new ValidationError([`${file}: cannot read the cassette (${why})`])
  }
  const lines = text.split('\n')
  const torn = lines.length > 0 && lines[lines.length - 1] !== '' ? lines.length : -1
  const entries: CassetteEntry[] = []
  const problems: string[] = []
  lines.forEach((line, i) => {
    if (line.trim() === '') return
    const lineNo = i + 1
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (e) {
      if (lineNo === torn) {
        warn(`${file}:${lineNo}: ignoring a torn last line (the recording was cut short)`)
        return
      }
      problems.push(`${file}:${lineNo}: not valid JSON (${(e as Error).message})`)
      return
    }
    // Entries are hashed and validated recursively: refuse what would overflow the stack.
    const deepAt = jsonTooDeepAt(line)
    if (deepAt >= 0) {
      problems.push(`${file}:${lineNo}: at column ${deepAt + 1}: ${tooDeepMessage()}`)
      return
    }
    const parsed = CassetteEntry.safeParse(value)
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.length > 0 ? issue.path.join('.') : '(entry)'
        problems.push(`${file}:${lineNo}: ${field}: ${issue.message}`)
      }
      return
    }
    const entry = parsed.data
    if (entry.v === 1 && hashJson(entry.request) !== entry.key) {
      problems.push(`${file}:${lineNo}: key: does not match the recorded request (was the line edited?); re-record it`)
      return
    }
    if (entry.v === 2 && hashJson({request: entry.request, response: entry.response}) !== entry.digest) {
      problems.push(`${file}:${lineNo}: digest: does not match the recorded exchange (was the line edited?); re-record it`)
      return
    }
    entries.push(parsed.data)
  })
  if (problems.length > 0) {
    throw new ValidationError(
      problems,
      problems.length === 1 ? problems[0] : `${file}: ${problems.length} problems in the cassette; first: ${problems[0]}`,
    )
  }
  return entries
}

function preview(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > 60 ? line.slice(0, 60) + '…' : line
}
