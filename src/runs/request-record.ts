import {createRedactor} from '../runtime/redact.js'
import type {GuardrailResult, RequestTrace, ToolCallTrace} from '../trace/schema.js'
import {readTraffic} from '../traffic/reader.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {storedRequestId} from '../runtime/redact.js'
import {baseSideOf} from '../diff/compare.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {requestGroup} from './group.js'
import {runTrafficFile} from './traffic-join.js'

/**
 * What a request's context view needs that a diff does not keep: the recorded request (messages,
 * retrieved documents, memory, the attacks it is known to carry) and, per side, the tool calls with
 * their results and every guardrail result. The record is redacted the way traces are, so a report
 * shows a secret in a user's message no more than it shows one in a tool argument.
 */

export type RecordContext = Pick<TrafficRecord, 'input' | 'retrieved' | 'memory' | 'attacks' | 'turns'>

export type TraceContext = Pick<RequestTrace, 'tool_calls' | 'guardrails'>

export type SideContexts = {base: TraceContext | null; cand: TraceContext | null}

const redactor = createRedactor()

/** The parts of a record the context view shows, through the trace redactor. */
export function recordContext(record: TrafficRecord): RecordContext {
  return redactor.redactValue({input: record.input, retrieved: record.retrieved, memory: record.memory, attacks: record.attacks, ...(record.turns === undefined ? {} : {turns: record.turns})}) as RecordContext
}

/** The parts of a trace the context view shows (the trace is already redacted). */
export function traceContext(trace: RequestTrace | null): TraceContext | null {
  if (trace === null) return null
  const calls: ToolCallTrace[] = trace.tool_calls
  const guardrails: GuardrailResult[] = trace.guardrails
  return {tool_calls: calls, guardrails}
}

/**
 * The records of the given requests (keyed by request id as traces store it, the first valid line
 * of each), in one streamed pass over the traffic file that stops once all are found. Lines that do
 * not validate are left out; a missing file or id is simply absent from the map.
 */
export async function findRecordContexts(file: string, requestIds: Iterable<string>): Promise<Map<string, RecordContext>> {
  const wanted = new Set(requestIds)
  const found = new Map<string, RecordContext>()
  if (wanted.size === 0) return found
  for await (const l of readTraffic(file)) {
    if (!l.ok) continue
    const id = storedRequestId(l.record.id)
    if (!wanted.has(id) || found.has(id)) continue
    found.set(id, recordContext(l.record))
    if (found.size === wanted.size) break
  }
  return found
}

/**
 * Joins what the request context view needs to each regression the summary keeps in full: both
 * sides' traces read back whole (calls with results, every guardrail result with the admission
 * record; the summary's own pass reads only failed guardrails) and the recorded request from the
 * run's traffic file when it is still there (null otherwise), in one streamed pass over the file.
 */
export async function joinRegressionContext(
  store: Pick<TraceStore, 'iterateTraces'>,
  summary: {run: RunInfo; regressions: {diffs: {diff: {request_id: string; line: number}; traces?: SideContexts; record?: RecordContext | null}[]}},
  trafficFile?: string,
): Promise<void> {
  const diffs = summary.regressions.diffs
  if (diffs.length === 0) return
  const baseSide = baseSideOf(summary.run)
  for (const d of diffs) {
    const group = requestGroup(store, summary.run, d.diff.request_id, d.diff.line)
    const first = (side: string): RequestTrace | null =>
      group?.traces.filter((t) => t.side === side).reduce<RequestTrace | null>((a, t) => (a === null || t.repeat < a.repeat ? t : a), null) ?? null
    d.traces = {base: traceContext(first(baseSide)), cand: traceContext(first('candidate'))}
  }
  const file = runTrafficFile(summary.run, trafficFile)
  const records = file === null ? new Map<string, RecordContext>() : await findRecordContexts(file, diffs.map((d) => d.diff.request_id))
  for (const d of diffs) d.record = records.get(d.diff.request_id) ?? null
}
