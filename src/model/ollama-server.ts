import http from 'node:http'
import type {AddressInfo, Socket} from 'node:net'
import {performance} from 'node:perf_hooks'
import {UnderstudyError, ValidationError} from '../errors.js'
import type {ChatMessage, ChatRequest, ChatResponse, ModelClient, ModelToolCall, ToolSpec} from './types.js'
import {sha256} from '../util/canonical.js'
import {Ajv} from 'ajv'

/**
 * A server that speaks Ollama's HTTP API (docs/api.md of ollama/ollama) and answers chat requests
 * from any ModelClient, so that real Ollama clients — the `ollama` npm client, the CLI, curl — can
 * be pointed at a deterministic model, and so the Ollama adapter can be tested against the real
 * wire format, including the ways a real server fails.
 */

export type OllamaServerFaults = {
  /**
   * Fraction (0..1) of /api/chat requests answered with HTTP 500. Deterministic, not random:
   * failures are spread evenly and the first request fails first (0.5 → fail, ok, fail, ok…).
   */
  failRate?: number
  /** Every /api/chat answer is a 200 HTML page instead of JSON. */
  garbage?: boolean
  /** Every /api/chat answer is HTTP 500. */
  status500?: boolean
  /** Wait this long before answering /api/chat. */
  delayMs?: number
  /**
   * Play a thinking model (capability `thinking`) that spends this many tokens thinking and runs
   * out of budget: every chat that does not send `think: false` is answered HTTP 200 with empty
   * content, the thinking in `message.thinking`, and `done_reason: "length"`.
   */
  thinkBudget?: number
  /**
   * Play a thinking model (capability `thinking`) that thinks within budget: unless the request
   * sends `think: false`, the answer carries a short reasoning in `message.thinking` (`thinking` on
   * /api/generate), streamed before the content as Ollama streams it.
   */
  thinks?: boolean
  /** Play a model without tool support: /api/show lists no `tools`, a chat with tools is a 400. */
  noTools?: boolean
  /** The first load of each model (a chat with `messages: []`, or the first chat) takes this long. */
  loadMs?: number
}

export type OllamaServerOptions = {
  resolveModel: (name: string) => ModelClient | undefined
  /** Model names listed by /api/tags; a request for any other name is answered 404. */
  models: string[]
  host?: string
  /** 0 picks a free port. */
  port?: number
  faults?: OllamaServerFaults
  /** Largest request body accepted, in bytes (default 8 MiB); a larger one is answered 413. */
  maxBodyBytes?: number
}

