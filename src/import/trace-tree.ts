import {
  finishRecord,
  isObject,
  isoTime,
  maybeJson,
  rebuildFromTranscript,
  resolveWho,
  type SystemPromptTally,
  str,
  tokens,
  type Ending,
  type ImportMapping,
  type Rebuilt,
  type TranscriptMessage,
} from '../traffic/imported.js'
import type {RecordedToolCall, RetrievedDocument, TrafficRecord} from '../traffic/schema.js'
import {looseMessages, outputMessages} from './messages.js'

/**
 * A trace of a tracing tool (Langfuse observations, LangSmith runs) in one shape, and the request
 * built from it. The root node is the request; model-call nodes give the conversation, usage and
 * the final answer; tool nodes the tool calls (their ids matched to the calls the model made, by
 * name in order); retriever nodes the retrieved documents. Pure.
 */

export type TreeNode = {
  id: string
  parentId: string | null
  kind: 'llm' | 'tool' | 'retriever' | 'other'
  name: string
  start: string
  end: string | null
  input: unknown
  output: unknown
  error: string | null
  usage: {input: number; output: number} | null
  /** The stop reason the model call reported, when the format keeps it. */
  finish?: string
}

export type Tree = {
  id: string
  nodes: TreeNode[]
  /** Trace-level input, output, identity and metadata (a Langfuse trace; a LangSmith root run). */
  input: unknown
  output: unknown
  error: string | null
  start: string | null
  end: string | null
  user: unknown
  session: string | undefined
  metadata: Record<string, unknown>
  name?: string
}

export type TreeFormat = {source: string; userField: string; metadataField: string}

const FINISH: Record<string, Ending> = {stop: 'stop', end_turn: 'stop', tool_calls: 'stop', tool_use: 'stop', length: 'length', max_tokens: 'length', content_filter: 'refusal', refusal: 'refusal'}

const byStart = (a: TreeNode, b: TreeNode): number => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)

export function recordFromTree(tree: Tree, mapping: ImportMapping, format: TreeFormat, systems?: SystemPromptTally): {ok: true; record: TrafficRecord} | {ok: false; field: string; message: string} {
  const meta = tree.metadata
  const who = resolveWho(
    {tenant: meta[mapping.tenantField ?? 'tenant'], role: meta[mapping.roleField ?? 'role'], user: mapping.userField !== undefined ? meta[mapping.userField] : tree.user},
    {
      tenant: `${format.metadataField}.${mapping.tenantField ?? 'tenant'}`,
      role: `${format.metadataField}.${mapping.roleField ?? 'role'}`,
      user: mapping.userField !== undefined ? `${format.metadataField}.${mapping.userField}` : format.userField,
    },
    mapping,
  )
  if ('field' in who) return {ok: false, ...who}
  const timestamp = isoTime(tree.start) ?? isoTime(tree.nodes.map((n) => n.start).sort()[0])
  if (timestamp === null) return {ok: false, field: 'timestamp', message: 'missing (no start time on the trace or any of its observations)'}

  const nodes = [...tree.nodes].sort(byStart)
  const llms = nodes.filter((n) => n.kind === 'llm')
  const transcriptOf = (n: TreeNode): TranscriptMessage[] => [...looseMessages(n.input), ...outputMessages(n.output)]
  const first = llms[0]
  const last = llms[llms.length - 1]
  // The service's system prompt, for init to draft the bundle's from (records leave it out).
  if (systems !== undefined && first) systems.add(looseMessages(first.input))

  // Input: the trace's own input when it holds the conversation or the question, else the first model call's.
  let rebuilt: Rebuilt | null = null
  const rootMsgs = messagesOfInput(tree.input)
  if (rootMsgs.length > 0) {
    const r = rebuildFromTranscript(rootMsgs, 'unknown')
    if (!('field' in r)) rebuilt = r
  }
  if (rebuilt === null && first) {
    const r = rebuildFromTranscript(looseMessages(first.input), 'unknown')
    if (!('field' in r)) rebuilt = r
  }
  if (rebuilt === null) return {ok: false, field: 'input', message: 'no user message on the trace or its first model call'}
  const input = rebuilt.input

  // Tool calls: tool nodes when the trace has them, else the calls in the last model call's transcript.
  const modelCalls = llms.flatMap((n) => transcriptOf(n)).flatMap((m) => (m.role === 'assistant' ? m.calls : []))
  const toolNodes = nodes.filter((n) => n.kind === 'tool')
  let toolCalls: RecordedToolCall[]
  if (toolNodes.length > 0) {
    const used = new Set<string>()
    toolCalls = toolNodes.map((n) => {
      const match = modelCalls.find((c) => c.name === n.name && !used.has(c.id))
      if (match) used.add(match.id)
      const args = maybeJson(n.input)
      const unwrapped = isObject(args) && Object.keys(args).length === 1 && typeof args.input === 'string' && isObject(maybeJson(args.input)) ? maybeJson(args.input) : args
      const call: RecordedToolCall = {
        id: match?.id ?? n.id,
        name: n.name,
        args: isObject(unwrapped) ? (unwrapped as Record<string, unknown>) : unwrapped === undefined || unwrapped === null ? {} : {input: unwrapped},
        latency_ms: n.end !== null ? Math.max(0, Date.parse(n.end) - Date.parse(n.start)) || 0 : 0,
        attempt: 1,
      }
      if (n.error !== null) call.error = {code: 'server_error', message: n.error}
      else call.result = toolResult(n.output)
      return call
    })
  } else {
    const r = last ? rebuildFromTranscript(transcriptOf(last), 'unknown') : null
    toolCalls = r !== null && !('field' in r) ? r.toolCalls : []
  }

  const retrieved: RetrievedDocument[] = nodes.filter((n) => n.kind === 'retriever').flatMap((n) => documentsOf(n))

  // Final answer: the trace's output, else the last model call's text answer.
  let answer = answerOf(tree.output)
  if (answer === null && last) {
    const out = outputMessages(last.output)
    const m = out.findLast((x) => x.role === 'assistant' && x.text !== null && x.calls.length === 0)
    answer = m?.role === 'assistant' ? m.text : null
  }
  const ending = FINISH[last?.finish ?? ''] ?? 'unknown'
  const failed = tree.error !== null || (tree.nodes.find((n) => n.parentId === null)?.error ?? null) !== null
  const outcome = failed ? 'failed' : ending === 'length' ? 'budget_exceeded' : ending === 'refusal' ? 'refused' : answer !== null && answer !== '' ? 'completed' : 'failed'
  const why = failed ? 'error' : ending === 'length' ? 'token_limit' : ending === 'refusal' ? 'refusal' : outcome === 'completed' ? 'answer' : 'no_answer'

  const usage = {input_tokens: 0, output_tokens: 0}
  for (const n of llms) {
    usage.input_tokens += tokens(n.usage?.input)
    usage.output_tokens += tokens(n.usage?.output)
  }
  const start = Date.parse(tree.start ?? nodes[0]?.start ?? '')
  const end = Date.parse(tree.end ?? nodes.map((n) => n.end ?? n.start).sort().at(-1) ?? '')
  return finishRecord({
    id: tree.id,
    timestamp,
    who,
    ...(tree.session !== undefined ? {sessionId: tree.session} : {}),
    rebuilt: {input, toolCalls, finalAnswer: answer ?? '', outcome, ending: why},
    retrieved,
    usage,
    latencyMs: Number.isFinite(end - start) ? end - start : 0,
    labels: {source: format.source, ...(tree.name !== undefined ? {trace_name: tree.name} : {})},
  })
}

