import type {ReadableSpan} from '@opentelemetry/sdk-trace-base'
import {joinTraffic, type JoinedTrace} from '../runs/traffic-join.js'
import {UnderstudyError} from '../errors.js'
import {createRedactor} from '../runtime/redact.js'
import type {TraceSide} from '../trace/schema.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {writeFileAtomicAsync} from '../util/atomic-write.js'
import {exportResource, otlpJsonChunks, requestSpans, type ExportContext} from './export.js'

export type ExportRunOptions = {
  side: TraceSide
  /** Only this request. */
  requestId?: string
  /** The traffic file to take timestamps (and, with `input`, redacted input) from; null = none. */
  trafficFile: string | null
  /** Export the request's input messages (redacted) as gen_ai.input.messages. */
  input: boolean
}

export type ExportRunResult = {file: string; side: TraceSide; requests: number; spans: number; timestamps_from: 'traffic' | 'run_start'}

const BATCH_REQUESTS = 256

/** The model id behind a side, from the run's `baseline / candidate` model label. */
export function modelForSide(run: RunInfo, side: TraceSide): string | null {
  if (side === 'recorded') return null
  const labels = run.model.split(' / ').filter((l) => l !== '')
  if (labels.length === 0) return null
  return side === 'baseline' ? labels[0]! : labels[labels.length - 1]!
}

/** Context for one request: its recorded timestamp and (redacted) input when the traffic line is there. */
export function exportContext(run: RunInfo, joined: JoinedTrace, side: TraceSide, withInput: boolean, redact: (s: string) => string): ExportContext {
  const {record} = joined
  const bundleRef = side === 'candidate' ? run.candidate_ref : side === 'baseline' ? run.baseline_ref : (record?.production.bundle ?? 'production')
  const ctx: ExportContext = {
    runId: run.id,
    bundleRef,
    model: modelForSide(run, side),
    startMs: record ? Date.parse(record.timestamp) : Date.parse(run.started_at),
  }
  if (record?.session_id !== undefined) ctx.sessionId = record.session_id
  if (withInput && record) {
    ctx.input = record.input.map((m) => ({role: m.role, content: redact(m.content)}))
    // A multi-turn record's later turns: the answer that ended each turn, then the user's reply.
    for (const t of record.turns ?? []) ctx.input.push({role: 'assistant', content: redact(t.answer)}, {role: 'user', content: redact(t.content)})
  }
  return ctx
}

/** Writes one side of a run as an OTLP/JSON document (atomically), streaming batch by batch. */
export async function exportRun(store: TraceStore, run: RunInfo, out: string, opts: ExportRunOptions): Promise<ExportRunResult> {
  const filter = {side: opts.side, ...(opts.requestId !== undefined ? {requestId: opts.requestId} : {})}
  const total = store.countTraces(run.id, filter)
  if (total === 0) {
    const what = opts.requestId !== undefined ? `request ${opts.requestId} on the ${opts.side} side` : `${opts.side} traces`
    throw new UnderstudyError(`run ${run.id} has no ${what} to export`)
  }
  const redactor = createRedactor()
  const resource = exportResource(run.id, opts.side)
  let requests = 0
  let spans = 0
  async function* batches(): AsyncGenerator<ReadableSpan[]> {
    let batch: ReadableSpan[] = []
    let inBatch = 0
    for await (const joined of joinTraffic(store.iterateTraces(run.id, filter), opts.trafficFile)) {
      const ctx = exportContext(run, joined, opts.side, opts.input, redactor.redactText)
      const s = requestSpans(joined.trace, ctx, resource)
      batch.push(...s)
      spans += s.length
      requests++
      if (++inBatch >= BATCH_REQUESTS) {
        yield batch
        batch = []
        inBatch = 0
      }
    }
    if (batch.length > 0) yield batch
  }
  await writeFileAtomicAsync(out, otlpJsonChunks(batches()))
  return {file: out, side: opts.side, requests, spans, timestamps_from: opts.trafficFile === null ? 'run_start' : 'traffic'}
}
