import {
  Decision,
  DecisionStage,
  RequestOutcome,
  KnownToolErrorCode,
  type ToolErrorCode,
  TrafficRecord,
  type InputMessage,
  type RecordedPolicyDecision,
  type RecordedToolCall,
} from '../traffic/schema.js'
import {ENDUSER_ID, ERROR_TYPE, EVENT, GEN_AI, OPERATION, US} from './attributes.js'
import {spansOfDocument, type OtlpProblem, type OtlpSpan} from './otlp-json.js'
import {collectToolDefinitions, kindOf, llmView, OI, retrievedDocuments, TRACELOOP} from './conventions.js'
import {isObject, maybeJson, rebuildFromTranscript, resolveWho, SystemPromptTally, ToolCatalog, type ImportMapping, type ToolDefinition} from '../traffic/imported.js'
import {jsonTooDeepAt, tooDeepMessage} from '../util/nesting.js'

/**
 * OTLP/JSON traces of a real agent service → recorded-traffic records. One request per trace: its
 * root span is the request, tool spans (`execute_tool`, OpenInference TOOL, OpenLLMetry tool) are
 * its tool calls, model-call spans its conversation and token usage, retrieval spans its retrieved
 * documents (see conventions.ts for the three conventions read). `understudy.*` attributes carry
 * what no convention names (tenant, role, outcome, policy decisions); the mapping flags name other
 * attributes for tenant, user and role, or defaults. Pure: text in, records and
 * `file: trace <id>: field: message` problems out.
 */

export type ImportResult = {
  records: TrafficRecord[]
  /** Tool definitions the traces declared (model-call spans, tool spans). */
  tools: ToolDefinition[]
  /** Each `file: trace <id>: field: message` (or `file:<line>: …` for a line that is not JSON). */
  errors: string[]
  traces: number
  /** System prompts of the traces' first model calls, most used first (see ImportedTraffic). */
  systemPrompts: string[]
}

type Built = {ok: true; record: TrafficRecord; startNs: bigint} | {ok: false; field: string; message: string}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
const opOf = (s: OtlpSpan): string | undefined => str(s.attributes[GEN_AI.operationName])

/** Parses a file's text: one OTLP/JSON document, or JSON Lines of them (the collector's file exporter). */
export function importOtlpText(text: string, file: string, mapping: ImportMapping = {}): ImportResult {
  const docs: {doc: unknown; path: string}[] = []
  const errors: string[] = []
  const body = text.replace(/^\uFEFF/, '')
  let whole: unknown
  let wholeOk = true
  try {
    whole = JSON.parse(body)
  } catch {
    wholeOk = false
  }
  if (wholeOk) {
    // Spans are walked recursively: a document nested thousands deep would overflow the stack.
    const deepAt = jsonTooDeepAt(body)
    if (deepAt >= 0) errors.push(`${file}: json: at offset ${deepAt}: ${tooDeepMessage()}`)
    else docs.push({doc: whole, path: ''})
  } else {
    const lines = body.split('\n')
    lines.forEach((line, i) => {
      if (line.trim() === '') return
      try {
        const doc: unknown = JSON.parse(line)
        const deepAt = jsonTooDeepAt(line)
        if (deepAt >= 0) errors.push(`${lines.length > 1 ? `${file}:${i + 1}` : file}: json: at column ${deepAt + 1}: ${tooDeepMessage()}`)
        else docs.push({doc, path: lines.length > 1 ? `line ${i + 1}: ` : ''})
      } catch (e) {
        const where = lines.length > 1 ? `${file}:${i + 1}` : file
        errors.push(`${where}: json: invalid JSON: ${(e as Error).message.split('\n')[0]}`)
      }
    })
  }

  const byTrace = new Map<string, OtlpSpan[]>()
  const traceProblems = new Map<string, OtlpProblem[]>()
  for (const {doc, path} of docs) {
    const {spans, problems} = spansOfDocument(doc, path)
    for (const p of problems) {
      if (p.traceId === null) errors.push(`${file}: ${p.where}: ${p.message}`)
      else traceProblems.set(p.traceId, [...(traceProblems.get(p.traceId) ?? []), p])
    }
    for (const s of spans) {
      const list = byTrace.get(s.traceId) ?? []
      list.push(s)
      byTrace.set(s.traceId, list)
    }
  }
  for (const id of traceProblems.keys()) if (!byTrace.has(id)) byTrace.set(id, [])

  const built: {record: TrafficRecord; startNs: bigint; traceId: string}[] = []
  const seenIds = new Map<string, string>()
  const tools = new ToolCatalog()
  const systems = new SystemPromptTally()
  for (const [traceId, spans] of byTrace) {
    const problem = traceProblems.get(traceId)?.[0]
    if (problem) {
      errors.push(`${file}: trace ${traceId}: ${problem.where}: ${problem.message}`)
      continue
    }
    const r = recordFromSpans(traceId, spans, mapping, tools, systems)
    if (!r.ok) {
      errors.push(`${file}: trace ${traceId}: ${r.field}: ${r.message}`)
      continue
    }
    const earlier = seenIds.get(r.record.id)
    if (earlier !== undefined) {
      errors.push(`${file}: trace ${traceId}: ${US.requestId}: request id ${r.record.id} already used by trace ${earlier}`)
      continue
    }
    seenIds.set(r.record.id, traceId)
    built.push({record: r.record, startNs: r.startNs, traceId})
  }
  // Replay order is time order; ties keep the order the traces appeared in.
  built.sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0))
  return {records: built.map((b) => b.record), tools: tools.list(), errors, traces: byTrace.size, systemPrompts: systems.list()}
}

