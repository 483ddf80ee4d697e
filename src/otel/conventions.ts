import {importedDocument, isObject, maybeJson, num, str, type Ending, type ToolCatalog, type TranscriptMessage} from '../traffic/imported.js'
import type {RetrievedDocument} from '../traffic/schema.js'
import {GEN_AI, INFERENCE_OPERATIONS, OPERATION} from './attributes.js'
import type {OtlpSpan} from './otlp-json.js'

/**
 * The three ways agent services describe model calls, tool calls and retrieval in OpenTelemetry,
 * read into one shape: the GenAI semantic conventions (`gen_ai.input.messages` / `output.messages`,
 * `execute_tool` spans, the older `gen_ai.*.message` span events), OpenInference (Arize Phoenix:
 * `openinference.span.kind`, flattened `llm.input_messages.N.message.*`, `retrieval.documents.N.*`)
 * and OpenLLMetry (Traceloop: flattened `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`,
 * `traceloop.span.kind`). Pure: spans in, values out.
 */

export const OI = {
  spanKind: 'openinference.span.kind',
  inputValue: 'input.value',
  outputValue: 'output.value',
  toolName: 'tool.name',
  toolDescription: 'tool.description',
  toolParameters: 'tool.parameters',
  toolCallId: 'tool_call.id',
  userId: 'user.id',
  sessionId: 'session.id',
  promptTokens: 'llm.token_count.prompt',
  completionTokens: 'llm.token_count.completion',
} as const

export const TRACELOOP = {
  spanKind: 'traceloop.span.kind',
  entityName: 'traceloop.entity.name',
  entityInput: 'traceloop.entity.input',
  entityOutput: 'traceloop.entity.output',
  requestType: 'llm.request.type',
  promptTokens: 'gen_ai.usage.prompt_tokens',
  completionTokens: 'gen_ai.usage.completion_tokens',
} as const

const GEN_AI_RETRIEVAL_DOCUMENTS = 'gen_ai.retrieval.documents'
const GEN_AI_TOOL_DEFINITIONS = 'gen_ai.tool.definitions'
const GEN_AI_TOOL_DESCRIPTION = 'gen_ai.tool.description'

export type SpanKind = 'llm' | 'tool' | 'retriever' | 'other'

export function kindOf(s: OtlpSpan): SpanKind {
  const a = s.attributes
  const op = str(a[GEN_AI.operationName])
  const oi = str(a[OI.spanKind])?.toUpperCase()
  const tl = str(a[TRACELOOP.spanKind])
  if (op === OPERATION.executeTool || oi === 'TOOL' || tl === 'tool') return 'tool'
  if (oi === 'RETRIEVER' || op === 'retrieval' || a[GEN_AI_RETRIEVAL_DOCUMENTS] !== undefined || a['retrieval.documents.0.document.content'] !== undefined) return 'retriever'
  if (INFERENCE_OPERATIONS.has(op ?? '') || oi === 'LLM' || str(a[TRACELOOP.requestType]) !== undefined || a['gen_ai.prompt.0.role'] !== undefined || a['llm.input_messages.0.message.role'] !== undefined) return 'llm'
  return 'other'
}

/** Indexed, flattened attributes `prefix.N.rest` as a list of `rest → value` maps, in index order. */
function indexed(attrs: Record<string, unknown>, prefix: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  const p = `${prefix}.`
  for (const [k, v] of Object.entries(attrs)) {
    if (!k.startsWith(p)) continue
    const rest = k.slice(p.length)
    const dot = rest.indexOf('.')
    const n = Number(dot < 0 ? rest : rest.slice(0, dot))
    if (!Number.isInteger(n) || n < 0 || n > 10_000) continue
    out[n] ??= {}
    out[n]![dot < 0 ? '' : rest.slice(dot + 1)] = v
  }
  return out.filter((x) => x !== undefined)
}

const roleOf = (v: unknown): string | undefined => {
  const r = str(v)?.toLowerCase()
  return r === 'developer' ? 'system' : r === 'human' ? 'user' : r === 'ai' || r === 'model' ? 'assistant' : r === 'function' ? 'tool' : r
}

