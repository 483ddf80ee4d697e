import {Ollama, type ChatRequest as WireChatRequest, type Message, type Options, type Tool} from 'ollama'
import {performance} from 'node:perf_hooks'
import {setTimeout as sleep} from 'node:timers/promises'
import {ModelError, ValidationError} from '../errors.js'
import {describeConstraints} from '../bundle/model-visible.js'
import type {ChatMessage, ChatRequest, ChatResponse, ModelClient, ModelToolCall, ToolSpec} from './types.js'

/**
 * The Ollama adapter: a ModelClient over the official `ollama` npm client. Every way a local
 * Ollama can fail (not running, model not pulled, an answer that is not a chat response, too slow,
 * a 5xx) becomes a ModelError with one line that says what to do about it.
 */

export const DEFAULT_OLLAMA_HOST = 'http://127.0.0.1:11434'

export type OllamaModelOptions = {
  host: string
  model: string
  timeoutMs: number
  /** Extra attempts after an HTTP 5xx (default 2). */
  retries?: number
  /** Ask for an NDJSON stream and accumulate it (default false: one JSON answer). */
  stream?: boolean
  /** First backoff between retries, doubled each time (default 200 ms). */
  backoffMs?: number
  /**
   * The largest answer accepted (model.max_answer_bytes): a response body past the size such an
   * answer can take on the wire is cut off unread, and the request fails (ModelError `too_large`).
   */
  maxAnswerBytes?: number
  /** The name as the server lists it (preflightOllama's answer), sent on the wire; default `model`. */
  serverName?: string
  /** Ollama's `think` (model.think): sent only when set. */
  think?: OllamaThink
  /** Ollama's `keep_alive` (model.keep_alive): sent with every call when set. */
  keepAlive?: string | number
  /** model.describe_constraints: write the argument constraints Ollama drops into the descriptions. */
  describeConstraints?: boolean
  /**
   * Several servers (src/model/ollama-pool.ts): each call runs on the server the pool picks, and
   * a server failure is retried on another server instead of after a backoff on the same one.
   */
  pool?: HostRouter
}

/** Where a call goes when there are several servers: OllamaPool, structurally. */
export type HostRouter = {
  run<T>(call: (host: string) => Promise<T>, signal?: AbortSignal): Promise<T>
  nameOn(host: string, model: string): string
}

export type OllamaThink = boolean | 'low' | 'medium' | 'high'

/** How long loading a model before the run may take: a cold load of a large model takes minutes. */
export const DEFAULT_LOAD_TIMEOUT_MS = 300_000

export type OllamaPreflightOptions = {
  /** The run offers tools: the model must have the `tools` capability (default true). */
  tools?: boolean
  think?: OllamaThink
  keepAlive?: string | number
  /** Deadline for loading the model (default DEFAULT_LOAD_TIMEOUT_MS), apart from the chat timeout. */
  loadTimeoutMs?: number
}

/**
 * The most bytes a JSON body can take to carry an answer of `maxAnswerBytes`: every byte escaped
 * (`\u0000` is six) plus room for the fields around it. A body over this cannot hold an answer
 * within the cap, so reading it further is only memory spent.
 */
export function maxBodyBytes(maxAnswerBytes: number): number {
  return maxAnswerBytes * 6 + 64 * 1024
}

/**
 * The Ollama server to talk to: the flag, else OLLAMA_HOST, else the local default. Accepts what
 * Ollama accepts: `host`, `host:port`, `:port`, or a full URL; no scheme means http and port 11434.
 */
export function resolveOllamaHost(flag?: string | null, env: NodeJS.ProcessEnv = process.env): string {
  const fromFlag = flag?.trim()
  if (fromFlag) return normalizeOllamaHost(fromFlag, '--ollama-host')
  const fromEnv = env.OLLAMA_HOST?.trim()
  if (fromEnv) return normalizeOllamaHost(fromEnv, 'OLLAMA_HOST')
  return DEFAULT_OLLAMA_HOST
}

