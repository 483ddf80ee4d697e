import {isObject, str, tokens, type Ending, type ImportedTraffic, type ImportMapping, type TranscriptMessage} from '../traffic/imported.js'
import {importRequestLog, type PairReader, type PairReading} from './request-log.js'

/**
 * Anthropic Messages API logs: JSON Lines of `{"request": …, "response": …}` pairs. Messages hold
 * content blocks: `text`, `tool_use` (a call: id, name, input) and, in user messages,
 * `tool_result` (tool_use_id, content, is_error). Tool definitions come from `request.tools`
 * (`input_schema` is the parameters' JSON Schema). The user is `request.metadata.user_id`, the only
 * metadata the API takes, so tenant and role come from the line's own `metadata`. The API's
 * response has no creation time: the line needs its own `timestamp`.
 */

export function importAnthropic(text: string, file: string, mapping: ImportMapping): ImportedTraffic {
  return importRequestLog(text, file, mapping, reader)
}

const STOP: Record<string, Ending> = {end_turn: 'stop', stop_sequence: 'stop', tool_use: 'stop', pause_turn: 'stop', max_tokens: 'length', refusal: 'refusal'}

const reader: PairReader = {
  source: 'anthropic',
  userField: 'request.metadata.user_id',
  read({request, response}, tools) {
    if (Array.isArray(request.tools)) for (const t of request.tools) if (isObject(t)) tools.add(t.name, t.description, t.input_schema)
    if (!Array.isArray(request.messages)) return {field: 'request.messages', message: 'missing (expected a Messages API request)'}
    const transcript: TranscriptMessage[] = []
    const system = typeof request.system === 'string' ? request.system : textOf(request.system)
    if (system !== null) transcript.push({role: 'system', text: system})
    for (const [i, m] of request.messages.entries()) {
      const bad = message(m, `request.messages.${i}`, transcript)
      if (bad) return bad
    }
    let ending: Ending = 'unknown'
    if (response !== null) {
      if (response.type === 'error' || (response.error !== undefined && response.error !== null)) ending = 'error'
      else {
        const bad = message({role: 'assistant', content: response.content}, 'response', transcript)
        if (bad) return bad
        ending = STOP[str(response.stop_reason) ?? ''] ?? 'unknown'
      }
    }
    const usage = isObject(response?.usage) ? response.usage : {}
    const meta = isObject(request.metadata) ? request.metadata : {}
    const reading: PairReading = {
      transcript,
      ending,
      // Cached prompt tokens are input the model read too.
      usage: {input_tokens: tokens(usage.input_tokens) + tokens(usage.cache_read_input_tokens) + tokens(usage.cache_creation_input_tokens), output_tokens: tokens(usage.output_tokens)},
      user: meta.user_id,
      requestMetadata: meta,
      ...(str(response?.id) !== undefined ? {responseId: str(response?.id)} : {}),
      ...(str(request.model) !== undefined ? {model: str(request.model)} : {}),
    }
    return reading
  },
}

function textOf(blocks: unknown): string | null {
  if (typeof blocks === 'string') return blocks
  if (!Array.isArray(blocks)) return null
  const texts = blocks.filter(isObject).filter((b) => b.type === 'text' && typeof b.text === 'string').map((b) => b.text as string)
  return texts.length === 0 ? null : texts.join('\n')
}

function message(m: unknown, at: string, out: TranscriptMessage[]): {field: string; message: string} | null {
  if (!isObject(m)) return {field: at, message: 'expected a message object'}
  const blocks = typeof m.content === 'string' ? [{type: 'text', text: m.content}] : m.content
  if (!Array.isArray(blocks)) return {field: `${at}.content`, message: 'expected a string or an array of content blocks'}
  if (m.role === 'assistant') {
    const calls: {id: string; name: string; args: unknown}[] = []
    for (const [j, b] of blocks.entries()) {
      if (!isObject(b) || b.type !== 'tool_use') continue
      if (str(b.id) === undefined || str(b.name) === undefined) return {field: `${at}.content.${j}`, message: 'a tool_use block needs an id and a name'}
      calls.push({id: b.id as string, name: b.name as string, args: b.input ?? {}})
    }
    out.push({role: 'assistant', text: textOf(blocks), calls})
    return null
  }
  if (m.role !== 'user') return {field: `${at}.role`, message: `expected user or assistant, not ${JSON.stringify(m.role)}`}
  for (const [j, b] of blocks.entries()) {
    if (!isObject(b) || b.type !== 'tool_result') continue
    const id = str(b.tool_use_id)
    if (id === undefined) return {field: `${at}.content.${j}.tool_use_id`, message: 'missing on a tool_result block'}
    out.push({role: 'tool', callId: id, content: textOf(b.content) ?? b.content ?? null, isError: b.is_error === true})
  }
  const text = textOf(blocks)
  if (text !== null) out.push({role: 'user', text})
  return null
}
