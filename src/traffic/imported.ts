import {z} from 'zod'
import {TrafficRecord, type InputMessage, type RecordedToolCall, type RequestOutcome, type RetrievedDocument, type ToolErrorCode, type Usage, type UserTurn} from './schema.js'

/**
 * What every importer of foreign traffic (OpenTelemetry, OpenAI / Anthropic request logs, Langfuse,
 * LangSmith) shares: the tool definitions it collects, the tenant/user/role mapping, the rebuilding
 * of a request from a chat transcript, and the last check of a built record against the traffic
 * schema. Pure: values in, values out; no vendor's field names live here, only the transcript shape
 * every vendor format is converted into first.
 */

/** A tool the imported service offered its model: what a later `init` turns into a tool contract. */
export const ToolDefinition = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    /** JSON Schema of the arguments, as the service declared it (absent when the format does not carry it). */
    parameters: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
export type ToolDefinition = z.infer<typeof ToolDefinition>

/**
 * Where tenant, user and role come from. `*Field` names the attribute or metadata key the format
 * carries them in (each importer documents what it reads when the flag is absent); `default*` is
 * used when a record has none. A record with neither is skipped, naming the field it looked for.
 */
export type ImportMapping = {
  tenantField?: string
  userField?: string
  roleField?: string
  defaultTenant?: string
  defaultUser?: string
  defaultRole?: string
  /**
   * Request logs only (`--turns`): one record per conversation, its later user messages as turns
   * (rebuildConversation), instead of one record per user message with the earlier conversation as
   * its input.
   */
  turns?: boolean
}

/** The result of one importer over one file. `errors` are `file:LINE: field: message` (or `file: trace <id>: …`). */
export type ImportedTraffic = {
  records: TrafficRecord[]
  tools: ToolDefinition[]
  errors: string[]
  /** Units read (lines, traces): imported + skipped, before request grouping. */
  units: number
  /**
   * Distinct system prompts the service sent, most used first (records leave them out: the bundle
   * brings its own); what `init` drafts the bundle's prompt from. Absent where the importer does not
   * collect them.
   */
  systemPrompts?: string[]
}

/** Counts system prompts as an importer sees them; `list()` is most used first, ties in order first seen. */
export class SystemPromptTally {
  private readonly counts = new Map<string, number>()

  add(messages: readonly TranscriptMessage[]): void {
    const text = messages
      .flatMap((m) => (m.role === 'system' ? [m.text] : []))
      .join('\n\n')
      .trim()
    if (text !== '') this.counts.set(text, (this.counts.get(text) ?? 0) + 1)
  }

  list(): string[] {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1]).map(([t]) => t)
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
/** A scalar identifier as text: strings as they are, finite numbers written out (a numeric user id). */
export const idText = (v: unknown): string | undefined => str(v) ?? (typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined)

/** A value that may be JSON text: parsed when it is, the text itself when it is not. */
export function maybeJson(v: unknown): unknown {
  if (typeof v !== 'string') return v
  const t = v.trim()
  if (!(t.startsWith('{') || t.startsWith('[') || t === 'null' || t === 'true' || t === 'false' || /^-?\d/.test(t))) return v
  try {
    return JSON.parse(t)
  } catch {
    return v
  }
}

/** Seconds, milliseconds or an ISO text as an ISO timestamp; null when it is none of these. */
export function isoTime(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
    // Below 1e11 it is seconds (until the year 5138), above it milliseconds.
    const ms = v < 1e11 ? v * 1000 : v
    const d = new Date(ms)
    return Number.isNaN(d.getTime()) ? null : d.toISOString()
  }
  if (typeof v === 'string' && v !== '') {
    const d = new Date(v.length === 19 || v.length === 23 || v.length === 26 ? `${v}Z` : v)
    return Number.isNaN(d.getTime()) ? null : d.toISOString()
  }
  return null
}

/** Collects tool definitions in the order first seen; a later sighting fills what an earlier one lacked. */
export class ToolCatalog {
  private readonly byName = new Map<string, ToolDefinition>()

  add(name: unknown, description?: unknown, parameters?: unknown): void {
    const n = str(name)
    if (n === undefined) return
    const params = maybeJson(parameters)
    const seen = this.byName.get(n) ?? {name: n}
    if (seen.description === undefined && str(description) !== undefined) seen.description = str(description)
    if (seen.parameters === undefined && isObject(params)) seen.parameters = params
    this.byName.set(n, seen)
  }

  list(): ToolDefinition[] {
    return [...this.byName.values()]
  }
}

export type Who = {tenant: string; user: string; role: string}

/**
 * Tenant, user and role of one record: the values the importer found (under the mapped field or its
 * format's default one), else the mapping's defaults. `fields` names where each was looked for, so
 * the error says which field to add or which flag to set.
 */