/** A flattened message (`role`, `content`, `tool_calls.M.*`) of OpenInference or OpenLLMetry. */
function flatMessage(m: Record<string, unknown>, names: {role: string; content: string; contents?: string; callsPrefix: string; callId: string; callName: string; callArgs: string; toolCallId: string}, at: string): TranscriptMessage | null {
  const role = roleOf(m[names.role])
  let text = typeof m[names.content] === 'string' ? (m[names.content] as string) : null
  if (text === null && names.contents !== undefined) {
    const parts = indexed(m, names.contents).map((p) => p['message_content.text']).filter((t): t is string => typeof t === 'string')
    if (parts.length > 0) text = parts.join('\n')
  }
  if (role === 'system' || role === 'user') return text === null ? null : {role, text}
  if (role === 'assistant') {
    const calls = indexed(m, names.callsPrefix)
      .map((c, j) => ({id: str(c[names.callId]) ?? `${at}.tool_calls.${j}`, name: str(c[names.callName]) ?? '', args: c[names.callArgs]}))
      .filter((c) => c.name !== '')
    return {role, text, calls}
  }
  if (role === 'tool') return {role, callId: str(m[names.toolCallId]) ?? '', content: text, isError: false}
  return null
}

const OI_NAMES = {role: 'message.role', content: 'message.content', contents: 'message.contents', callsPrefix: 'message.tool_calls', callId: 'tool_call.id', callName: 'tool_call.function.name', callArgs: 'tool_call.function.arguments', toolCallId: 'message.tool_call_id'}
const TL_NAMES = {role: 'role', content: 'content', callsPrefix: 'tool_calls', callId: 'id', callName: 'name', callArgs: 'arguments', toolCallId: 'tool_call_id'}

/** GenAI `gen_ai.*.messages` (a JSON string or structured value of {role, parts}) as transcript messages. */
function genAiMessages(value: unknown): TranscriptMessage[] {
  const list = maybeJson(value)
  if (!Array.isArray(list)) return []
  const out: TranscriptMessage[] = []
  for (const m of list) {
    if (!isObject(m)) continue
    const role = roleOf(m.role)
    const parts = Array.isArray(m.parts) ? m.parts.filter(isObject) : typeof m.content === 'string' ? [{type: 'text', content: m.content}] : []
    const texts = parts.filter((p) => p.type === 'text' && typeof p.content === 'string').map((p) => p.content as string)
    const text = texts.length === 0 ? null : texts.join('\n')
    if (role === 'system' || role === 'user') {
      if (text !== null) out.push({role, text})
      for (const p of parts) if (p.type === 'tool_call_response') out.push({role: 'tool', callId: str(p.id) ?? '', content: p.response ?? p.result ?? null, isError: false})
    } else if (role === 'assistant') {
      const calls = parts.filter((p) => p.type === 'tool_call' && str(p.name) !== undefined).map((p, j) => ({id: str(p.id) ?? `call-${j}`, name: p.name as string, args: p.arguments}))
      out.push({role, text, calls})
    } else if (role === 'tool') {
      for (const p of parts) if (p.type === 'tool_call_response') out.push({role: 'tool', callId: str(p.id) ?? '', content: p.response ?? p.result ?? null, isError: false})
    }
  }
  return out
}

/** The older GenAI span events (`gen_ai.user.message`, `gen_ai.choice` …), each with a `content` attribute. */
function eventMessages(s: OtlpSpan): {input: TranscriptMessage[]; output: TranscriptMessage[]} {
  const input: TranscriptMessage[] = []
  const output: TranscriptMessage[] = []
  for (const e of s.events) {
    const m = /^gen_ai\.(system|user|assistant|tool)\.message$/.exec(e.name)
    const content = e.attributes.content ?? e.attributes['gen_ai.event.content']
    const body = isObject(maybeJson(content)) ? (maybeJson(content) as Record<string, unknown>) : {content}
    const text = typeof body.content === 'string' ? body.content : null
    const calls = Array.isArray(maybeJson(e.attributes.tool_calls)) ? (maybeJson(e.attributes.tool_calls) as unknown[]).filter(isObject) : []
    const asCalls = calls.map((c, j) => ({id: str(c.id) ?? `call-${j}`, name: str(isObject(c.function) ? c.function.name : c.name) ?? '', args: isObject(c.function) ? c.function.arguments : c.arguments})).filter((c) => c.name !== '')
    if (m) {
      const role = m[1] as 'system' | 'user' | 'assistant' | 'tool'
      if (role === 'tool') input.push({role, callId: str(e.attributes.id) ?? '', content: text ?? body.content ?? null, isError: false})
      else if (role === 'assistant') input.push({role, text, calls: asCalls})
      else if (text !== null) input.push({role, text})
    } else if (e.name === 'gen_ai.choice') {
      const msg = isObject(body.message) ? body.message : body
      output.push({role: 'assistant', text: typeof msg.content === 'string' ? msg.content : text, calls: asCalls})
    }
  }
  return {input, output}
}

export type LlmView = {input: TranscriptMessage[]; output: TranscriptMessage[]; ending: Ending; inputTokens?: number; outputTokens?: number}

const FINISH: Record<string, Ending> = {stop: 'stop', end_turn: 'stop', tool_calls: 'stop', tool_use: 'stop', length: 'length', max_tokens: 'length', content_filter: 'refusal', refusal: 'refusal'}

