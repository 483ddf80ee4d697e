import {IdentityRing} from '../util/identity-ring.js'
import type {ModelToolCall} from './types.js'

/**
 * The JSON text of a model's proposed calls, as token estimates and the answer-size cap count it.
 * One proposal is measured several times (its output tokens, its size against
 * model.max_answer_bytes, then the input tokens of every later call of the request, which resends
 * it), so the text is kept per array. Invariant this relies on: a proposal's calls, once a model
 * has returned them, are never changed (the runtime copies arguments to redact them, never edits
 * them in place); a caller that builds an array must finish it before it is measured.
 *
 * Kept for the last 32 arrays measured, found by identity: every use of a proposal's text falls
 * within its own request, while a few requests are in flight. Not a WeakMap: an entry per proposal
 * there cost about as much (insertion, ephemeron work in GC) as the JSON.stringify it saved. An
 * array pushed out is stringified again, with the same text.
 */
const texts = new IdentityRing<readonly ModelToolCall[], string>(32)

export function toolCallsJson(calls: readonly ModelToolCall[]): string {
  let text = texts.get(calls)
  if (text === undefined) {
    text = JSON.stringify(calls)
    texts.set(calls, text)
  }
  return text
}
