import http from 'node:http'
import type {AddressInfo, Socket} from 'node:net'
import {performance} from 'node:perf_hooks'
import {UnderstudyError, ValidationError} from '../errors.js'
import type {ChatMessage, ChatRequest, ChatResponse, ModelClient, ModelToolCall, ToolSpec} from './types.js'
import {sha256} from '../util/canonical.js'

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
  const loaded = new Set<string>()
  const capabilities = (): string[] => [
    'completion',
    ...(faults.noTools ? [] : ['tools']),
    ...(faults.thinkBudget === undefined ? [] : ['thinking']),
  ]
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let closing = false

  const lookup = (requested: unknown): {name: string; client: ModelClient} => {
    if (typeof requested !== 'string' || requested.trim() === '') throw new HttpError(400, 'model is required')
    const name = byTag.get(withDefaultTag(requested))
    const client = name === undefined ? undefined : opts.resolveModel(name)
    if (name === undefined || client === undefined) {
      throw new HttpError(404, `model "${requested}" not found, try pulling it first`)
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

  const handleChat = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const body = parseBody(await readBody(req, res))
    const {name, client} = lookup(body.model)
    const request = toChatRequest(body)
    const stream = body.stream === undefined ? true : body.stream === true
    // Ollama's capability checks come before the model is scheduled (server/routes.go ChatHandler).
    if (faults.noTools && request.tools.length > 0) throw new HttpError(400, `${withDefaultTag(name)} does not support tools`)
    const think = body.think
    if (think !== undefined && think !== null && think !== false && !capabilities().includes('thinking')) {
      throw new HttpError(400, `${JSON.stringify(body.model)} does not support thinking`)
    }
    if (!loaded.has(name)) {
      if (faults.loadMs && faults.loadMs > 0) await wait(faults.loadMs, req)
      loaded.add(name)
    }
    if (request.messages.length === 0 && !faults.garbage) {
      // An empty chat loads the model and answers at once (docs/api.md "Load a model").
      const at = new Date().toISOString()
      sendJson(res, 200, {model: body.model, created_at: at, message: {role: 'assistant', content: ''}, done_reason: 'load', done: true})
      return
    }

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
      return
    }

    if (faults.thinkBudget !== undefined && think !== false) {
      sendThinkingOutOfBudget(res, typeof body.model === 'string' ? body.model : '', faults.thinkBudget, stream)
      return
    }

    const t0 = performance.now()
    let answer: ChatResponse
    try {
      answer = await client.chat(request)
    } catch (e) {
      throw new HttpError(500, e instanceof Error ? e.message : String(e))
    }
    const totalNs = Math.max(1, Math.round((performance.now() - t0) * 1e6))
    const modelName = typeof body.model === 'string' ? body.model : ''
    const createdAt = (): string => new Date().toISOString()
    const toolCalls = answer.message.tool_calls.map((c) => ({function: {name: c.name, arguments: c.arguments}}))
    const final = {
      done_reason: answer.done_reason || 'stop',
      done: true,
      total_duration: totalNs,
      load_duration: Math.round(totalNs * 0.05),
      prompt_eval_count: answer.input_tokens,
      prompt_eval_duration: Math.round(totalNs * 0.25),
      eval_count: answer.output_tokens,
      eval_duration: Math.round(totalNs * 0.7),
    }

    if (!stream) {
      const message: Record<string, unknown> = {role: 'assistant', content: answer.message.content}
      if (toolCalls.length > 0) message.tool_calls = toolCalls
      sendJson(res, 200, {model: modelName, created_at: createdAt(), message, ...final})
      return
    }

    res.writeHead(200, {'content-type': NDJSON_TYPE})
    const line = (value: unknown): void => {
      res.write(JSON.stringify(value) + '\n')
    }
    for (const piece of splitPieces(answer.message.content)) {
      line({model: modelName, created_at: createdAt(), message: {role: 'assistant', content: piece}, done: false})
    }
    if (toolCalls.length > 0) {
      line({model: modelName, created_at: createdAt(), message: {role: 'assistant', content: '', tool_calls: toolCalls}, done: false})
    }
    line({model: modelName, created_at: createdAt(), message: {role: 'assistant', content: ''}, ...final})
    res.end()
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
        digest: sha256(`understudy:${withDefaultTag(name)}`),
        details: modelDetails(),
      })),
    })
  }

  const routes: Record<string, Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void>> = {
    '/': {
      GET: (_q, s) => sendText(s, 200, 'Ollama is running'),
      HEAD: (_q, s) => sendText(s, 200, ''),
    },
    '/api/version': {GET: (_q, s) => sendJson(s, 200, {version: SERVER_VERSION})},
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
function sendThinkingOutOfBudget(res: http.ServerResponse, model: string, budget: number, stream: boolean): void {
  const thinking = 'Let me think about this. '.repeat(Math.max(1, Math.ceil(budget / 6))).trim()
  const at = new Date().toISOString()
  const final = {done_reason: 'length', done: true, total_duration: 1, load_duration: 0, prompt_eval_count: 0, eval_count: budget}
  if (!stream) {
    sendJson(res, 200, {model, created_at: at, message: {role: 'assistant', content: '', thinking}, ...final})
    return
  }
  res.writeHead(200, {'content-type': NDJSON_TYPE})
  res.write(JSON.stringify({model, created_at: at, message: {role: 'assistant', content: '', thinking}, done: false}) + '\n')
  res.end(JSON.stringify({model, created_at: at, message: {role: 'assistant', content: ''}, ...final}) + '\n')
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
  if (body.format !== undefined && body.format !== '' && body.format !== 'json' && !isRecord(body.format)) {
    throw new HttpError(400, 'format must be "json" or a JSON schema object')
  }
  return {
    model: body.model as string,
    messages,
    tools,
    // Ollama's own defaults where the client leaves an option out.
    options: {
      ...options,
      temperature: typeof options.temperature === 'number' ? options.temperature : 0.8,
      seed: typeof options.seed === 'number' ? options.seed : 0,
      num_predict: typeof options.num_predict === 'number' ? options.num_predict : -1,
    },
  }
}

function toMessage(m: unknown, i: number): ChatMessage {
  if (!isRecord(m)) throw new HttpError(400, `messages[${i}] must be an object`)
  const content = m.content ?? ''
  if (typeof content !== 'string') throw new HttpError(400, `messages[${i}].content must be a string`)
  switch (m.role) {
    case 'system':
    case 'user':
      return {role: m.role, content}
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
      throw new HttpError(400, `messages[${i}].role must be one of system, user, assistant, tool`)
  }
}

/** Word-sized pieces, like a tokenizer streaming out tokens; concatenated they are the content. */
export function splitPieces(content: string): string[] {
  return content.match(/^\s+|\S+\s*/g) ?? []
}