export function normalizeOllamaHost(host: string, source = 'host'): string {
  let text = host.trim()
  let explicitScheme = text.includes('://')
  if (text.startsWith(':')) {
    text = `http://127.0.0.1${text}`
    explicitScheme = true
  }
  if (!explicitScheme) text = `http://${text}`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ValidationError([`${source} "${host}" is not a host: use host, host:port or http://host:port`])
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError([`${source} "${host}": only http:// and https:// are supported`])
  }
  const port = url.port || (explicitScheme ? (url.protocol === 'https:' ? '443' : '80') : '11434')
  const path = url.pathname.replace(/\/+$/, '')
  return `${url.protocol}//${url.hostname}:${port}${path}`
}

/** Ollama treats `name` and `name:latest` as the same model. */
function withDefaultTag(name: string): string {
  const last = name.split('/').pop() ?? name
  return last.includes(':') ? name : `${name}:latest`
}

/**
 * A model name as Ollama compares names: case-insensitively, `:latest` when no tag is given, and
 * the default registry and namespace (`registry.ollama.ai/library/`) optional.
 */
export function canonicalModelName(name: string): string {
  const n = name.trim().toLowerCase().replace(/^registry\.ollama\.ai\//, '').replace(/^library\//, '')
  return withDefaultTag(n)
}

export function createOllamaModel(opts: OllamaModelOptions): ModelClient {
  const host = normalizeOllamaHost(opts.host)
  const retries = opts.retries ?? 2
  const backoffMs = opts.backoffMs ?? 200
  const stream = opts.stream ?? false
  const maxBody = opts.maxAnswerBytes === undefined ? Number.POSITIVE_INFINITY : maxBodyBytes(opts.maxAnswerBytes)

  return {
    id: `ollama:${opts.model}`,
    async chat(request: ChatRequest, signal?: AbortSignal): Promise<ChatResponse> {
      const t0 = performance.now()
      const pool = opts.pool
      if (pool !== undefined) {
        const attempt = (on: string) =>
          attemptChat(
            {host: on, model: pool.nameOn(on, opts.model), timeoutMs: opts.timeoutMs, stream, maxBody, maxAnswerBytes: opts.maxAnswerBytes, think: opts.think, keepAlive: opts.keepAlive, describeConstraints: opts.describeConstraints},
            request,
            signal,
          )
        const answer = await pool.run(attempt, signal)
        return {...answer, latency_ms: Math.round(performance.now() - t0)}
      }
      for (let attempt = 0; ; attempt++) {
        try {
          const answer = await attemptChat(
            {host, model: opts.serverName ?? opts.model, timeoutMs: opts.timeoutMs, stream, maxBody, maxAnswerBytes: opts.maxAnswerBytes, think: opts.think, keepAlive: opts.keepAlive, describeConstraints: opts.describeConstraints},
            request,
            signal,
          )
          return {...answer, latency_ms: Math.round(performance.now() - t0)}
        } catch (e) {
          if (e instanceof ModelError && e.code === 'server_error' && isRetryable(e) && attempt < retries) {
            await sleep(backoffMs * 2 ** attempt, undefined, {signal})
            continue
          }
          throw e
        }
      }
    },
  }
}

/**
 * Before a run starts: the server answers, has the model (named as Ollama matches names), the model
 * can do what the run needs (/api/show `capabilities`), and it is loaded (an empty chat, with its
 * own deadline). Returns the model's name as the server lists it. Same messages as a failing chat.
 */
export async function preflightOllama(host: string, model: string, timeoutMs = 10_000, opts: OllamaPreflightOptions = {}): Promise<string> {
  const base = normalizeOllamaHost(host)
  const name = await listedName(base, model, timeoutMs)
  await checkCapabilities(base, name, model, timeoutMs, opts)
  await loadModel(base, name, opts)
  return name
}

async function listedName(base: string, model: string, timeoutMs: number): Promise<string> {
  const {client, cancel, timedOut} = clientWithTimeout(base, timeoutMs)
  let list: unknown
  try {
    list = await client.list()
  } catch (e) {
    // No /api/tags at all: this is not an Ollama root (a path such as /v1, or another server).
    if (statusOf(e) === 404) throw wrongHost(base, 'GET /api/tags', e)
    throw toModelError(e, {host: base, model, timeoutMs, timedOut: timedOut(), expected: 'a model list'})
  } finally {
    cancel()
  }
  if (!isRecord(list) || !Array.isArray(list.models)) {
    throw malformed(base, '/api/tags has no "models" array', 'a model list')
  }
  const wanted = canonicalModelName(model)
  for (const m of list.models) {
    if (!isRecord(m)) continue
    for (const n of [m.name, m.model]) if (typeof n === 'string' && canonicalModelName(n) === wanted) return n
  }
  throw modelMissing(base, model)
}

async function checkCapabilities(base: string, name: string, model: string, timeoutMs: number, opts: OllamaPreflightOptions): Promise<void> {
  const {client, cancel, timedOut} = clientWithTimeout(base, timeoutMs)
  let shown: unknown
  try {
    shown = await client.show({model: name})
  } catch (e) {
    throw toModelError(e, {host: base, model, timeoutMs, timedOut: timedOut(), expected: 'a model description'})
  } finally {
    cancel()
  }
  // Servers from before capabilities were reported (Ollama < 0.6.4) say nothing: nothing to check.
  if (!isRecord(shown) || !Array.isArray(shown.capabilities)) return
  const has = new Set(shown.capabilities.filter((c): c is string => typeof c === 'string'))
  const needed = [...(opts.tools ?? true ? ['tools'] : []), ...(opts.think !== undefined && opts.think !== false ? ['thinking'] : [])]
  const missing = needed.filter((c) => !has.has(c))
  if (missing.length > 0) {
    const why = missing.map((c) => (c === 'tools' ? 'tools (the run offers tools)' : 'thinking (model.think is set)')).join(' and ')
    throw new ModelError(
      'unsupported',
      `model "${model}" on ${base} does not support ${why}; its capabilities: ${[...has].join(', ') || 'none'}`,
    )
  }
}

async function loadModel(base: string, name: string, opts: OllamaPreflightOptions): Promise<void> {
  const loadTimeoutMs = opts.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS
  const {client, cancel, timedOut} = clientWithTimeout(base, loadTimeoutMs)
  let answer: unknown
  try {
    answer = await client.chat({model: name, messages: [], stream: false, ...(opts.keepAlive === undefined ? {} : {keep_alive: wireKeepAlive(opts.keepAlive)})})
  } catch (e) {
    if (timedOut()) {
      throw new ModelError('timeout', `Ollama at ${base} did not load model "${name}" within ${loadTimeoutMs} ms`, {cause: e})
    }
    throw toModelError(e, {host: base, model: name, timeoutMs: loadTimeoutMs, timedOut: false, expected: 'an answer to a model load'})
  } finally {
    cancel()
  }
  if (!isRecord(answer) || answer.done !== true) {
    throw malformed(base, `expected one JSON object with "done": true, got ${describe(answer)}`, 'an answer to a model load')
  }
}

class NotJsonError extends Error {
  constructor(readonly contentType: string) {
    super(`the body is ${contentType.split(';')[0]}, not JSON`)
  }
}

/** The server answered (status and headers came) and then the body broke off before its end. */
class BodyCutOffError extends Error {
  constructor(
    readonly received: number,
    cause: unknown,
  ) {
    super(`the answer was cut off after ${received} bytes (the connection closed before the body ended)`, {cause})
  }
}

/** The body ran past maxBodyBytes: read no further. */
class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the response body is over ${limit} bytes`)
  }
}

type Attempt = {
  host: string
  model: string
  timeoutMs: number
  stream: boolean
  maxBody: number
  maxAnswerBytes?: number
  think?: OllamaThink
  keepAlive?: string | number
  describeConstraints?: boolean
}

async function attemptChat(a: Attempt, request: ChatRequest, signal?: AbortSignal): Promise<Omit<ChatResponse, 'latency_ms'>> {
  const {client, cancel, timedOut} = clientWithTimeout(a.host, a.timeoutMs, signal, a.maxBody)
  const wire = toWireRequest(a.model, request, a)
  try {
    if (a.stream) {
      const chunks = await client.chat({...wire, stream: true})
      let content = ''
      let thinking = ''
      const calls: ModelToolCall[] = []
      let final: unknown
      for await (const chunk of chunks) {
        const part = readMessage(chunk, a.host)
        content += part.content
        thinking += part.thinking
        calls.push(...part.tool_calls)
        if (isRecord(chunk) && chunk.done === true) final = chunk
      }
      return fromWire(final, {content, thinking, tool_calls: calls}, a)
    }
    const answer: unknown = await client.chat({...wire, stream: false})
    if (!isRecord(answer) || answer.done !== true) {
      throw malformed(a.host, `expected one JSON object with "done": true, got ${describe(answer)}`)
    }
    return fromWire(answer, readMessage(answer, a.host), a)
  } catch (e) {
    if (signal?.aborted) throw signal.reason ?? e
    throw toModelError(e, {host: a.host, model: a.model, timeoutMs: a.timeoutMs, timedOut: timedOut(), maxAnswerBytes: a.maxAnswerBytes})
  } finally {
    cancel()
  }
}

/**
 * An Ollama client whose every request carries our deadline (the client itself only passes a
 * signal for streamed requests) and the caller's abort signal, and whose response bodies are read
 * through guardBody: at most `maxBody` bytes, and a body that breaks off is told apart from a
 * server that cannot be reached.
 */
function clientWithTimeout(host: string, timeoutMs: number, outer?: AbortSignal, maxBody = Number.POSITIVE_INFINITY) {
  const deadline = new AbortController()
  let expired = false
  const timer = setTimeout(() => {
    expired = true
    deadline.abort(new Error(`timed out after ${timeoutMs} ms`))
  }, timeoutMs)
  const signals = [deadline.signal, ...(outer ? [outer] : [])]
  const guardedFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, {...init, signal: AbortSignal.any(init?.signal ? [init.signal, ...signals] : signals)})
    // A proxy's HTML page is not an answer; saying so here beats the client's console noise on it.
    const type = response.headers.get('content-type')
    if (response.ok && type !== null && !/json/i.test(type)) {
      await response.body?.cancel()
      throw new NotJsonError(type)
    }
    // A refusal that is not JSON (a 404 page from a wrong base path, a proxy's error page): hand the
    // client its text as Ollama's {"error"} shape, or the client prints to stdout while reading it.
    if (!response.ok && !/json/i.test(type ?? '')) {
      const text = (await response.text().catch(() => '')).slice(0, 1000)
      return new Response(JSON.stringify({error: text.trim() || response.statusText}), {
        status: response.status,
        statusText: response.statusText,
        headers: {'content-type': 'application/json'},
      })
    }
    const length = Number(response.headers.get('content-length') ?? Number.NaN)
    if (length > maxBody) {
      await response.body?.cancel()
      throw new BodyTooLargeError(maxBody)
    }
    if (response.body === null) return response
    return new Response(guardBody(response.body, maxBody), {status: response.status, statusText: response.statusText, headers: response.headers})
  }
  return {
    client: new Ollama({host, fetch: guardedFetch}),
    cancel: () => clearTimeout(timer),
    timedOut: () => expired,
  }
}

/**
 * The body as the client reads it, with two guarantees: no more than `limit` bytes are ever read
 * (BodyTooLargeError), and a read that fails once the server has answered is a BodyCutOffError
 * (the server is there; its answer is incomplete), never the connection error it arrives as.
 */
function guardBody(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  let received = 0
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: Awaited<ReturnType<typeof reader.read>>
      try {
        next = await reader.read()
      } catch (e) {
        controller.error(new BodyCutOffError(received, e))
        return
      }
      if (next.done) {
        controller.close()
        return
      }
      received += next.value.byteLength
      if (received > limit) {
        await reader.cancel().catch(() => {})
        controller.error(new BodyTooLargeError(limit))
        return
      }
      controller.enqueue(next.value)
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  })
}

const described = new WeakMap<readonly ToolSpec[], ToolSpec[]>()

/** The tools with their constraints in the descriptions; once per tools array (a run reuses one). */
function describedTools(tools: readonly ToolSpec[]): ToolSpec[] {
  let out = described.get(tools)
  if (!out) {
    out = tools.map((t) => ({...t, function: {...t.function, parameters: describeConstraints(t.function.parameters)}}))
    described.set(tools, out)
  }
  return out
}

function toWireRequest(model: string, request: ChatRequest, a: Pick<Attempt, 'think' | 'keepAlive' | 'describeConstraints'>): WireChatRequest {
  return {
    model,
    // Sent only when the bundle sets them: an absent field is Ollama's default, as before. The
    // request's own think (the runtime's, from model.think) wins over the client's.
    ...((request.think ?? a.think) === undefined ? {} : {think: request.think ?? a.think}),
    ...(request.format === undefined ? {} : {format: request.format}),
    ...(a.keepAlive === undefined ? {} : {keep_alive: wireKeepAlive(a.keepAlive)}),
    messages: request.messages.map(toWireMessage),
    // ToolSpec is exactly Ollama's function format; the client's type is narrower about `parameters`.
    tools: (a.describeConstraints && request.tools ? describedTools(request.tools) : request.tools) as unknown as Tool[],
    options: request.options as unknown as Partial<Options>,
  }
}

/**
 * keep_alive as Ollama reads it (api/types.go Duration.UnmarshalJSON): a number is seconds, a string
 * goes through Go's time.ParseDuration, which refuses a number without a unit ("10" is a 400). The
 * bundle accepts "10" as seconds, so it is sent as the number 10.
 */
function wireKeepAlive(value: string | number): string | number {
  return typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
}

function toWireMessage(m: ChatMessage): Message {
  switch (m.role) {
    case 'assistant':
      return m.tool_calls && m.tool_calls.length > 0
        ? {role: 'assistant', content: m.content, tool_calls: m.tool_calls.map((c) => ({function: {name: c.name, arguments: c.arguments}}))}
        : {role: 'assistant', content: m.content}
    case 'tool':
      return {role: 'tool', content: m.content, tool_name: m.tool_name}
    default:
      return {role: m.role, content: m.content}
  }
}

/** The message part of one answer (or one stream chunk), checked field by field. */
function readMessage(value: unknown, host: string): {content: string; thinking: string; tool_calls: ModelToolCall[]} {
  if (!isRecord(value)) throw malformed(host, `expected a JSON object, got ${describe(value)}`)
  const message = value.message
  if (message === undefined && value.done === true) return {content: '', thinking: '', tool_calls: []}
  if (!isRecord(message)) throw malformed(host, `"message" is ${describe(message)}, not an object`)
  const content = message.content ?? ''
  if (typeof content !== 'string') throw malformed(host, `"message.content" is ${describe(content)}, not a string`)
  // A thinking model's reasoning comes apart from its answer (message.thinking); it is never the answer,
  // and is kept beside it (ChatResponse.thinking) for the trace.
  const thinking = typeof message.thinking === 'string' ? message.thinking : ''
  const rawCalls = message.tool_calls ?? []
  if (!Array.isArray(rawCalls)) throw malformed(host, `"message.tool_calls" is ${describe(rawCalls)}, not an array`)
  const tool_calls = rawCalls.map((c, i): ModelToolCall => {
    const fn = isRecord(c) ? c.function : undefined
    if (!isRecord(fn) || typeof fn.name !== 'string' || fn.name === '') {
      throw malformed(host, `"message.tool_calls[${i}]" has no function name`)
    }
    let args: unknown = fn.arguments ?? {}
    // Some models put the arguments in a JSON string; accept it when it is one.
    if (typeof args === 'string') {
      try {
        args = JSON.parse(args) as unknown
      } catch {
        throw malformed(host, `"message.tool_calls[${i}].function.arguments" is a string that is not JSON`)
      }
    }
    if (!isRecord(args)) throw malformed(host, `"message.tool_calls[${i}].function.arguments" is ${describe(args)}, not an object`)
    return {name: fn.name, arguments: args}
  })
  return {content, thinking, tool_calls}
}

function fromWire(
  final: unknown,
  message: {content: string; thinking: string; tool_calls: ModelToolCall[]},
  a: Pick<Attempt, 'host' | 'model' | 'think'>,
): Omit<ChatResponse, 'latency_ms'> {
  const host = a.host
  if (!isRecord(final)) throw malformed(host, 'the stream ended without a final "done": true chunk')
  const count = (field: string): number => {
    const v = final[field]
    if (v === undefined || v === null) return 0
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw malformed(host, `"${field}" is ${describe(v)}, not a count`)
    return v
  }
  const doneReason = typeof final.done_reason === 'string' && final.done_reason !== '' ? final.done_reason : 'stop'
  if (doneReason === 'length') {
    // The model hit num_predict (or its context) mid-answer: what came is not an answer.
    const spent = message.content === '' && message.tool_calls.length === 0 && message.thinking !== '' ? ', all of them spent thinking' : ''
    const fix = a.think !== undefined && a.think !== false ? 'raise model.max_output_tokens or lower model.think' : 'raise model.max_output_tokens'
    throw new ModelError(
      'truncated',
      `model "${a.model}" on ${host} stopped before finishing its answer (done_reason: length) after ${count('eval_count')} tokens${spent}; ${fix}`,
    )
  }
  return {
    message: {role: 'assistant', content: message.content, tool_calls: message.tool_calls},
    input_tokens: count('prompt_eval_count'),
    output_tokens: count('eval_count'),
    done_reason: doneReason,
    ...(message.thinking === '' ? {} : {thinking: message.thinking}),
  }
}

type ErrorContext = {host: string; model: string; timeoutMs: number; timedOut: boolean; expected?: string; maxAnswerBytes?: number}

/** Whatever the client threw → one ModelError. */
function toModelError(e: unknown, ctx: ErrorContext): ModelError {
  if (e instanceof ModelError) return e
  if (ctx.timedOut) {
    return new ModelError(
      'timeout',
      `Ollama at ${ctx.host} did not answer within ${ctx.timeoutMs} ms (model "${ctx.model}"); raise model.timeout_ms in the bundle or use a smaller model`,
      {cause: e},
    )
  }
  // Before the network: a read that broke off is the server's answer cut short, not an unreachable server.
  const inBody = findCause(e, (c) => c instanceof BodyCutOffError || c instanceof BodyTooLargeError)
  if (inBody instanceof BodyTooLargeError) {
    const cap = ctx.maxAnswerBytes === undefined ? '' : ` (model.max_answer_bytes ${ctx.maxAnswerBytes})`
    return new ModelError('too_large', `Ollama at ${ctx.host} sent an answer larger than this request accepts${cap}: ${inBody.message}; stopped reading it`, {cause: e})
  }
  if (inBody instanceof BodyCutOffError) return malformed(ctx.host, inBody.message, ctx.expected, e)
  const status = statusOf(e)
  const detail = e instanceof Error ? e.message : String(e)
  if (status !== undefined) {
    // Ollama's own 404 names the model; a bare "404 page not found" is a path the server does not have.
    if (status === 404) return /page not found/i.test(detail) ? wrongHost(ctx.host, ctx.expected === 'a model list' ? 'GET /api/tags' : 'POST /api/chat', e) : modelMissing(ctx.host, ctx.model, e)
    if (status >= 500) {
      return new ModelError('server_error', `Ollama at ${ctx.host} failed with HTTP ${status}: ${oneLine(detail)}`, {cause: e})
    }
    return new ModelError('server_error', `Ollama at ${ctx.host} refused the request (HTTP ${status}): ${oneLine(detail)}`, {cause: e})
  }
  const reason = networkReason(e)
  if (reason !== undefined) {
    return new ModelError(
      'unreachable',
      `cannot reach Ollama at ${ctx.host} (${reason}); is \`ollama serve\` running? set --ollama-host or OLLAMA_HOST`,
      {cause: e},
    )
  }
  if (e instanceof NotJsonError) return malformed(ctx.host, e.message, ctx.expected, e)
  if (e instanceof SyntaxError) return malformed(ctx.host, `the body is not JSON (${oneLine(detail)})`, ctx.expected, e)
  if (/did not receive done/i.test(detail)) return malformed(ctx.host, 'the stream ended without a final "done": true chunk', undefined, e)
  // An error chunk inside a stream ({"error": "..."}) arrives as a plain Error from the client.
  return new ModelError('server_error', `Ollama at ${ctx.host} failed: ${oneLine(detail)}`, {cause: e})
}

