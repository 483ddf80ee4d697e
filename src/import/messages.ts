import {isObject, maybeJson, str, type TranscriptMessage} from '../traffic/imported.js'

/**
 * Chat messages as tracing tools store them, read into transcript messages: OpenAI-style
 * `{role, content, tool_calls, tool_call_id}`, LangChain's `{type: human|ai|tool|system, content,
 * tool_calls}` and its serialized form (`{lc: 1, id: [..., "AIMessage"], kwargs: {…}}`), a
 * `{messages: […]}` wrapper, LangSmith's batched `[[…]]`, or plain text (a user message). Pure.
 */
export function looseMessages(value: unknown): TranscriptMessage[] {
  const v = maybeJson(value)
  if (typeof v === 'string') return [{role: 'user', text: v}]
  if (isObject(v) && Array.isArray(v.messages)) return looseMessages(v.messages)
  if (!Array.isArray(v)) {
    const one = isObject(v) ? looseMessage(v) : null
    return one ? [one] : []
  }
  // LangSmith batches prompts: [[…messages of the first prompt…]].
  const list = v.length > 0 && Array.isArray(v[0]) ? (v[0] as unknown[]) : v
  return list.flatMap((m) => (isObject(m) ? (looseMessage(m) ?? []) : typeof m === 'string' ? [{role: 'user' as const, text: m}] : []))
}

const LC_ROLE: Record<string, string> = {HumanMessage: 'user', AIMessage: 'assistant', AIMessageChunk: 'assistant', ToolMessage: 'tool', SystemMessage: 'system', FunctionMessage: 'tool'}
const TYPE_ROLE: Record<string, string> = {human: 'user', ai: 'assistant', tool: 'tool', system: 'system', user: 'user', assistant: 'assistant', developer: 'system'}

function textOf(c: unknown): string | null {
  if (typeof c === 'string') return c
  if (!Array.isArray(c)) return null
  const texts = c.filter(isObject).map((p) => (typeof p.text === 'string' ? p.text : typeof p.content === 'string' && p.type === 'text' ? p.content : null)).filter((t): t is string => t !== null)
  return texts.length === 0 ? null : texts.join('\n')
}

function looseMessage(raw: Record<string, unknown>): TranscriptMessage | null {
  let m = raw
  let role: string | undefined
  if (raw.lc === 1 && Array.isArray(raw.id) && isObject(raw.kwargs)) {
    role = LC_ROLE[String(raw.id[raw.id.length - 1])]
    m = raw.kwargs
  } else if (isObject(raw.data) && typeof raw.type === 'string') {
    role = TYPE_ROLE[raw.type]
    m = raw.data
  } else {
    role = TYPE_ROLE[str(raw.role) ?? str(raw.type) ?? '']
  }
  const text = textOf(m.content)
  if (role === 'system' || role === 'user') return text === null ? null : {role, text}
  if (role === 'assistant') {
    const calls: {id: string; name: string; args: unknown}[] = []
    const list = Array.isArray(m.tool_calls) ? m.tool_calls : isObject(m.additional_kwargs) && Array.isArray(m.additional_kwargs.tool_calls) ? m.additional_kwargs.tool_calls : []
    list.filter(isObject).forEach((c, j) => {
      const f = isObject(c.function) ? c.function : c
      const name = str(f.name)
      if (name !== undefined) calls.push({id: str(c.id) ?? `call-${j}`, name, args: f.arguments ?? f.args ?? c.args ?? {}})
    })
    return {role, text, calls, ...(str(m.refusal) !== undefined ? {refusal: str(m.refusal)} : {})}
  }
  if (role === 'tool') return {role, callId: str(m.tool_call_id) ?? '', content: text ?? m.content ?? null, isError: m.status === 'error'}
  return null
}

/** A model call's output as an assistant message: a message, `{choices: [{message}]}`, LangChain generations, or text. */
export function outputMessages(value: unknown): TranscriptMessage[] {
  const v = maybeJson(value)
  if (typeof v === 'string') return [{role: 'assistant', text: v, calls: []}]
  if (!isObject(v)) return Array.isArray(v) ? looseMessages(v) : []
  if (Array.isArray(v.choices) && isObject(v.choices[0])) return outputMessages(v.choices[0].message)
  if (Array.isArray(v.generations)) {
    const g = Array.isArray(v.generations[0]) ? v.generations[0][0] : v.generations[0]
    if (isObject(g)) return isObject(g.message) ? outputMessages(g.message) : typeof g.text === 'string' ? [{role: 'assistant', text: g.text, calls: []}] : []
    return []
  }
  if (v.role === undefined && v.type === undefined && v.lc === undefined && typeof v.content === 'string') return [{role: 'assistant', text: v.content, calls: []}]
  const m = looseMessage(v.role === undefined && v.type === undefined && v.lc === undefined ? {...v, role: 'assistant'} : v)
  return m ? [m] : []
}
