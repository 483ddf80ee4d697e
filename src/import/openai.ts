import {isObject, maybeJson, str, tokens, type Ending, type ImportedTraffic, type ImportMapping, type ToolCatalog, type TranscriptMessage} from '../traffic/imported.js'
import {importRequestLog, type PairReader, type PairReading} from './request-log.js'

/**
 * OpenAI API logs: JSON Lines of `{"request": …, "response": …}` pairs of the Chat Completions API
 * (`request.messages`, `response.choices[0]`) or the Responses API (`request.input`,
 * `response.output`). Tool definitions come from `request.tools`. The user is `request.user`
 * (or `request.safety_identifier`); tenant and role are metadata keys (see request-log.ts).
 * A Responses API request that continues an earlier response (`previous_response_id`) holds only
 * the new turn: its history is on OpenAI's side, not in the log.
 */

export function importOpenAi(text: string, file: string, mapping: ImportMapping): ImportedTraffic {
  return importRequestLog(text, file, mapping, reader)
}

const reader: PairReader = {
  source: 'openai',
  userField: 'request.user',
  read({request, response}, tools) {
    readTools(request.tools, tools)
    if (Array.isArray(request.messages)) return readChat(request, response)
    if (request.input !== undefined) return readResponses(request, response)
    return {field: 'request.messages', message: 'missing (expected a Chat Completions request with messages, or a Responses request with input)'}
  },
}

function readTools(list: unknown, tools: ToolCatalog): void {
  if (!Array.isArray(list)) return
  for (const t of list) {
    if (!isObject(t)) continue
    // Chat Completions nests the function; the Responses API flattens it.
    const f = isObject(t.function) ? t.function : t
    if (t.type !== undefined && t.type !== 'function') continue
    tools.add(f.name, f.description, f.parameters)
  }
}

/** Text of a content value: a string, or the text parts of a list of parts. */
function contentText(c: unknown): string | null {
  if (typeof c === 'string') return c
  if (!Array.isArray(c)) return null
  const texts = c.filter(isObject).filter((p) => typeof p.text === 'string').map((p) => p.text as string)
  return texts.length === 0 ? null : texts.join('\n')
}

function chatMessage(m: unknown, at: string): TranscriptMessage | {field: string; message: string} | null {
  if (!isObject(m)) return {field: at, message: 'expected a message object'}
  const role = m.role === 'developer' ? 'system' : m.role
  if (role === 'system' || role === 'user') {
    const text = contentText(m.content)
    return text === null ? null : {role, text}
  }
  if (role === 'assistant') {
    const calls: {id: string; name: string; args: unknown}[] = []
    if (Array.isArray(m.tool_calls)) {
      for (const [j, c] of m.tool_calls.entries()) {
        if (!isObject(c) || !isObject(c.function) || str(c.function.name) === undefined) return {field: `${at}.tool_calls.${j}.function.name`, message: 'missing'}
        calls.push({id: str(c.id) ?? `${at}.tool_calls.${j}`, name: c.function.name as string, args: c.function.arguments})
      }
    }
    return {role, text: contentText(m.content), calls, ...(str(m.refusal) !== undefined ? {refusal: str(m.refusal)} : {})}
  }
  if (role === 'tool') {
    const id = str(m.tool_call_id)
    if (id === undefined) return {field: `${at}.tool_call_id`, message: 'missing on a tool message'}
    return {role, callId: id, content: contentText(m.content) ?? m.content, isError: false}
  }
  return null
}

const CHAT_ENDING: Record<string, Ending> = {stop: 'stop', tool_calls: 'stop', function_call: 'stop', length: 'length', content_filter: 'refusal'}

