import {ModelError} from '../errors.js'
import {toolCallsJson} from './tool-calls-json.js'
import type {ChatRequest, ChatResponse, ModelClient} from './types.js'

/**
 * The size of an answer as the cap counts it: the UTF-8 bytes of its text plus those of its tool
 * calls as JSON. What a trace or a cassette would store of it is never larger than a small multiple.
 */
export function answerBytes(response: ChatResponse): number {
  const calls = response.message.tool_calls
  return Buffer.byteLength(response.message.content, 'utf8') + (calls.length === 0 ? 0 : Buffer.byteLength(toolCallsJson(calls), 'utf8'))
}

/**
 * `inner` with model.max_answer_bytes enforced: an answer over `maxBytes` is a ModelError
 * `too_large` (the request fails with that one line; the run goes on), so it reaches neither the
 * trace nor a cassette recorded around this client.
 */
export function capAnswers(inner: ModelClient, maxBytes: number): ModelClient {
  return {
    id: inner.id,
    async chat(request: ChatRequest, signal?: AbortSignal): Promise<ChatResponse> {
      const response = await inner.chat(request, signal)
      // A UTF-16 code unit is at most 3 UTF-8 bytes: an answer whose units, tripled, fit the cap
      // fits it, and its exact size (an encoding pass over it) is needed only to report one over it.
      const calls = response.message.tool_calls
      if (3 * (response.message.content.length + (calls.length === 0 ? 0 : toolCallsJson(calls).length)) <= maxBytes) return response
      const size = answerBytes(response)
      if (size > maxBytes) {
        throw new ModelError(
          'too_large',
          `the answer of ${inner.id} is ${size} bytes, over model.max_answer_bytes (${maxBytes}); the request fails and the answer is not stored (raise model.max_answer_bytes in the bundle to accept it)`,
        )
      }
      return response
    },
    close: inner.close === undefined ? undefined : () => inner.close!(),
  }
}
