import {sha256} from '../util/canonical.js'
import {cassetteKey} from './cassette.js'
import type {CassetteRedactor, ChatRequest, ChatResponse, ModelClient} from './types.js'

/**
 * Never pay twice for a model call: a model exchange cached by content, so that a replay (or a
 * bisect step) whose request is byte-identical to one already answered reuses the answer. The key
 * is the answering client's id and the cassette key (model, messages, tools, format, think,
 * options): the same request to another model, or with any option changed, is another key.
 *
 * Only deterministic requests are cached by default: at temperature 0 a model answers the same
 * request the same way, so the stored answer is the one a new call would give. At a sampling
 * temperature a new call is a new draw (a seed makes Ollama repeat itself only on the same build
 * and hardware), so reusing an answer would hide exactly the variation a repeat is run to see:
 * cached only when asked (`always`).
 */

/** `auto`: cache requests at temperature 0; `always`: every request; `off`: none. */
export type ModelCacheMode = 'auto' | 'always' | 'off'
export const MODEL_CACHE_MODES = ['auto', 'always', 'off'] as const

/** Where answers are kept: the trace store's `model_exchanges` table (src/store/exchanges-repo.ts). */
export type ExchangeStore = {
  getExchange(key: string): string | undefined
  /** Keeps the first answer to a key. */
  putExchange(key: string, source: string, responseJson: string): void
}

/** Calls a run's models made, and calls it answered from the cache instead. */
export type ModelCallCount = {made: number; avoided: number}

export const emptyCallCount = (): ModelCallCount => ({made: 0, avoided: 0})

export function cacheable(request: ChatRequest, mode: ModelCacheMode): boolean {
  if (mode === 'off') return false
  return mode === 'always' || request.options.temperature === 0
}

/** The cache key of a request to the client `source`. */
export const exchangeKey = (source: string, request: ChatRequest): string => sha256(`${source}\n${cassetteKey(request)}`)

export type CachingOptions = {
  /** null: nothing is cached (a model whose calls cost nothing), only counted. */
  store: ExchangeStore | null
  mode: ModelCacheMode
  /** Answers are stored redacted, as every text of a trace is; the request's own secrets are put back on the way out. */
  redactor: CassetteRedactor
  counts: ModelCallCount
}

/** `inner`, counting its calls, and answering a cacheable request it has answered before from the store. */
export function cachingModel(inner: ModelClient, opts: CachingOptions): ModelClient {
  // A model-free replay asks no model: nothing to count or cache, and the runtime needs its forRequest.
  if (inner.forRequest !== undefined) return inner
  const {store, mode, redactor, counts} = opts
  if (store === null) {
    // Nothing to cache: the inner client's own promise, counted, without an async frame around it.
    const counted: ModelClient = {
      id: inner.id,
      chat(request: ChatRequest, signal?: AbortSignal): Promise<ChatResponse> {
        counts.made++
        return inner.chat(request, signal)
      },
    }
    if (inner.close) counted.close = () => inner.close!()
    return counted
  }
  const wrapped: ModelClient = {
    id: inner.id,
    async chat(request: ChatRequest, signal?: AbortSignal): Promise<ChatResponse> {
      if (!cacheable(request, mode)) {
        counts.made++
        return inner.chat(request, signal)
      }
      const key = exchangeKey(inner.id, request)
      const hit = store.getExchange(key)
      if (hit !== undefined) {
        counts.avoided++
        return redactor.restoreFrom(JSON.parse(hit), request) as ChatResponse
      }
      counts.made++
      const response = await inner.chat(request, signal)
      store.putExchange(key, inner.id, JSON.stringify(redactor.redactValue(response)))
      return response
    },
  }
  if (inner.close) wrapped.close = () => inner.close!()
  return wrapped
}