/** The root: the one span without a parent in the trace (an `invoke_agent` one when there are several). */
function findRoot(spans: OtlpSpan[]): OtlpSpan | {field: string; message: string} {
  const ids = new Set(spans.map((s) => s.spanId))
  const roots = spans.filter((s) => s.parentSpanId === null || !ids.has(s.parentSpanId))
  if (roots.length === 1) return roots[0]!
  const agents = roots.filter((s) => opOf(s) === OPERATION.invokeAgent)
  if (agents.length === 1) return agents[0]!
  if (roots.length === 0) return {field: 'root', message: 'no root span (every span has a parent in the trace)'}
  return {field: 'root', message: `${roots.length} root spans and ${agents.length === 0 ? 'none' : agents.length} of them ${OPERATION.invokeAgent}; expected one request per trace`}
}

export function recordFromSpans(traceId: string, spans: OtlpSpan[], mapping: ImportMapping = {}, tools = new ToolCatalog(), systems?: SystemPromptTally): Built {
  if (spans.length === 0) return {ok: false, field: 'spans', message: 'no readable span'}
  const root = findRoot(spans)
  if ('field' in root) return {ok: false, ...root}
  const a = root.attributes
  const fail = (field: string, message: string): Built => ({ok: false, field, message})

  // The mapped attribute, on the root span or its resource; without a mapping, understudy.* and the
  // conventions' user ids.
  const attr = (key: string): unknown => a[key] ?? root.resource[key]
  const who = resolveWho(
    {
      tenant: attr(mapping.tenantField ?? US.tenant),
      user: mapping.userField !== undefined ? attr(mapping.userField) : (a[US.user] ?? a[ENDUSER_ID] ?? a[OI.userId]),
      role: attr(mapping.roleField ?? US.role),
    },
    {tenant: mapping.tenantField ?? US.tenant, user: mapping.userField ?? US.user, role: mapping.roleField ?? US.role},
    mapping,
  )
  if ('field' in who) return fail(who.field, `${who.message.replace(/^missing/, 'missing on the root span')}`)
  const {tenant, user, role} = who

  const byTime = (x: OtlpSpan, y: OtlpSpan): number =>
    x.startNs < y.startNs ? -1 : x.startNs > y.startNs ? 1 : (num(x.attributes[US.seq]) ?? 0) - (num(y.attributes[US.seq]) ?? 0)
  const others = spans.filter((s) => s !== root).sort(byTime)
  const toolSpans = others.filter((s) => kindOf(s) === 'tool')
  const chatSpans = others.filter((s) => kindOf(s) === 'llm')
  for (const s of spans) collectToolDefinitions(s, tools)
  const views = chatSpans.map(llmView)
  const firstView = views[0]
  // The service's system prompt, for init to draft the bundle's from (records leave it out).
  if (systems !== undefined && firstView) systems.add(firstView.input)
  const lastView = views[views.length - 1]

  let input = messagesOf(a[GEN_AI.inputMessages], true)
  if (typeof input === 'string') return fail(GEN_AI.inputMessages, input)
  if (input.length === 0 && chatSpans[0] && a[GEN_AI.inputMessages] === undefined && chatSpans[0].attributes[GEN_AI.inputMessages] !== undefined) {
    const fromChat = messagesOf(chatSpans[0].attributes[GEN_AI.inputMessages], false)
    if (typeof fromChat === 'string') return fail(`span ${chatSpans[0].spanId}.${GEN_AI.inputMessages}`, fromChat)
  }
  if (input.length === 0 && firstView) {
    // A model call's input starts with the service's own system prompt, which the bundle replaces;
    // what the request brought is every user and assistant text up to the last user message.
    const r = rebuildFromTranscript(firstView.input, 'unknown')
    if (!('field' in r)) input = r.input
  }
  if (input.length === 0) {
    // An OpenInference or OpenLLMetry root span: its input value, when it is text, is the question.
    const value = maybeJson(a[OI.inputValue] ?? a[TRACELOOP.entityInput])
    const text = typeof value === 'string' ? value : isObject(value) ? str(value.input) ?? str(value.query) ?? str(value.question) : undefined
    if (text !== undefined) input = [{role: 'user', content: text}]
  }
  if (input.length === 0) return fail(GEN_AI.inputMessages, 'missing: no user, system or assistant text message to replay')

  let finalAnswer = answerOf(a[GEN_AI.outputMessages])
  if (finalAnswer === null && lastView) {
    const last = lastView.output.findLast((m) => m.role === 'assistant' && m.text !== null && m.calls.length === 0)
    if (last?.role === 'assistant') finalAnswer = last.text
  }
  if (finalAnswer === null) {
    const value = maybeJson(a[OI.outputValue] ?? a[TRACELOOP.entityOutput])
    finalAnswer = str(a[US.finalAnswer]) ?? (typeof value === 'string' ? value : isObject(value) ? str(value.output) ?? str(value.answer) ?? null : null) ?? ''
  }
  const retrieved = others.filter((s) => kindOf(s) === 'retriever').flatMap(retrievedDocuments)

  const toolCalls: RecordedToolCall[] = []
  const decisions: {at: bigint; order: number; d: RecordedPolicyDecision}[] = []
  // Root events first, so a pre-model decision at the same instant as the first call sorts before it.
  for (const e of root.events) {
    if (e.name !== EVENT.policyDecision) continue
    const d = decisionOf(e.attributes, undefined, undefined)
    if (typeof d === 'string') return fail(`span ${root.spanId}.event ${EVENT.policyDecision}.${d}`, 'expected allow, deny or require_approval with a reason')
    if (d) decisions.push({at: e.timeNs, order: decisions.length, d})
  }
  for (const span of toolSpans) {
    const call = toolCallOf(span)
    if ('field' in call) return fail(`span ${span.spanId}.${call.field}`, call.message)
    toolCalls.push(call.call)
    if (call.decision) decisions.push({at: span.startNs, order: decisions.length, d: call.decision})
  }
  if (toolSpans.length === 0 && lastView) {
    // No tool spans (only the model calls were instrumented): the last call's transcript holds every
    // call and its result, as the agent loop sent them back to the model.
    const r = rebuildFromTranscript([...lastView.input, ...lastView.output], lastView.ending)
    if (!('field' in r)) toolCalls.push(...r.toolCalls)
  }
  decisions.sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : x.order - y.order))

  const usage = {input_tokens: 0, output_tokens: 0}
  let chatUsage = false
  for (const v of views) {
    const i = v.inputTokens
    const o = v.outputTokens
    if (i !== undefined || o !== undefined) chatUsage = true
    usage.input_tokens += Math.max(0, Math.round(i ?? 0))
    usage.output_tokens += Math.max(0, Math.round(o ?? 0))
  }
  // Without inference spans (or usage on them) the agent span's own totals are all there is.
  if (!chatUsage) {
    usage.input_tokens = Math.max(0, Math.round(num(a[GEN_AI.usageInputTokens]) ?? 0))
    usage.output_tokens = Math.max(0, Math.round(num(a[GEN_AI.usageOutputTokens]) ?? 0))
  }

  const statusAttr = str(a[US.status])
  let outcome: RequestOutcome
  if (statusAttr === 'skipped') return fail(US.status, 'the request was skipped (its traffic line was malformed); there is nothing to replay')
  if (statusAttr !== undefined) {
    const parsed = RequestOutcome.safeParse(statusAttr)
    if (!parsed.success) return fail(US.status, `"${statusAttr}" is not one of ${RequestOutcome.options.join(', ')}`)
    outcome = parsed.data
  } else if (root.statusCode === 2) {
    outcome = 'failed'
  } else {
    // No recorded outcome: judged from how the conversation ended (see rebuildFromTranscript).
    const ending = lastView?.ending ?? 'unknown'
    outcome = ending === 'length' ? 'budget_exceeded' : ending === 'refusal' ? 'refused' : finalAnswer !== '' ? 'completed' : 'failed'
  }

  const cost = num(a[US.costUsd])
  const bundle = str(a[US.bundle]) ?? str(a[GEN_AI.agentName])
  const sessionId = str(a[GEN_AI.conversationId]) ?? str(a[OI.sessionId])
  const candidate = {
    id: str(a[US.requestId]) ?? `otel-${traceId}`,
    timestamp: new Date(Number(root.startNs / 1_000_000n)).toISOString(),
    tenant,
    user,
    role,
    ...(sessionId !== undefined ? {session_id: sessionId} : {}),
    input,
    retrieved,
    memory: [],
    production: {
      ...(bundle !== undefined ? {bundle} : {}),
      tool_calls: toolCalls,
      policy_decisions: decisions.map((x) => x.d),
      final_answer: finalAnswer,
      outcome,
      usage,
      latency_ms: Number(root.endNs - root.startNs) / 1e6,
      ...(cost !== undefined && cost >= 0 ? {cost_usd: cost} : {}),
    },
    labels: {source: 'otel', otel_trace_id: traceId},
  }
  const parsed = TrafficRecord.safeParse(candidate)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return fail(issue ? issue.path.map(String).join('.') || 'record' : 'record', issue?.message ?? 'does not match the traffic schema')
  }
  return {ok: true, record: parsed.data, startNs: root.startNs}
}

