import {isToolCatalog} from '../tool-catalog.js'
import {rememberedToolPayload} from '../tool-payloads.js'
import type {ChatMessage} from '../types.js'

/**
 * The parts of a ChatRequest's messages the scripted model reasons over, recovered from the wire
 * format the runtime sends (see .notes/msgfmt.md): the system prompt, an optional plan request,
 * the <memory> and <evidence> blocks, the user's words, and every tool exchange so far.
 */
export type MemoryItem = {key: string; owner: string; provenance: string; value: unknown}
export type EvidenceDoc = {id: string; source: string; trust: string; content: string}

export type ToolError = {code: string; message: string}
/** One proposed call and what came back for it (`pending` when no tool message answered it yet). */
export type Exchange = {
  name: string
  args: Record<string, unknown>
  ok: boolean
  pending: boolean
  result: unknown
  error: ToolError | null
}

export type Conversation = {
  system: string
  /** Text of the plan template when the runtime asks for a plan on this call. */
  planRequest: string | null
  memory: MemoryItem[]
  documents: EvidenceDoc[]
  /** Every user message, oldest first. */
  userTexts: string[]
  exchanges: Exchange[]
}

const ENTRY_RE = /<entry key="([^"]*)" owner="([^"]*)" provenance="([^"]*)">([\s\S]*?)<\/entry>/g
const DOC_RE = /<document id="([^"]*)" source="([^"]*)" trust="([^"]*)">\n?([\s\S]*?)\n?<\/document>/g

export function unescapeXml(text: string): string {
  if (!text.includes('&')) return text
  return text.replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) =>
    name === 'amp' ? '&' : name === 'lt' ? '<' : name === 'gt' ? '>' : name === 'quot' ? '"' : "'",
  )
}

export function parseMemory(block: string): MemoryItem[] {
  const items: MemoryItem[] = []
  for (const m of block.matchAll(ENTRY_RE)) {
    let value: unknown
    try {
      value = JSON.parse(m[4] ?? '')
    } catch {
      value = m[4]
    }
    items.push({key: unescapeXml(m[1] ?? ''), owner: unescapeXml(m[2] ?? ''), provenance: unescapeXml(m[3] ?? ''), value})
  }
  return items
}

export function parseEvidence(block: string): EvidenceDoc[] {
  const docs: EvidenceDoc[] = []
  for (const m of block.matchAll(DOC_RE)) {
    docs.push({id: unescapeXml(m[1] ?? ''), source: unescapeXml(m[2] ?? ''), trust: unescapeXml(m[3] ?? ''), content: m[4] ?? ''})
  }
  return docs
}

type Payload = {ok: boolean; result: unknown; error: ToolError | null}

/**
 * What a message says, parsed once per message object. The runtime resends every earlier message
 * with each model call of a request (the same objects, in a new array), so without this each tool
 * result, memory and evidence block was parsed again on every later call. Sound because parsing is
 * a pure function of the content, a message object's content never changes once sent, and what
 * parsing returns is only read, never changed, by the skills.
 */
const payloads = new WeakMap<ChatMessage, Payload>()
const memories = new WeakMap<ChatMessage, MemoryItem[]>()
const evidence = new WeakMap<ChatMessage, EvidenceDoc[]>()

function parsedOnce<T>(cache: WeakMap<ChatMessage, T>, msg: ChatMessage, parse: (content: string) => T): T {
  let parsed = cache.get(msg)
  if (parsed === undefined) {
    parsed = parse(msg.content)
    cache.set(msg, parsed)
  }
  return parsed
}

function parsePayload(content: string): Payload {
  try {
    const payload = JSON.parse(content) as {ok?: unknown; result?: unknown; error?: {code?: unknown; message?: unknown}}
    if (payload && payload.ok === true) return {ok: true, result: payload.result ?? null, error: null}
    const code = typeof payload?.error?.code === 'string' ? payload.error.code : 'server_error'
    const message = typeof payload?.error?.message === 'string' ? payload.error.message : ''
    return {ok: false, result: null, error: {code, message}}
  } catch {
    // A tool message that is not the runtime's JSON envelope: treat the text as the result.
    return {ok: true, result: content, error: null}
  }
}

export function parseConversation(messages: readonly ChatMessage[]): Conversation {
  const conv: Conversation = {system: '', planRequest: null, memory: [], documents: [], userTexts: [], exchanges: []}
  let extraSystem: string | null = null
  let sawSystem = false
  // Whether the last extra system message came after every model turn: then it asks for a plan now.
  let planPending = false
  // Tool messages answer the most recent assistant tool_calls in order.
  let pending: Exchange[] = []
  for (const msg of messages) {
    switch (msg.role) {
      case 'system': {
        const text = msg.content
        if (!sawSystem) {
          conv.system = text
          sawSystem = true
        } else if (text.startsWith('<memory>')) conv.memory.push(...parsedOnce(memories, msg, parseMemory))
        else if (text.startsWith('<evidence')) conv.documents.push(...parsedOnce(evidence, msg, parseEvidence))
        else if (!isToolCatalog(msg)) {
          extraSystem = text
          planPending = true
        }
        break
      }
      case 'user':
        conv.userTexts.push(msg.content)
        break
      case 'assistant':
        if (msg.tool_calls && msg.tool_calls.length > 0) {
          planPending = false
          pending = msg.tool_calls.map((tc) => ({
            name: tc.name,
            args: tc.arguments ?? {},
            ok: false,
            pending: true,
            result: null,
            error: null,
          }))
          conv.exchanges.push(...pending)
        }
        break
      case 'tool': {
        const target = pending.find((e) => e.pending && e.name === msg.tool_name) ?? pending.find((e) => e.pending)
        // What the runtime wrote, when it is exactly what parsing would give; else the text, parsed.
        const parsed = parsedOnce(payloads, msg, (content) => rememberedToolPayload(msg) ?? parsePayload(content))
        if (target) {
          target.pending = false
          target.ok = parsed.ok
          target.result = parsed.result
          target.error = parsed.error
        }
        break
      }
    }
  }
  // The plan template is sent on the first model call of a plan_first run, and last (after the
  // exchanges so far) when the runtime asks for a new plan.
  if (planPending) conv.planRequest = extraSystem
  return conv
}