function readChat(request: Record<string, unknown>, response: Record<string, unknown> | null): PairReading | {field: string; message: string} {
  const transcript: TranscriptMessage[] = []
  for (const [i, m] of (request.messages as unknown[]).entries()) {
    const t = chatMessage(m, `request.messages.${i}`)
    if (t === null) continue
    if ('field' in t) return t
    transcript.push(t)
  }
  let ending: Ending = 'unknown'
  if (response !== null) {
    if (response.error !== undefined && response.error !== null) ending = 'error'
    const choice = Array.isArray(response.choices) ? response.choices[0] : undefined
    if (isObject(choice)) {
      const t = chatMessage(choice.message, 'response.choices.0.message')
      if (t !== null && 'field' in t) return t
      if (t !== null) transcript.push(t)
      ending = CHAT_ENDING[str(choice.finish_reason) ?? ''] ?? ending
    }
  }
  const usage = isObject(response?.usage) ? response.usage : {}
  return {
    transcript,
    ending,
    usage: {input_tokens: tokens(usage.prompt_tokens), output_tokens: tokens(usage.completion_tokens)},
    ...(str(response?.id) !== undefined ? {responseId: str(response?.id)} : {}),
    timestamp: response?.created,
    user: request.user ?? request.safety_identifier,
    requestMetadata: request.metadata,
    ...(str(request.model) !== undefined ? {model: str(request.model)} : {}),
  }
}

/** Responses API items (`message`, `function_call`, `function_call_output`) as transcript messages. */
function responseItems(items: unknown, at: string, out: TranscriptMessage[]): {field: string; message: string} | null {
  if (typeof items === 'string') {
    out.push({role: 'user', text: items})
    return null
  }
  if (!Array.isArray(items)) return {field: at, message: 'expected a string or an array of items'}
  for (const [i, item] of items.entries()) {
    if (!isObject(item)) return {field: `${at}.${i}`, message: 'expected an item object'}
    const type = item.type ?? (item.role !== undefined ? 'message' : undefined)
    if (type === 'message') {
      const role = item.role === 'developer' ? 'system' : item.role
      const text = contentText(item.content)
      if ((role === 'user' || role === 'system') && text !== null) out.push({role, text})
      else if (role === 'assistant') {
        const refusal = Array.isArray(item.content) ? item.content.find((p) => isObject(p) && p.type === 'refusal') : undefined
        out.push({role, text, calls: [], ...(isObject(refusal) && str(refusal.refusal) !== undefined ? {refusal: str(refusal.refusal)} : {})})
      }
    } else if (type === 'function_call') {
      const name = str(item.name)
      if (name === undefined) return {field: `${at}.${i}.name`, message: 'missing on a function_call item'}
      const call = {id: str(item.call_id) ?? str(item.id) ?? `${at}.${i}`, name, args: item.arguments}
      // Consecutive calls of one step belong to one assistant turn.
      const prev = out[out.length - 1]
      if (prev?.role === 'assistant' && prev.text === null) prev.calls.push(call)
      else out.push({role: 'assistant', text: null, calls: [call]})
    } else if (type === 'function_call_output') {
      const id = str(item.call_id)
      if (id === undefined) return {field: `${at}.${i}.call_id`, message: 'missing on a function_call_output item'}
      out.push({role: 'tool', callId: id, content: maybeJson(item.output), isError: false})
    }
  }
  return null
}

function readResponses(request: Record<string, unknown>, response: Record<string, unknown> | null): PairReading | {field: string; message: string} {
  const transcript: TranscriptMessage[] = []
  if (typeof request.instructions === 'string') transcript.push({role: 'system', text: request.instructions})
  const bad = responseItems(request.input, 'request.input', transcript)
  if (bad) return bad
  let ending: Ending = 'unknown'
  if (response !== null) {
    const b = response.output === undefined ? null : responseItems(response.output, 'response.output', transcript)
    if (b) return b
    const status = str(response.status)
    const reason = isObject(response.incomplete_details) ? str(response.incomplete_details.reason) : undefined
    ending = status === 'failed' || (response.error !== undefined && response.error !== null) ? 'error' : reason === 'max_output_tokens' ? 'length' : reason === 'content_filter' ? 'refusal' : status === 'completed' ? 'stop' : 'unknown'
  }
  const usage = isObject(response?.usage) ? response.usage : {}
  return {
    transcript,
    ending,
    usage: {input_tokens: tokens(usage.input_tokens), output_tokens: tokens(usage.output_tokens)},
    ...(str(response?.id) !== undefined ? {responseId: str(response?.id)} : {}),
    timestamp: response?.created_at,
    user: request.user ?? request.safety_identifier,
    requestMetadata: request.metadata,
    ...(str(request.model) !== undefined ? {model: str(request.model)} : {}),
  }
}