/** The conversation or question a trace's input holds: messages, text, or `{input|question|query: text}`. */
function messagesOfInput(v: unknown): TranscriptMessage[] {
  const x = maybeJson(v)
  if (typeof x === 'string') return [{role: 'user', text: x}]
  if (isObject(x)) {
    const text = str(x.input) ?? str(x.question) ?? str(x.query) ?? str(x.message)
    if (text !== undefined) return [{role: 'user', text}]
  }
  return looseMessages(x)
}

function answerOf(v: unknown): string | null {
  const x = maybeJson(v)
  if (typeof x === 'string') return x
  if (isObject(x)) {
    const text = str(x.output) ?? str(x.answer) ?? str(x.content) ?? str(x.text)
    if (text !== undefined) return text
  }
  if (x === undefined || x === null) return null
  const msgs = outputMessages(isObject(x) && Array.isArray(x.messages) ? x.messages : x)
  const m = msgs.findLast((y) => y.role === 'assistant' && y.text !== null && y.calls.length === 0)
  return m?.role === 'assistant' ? m.text : null
}

/** A tool's output: `{output: X}` (LangChain) is X, a serialized ToolMessage its content, JSON text the value. */
function toolResult(v: unknown): unknown {
  let x = maybeJson(v)
  if (isObject(x) && Object.keys(x).length === 1 && 'output' in x) x = maybeJson(x.output)
  if (isObject(x) && x.lc === 1 && isObject(x.kwargs)) x = maybeJson(x.kwargs.content)
  if (isObject(x) && x.type === 'tool' && 'content' in x) x = maybeJson(x.content)
  return x ?? null
}

function documentsOf(n: TreeNode): RetrievedDocument[] {
  let list = maybeJson(n.output)
  if (isObject(list) && Array.isArray(list.documents)) list = list.documents
  if (isObject(list) && Array.isArray(list.output)) list = list.output
  if (!Array.isArray(list)) return []
  const out: RetrievedDocument[] = []
  list.forEach((d, i) => {
    if (!isObject(d)) return
    const meta = isObject(d.metadata) ? d.metadata : {}
    const content = d.page_content ?? d.pageContent ?? d.content ?? d.text
    if (typeof content !== 'string') return
    const score = typeof d.score === 'number' ? d.score : typeof meta.score === 'number' ? meta.score : undefined
    out.push({
      id: str(d.id) ?? str(meta.id) ?? `${n.id}-${i}`,
      source: str(meta.source) ?? n.name,
      trust: 'untrusted',
      content,
      ...(score !== undefined ? {score} : {}),
    })
  })
  return out
}
