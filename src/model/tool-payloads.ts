import {IdentityRing} from '../util/identity-ring.js'
import type {ChatMessage} from './types.js'

/**
 * A tool message as data beside its wire text. The runtime writes a tool result as JSON text
 * (`{"ok":true,"result":…}`, the message-format contract) and the scripted model, which decides
 * from the wire format alone, read it back with JSON.parse: a round trip of every tool result per
 * request for nothing, when both run in one process. The runtime now leaves the payload it wrote
 * here, keyed by the message object, and the model reads it instead of parsing the text.
 *
 * Invariants: only a payload equal to what parsing the text gives back is kept (see jsonStable:
 * plain JSON data, nothing JSON.stringify would change or drop); a message from elsewhere (the
 * Ollama-protocol server, a test, a cassette) has no entry and is parsed as before; and what a
 * reader gets is only read, never changed (the scripted skills are pure functions of the
 * conversation), since it is the tool's own result object, not a copy of it.
 */
export type ToolPayloadData = {ok: boolean; result: unknown; error: {code: string; message: string} | null}

/** The payload as the runtime wrote it (runtime/messages.ts ToolPayload). */
type Written = {ok: true; result: unknown} | {ok: false; error: {code: unknown; message: unknown}}

/**
 * The last 64 tool messages written, found by identity: the model reads a tool message on the
 * next call of its request, while a few requests are in flight. Not a WeakMap: an entry per tool
 * message there cost insertion and GC work on every request, read or not (a model-free replay never
 * reads them). A message pushed out is parsed from its text, with the same result.
 */
const written = new IdentityRing<ChatMessage, Written>(64)

export function rememberToolPayload(message: ChatMessage, payload: Written): void {
  written.set(message, payload)
}

/**
 * The payload of a tool message this process wrote, as parsing its text would give it; undefined
 * when there is none, or when it is not plain JSON (then the text is what counts).
 */
export function rememberedToolPayload(message: ChatMessage): ToolPayloadData | undefined {
  const p = written.get(message)
  if (p === undefined) return undefined
  if (!p.ok) {
    const {code, message: text} = p.error
    return typeof code === 'string' && typeof text === 'string' ? {ok: false, result: null, error: {code, message: text}} : undefined
  }
  return jsonStable(p.result) ? {ok: true, result: p.result ?? null, error: null} : undefined
}

/** Deeper than this is not walked: such a value is parsed from its text instead. */
const MAX_DEPTH = 64

/**
 * Whether JSON.parse(JSON.stringify(value)) is the same value: null, booleans, strings, finite
 * numbers other than -0, dense plain arrays and plain objects (Object.prototype, no toJSON, no
 * undefined, function or symbol values) of such values. Key order survives: JSON.stringify writes
 * Object.keys order and parsing rebuilds it.
 */
export function jsonStable(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0)
    case 'object': {
      if (value === null) return true
      if (depth >= MAX_DEPTH) return false
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return false
        for (let i = 0; i < value.length; i++) if (!(i in value) || !jsonStable(value[i], depth + 1)) return false
        return true
      }
      if (Object.getPrototypeOf(value) !== Object.prototype || Object.hasOwn(value, 'toJSON')) return false
      for (const key in value) {
        if (!Object.hasOwn(value, key)) return false
        if (!jsonStable((value as Record<string, unknown>)[key], depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}