/** What one model call span says it was sent and answered, whichever convention wrote it. */
export function llmView(s: OtlpSpan): LlmView {
  const a = s.attributes
  let input = genAiMessages(a[GEN_AI.inputMessages])
  let output = genAiMessages(a[GEN_AI.outputMessages])
  let finish: string | undefined
  if (input.length === 0 && output.length === 0) {
    input = indexed(a, 'llm.input_messages').flatMap((m, i) => flatMessage(m, OI_NAMES, `llm.input_messages.${i}`) ?? [])
    output = indexed(a, 'llm.output_messages').flatMap((m, i) => flatMessage(m, OI_NAMES, `llm.output_messages.${i}`) ?? [])
  }
  if (input.length === 0 && output.length === 0) {
    input = indexed(a, 'gen_ai.prompt').flatMap((m, i) => flatMessage(m, TL_NAMES, `gen_ai.prompt.${i}`) ?? [])
    const completions = indexed(a, 'gen_ai.completion')
    output = completions.flatMap((m, i) => flatMessage({role: 'assistant', ...m}, TL_NAMES, `gen_ai.completion.${i}`) ?? [])
    finish = str(completions[0]?.finish_reason)
  }
  if (input.length === 0 && output.length === 0) {
    const ev = eventMessages(s)
    input = ev.input
    if (output.length === 0) output = ev.output
  }
  const reasons = maybeJson(a['gen_ai.response.finish_reasons'])
  finish ??= Array.isArray(reasons) ? str(reasons[0]) : str(reasons)
  const inTok = num(a[GEN_AI.usageInputTokens]) ?? num(a[OI.promptTokens]) ?? num(a[TRACELOOP.promptTokens])
  const outTok = num(a[GEN_AI.usageOutputTokens]) ?? num(a[OI.completionTokens]) ?? num(a[TRACELOOP.completionTokens])
  return {input, output, ending: FINISH[finish ?? ''] ?? 'unknown', ...(inTok !== undefined ? {inputTokens: inTok} : {}), ...(outTok !== undefined ? {outputTokens: outTok} : {})}
}

/** Tool definitions a span declares: GenAI `gen_ai.tool.definitions`, OpenInference `llm.tools.N.tool.json_schema` or a TOOL span's own, OpenLLMetry `llm.request.functions.N.*`. */
export function collectToolDefinitions(s: OtlpSpan, tools: ToolCatalog): void {
  const a = s.attributes
  const defs = maybeJson(a[GEN_AI_TOOL_DEFINITIONS])
  if (Array.isArray(defs)) {
    for (const d of defs) if (isObject(d)) tools.add(isObject(d.function) ? d.function.name : d.name, isObject(d.function) ? d.function.description : d.description, isObject(d.function) ? d.function.parameters : d.parameters)
  }
  for (const t of indexed(a, 'llm.tools')) {
    const schema = maybeJson(t['tool.json_schema'])
    if (!isObject(schema)) continue
    const f = isObject(schema.function) ? schema.function : schema
    tools.add(f.name, f.description, f.parameters ?? f.input_schema)
  }
  for (const f of indexed(a, 'llm.request.functions')) tools.add(f.name, f.description, f.parameters)
  if (kindOf(s) === 'tool') tools.add(a[GEN_AI.toolName] ?? a[OI.toolName], a[GEN_AI_TOOL_DESCRIPTION] ?? a[OI.toolDescription], a[OI.toolParameters])
}

/** Documents a retrieval span returned: OpenInference `retrieval.documents.N.document.*` or GenAI `gen_ai.retrieval.documents`. */
export function retrievedDocuments(s: OtlpSpan): RetrievedDocument[] {
  const a = s.attributes
  const source = str(a[OI.toolName]) ?? str(a['gen_ai.data_source.id']) ?? s.name
  const out: RetrievedDocument[] = []
  indexed(a, 'retrieval.documents').forEach((d, i) => {
    const meta = maybeJson(d['document.metadata'])
    const doc = importedDocument({id: d['document.id'], content: d['document.content'], score: d['document.score'], source: isObject(meta) ? meta.source : undefined, fallbackId: `${s.spanId}-${i}`, fallbackSource: source})
    if (doc) out.push(doc)
  })
  const list = maybeJson(a[GEN_AI_RETRIEVAL_DOCUMENTS])
  if (Array.isArray(list)) {
    list.forEach((d, i) => {
      if (!isObject(d)) return
      const doc = importedDocument({id: d.id, content: d.content ?? d.text, score: d.score, source: d.source, fallbackId: `${s.spanId}-${i}`, fallbackSource: source})
      if (doc) out.push(doc)
    })
  }
  return out
}
