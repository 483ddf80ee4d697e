import {canonicalJson} from '../util/canonical.js'
import {finishRecord, isoTime, isObject, num, resolveWho, str, type Ending, type ImportedTraffic, type ImportMapping, type TranscriptMessage, rebuildConversation, rebuildFromTranscript, SystemPromptTally, ToolCatalog} from '../traffic/imported.js'
import {eachJsonValue, where} from './lines.js'

/**
 * Logs of model API calls (OpenAI, Anthropic): one `{"request": …, "response": …}` pair per line.
 * An agent loop makes one call per step and each request repeats the history so far, so the pairs
 * of one loop are one request: they share the conversation up to its last user message (and the
 * user and session), the longest transcript is the one rebuilt, and usage and latency are summed
 * over the steps. Pure: text in, records out.
 */

/** What a vendor module reads out of one pair. */
export type PairReading = {
  transcript: TranscriptMessage[]
  ending: Ending
  usage: {input_tokens: number; output_tokens: number}
  /** The API's id of the response (`chatcmpl-…`, `msg_…`), the record id when the line has none of its own. */
  responseId?: string
  timestamp?: unknown
  user?: unknown
  /** The request's own metadata object (looked in after the line's `metadata`). */
  requestMetadata?: unknown
  model?: string
}

export type PairReader = {
  /** Reads one pair; a string is the problem, `field: message`, with the field's path from the line. */
  read(pair: {request: Record<string, unknown>; response: Record<string, unknown> | null}, tools: ToolCatalog): PairReading | {field: string; message: string}
  /** The field the user is read from when `--user-attr` is not given, for messages and docs. */
  userField: string
  source: string
}

type Step = {loc: string; order: number; reading: PairReading; who: {tenant: string; user: string; role: string}; session?: string; id?: string; timestamp: string; latency: number}

/** One agent loop so far: only its longest step is kept whole; the others are folded into the sums. */
type Loop = {last: Step; steps: number; usage: {input_tokens: number; output_tokens: number}; latency: number; first: string}