/** The first error along the `cause` chain that `test` accepts. */
function findCause(e: unknown, test: (c: unknown) => boolean): unknown {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = (cur as {cause?: unknown}).cause, depth++) if (test(cur)) return cur
  return undefined
}

function isRetryable(e: ModelError): boolean {
  const status = statusOf(e.cause)
  return status !== undefined && status >= 500
}

function statusOf(e: unknown): number | undefined {
  if (isRecord(e) || e instanceof Error) {
    const s = (e as {status_code?: unknown}).status_code
    if (typeof s === 'number') return s
  }
  return undefined
}

/** A connection-level failure in words, or undefined when the error is not one. */
function networkReason(e: unknown): string | undefined {
  const codes: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'connection timed out',
    EPIPE: 'connection closed',
    UND_ERR_SOCKET: 'connection closed by the server',
  }
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = (cur as {cause?: unknown}).cause, depth++) {
    const code = (cur as {code?: unknown}).code
    if (typeof code === 'string' && code in codes) return codes[code]
    if (Array.isArray((cur as {errors?: unknown}).errors)) {
      // AggregateError from happy-eyeballs (IPv4 and IPv6 both refused).
      for (const inner of (cur as {errors: unknown[]}).errors) {
        const c = (inner as {code?: unknown}).code
        if (typeof c === 'string' && c in codes) return codes[c]
      }
    }
  }
  if (e instanceof TypeError && /fetch failed/i.test(e.message)) return 'connection failed'
  return undefined
}

function modelMissing(host: string, model: string, cause?: unknown): ModelError {
  return new ModelError('model_missing', `model "${model}" is not available on ${host}; run \`ollama pull ${model}\``, {cause})
}

function wrongHost(host: string, asked: string, cause?: unknown): ModelError {
  const path = new URL(host).pathname.replace(/\/+$/, '')
  const fix = path === '' ? 'is this an Ollama server?' : `drop the path "${path}": Ollama's API is at the server's root`
  return new ModelError(
    'unreachable',
    `${host} is not an Ollama API root (${asked.replace(' /', ` ${host}/`)} answered HTTP 404); ${fix}; check --ollama-host or OLLAMA_HOST`,
    {cause},
  )
}

function malformed(host: string, what: string, expected = 'a chat response', cause?: unknown): ModelError {
  return new ModelError('malformed', `Ollama at ${host} answered something that is not ${expected}: ${what}`, {cause})
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return 'an object'
  const text = JSON.stringify(v)
  return `${typeof v} ${text.length > 40 ? text.slice(0, 40) + '…' : text}`
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > 200 ? line.slice(0, 200) + '…' : line
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
