import {CauseTally, causeId, causeKey, signatureOfKey} from '../diff/cause.js'
import {compareTraces} from '../runs/group.js'
import type {RequestTrace, TraceSide} from '../trace/schema.js'
import {addToCounts, emptyCounts, toEntry, type ClassCounts, type RequestEntry} from './entries.js'

/**
 * Compares a run's requests once, streaming, in slices that give the event loop back between them
 * so the terminal keeps answering keys (and shows a counter) while a large run loads.
 */

export type LoadState = {
  entries: RequestEntry[]
  counts: ClassCounts
  /** Longest request id and tenant so far, to size the list's columns. */
  widest: {id: number; tenant: number; line: number}
  /** The requests that differ, per cause: the run's first screen. */
  causes: CauseTally
  done: boolean
  error: string | null
}

export type LoadOptions = {
  /** Called after each slice (and once at the end) with the same, grown, state object. */
  onProgress: (state: LoadState) => void
  /** Checked between slices; loading stops (and the trace iterator is closed) once true. */
  cancelled: () => boolean
  /** How long one slice may run before yielding (at least one request is compared per slice). Default 30 ms. */
  sliceMs?: number
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

export async function loadEntries(traces: Iterable<RequestTrace>, baseSide: TraceSide, options: LoadOptions): Promise<LoadState> {
  const state: LoadState = {entries: [], counts: emptyCounts(), widest: {id: 0, tenant: 0, line: 0}, causes: new CauseTally(), done: false, error: null}
  // One id string per distinct cause (and the first tool it names), shared by its entries and worked out once.
  const ids = new Map<string, {id: string; tool: string | undefined}>()
  const sliceMs = options.sliceMs ?? 30
  let it: Iterator<unknown> | undefined
  try {
    // Word diffs of answers are only needed when a request is opened.
    const compared = compareTraces(traces, baseSide, {answerParts: false})
    it = compared
    for (;;) {
      if (options.cancelled()) return state
      const until = Date.now() + sliceMs
      let finished = false
      // At least one request per slice, so a slice of 0 ms still makes progress.
      do {
        const next = compared.next()
        if (next.done) {
          finished = true
          break
        }
        const r = next.value
        const entry = toEntry(r)
        const key = r.diff && r.classification ? causeKey(r.diff, r.classification) : null
        if (key !== null) {
          let cause = ids.get(key)
          if (cause === undefined) {
            const signature = signatureOfKey(key)
            cause = {id: causeId(signature), tool: signature.facets.find((f) => f.tool !== undefined)?.tool}
            ids.set(key, cause)
          }
          entry.cause = cause.id
          if (cause.tool !== undefined) entry.tool = cause.tool
          state.causes.add(key, r.request_id)
        }
        state.entries.push(entry)
        addToCounts(state.counts, entry)
        const w = state.widest
        w.id = Math.max(w.id, [...entry.request_id].length)
        w.tenant = Math.max(w.tenant, [...entry.tenant].length)
        w.line = Math.max(w.line, entry.line)
      } while (Date.now() < until)
      if (finished) break
      options.onProgress(state)
      await nextTurn()
    }
    state.done = true
  } catch (e) {
    state.error = (e as Error).message
    state.done = true
  } finally {
    // Closing the generator closes the store's statement, freeing its connection.
    it?.return?.(undefined)
  }
  options.onProgress(state)
  return state
}