export function resolveWho(
  found: {tenant?: unknown; user?: unknown; role?: unknown},
  fields: {tenant: string; user: string; role: string},
  mapping: ImportMapping,
): Who | {field: string; message: string} {
  const tenant = idText(found.tenant) ?? mapping.defaultTenant
  if (tenant === undefined) return {field: fields.tenant, message: 'missing (the tenant the request ran for; map it with --tenant-attr or set --default-tenant)'}
  const user = idText(found.user) ?? mapping.defaultUser
  if (user === undefined) return {field: fields.user, message: 'missing (who asked; map it with --user-attr or set --default-user)'}
  const role = idText(found.role) ?? mapping.defaultRole
  if (role === undefined) return {field: fields.role, message: "missing (the caller's role, for RBAC; map it with --role-attr or set --default-role)"}
  return {tenant, user, role}
}

/** One message of a chat transcript, in the one shape every vendor format is converted into. */
export type TranscriptMessage =
  | {role: 'system' | 'user'; text: string}
  | {role: 'assistant'; text: string | null; calls: {id: string; name: string; args: unknown}[]; refusal?: string}
  | {role: 'tool'; callId: string; content: unknown; isError: boolean}

/** How the transcript ended, as far as the format says (a stop reason, a refusal, an API error). */
export type Ending = 'stop' | 'length' | 'refusal' | 'error' | 'unknown'

export type Rebuilt = {
  input: InputMessage[]
  /** Later user turns (`rebuildConversation` only); absent when the conversation had one. */
  turns?: UserTurn[]
  toolCalls: RecordedToolCall[]
  finalAnswer: string
  outcome: RequestOutcome
  /** Why the outcome is what it is, for the record's labels (`import_ending`). */
  ending: string
}

/**
 * A request rebuilt from its whole transcript: the input is every user and assistant text up to and
 * including the last user message (system prompts are left out: the bundle under test brings its
 * own); after it, each assistant tool call becomes a recorded call whose result is the matching
 * `tool` message (JSON text becomes the value it encodes; an error flag becomes a `server_error`),
 * and the last assistant text is the final answer.
 *
 * Outcome, honestly: an assistant text answer at the end is `completed`; a refusal is `refused`; a
 * stop for the token limit is `budget_exceeded`; an API error, or a transcript that ends on a tool
 * call never answered or a tool result never read, is `failed`. Escalation and approval holds are
 * decisions of the service, not of the model API, and cannot be known from a transcript.
 * A call without any result is left out of `toolCalls`: nothing says it ran.
 */
export function rebuildFromTranscript(messages: TranscriptMessage[], ending: Ending): Rebuilt | {field: string; message: string} {
  return rebuild(messages, ending, 'last')
}

/**
 * A whole conversation as one multi-turn request (`traffic import --turns`): the input is the
 * conversation up to and including its FIRST user message; each later user message becomes a turn
 * (`turns`), coming in after the tool calls made so far, in reply to the assistant's last text
 * answer before it ('' when there was none). User messages with nothing of the assistant between
 * them are one message, joined by a blank line. Calls, final answer and outcome as in
 * rebuildFromTranscript, over the whole conversation. A conversation with one user message is
 * rebuilt exactly as rebuildFromTranscript rebuilds it.
 */
export function rebuildConversation(messages: TranscriptMessage[], ending: Ending): Rebuilt | {field: string; message: string} {
  return rebuild(messages, ending, 'first')
}

