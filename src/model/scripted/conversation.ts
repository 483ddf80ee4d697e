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

/**
 * Where parsing a request's messages got to: the messages read (compared by identity), the
 * conversation so far and the parser's own state, so that the next model call of the same request
 * reads only the messages added since. The runtime sends each model call of a request the previous
 * call's messages plus the new turn (the same objects, in a new array), so every call used to
 * re-read the whole conversation. Found by the first message object (the request's system prompt:
 * one object per request); a call whose messages do not start with exactly the messages read last
 * time (plan_first drops its plan prompt after the first call) is read from the start again.
 * So each memory, evidence and tool message is parsed once per request, with no per-message cache
 * beside it (parsing is a pure function of the message; reading one again gives the same result).
 */
type ParseState = {
  read: ChatMessage[]
  conv: Conversation
  extraSystem: string | null
  sawSystem: boolean
  planPending: boolean
  /** The exchanges of the most recent assistant turn: conv.exchanges[pendingFrom..]. */
  pendingFrom: number
}

/**
 * The states of the last few conversations read, in a small ring: the requests a replay has in
 * flight at once (its concurrency, 4 by default, per side). Not a WeakMap keyed by message: one entry per request in a WeakMap cost more in
 * insertion and garbage collection (ephemerons) than re-reading the messages saved. A conversation
 * pushed out of the ring is read from the start again on its next call, with the same result.
 */
const RING = 32
const ring: (ParseState | undefined)[] = new Array(RING)
let ringNext = 0

/** The ring slot of the conversation that starts with `first`, or -1. */
function slotOf(first: ChatMessage): number {
  for (let i = 0; i < RING; i++) if (ring[i]?.read[0] === first) return i
  return -1
}

function resumable(state: ParseState, messages: readonly ChatMessage[]): boolean {
  const read = state.read
  if (messages.length < read.length) return false
  for (let i = 0; i < read.length; i++) if (messages[i] !== read[i]) return false
  return true
}

/**
 * The conversation of `messages`. What it returns is the caller's: later calls never change it
 * (an exchange a tool message answers later is replaced in the parser's state, not edited).
 */
export function parseConversation(messages: readonly ChatMessage[]): Conversation {
  if (messages.length === 0) return {system: '', planRequest: null, memory: [], documents: [], userTexts: [], exchanges: []}
  const first = messages[0]!
  let slot = slotOf(first)
  let state = slot < 0 ? undefined : ring[slot]
  if (state === undefined || !resumable(state, messages)) {
    if (slot < 0) {
      slot = ringNext
      ringNext = (ringNext + 1) % RING
    }
    state = {
      read: [],
      conv: {system: '', planRequest: null, memory: [], documents: [], userTexts: [], exchanges: []},
      extraSystem: null,
      sawSystem: false,
      planPending: false,
      pendingFrom: 0,
    }
    ring[slot] = state
  }
  for (let i = state.read.length; i < messages.length; i++) {
    const msg = messages[i]!
    readMessage(state, msg)
    state.read.push(msg)
  }
  const conv = state.conv
  // The plan template is sent on the first model call of a plan_first run, and last (after the
  // exchanges so far) when the runtime asks for a new plan.
  return {
    system: conv.system,
    planRequest: state.planPending ? state.extraSystem : null,
    memory: conv.memory.slice(),
    documents: conv.documents.slice(),
    userTexts: conv.userTexts.slice(),
    exchanges: conv.exchanges.slice(),
  }
}

function readMessage(state: ParseState, msg: ChatMessage): void {
  const conv = state.conv
  switch (msg.role) {
    case 'system': {
      const text = msg.content
      if (!state.sawSystem) {
        conv.system = text
        state.sawSystem = true
      } else if (text.startsWith('<memory>')) conv.memory.push(...parseMemory(text))
      else if (text.startsWith('<evidence')) conv.documents.push(...parseEvidence(text))
      else if (!isToolCatalog(msg)) {
        // Whether the last extra system message came after every model turn: then it asks for a plan now.
        state.extraSystem = text
        state.planPending = true
      }
      break
    }
    case 'user':
      conv.userTexts.push(msg.content)
      break
    case 'assistant':
      if (msg.tool_calls && msg.tool_calls.length > 0) {
        state.planPending = false
        // Tool messages answer the most recent assistant tool_calls in order.
        state.pendingFrom = conv.exchanges.length
        for (const tc of msg.tool_calls) {
          conv.exchanges.push({name: tc.name, args: tc.arguments ?? {}, ok: false, pending: true, result: null, error: null})
        }
      }
      break
    case 'tool': {
      const exchanges = conv.exchanges
      let target = -1
      for (let i = state.pendingFrom; i < exchanges.length; i++) {
        const e = exchanges[i]!
        if (e.pending && e.name === msg.tool_name) {
          target = i
          break
        }
      }
      if (target < 0) {
        for (let i = state.pendingFrom; i < exchanges.length; i++) {
          if (exchanges[i]!.pending) {
            target = i
            break
          }
        }
      }
      // What the runtime wrote, when it is exactly what parsing would give; else the text, parsed.
      const parsed = rememberedToolPayload(msg) ?? parsePayload(msg.content)
      if (target >= 0) {
        const e = exchanges[target]!
        exchanges[target] = {name: e.name, args: e.args, ok: parsed.ok, pending: false, result: parsed.result, error: parsed.error}
      }
      break
    }
  }
}