/** `gen_ai.input.messages`: a JSON string (or structured value) of {role, parts:[{type, content}]}. */
function messagesOf(value: unknown, keepSystem: boolean): InputMessage[] | string {
  if (value === undefined) return []
  let list: unknown = value
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value)
    } catch {
      return 'not valid JSON (expected an array of {role, parts})'
    }
  }
  if (!Array.isArray(list)) return 'expected an array of {role, parts}'
  const out: InputMessage[] = []
  for (const m of list) {
    if (!isObject(m)) continue
    const role = m.role === 'developer' ? 'system' : m.role
    if (role !== 'user' && role !== 'assistant' && role !== 'system') continue
    if (role === 'system' && !keepSystem) continue
    const text = textOf(m)
    if (text === null) continue
    out.push({role, content: text})
  }
  return out
}

/** The text parts of a message joined, or its plain `content`; null when it has no text at all. */
function textOf(m: Record<string, unknown>): string | null {
  if (typeof m.content === 'string') return m.content
  if (!Array.isArray(m.parts)) return null
  const texts = m.parts.filter((p): p is Record<string, unknown> => isObject(p) && p.type === 'text' && typeof p.content === 'string').map((p) => p.content as string)
  return texts.length === 0 ? null : texts.join('\n')
}

/** The last assistant text in `gen_ai.output.messages`; null when there is none. */
function answerOf(value: unknown): string | null {
  const msgs = messagesOf(value, true)
  if (typeof msgs === 'string') return null
  const assistant = msgs.filter((m) => m.role === 'assistant')
  return assistant.length === 0 ? null : assistant[assistant.length - 1]!.content
}