export function importRequestLog(text: string, file: string, mapping: ImportMapping, reader: PairReader): ImportedTraffic {
  const tools = new ToolCatalog()
  const systems = new SystemPromptTally()
  const groups = new Map<string, Loop>()
  const problems: string[] = []
  let read = 0
  const unreadable = eachJsonValue(text, file, (loc, index) => {
    read++
    const errors = problems
    const at = where(file, loc, index)
    const line = loc.value
    if (!isObject(line)) return errors.push(`${at}: line: expected an object with request and response`)
    if (!isObject(line.request)) return errors.push(`${at}: request: missing (expected the API request body as an object)`)
    if (line.response !== undefined && line.response !== null && !isObject(line.response)) return errors.push(`${at}: response: expected an object`)
    const reading = reader.read({request: line.request, response: isObject(line.response) ? line.response : null}, tools)
    if ('field' in reading) return errors.push(`${at}: ${reading.field}: ${reading.message}`)
    systems.add(reading.transcript)

    // The line's own metadata (the logger's) first, then the request's (what the API was sent).
    const meta = (key: string): unknown => (isObject(line.metadata) && key in line.metadata ? line.metadata[key] : isObject(reading.requestMetadata) ? reading.requestMetadata[key] : undefined)
    const tenantKey = mapping.tenantField ?? 'tenant'
    const roleKey = mapping.roleField ?? 'role'
    const who = resolveWho(
      {tenant: meta(tenantKey), role: meta(roleKey), user: mapping.userField !== undefined ? meta(mapping.userField) : (reading.user ?? meta('user'))},
      {tenant: `metadata.${tenantKey}`, role: `metadata.${roleKey}`, user: mapping.userField !== undefined ? `metadata.${mapping.userField}` : reader.userField},
      mapping,
    )
    if ('field' in who) return errors.push(`${at}: ${who.field}: ${who.message}`)
    const timestamp = isoTime(line.timestamp) ?? isoTime(reading.timestamp)
    if (timestamp === null) return errors.push(`${at}: timestamp: missing (the line's timestamp, or the response's creation time)`)
    const session = str(meta('session_id')) ?? str(meta('conversation_id'))
    const firstUser = reading.transcript.findLastIndex((m) => m.role === 'user')
    const key = canonicalJson([who, session ?? null, reading.transcript.slice(0, firstUser + 1).filter((m) => m.role !== 'system')])
    const step: Step = {loc: at, order: index, reading, who, ...(session !== undefined ? {session} : {}), ...(str(line.id) !== undefined ? {id: str(line.id)} : {}), timestamp, latency: num(line.latency_ms) ?? num(line.duration_ms) ?? 0}
    const loop = groups.get(key)
    if (loop === undefined) {
      groups.set(key, {last: step, steps: 1, usage: {...reading.usage}, latency: step.latency, first: timestamp})
      return
    }
    // The longest transcript is the last step of the loop (ties: the later line).
    if (step.reading.transcript.length >= loop.last.reading.transcript.length) loop.last = step
    loop.steps++
    loop.usage.input_tokens += reading.usage.input_tokens
    loop.usage.output_tokens += reading.usage.output_tokens
    loop.latency += step.latency
    if (timestamp < loop.first) loop.first = timestamp
  })
  const errors = [...unreadable, ...problems]

  const records: ImportedTraffic['records'] = []
  const seen = new Set<string>()
  const loops = mapping.turns === true ? conversations([...groups.values()]) : [...groups.values()]
  for (const {last, steps, usage, latency, first} of loops) {
    const rebuilt = (mapping.turns === true ? rebuildConversation : rebuildFromTranscript)(last.reading.transcript, last.reading.ending)
    if ('field' in rebuilt) {
      errors.push(`${last.loc}: request.${rebuilt.field}: ${rebuilt.message}`)
      continue
    }
    const id = last.id ?? last.reading.responseId ?? `${reader.source}-${last.order + 1}`
    if (seen.has(id)) {
      errors.push(`${last.loc}: id: request id ${id} already used by an earlier line`)
      continue
    }
    const built = finishRecord({
      id,
      timestamp: first,
      who: last.who,
      ...(last.session !== undefined ? {sessionId: last.session} : {}),
      rebuilt,
      usage,
      latencyMs: latency,
      labels: {source: reader.source, ...(last.reading.model !== undefined ? {model: last.reading.model} : {}), import_steps: String(steps)},
    })
    if (!built.ok) {
      errors.push(`${last.loc}: ${built.field}: ${built.message}`)
      continue
    }
    seen.add(id)
    records.push(built.record)
  }
  records.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0))
  return {records, tools: tools.list(), errors, units: read + unreadable.length, systemPrompts: systems.list()}
}

/**
 * The loops of one conversation folded into one (`--turns`): each API call repeats the history, so
 * a later user turn's loop has a transcript that starts with the whole transcript of the turn
 * before. A loop whose transcript (system messages aside) is a prefix of a longer one's of the same
 * user and session is folded into it: steps, usage and latency summed, the earliest start kept.
 * Loops of different conversations that merely open alike stay apart (neither extends the other).
 */
function conversations(loops: Loop[]): Loop[] {
  const messagesOf = (l: Loop): string[] => l.last.reading.transcript.filter((m) => m.role !== 'system').map((m) => canonicalJson(m))
  const whoOf = (l: Loop): string => canonicalJson([l.last.who, l.last.session ?? null])
  // Longest first, so each loop meets every loop that could contain it before itself (ties: file order).
  const order = loops.map((l) => ({l, msgs: messagesOf(l), who: whoOf(l)})).sort((a, b) => b.msgs.length - a.msgs.length || a.l.last.order - b.l.last.order)
  const kept: typeof order = []
  const byWho = new Map<string, typeof order>()
  for (const o of order) {
    const mine = byWho.get(o.who) ?? byWho.set(o.who, []).get(o.who)!
    const into = mine.find((k) => k.msgs.length > o.msgs.length && o.msgs.every((m, i) => k.msgs[i] === m))
    if (into === undefined) {
      const own = {...o, l: {...o.l, usage: {...o.l.usage}}}
      kept.push(own)
      mine.push(own)
      continue
    }
    into.l.steps += o.l.steps
    into.l.usage.input_tokens += o.l.usage.input_tokens
    into.l.usage.output_tokens += o.l.usage.output_tokens
    into.l.latency += o.l.latency
    if (o.l.first < into.l.first) into.l.first = o.l.first
  }
  // In the order the conversations' last steps were met, as without --turns.
  return kept.map((k) => k.l).sort((a, b) => a.last.order - b.last.order)
}