function rebuild(messages: TranscriptMessage[], ending: Ending, start: 'first' | 'last'): Rebuilt | {field: string; message: string} {
  let lastUser = -1
  messages.forEach((m, i) => {
    if (m.role === 'user') lastUser = i
  })
  if (lastUser < 0) return {field: 'messages', message: 'no user message to replay'}
  const from = start === 'last' ? lastUser : messages.findIndex((m) => m.role === 'user')
  const input: InputMessage[] = []
  for (const m of messages.slice(0, from + 1)) {
    if (m.role === 'user') input.push({role: 'user', content: m.text})
    else if (m.role === 'assistant' && m.text !== null && m.calls.length === 0) input.push({role: 'assistant', content: m.text})
  }

  const tail = messages.slice(from + 1)
  const results = new Map<string, {content: unknown; isError: boolean}>()
  for (const m of tail) if (m.role === 'tool') results.set(m.callId, {content: m.content, isError: m.isError})
  const toolCalls: RecordedToolCall[] = []
  const turns: UserTurn[] = []
  let pending = 0
  /** The assistant's last text answer since the last user message; null while it said nothing. */
  let answer: string | null = null
  /** Whether the assistant did anything (answered or called) since the last user message. */
  let spoke = false
  for (const m of tail) {
    if (m.role === 'user') {
      const last = turns[turns.length - 1]
      if (!spoke && last !== undefined) last.content = `${last.content}\n\n${m.text}`
      else if (!spoke) input.push({role: 'user', content: m.text})
      else turns.push({after_calls: toolCalls.length, answer: answer ?? '', content: m.text})
      answer = null
      spoke = false
      continue
    }
    if (m.role !== 'assistant') continue
    spoke = true
    if (m.text !== null && m.calls.length === 0) answer = m.text
    for (const c of m.calls) {
      const r = results.get(c.id)
      if (r === undefined) {
        pending++
        continue
      }
      const parsedArgs = maybeJson(c.args)
      const call: RecordedToolCall = {id: c.id, name: c.name, args: isObject(parsedArgs) ? parsedArgs : parsedArgs === undefined || parsedArgs === '' ? {} : {input: parsedArgs}, latency_ms: 0, attempt: 1}
      if (r.isError) call.error = {code: 'server_error' satisfies ToolErrorCode, message: typeof r.content === 'string' ? r.content : JSON.stringify(r.content)}
      else call.result = maybeJson(r.content)
      toolCalls.push(call)
    }
  }

  const last = messages[messages.length - 1]!
  const answered = last.role === 'assistant' && last.text !== null && last.calls.length === 0 && lastUser < messages.length - 1
  let finalAnswer = answered ? last.text ?? '' : ''
  let outcome: RequestOutcome
  let why: string
  if (last.role === 'assistant' && last.refusal !== undefined) {
    outcome = 'refused'
    finalAnswer = last.refusal
    why = 'refusal'
  } else if (ending === 'refusal') {
    outcome = 'refused'
    why = 'refusal'
  } else if (ending === 'error') {
    outcome = 'failed'
    why = 'api_error'
  } else if (ending === 'length') {
    outcome = 'budget_exceeded'
    why = 'token_limit'
  } else if (answered) {
    outcome = 'completed'
    why = 'answer'
  } else {
    outcome = 'failed'
    why = pending > 0 ? 'unanswered_tool_call' : last.role === 'tool' ? 'tool_result_unread' : 'no_answer'
  }
  return {input, ...(turns.length > 0 ? {turns} : {}), toolCalls, finalAnswer, outcome, ending: why}
}

export type RecordParts = {
  id: string
  timestamp: string
  who: Who
  sessionId?: string
  rebuilt: Rebuilt
  retrieved?: RetrievedDocument[]
  usage: Usage
  latencyMs: number
  bundle?: string
  labels: Record<string, string>
}

/** The record checked against the traffic schema; the first problem names its field. */
export function finishRecord(p: RecordParts): {ok: true; record: TrafficRecord} | {ok: false; field: string; message: string} {
  const candidate = {
    id: p.id,
    timestamp: p.timestamp,
    ...p.who,
    ...(p.sessionId !== undefined ? {session_id: p.sessionId} : {}),
    input: p.rebuilt.input,
    ...(p.rebuilt.turns !== undefined ? {turns: p.rebuilt.turns} : {}),
    retrieved: p.retrieved ?? [],
    memory: [],
    production: {
      ...(p.bundle !== undefined ? {bundle: p.bundle} : {}),
      tool_calls: p.rebuilt.toolCalls,
      policy_decisions: [],
      final_answer: p.rebuilt.finalAnswer,
      outcome: p.rebuilt.outcome,
      usage: p.usage,
      latency_ms: Math.max(0, p.latencyMs),
    },
    labels: {...p.labels, import_ending: p.rebuilt.ending},
  }
  const parsed = TrafficRecord.safeParse(candidate)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return {ok: false, field: issue ? issue.path.map(String).join('.') || 'record' : 'record', message: issue?.message ?? 'does not match the traffic schema'}
  }
  return {ok: true, record: parsed.data}
}

/** Retrieved documents of an import: untrusted unless the format says otherwise (nothing vouches for them). */
export function importedDocument(d: {id: unknown; content: unknown; source?: unknown; score?: unknown; fallbackId: string; fallbackSource: string}): RetrievedDocument | null {
  const content = typeof d.content === 'string' ? d.content : d.content === undefined || d.content === null ? null : JSON.stringify(d.content)
  if (content === null) return null
  const score = num(d.score)
  return {
    id: idText(d.id) ?? d.fallbackId,
    source: str(d.source) ?? d.fallbackSource,
    trust: 'untrusted',
    content,
    ...(score !== undefined ? {score} : {}),
  }
}

/** Non-negative whole tokens, 0 when the format did not say. */
export function tokens(v: unknown): number {
  const n = num(v)
  return n === undefined ? 0 : Math.max(0, Math.round(n))
}