function parseJsonAttr(value: unknown): {ok: true; value: unknown} | {ok: false} {
  if (typeof value !== 'string') return {ok: true, value}
  try {
    return {ok: true, value: JSON.parse(value)}
  } catch {
    return {ok: false}
  }
}

// What each of our own non-executed outcomes reads as in production terms.
const OUTCOME_ERROR: Record<string, ToolErrorCode> = {
  timeout: 'timeout',
  rate_limited: 'rate_limited',
  partial_write: 'timeout',
  error: 'server_error',
  invalid_args: 'invalid_args',
  unknown_tool: 'not_found',
  unrecorded_call: 'server_error',
  budget_exceeded: 'forbidden',
}

function errorCodeOf(type: string | undefined, outcome: string | undefined): ToolErrorCode {
  const parsed = KnownToolErrorCode.safeParse(type)
  if (parsed.success) return parsed.data
  if (outcome !== undefined && OUTCOME_ERROR[outcome]) {
    if (outcome !== 'error') return OUTCOME_ERROR[outcome]
  }
  const t = (type ?? '').toLowerCase()
  if (t.includes('timeout') || t.includes('timed out')) return 'timeout'
  if (t.includes('rate') || t === '429') return 'rate_limited'
  return 'server_error'
}

function decisionOf(attrs: Record<string, unknown>, callId: string | undefined, tool: string | undefined): RecordedPolicyDecision | null | string {
  const raw = attrs[US.policyDecision]
  if (raw === undefined) return null
  const decision = Decision.safeParse(raw)
  if (!decision.success) return US.policyDecision
  const reason = str(attrs[US.policyReason])
  if (reason === undefined) return US.policyReason
  const stage = DecisionStage.safeParse(attrs[US.policyStage])
  const t = tool ?? str(attrs[US.policyTool])
  return {
    stage: stage.success ? stage.data : callId !== undefined ? 'mid_run' : 'post_model',
    ...(callId !== undefined ? {tool_call_id: callId} : {}),
    ...(t !== undefined ? {tool: t} : {}),
    decision: decision.data,
    reason,
  }
}