export type OllamaServer = {
  url: string
  close(): Promise<void>
  stats: {requests: number}
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
/** How long the rest of a refused (413) body is drained before the 413 is sent anyway and the connection closed. */
const DRAIN_MS = 5_000
const SERVER_VERSION = '0.0.0-understudy'
const JSON_TYPE = 'application/json; charset=utf-8'
const NDJSON_TYPE = 'application/x-ndjson'
/** Latest instant a JS Date holds: a negative keep_alive (loaded for ever) is listed as this. */
const MAX_DATE_MS = 8.64e15
const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000

/** Ollama treats `name` and `name:latest` as the same model. */
export function withDefaultTag(name: string): string {
  const last = name.split('/').pop() ?? name
  return last.includes(':') ? name : `${name}:latest`
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export async function startOllamaServer(opts: OllamaServerOptions): Promise<OllamaServer> {
  const host = opts.host ?? '127.0.0.1'
  if (!LOOPBACK.has(host)) {
    throw new ValidationError([
      `--host ${host}: the sandbox Ollama server only listens on loopback (127.0.0.1, ::1 or localhost)`,
    ])
  }
  const port = opts.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ValidationError([`--port ${port}: must be an integer from 0 to 65535`])
  }
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  if (!Number.isInteger(maxBody) || maxBody < 1) {
    throw new ValidationError([`--max-request-bytes ${maxBody}: must be a whole number of bytes, at least 1`])
  }
  const faults = opts.faults ?? {}
  const failRate = faults.failRate ?? 0
  if (!(failRate >= 0 && failRate <= 1)) {
    throw new ValidationError([`faults.failRate ${failRate}: must be between 0 and 1`])
  }

  const startedAt = new Date().toISOString()
  const byTag = new Map<string, string>()
  for (const name of opts.models) byTag.set(withDefaultTag(name), name)

  const stats = {requests: 0}
  let chatRequests = 0
  const capabilities = (): string[] => [
    'completion',
    ...(faults.noTools ? [] : ['tools']),
    ...(faults.thinkBudget === undefined && !faults.thinks ? [] : ['thinking']),
  ]
  /** Loaded models and when each expires (keep_alive), for /api/ps. */
  const expiry = new Map<string, number>()
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let closing = false

  const lookup = (requested: unknown): {name: string; client: ModelClient} => {
    if (typeof requested !== 'string' || requested.trim() === '') throw new HttpError(400, 'model is required')
    const name = byTag.get(withDefaultTag(requested))
    const client = name === undefined ? undefined : opts.resolveModel(name)
    if (name === undefined || client === undefined) {
      // server/routes.go ChatHandler, GenerateHandler and ShowHandler: getModel finds no manifest.
      throw new HttpError(404, `model '${requested}' not found`)
    }
    return {name, client}
  }

  const wait = (ms: number, req: http.IncomingMessage): Promise<void> =>
    new Promise((resolve, reject) => {
      const onGone = (): void => {
        clearTimeout(timer)
        timers.delete(timer)
        reject(new Error('client went away'))
      }
      const timer = setTimeout(() => {
        timers.delete(timer)
        req.socket.off('close', onGone)
        resolve()
      }, ms)
      timers.add(timer)
      req.socket.once('close', onGone)
    })

  /**
   * The request body, at most `maxBody` bytes. A larger one (by its content-length, or once that
   * many bytes have come) is refused with 413 without being kept: the rest is read and dropped, and
   * the answer sent once the client has finished sending (a client still writing when the server
   * hangs up sees a broken pipe, not the 413). A client that keeps sending past DRAIN_MS is answered
   * then and its connection closed.
   */
  const readBody = (req: http.IncomingMessage, res: http.ServerResponse): Promise<string> =>
    new Promise((resolve, reject) => {
      let refused = false
      const tooLarge = (): void => {
        refused = true
        req.removeAllListeners('data')
        const error = new HttpError(413, `request body is larger than this server's limit of ${maxBody} bytes`)
        const timer = setTimeout(() => {
          timers.delete(timer)
          res.setHeader('connection', 'close')
          reject(error)
        }, DRAIN_MS)
        timers.add(timer)
        req.once('end', () => {
          clearTimeout(timer)
          timers.delete(timer)
          reject(error)
        })
        req.resume()
      }
      const declared = Number(req.headers['content-length'])
      if (Number.isFinite(declared) && declared > maxBody) {
        tooLarge()
        return
      }
      const chunks: Buffer[] = []
      let size = 0
      req.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > maxBody) {
          chunks.length = 0
          tooLarge()
          return
        }
        chunks.push(chunk)
      })
      req.on('end', () => {
        if (!refused) resolve(Buffer.concat(chunks).toString('utf8'))
      })
      req.on('error', reject)
    })

  /**
   * What Ollama does for /api/chat and /api/generate before any text is generated, in its order
   * (server/routes.go ChatHandler, GenerateHandler): the model, an unload (nothing to generate and
   * keep_alive 0), the capability checks, the options (scheduleRunner → Options.FromMap), the load.
   * Returns undefined when the request is answered (an unload).
   */
  const prepare = async (
    req: http.IncomingMessage,
    body: Record<string, unknown>,
    empty: boolean,
    tools: number,
  ): Promise<{name: string; client: ModelClient; think: boolean; keepAliveMs: number} | {unloaded: true}> => {
    const {name, client} = lookup(body.model)
    const keepAliveMs = parseKeepAlive(body.keep_alive)
    const think = parseThink(body.think)
    if (empty && keepAliveMs === 0) {
      expiry.delete(name)
      return {unloaded: true}
    }
    // Ollama's capability checks come before the model is scheduled (server/routes.go ChatHandler).
    // scheduleRunner: "<model.Name> does not support tools", model.Name being the full name
    // (server/images.go GetModel: model.ParseName(name).String(), registry and namespace included).
    if (faults.noTools && tools > 0) throw new HttpError(400, `${fullName(name)} does not support tools`)
    const thinking = capabilities().includes('thinking')
    if (think !== undefined && think !== false && !thinking) {
      throw new HttpError(400, `${JSON.stringify(body.model)} does not support thinking`)
    }
    // Options are read as the model is scheduled; a wrong type is a 500 there (handleScheduleError).
    checkOptions(body.options)
    if (!expiry.has(name) && faults.loadMs && faults.loadMs > 0) await wait(faults.loadMs, req)
    expiry.set(name, Date.now() + keepAliveMs)
    // A thinking model thinks unless told not to (think absent means true for it).
    return {name, client, think: thinking && think !== false, keepAliveMs}
  }

  /** The scripted answer, or an injected fault; undefined when the fault already answered. */
  const generate = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    client: ModelClient | undefined,
    request: ChatRequest,
  ): Promise<{answer: ChatResponse; totalNs: number} | undefined> => {
    chatRequests += 1
    if (faults.delayMs && faults.delayMs > 0) await wait(faults.delayMs, req)
    // Evenly spread, deterministic failures: request n fails when ceil(n·rate) steps up.
    const injectedFailure =
      faults.status500 === true || Math.ceil(chatRequests * failRate) > Math.ceil((chatRequests - 1) * failRate)
    if (injectedFailure) throw new HttpError(500, 'injected fault: the model runner stopped unexpectedly')
    if (faults.garbage) {
      // What a misconfigured proxy in front of Ollama tends to answer.
      res.writeHead(200, {'content-type': 'text/html; charset=utf-8'})
      res.end('<html><body>502 Bad Gateway</body></html>\n')
      return undefined
    }
    // A model out of thinking budget never gets to answer: the caller plays it.
    if (client === undefined) return {answer: {message: {role: 'assistant', content: '', tool_calls: []}, input_tokens: 0, output_tokens: 0, latency_ms: 0, done_reason: 'length'}, totalNs: 1}
    const t0 = performance.now()
    let answer: ChatResponse
    try {
      answer = await client.chat(request)
    } catch (e) {
      throw new HttpError(500, e instanceof Error ? e.message : String(e))
    }
    return {answer, totalNs: Math.max(1, Math.round((performance.now() - t0) * 1e6))}
  }

  const handleChat = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const body = parseBody(await readBody(req, res))
    const request = toChatRequest(body)
    const stream = body.stream === undefined || body.stream === null ? true : body.stream === true
    const modelName = typeof body.model === 'string' ? body.model : ''
    const ready = await prepare(req, body, request.messages.length === 0, request.tools.length)
    if ('unloaded' in ready) {
      sendJson(res, 200, {model: modelName, created_at: now(), message: {role: 'assistant', content: ''}, done_reason: 'unload', done: true})
      return
    }
    if (request.messages.length === 0 && !faults.garbage) {
      // An empty chat loads the model and answers at once (docs/api.md "Load a model").
      sendJson(res, 200, {model: modelName, created_at: now(), message: {role: 'assistant', content: ''}, done_reason: 'load', done: true})
      return
    }
    if (faults.thinkBudget !== undefined && ready.think) {
      await generate(req, res, undefined, request).then((r) => r && sendThinkingOutOfBudget(res, modelName, faults.thinkBudget!, stream, 'chat'))
      return
    }
    const result = await generate(req, res, ready.client, request)
    if (!result) return
    const {answer, totalNs} = result
    // Under `format` Ollama's constrained decoding lets the model write only text of that format, so
    // it cannot emit a tool call even when tools are offered (ollama/ollama#8095: tool_calls come back
    // empty): a proposed call becomes its JSON text, shaped like any other answer, as /api/generate does.
    const constrained = body.format !== undefined && body.format !== null && body.format !== ''
    const proposed = constrained ? [] : answer.message.tool_calls
    const text = constrained && answer.message.content === '' && answer.message.tool_calls.length > 0 ? JSON.stringify(answer.message.tool_calls) : answer.message.content
    const content = shapeContent(text, body.format)
    const thinking = ready.think ? thinkingFor(request) : ''
    // Ollama numbers a response's tool calls from 0 (function.index) and gives each an id
    // "call_" + 8 characters (server/routes.go toolCallId; random there, derived from the call here).
    const toolCalls = proposed.map((c, index) => ({
      id: `call_${sha256(JSON.stringify([index, c.name, c.arguments, request.messages.length])).slice(0, 8)}`,
      function: {index, name: c.name, arguments: c.arguments},
    }))
    const final = finalFields(answer, totalNs)
    const message = (fields: Record<string, unknown>): Record<string, unknown> => ({role: 'assistant', content: '', ...fields})

    if (!stream) {
      const fields: Record<string, unknown> = {content}
      if (thinking) fields.thinking = thinking
      if (toolCalls.length > 0) fields.tool_calls = toolCalls
      sendJson(res, 200, {model: modelName, created_at: now(), message: message(fields), ...final})
      return
    }
    res.writeHead(200, {'content-type': NDJSON_TYPE})
    const line = (value: unknown): void => {
      res.write(JSON.stringify(value) + '\n')
    }
    for (const piece of splitPieces(thinking)) line({model: modelName, created_at: now(), message: message({thinking: piece}), done: false})
    for (const piece of splitPieces(content)) line({model: modelName, created_at: now(), message: message({content: piece}), done: false})
    if (toolCalls.length > 0) line({model: modelName, created_at: now(), message: message({tool_calls: toolCalls}), done: false})
    line({model: modelName, created_at: now(), message: message({}), ...final})
    res.end()
  }

  const handleGenerate = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const body = parseBody(await readBody(req, res))
    for (const field of ['prompt', 'system', 'suffix'] as const) {
      if (body[field] !== undefined && body[field] !== null && typeof body[field] !== 'string') {
        throw new HttpError(400, `json: cannot unmarshal ${goType(body[field])} into Go struct field GenerateRequest.${field} of type string`)
      }
    }
    if (body.format !== undefined && body.format !== null && body.format !== '' && body.format !== 'json' && !isRecord(body.format)) {
      throw new HttpError(400, 'format must be "json" or a JSON schema object')
    }
    const prompt = typeof body.prompt === 'string' ? body.prompt : ''
    const stream = body.stream === undefined || body.stream === null ? true : body.stream === true
    const modelName = typeof body.model === 'string' ? body.model : ''
    const ready = await prepare(req, body, prompt === '', 0)
    if ('unloaded' in ready) {
      sendJson(res, 200, {model: modelName, created_at: now(), response: '', done: true, done_reason: 'unload'})
      return
    }
    if (prompt === '' && !faults.garbage) {
      // An empty prompt loads the model (docs/api.md "Load a model" under /api/generate).
      sendJson(res, 200, {model: modelName, created_at: now(), response: '', done: true, done_reason: 'load'})
      return
    }
    const messages: ChatMessage[] = [
      ...(typeof body.system === 'string' && body.system !== '' ? [{role: 'system' as const, content: body.system}] : []),
      {role: 'user', content: prompt},
    ]
    const request: ChatRequest = {model: modelName, messages, tools: [], options: withDefaults(isRecord(body.options) ? body.options : {})}
    if (faults.thinkBudget !== undefined && ready.think) {
      await generate(req, res, undefined, request).then((r) => r && sendThinkingOutOfBudget(res, modelName, faults.thinkBudget!, stream, 'generate'))
      return
    }
    const result = await generate(req, res, ready.client, request)
    if (!result) return
    const {answer, totalNs} = result
    // /api/generate has no tool calls: a scripted call comes back as its JSON text.
    const text = answer.message.content || (answer.message.tool_calls.length > 0 ? JSON.stringify(answer.message.tool_calls) : '')
    const response = shapeContent(text, body.format)
    const thinking = ready.think ? thinkingFor(request) : ''
    const final = finalFields(answer, totalNs)
    if (!stream) {
      sendJson(res, 200, {model: modelName, created_at: now(), response, ...(thinking ? {thinking} : {}), ...final})
      return
    }
    res.writeHead(200, {'content-type': NDJSON_TYPE})
    for (const piece of splitPieces(thinking)) res.write(JSON.stringify({model: modelName, created_at: now(), response: '', thinking: piece, done: false}) + '\n')
    for (const piece of splitPieces(response)) res.write(JSON.stringify({model: modelName, created_at: now(), response: piece, done: false}) + '\n')
    res.end(JSON.stringify({model: modelName, created_at: now(), response: '', ...final}) + '\n')
  }

  const handlePs = (res: http.ServerResponse): void => {
    const t = Date.now()
    for (const [name, until] of expiry) if (until <= t) expiry.delete(name)
    sendJson(res, 200, {
      // Longest time left first, as Ollama lists them (server/routes.go PsHandler).
      models: [...expiry.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([name, until]) => ({
          name: withDefaultTag(name),
          model: withDefaultTag(name),
          size: 0,
          digest: digestOf(name),
          details: modelDetails(),
          expires_at: new Date(Math.min(until, MAX_DATE_MS)).toISOString(),
          size_vram: 0,
          context_length: 4096,
        })),
    })
  }

  const handleShow = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const body = parseBody(await readBody(req, res))
    const {name} = lookup(body.model ?? body.name)
    sendJson(res, 200, {
      license: '',
      modelfile: `# Modelfile generated by understudy\nFROM ${name}\n`,
      parameters: 'temperature 0',
      template: '{{ .Prompt }}',
      system: '',
      details: modelDetails(),
      model_info: {'general.architecture': 'understudy-scripted', 'general.parameter_count': 0},
      capabilities: capabilities(),
      modified_at: startedAt,
    })
  }

  const handleTags = (res: http.ServerResponse): void => {
    sendJson(res, 200, {
      models: opts.models.map((name) => ({
        name: withDefaultTag(name),
        model: withDefaultTag(name),
        modified_at: startedAt,
        size: 0,
        digest: digestOf(name),
        details: modelDetails(),
      })),
    })
  }

  const routes: Record<string, Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void>> = {
    '/': {
      GET: (_q, s) => sendText(s, 200, 'Ollama is running'),
      HEAD: (_q, s) => sendText(s, 200, ''),
    },
    '/api/version': {GET: (_q, s) => sendJson(s, 200, {version: SERVER_VERSION}), HEAD: (_q, s) => sendJson(s, 200, {version: SERVER_VERSION})},
    '/api/ps': {GET: (_q, s) => handlePs(s)},
    '/api/generate': {POST: handleGenerate},
    '/api/tags': {GET: (_q, s) => handleTags(s), HEAD: (_q, s) => handleTags(s)},
    '/api/show': {POST: handleShow},
    '/api/chat': {POST: handleChat},
  }

  const server = http.createServer((req, res) => {
    stats.requests += 1
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname
    const route = routes[path]
    const handler = route?.[req.method ?? 'GET']
    if (!route) return sendText(res, 404, '404 page not found')
    if (!handler) return sendJson(res, 405, {error: `method ${req.method} not allowed on ${path}`})
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((e: unknown) => {
        if (res.headersSent) {
          res.destroy()
          return
        }
        if (e instanceof HttpError) sendJson(res, e.status, {error: e.message})
        else if (!closing && !req.socket.destroyed) sendJson(res, 500, {error: e instanceof Error ? e.message : String(e)})
      })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      if (e.code === 'EADDRINUSE') {
        reject(
          new UnderstudyError(
            `port ${port} on ${host} is already in use (is \`ollama serve\` running?); pick another with --port`,
          ),
        )
      } else reject(new UnderstudyError(`cannot listen on ${host}:${port}: ${e.message}`))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })

  const address = server.address() as AddressInfo
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${urlHost}:${address.port}`,
    stats,
    close: () => {
      closing = true
      for (const t of timers) clearTimeout(t)
      timers.clear()
      return new Promise<void>((resolve) => {
        server.close(() => resolve())
        // Keep-alive and delayed (fault-injected) connections would otherwise hold close() open.
        for (const s of sockets) s.destroy()
      })
    },
  }
}

/** A thinking model that spent its whole budget thinking: no answer, done_reason "length". */
function sendThinkingOutOfBudget(res: http.ServerResponse, model: string, budget: number, stream: boolean, endpoint: 'chat' | 'generate'): void {
  const thinking = 'Let me think about this. '.repeat(Math.max(1, Math.ceil(budget / 6))).trim()
  const at = now()
  const final = {done_reason: 'length', done: true, total_duration: 1, load_duration: 0, prompt_eval_count: 0, eval_count: budget}
  const part = (fields: {thinking?: string}): Record<string, unknown> =>
    endpoint === 'chat' ? {message: {role: 'assistant', content: '', ...fields}} : {response: '', ...fields}
  if (!stream) {
    sendJson(res, 200, {model, created_at: at, ...part({thinking}), ...final})
    return
  }
  res.writeHead(200, {'content-type': NDJSON_TYPE})
  res.write(JSON.stringify({model, created_at: at, ...part({thinking}), done: false}) + '\n')
  res.end(JSON.stringify({model, created_at: at, ...part({}), ...final}) + '\n')
}

const now = (): string => new Date().toISOString()

/** A model name as Ollama writes it in full: `registry.ollama.ai/library/` where the name leaves them out. */
function fullName(name: string): string {
  const parts = withDefaultTag(name).split('/')
  if (parts.length === 1) return `registry.ollama.ai/library/${parts[0]}`
  if (parts.length === 2) return `registry.ollama.ai/${parts.join('/')}`
  return parts.join('/')
}
const digestOf = (name: string): string => sha256(`understudy:${withDefaultTag(name)}`)

/** The last chunk's fields (docs/api.md: durations in nanoseconds, token counts). */
function finalFields(answer: ChatResponse, totalNs: number): Record<string, unknown> {
  return {
    done_reason: answer.done_reason || 'stop',
    done: true,
    total_duration: totalNs,
    load_duration: Math.round(totalNs * 0.05),
    prompt_eval_count: answer.input_tokens,
    prompt_eval_duration: Math.round(totalNs * 0.25),
    eval_count: answer.output_tokens,
    eval_duration: Math.round(totalNs * 0.7),
  }
}

/** A thinking model's reasoning: short, deterministic, and never part of the answer. */
function thinkingFor(request: ChatRequest): string {
  const last = [...request.messages].reverse().find((m) => m.role === 'user' || m.role === 'tool')
  const about = last === undefined ? 'the conversation' : last.role === 'tool' ? `the result of ${last.tool_name || 'a tool'}` : 'the last user message'
  return `I read ${about} and decide what to do next.`
}

const ajv = new Ajv({strict: false, allErrors: false})

/**
 * The answer text under `format`, as Ollama's constrained decoding guarantees it: `"json"` is a JSON
 * object, a schema is JSON that matches it. The scripted model's text is kept when it already
 * conforms, or the JSON object inside it when that does; otherwise `"json"` wraps it as
 * {"content": text} and a schema gets the smallest value that matches it (required properties only,
 * first enum value, the text in the first string).
 */
export function shapeContent(text: string, format: unknown): string {
  if (format === undefined || format === null || format === '') return text
  let parsed: unknown
  let parses = false
  try {
    parsed = JSON.parse(text)
    parses = true
  } catch {
    // Not JSON: shaped below.
  }
  if (format === 'json') return parses && isRecord(parsed) ? text : JSON.stringify({content: text})
  const schema = format as Record<string, unknown>
  let fits = false
  try {
    fits = parses && ajv.validate(schema, parsed)
  } catch {
    fits = false
  }
  if (fits) return text
  // Under constrained decoding a model that would have wrapped its JSON in prose emits the JSON
  // alone: the outermost {...} of the text, when that matches the schema.
  const start = text.indexOf('{')
  const end = text.lastIndexOf('}')
  if (start >= 0 && end > start) {
    const inner = text.slice(start, end + 1)
    try {
      if (ajv.validate(schema, JSON.parse(inner))) return inner
    } catch {
      // Not JSON either: synthesised below.
    }
  }
  const filler = {text, used: false}
  return JSON.stringify(instanceOf(schema, filler, 0))
}

function instanceOf(schema: unknown, filler: {text: string; used: boolean}, depth: number): unknown {
  if (!isRecord(schema) || depth > 16) return null
  if ('const' in schema) return schema.const
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0]
  if ('default' in schema) return schema.default
  const variants = (schema.anyOf ?? schema.oneOf) as unknown
  if (Array.isArray(variants) && variants.length > 0) return instanceOf(variants[0], filler, depth + 1)
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') ?? schema.type[0] : schema.type
  switch (type) {
    case 'object': {
      const props = isRecord(schema.properties) ? schema.properties : {}
      const required = Array.isArray(schema.required) ? schema.required.filter((k): k is string => typeof k === 'string') : []
      return Object.fromEntries(required.map((k) => [k, instanceOf(props[k] ?? {}, filler, depth + 1)]))
    }
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 0
      return Array.from({length: min}, () => instanceOf(schema.items ?? {}, filler, depth + 1))
    }
    case 'string': {
      if (filler.used) return ''
      filler.used = true
      const max = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY
      return filler.text.slice(0, max)
    }
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 0
    case 'boolean':
      return false
    case 'null':
      return null
    default:
      return {}
  }
}

/**
 * keep_alive as Ollama reads it (api/types.go Duration.UnmarshalJSON): a number is seconds, a string
 * a Go duration ("5m", "1h30m", "0"); negative keeps the model loaded for ever; absent is 5 minutes.
 * Anything else is the 400 Ollama answers.
 */
function parseKeepAlive(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_KEEP_ALIVE_MS
  if (typeof value === 'number') return value < 0 ? MAX_DATE_MS : value * 1000
  if (typeof value === 'string') {
    const ms = goDurationMs(value)
    if (ms === undefined) throw new HttpError(400, `time: invalid duration ${JSON.stringify(value)}`)
    return ms < 0 ? MAX_DATE_MS : ms
  }
  throw new HttpError(400, `Unsupported type: '${goType(value)}'`)
}

const UNIT_MS: Record<string, number> = {ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000}

/** Go's time.ParseDuration, in milliseconds; undefined where Go answers an error. */
function goDurationMs(text: string): number | undefined {
  const m = /^([-+]?)(.*)$/.exec(text)!
  const sign = m[1] === '-' ? -1 : 1
  const rest = m[2]!
  if (rest === '0') return 0
  if (rest === '' || !/^(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.test(rest)) return undefined
  let total = 0
  for (const [, n, unit] of rest.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(n) * UNIT_MS[unit!]!
  return sign * total
}

/** `think` as api/types.go ThinkValue reads it: a boolean or a level. */
function parseThink(value: unknown): boolean | string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'boolean') return value
  if (typeof value === 'string') {
    if (['high', 'medium', 'low', 'max'].includes(value)) return value
    throw new HttpError(400, `invalid think value: ${JSON.stringify(value)} (must be "high", "medium", "low", "max", true, or false)`)
  }
  throw new HttpError(400, 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)')
}

/** Ollama's options and their Go kinds (api/types.go Options and Runner). */
const OPTION_KINDS: Record<string, 'integer' | 'float32' | 'boolean' | 'array'> = {
  num_keep: 'integer', seed: 'integer', num_predict: 'integer', top_k: 'integer', repeat_last_n: 'integer',
  num_ctx: 'integer', num_batch: 'integer', num_gpu: 'integer', main_gpu: 'integer', num_thread: 'integer',
  draft_num_predict: 'integer', top_p: 'float32', min_p: 'float32', typical_p: 'float32', temperature: 'float32',
  repeat_penalty: 'float32', presence_penalty: 'float32', frequency_penalty: 'float32', use_mmap: 'boolean', stop: 'array',
}

/**
 * Options as api/types.go Options.FromMap reads them: an unknown option is ignored (Ollama logs a
 * warning), null is skipped, a value of the wrong kind is an error. Ollama reads options when it
 * schedules the model, and handleScheduleError answers that error with HTTP 500, not 400.
 */
function checkOptions(options: unknown): void {
  if (options === undefined || options === null) return
  if (!isRecord(options)) throw new HttpError(400, `json: cannot unmarshal ${goType(options)} into Go struct field ChatRequest.options of type map[string]interface {}`)
  for (const [key, value] of Object.entries(options)) {
    const kind = OPTION_KINDS[key]
    if (kind === undefined || value === null) continue
    const ok =
      kind === 'integer' || kind === 'float32' ? typeof value === 'number' : kind === 'boolean' ? typeof value === 'boolean' : Array.isArray(value)
    if (!ok) throw new HttpError(500, `option ${JSON.stringify(key)} must be of type ${kind}`)
    if (kind === 'array' && !(value as unknown[]).every((v) => typeof v === 'string')) {
      throw new HttpError(500, `option ${JSON.stringify(key)} must be of an array of strings`)
    }
  }
}

/** The Go type name encoding/json names for a JSON value. */
function goType(value: unknown): string {
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'number') return 'number'
  if (typeof value === 'string') return 'string'
  if (Array.isArray(value)) return 'array'
  return 'object'
}

/** Ollama's own defaults where the client leaves an option out. */
function withDefaults(options: Record<string, unknown>): ChatRequest['options'] {
  return {
    ...options,
    temperature: typeof options.temperature === 'number' ? options.temperature : 0.8,
    seed: typeof options.seed === 'number' ? options.seed : 0,
    num_predict: typeof options.num_predict === 'number' ? options.num_predict : -1,
  }
}

function modelDetails(): Record<string, unknown> {
  return {
    parent_model: '',
    format: 'scripted',
    family: 'understudy',
    families: ['understudy'],
    parameter_size: '0',
    quantization_level: 'none',
  }
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, {'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body)})
  res.end(body)
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, {'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text)})
  res.end(text)
}

function parseBody(text: string): Record<string, unknown> {
  if (text.trim() === '') throw new HttpError(400, 'missing request body')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new HttpError(400, `invalid JSON in request body: ${(e as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'request body must be a JSON object')
  }
  return value as Record<string, unknown>
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Wire request → the runtime's ChatRequest; anything that is not the documented shape is a 400. */
function toChatRequest(body: Record<string, unknown>): ChatRequest {
  const rawMessages = body.messages ?? []
  if (!Array.isArray(rawMessages)) throw new HttpError(400, 'messages must be an array')
  const messages = rawMessages.map((m, i) => toMessage(m, i))
  const rawTools = body.tools ?? []
  if (!Array.isArray(rawTools)) throw new HttpError(400, 'tools must be an array')
  const tools = rawTools.map((t, i): ToolSpec => {
    if (!isRecord(t) || !isRecord(t.function) || typeof t.function.name !== 'string') {
      throw new HttpError(400, `tools[${i}] must be {type: "function", function: {name, description, parameters}}`)
    }
    return {
      type: 'function',
      function: {
        name: t.function.name,
        description: typeof t.function.description === 'string' ? t.function.description : '',
        parameters: isRecord(t.function.parameters) ? t.function.parameters : {},
      },
    }
  })
  const options = body.options ?? {}
  if (!isRecord(options)) throw new HttpError(400, 'options must be an object')
  if (body.format !== undefined && body.format !== null && body.format !== '' && body.format !== 'json' && !isRecord(body.format)) {
    throw new HttpError(400, 'format must be "json" or a JSON schema object')
  }
  return {model: body.model as string, messages, tools, options: withDefaults(options)}
}