function toolCallOf(span: OtlpSpan): {call: RecordedToolCall; decision: RecordedPolicyDecision | null} | {field: string; message: string} {
  const a = span.attributes
  const name =
    str(a[GEN_AI.toolName]) ??
    str(a[OI.toolName]) ??
    str(a[TRACELOOP.entityName]) ??
    (span.name.startsWith(`${OPERATION.executeTool} `) ? span.name.slice(OPERATION.executeTool.length + 1) : undefined)
  if (name === undefined) return {field: GEN_AI.toolName, message: 'missing on a tool span (or tool.name, traceloop.entity.name)'}
  const id = str(a[GEN_AI.toolCallId]) ?? str(a[OI.toolCallId]) ?? `span-${span.spanId}`

  const argsKey = [GEN_AI.toolCallArguments, US.args, OI.inputValue, TRACELOOP.entityInput].find((k) => a[k] !== undefined)
  let args: Record<string, unknown> = {}
  if (argsKey !== undefined) {
    const parsed = parseJsonAttr(a[argsKey])
    const own = argsKey === GEN_AI.toolCallArguments || argsKey === US.args
    if (own && (!parsed.ok || !isObject(parsed.value))) return {field: argsKey, message: 'expected a JSON object of arguments'}
    // A generic input value that is not an object is the tool's one argument.
    if (!parsed.ok || !isObject(parsed.value)) parsed.ok ? (args = {input: parsed.value}) : (args = {input: a[argsKey]})
    // OpenLLMetry records a decorated function's call as {args, kwargs}: the keyword arguments are the tool's.
    else args = argsKey === TRACELOOP.entityInput && isObject(parsed.value.kwargs) ? parsed.value.kwargs : parsed.value
  }
  const resultKey = [GEN_AI.toolCallResult, OI.outputValue, TRACELOOP.entityOutput].find((k) => a[k] !== undefined)

  const outcome = str(a[US.outcome])
  const errorText = str(a[US.error])
  const type = str(a[ERROR_TYPE])
  const call: RecordedToolCall = {
    id,
    name,
    args,
    latency_ms: Number(span.endNs - span.startNs) / 1e6,
    attempt: Math.max(1, Math.round(num(a[US.attempt]) ?? 1)),
  }
  const key = str(a[US.idempotencyKey])
  if (key !== undefined) call.idempotency_key = key

  let decision = decisionOf(a, id, name)
  if (typeof decision === 'string') return {field: decision, message: 'expected allow, deny or require_approval with a reason'}

  const refused = outcome === 'denied' || outcome === 'needs_approval'
  const failed = outcome !== undefined ? !refused && outcome !== 'ok' && outcome !== 'deduplicated' : span.statusCode === 2
  if (refused) {
    // Production logs a refused call as the call plus the decision that refused it, with no answer.
    if (decision === null || decision.decision === 'allow') {
      decision = {stage: 'mid_run', tool_call_id: id, tool: name, decision: outcome === 'denied' ? 'deny' : 'require_approval', reason: reasonOf(errorText ?? type ?? outcome)}
    }
  } else if (failed) {
    const code = errorCodeOf(type, outcome)
    const m = errorText !== undefined ? /^[a-z_]+:\s*(.*)$/s.exec(errorText) : null
    call.error = {code, message: m ? m[1]! : errorText ?? (span.statusMessage || type || code)}
  } else if (resultKey !== undefined) {
    const parsed = parseJsonAttr(a[resultKey])
    call.result = parsed.ok ? parsed.value : a[resultKey]
  } else {
    // Executed without a recorded result (content capture off): an empty answer, not a refusal.
    call.result = null
  }
  return {call, decision}
}

function reasonOf(text: string): string {
  const upper = text.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '')
  return /^[A-Z]/.test(upper) ? upper : 'DENIED'
}