function toMessage(m: unknown, i: number): ChatMessage {
  if (!isRecord(m)) throw new HttpError(400, `messages[${i}] must be an object`)
  const content = m.content ?? ''
  if (typeof content !== 'string') throw new HttpError(400, `messages[${i}].content must be a string`)
  // Ollama lower-cases every role as it reads a message (api/types.go Message.UnmarshalJSON) and
  // hands any role to the model's template; the scripted model knows these four.
  const role = typeof m.role === 'string' ? m.role.toLowerCase() : m.role
  switch (role) {
    case 'system':
    case 'user':
      return {role, content}
    case 'assistant': {
      if (m.tool_calls === undefined || m.tool_calls === null) return {role: 'assistant', content}
      if (!Array.isArray(m.tool_calls)) throw new HttpError(400, `messages[${i}].tool_calls must be an array`)
      const calls = m.tool_calls.map((c, j): ModelToolCall => {
        const fn = isRecord(c) ? c.function : undefined
        if (!isRecord(fn) || typeof fn.name !== 'string') {
          throw new HttpError(400, `messages[${i}].tool_calls[${j}] must be {function: {name, arguments}}`)
        }
        return {name: fn.name, arguments: isRecord(fn.arguments) ? fn.arguments : {}}
      })
      return {role: 'assistant', content, tool_calls: calls}
    }
    case 'tool':
      return {role: 'tool', content, tool_name: typeof m.tool_name === 'string' ? m.tool_name : ''}
    default:
      throw new HttpError(400, `messages[${i}].role ${JSON.stringify(m.role)}: the sandbox's scripted model reads only system, user, assistant and tool`)
  }
}

/** Word-sized pieces, like a tokenizer streaming out tokens; concatenated they are the content. */
export function splitPieces(content: string): string[] {
  return content.match(/^\s+|\S+\s*/g) ?? []
}
