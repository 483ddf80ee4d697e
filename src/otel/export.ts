import {SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext, type SpanStatus} from '@opentelemetry/api'
import {JsonTraceSerializer} from '@opentelemetry/otlp-transformer'
import {resourceFromAttributes, type Resource} from '@opentelemetry/resources'
import type {ReadableSpan, TimedEvent} from '@opentelemetry/sdk-trace-base'
import {admittedContext, type RequestTrace, type ToolCallTrace} from '../trace/schema.js'
import type {InputMessage} from '../traffic/schema.js'
import {canonicalJson, sha256} from '../util/canonical.js'
import {ENDUSER_ID, ERROR_TYPE, EVENT, GEN_AI, OPERATION, US} from './attributes.js'

/**
 * A stored request trace as OpenTelemetry spans: one trace per request, an `invoke_agent` root,
 * a `chat` child per model call and an `execute_tool` child per tool call. Ids are hashes of the
 * run, request, side, repeat and sequence number, and times are laid out from the simulated
 * latencies, so exporting the same run twice gives byte-identical files. The trace is already
 * redacted; nothing here reads anything else.
 */

export type ExportContext = {
  runId: string
  /** The bundle behind the side: `name@version#hash12`, or what production logged. */
  bundleRef: string
  /** Model id such as `scripted:support-agent` or `ollama:llama3.1:8b`; null when unknown (production). */
  model: string | null
  /** Epoch milliseconds where the request's timeline starts (its recorded timestamp). */
  startMs: number
  /** Input messages, already redacted; left out of the export when absent. */
  input?: InputMessage[]
  sessionId?: string
}

export const INSTRUMENTATION_SCOPE = {name: 'understudy', version: '1'}

const OK_OUTCOMES = new Set(['ok', 'deduplicated'])
const ERROR_STATUSES = new Set(['failed', 'skipped', 'refused', 'budget_exceeded'])

/** The resource every span of one export shares (one resourceSpans entry per batch). */
export function exportResource(runId: string, side: string): Resource {
  return resourceFromAttributes({'service.name': 'understudy', [US.runId]: runId, [US.side]: side})
}

function idSeed(runId: string, t: RequestTrace): string {
  return `understudy\u0000${runId}\u0000${t.request_id}\u0000${t.side}\u0000${t.repeat}`
}

/** 32 hex digits; never all zeros (an invalid trace id). */
export function traceIdFor(runId: string, t: RequestTrace): string {
  return nonZero(sha256(idSeed(runId, t)).slice(0, 32))
}

/** 16 hex digits for the span of kind `kind` (`root`, `chat`, `tool`) number `seq` in the request. */
export function spanIdFor(runId: string, t: RequestTrace, kind: string, seq: number): string {
  return nonZero(sha256(`${idSeed(runId, t)}\u0000${kind}\u0000${seq}`).slice(0, 16))
}

function nonZero(hex: string): string {
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex
}

/** Epoch ms plus an offset in (fractional) ms, as [seconds, nanoseconds]. */
export function hrTimeAt(startMs: number, offsetMs: number): HrTime {
  const ns = BigInt(Math.trunc(startMs)) * 1_000_000n + BigInt(Math.round(offsetMs * 1e6))
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)]
}

function duration(a: HrTime, b: HrTime): HrTime {
  const ns = BigInt(b[0] - a[0]) * 1_000_000_000n + BigInt(b[1] - a[1])
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)]
}

/** `scripted:support-agent` → provider `scripted`, model `support-agent`. */
export function splitModel(model: string): {provider: string; name: string} {
  const i = model.indexOf(':')
  return i <= 0 ? {provider: 'unknown', name: model} : {provider: model.slice(0, i), name: model.slice(i + 1)}
}

/** The agent's name from a bundle ref (`support-refunds@2.0.0#abc` → `support-refunds`). */
export function agentNameOf(ref: string): string {
  const at = ref.indexOf('@')
  return at > 0 ? ref.slice(0, at) : ref
}

function json(value: unknown): string {
  return canonicalJson(value)
}

type SpanSpec = {
  name: string
  kind: SpanKind
  spanId: string
  parentId: string | null
  start: HrTime
  end: HrTime
  attributes: Attributes
  status: SpanStatus
  events?: TimedEvent[]
}

/** Builds the spans of one request; the root comes first, then children in timeline order. */
export function requestSpans(trace: RequestTrace, ctx: ExportContext, resource: Resource = exportResource(ctx.runId, trace.side)): ReadableSpan[] {
  const traceId = traceIdFor(ctx.runId, trace)
  const rootId = spanIdFor(ctx.runId, trace, 'root', 0)
  const model = ctx.model === null ? null : splitModel(ctx.model)
  const children: SpanSpec[] = []
  const at = (ms: number): HrTime => hrTimeAt(ctx.startMs, ms)

  // Decisions about a tool call go on its span; the others become events on the root.
  const decisionByCall = new Map<number, RequestTrace['policy_decisions'][number]>()
  for (const d of trace.policy_decisions) if (d.tool_call_seq !== null) decisionByCall.set(d.tool_call_seq, d)
  const callsByStep = new Map<number, ToolCallTrace[]>()
  for (const c of trace.tool_calls) {
    const list = callsByStep.get(c.step) ?? []
    list.push(c)
    callsByStep.set(c.step, list)
  }
  const stepStart = new Map<number, number>()

  let cursor = 0
  let chatSeq = 0
  const placed = new Set<number>()
  for (const step of trace.steps) {
    stepStart.set(step.index, cursor)
    if (step.state === 'plan' && model !== null) {
      const failed = step.detail.startsWith('model error')
      children.push({
        name: `${OPERATION.chat} ${model.name}`,
        kind: SpanKind.CLIENT,
        spanId: spanIdFor(ctx.runId, trace, 'chat', chatSeq),
        parentId: rootId,
        start: at(cursor),
        end: at(cursor + step.latency_ms),
        attributes: {
          [GEN_AI.operationName]: OPERATION.chat,
          [GEN_AI.providerName]: model.provider,
          [GEN_AI.requestModel]: model.name,
          [GEN_AI.usageInputTokens]: step.input_tokens,
          [GEN_AI.usageOutputTokens]: step.output_tokens,
          [US.step]: step.index,
          [US.seq]: chatSeq,
        },
        status: failed ? {code: SpanStatusCode.ERROR, message: step.detail} : {code: SpanStatusCode.UNSET},
      })
      chatSeq++
    }
    let callCursor = cursor
    for (const call of callsByStep.get(step.index) ?? []) {
      children.push(toolSpan(call, callCursor))
      placed.add(call.seq)
      callCursor += call.latency_ms
    }
    cursor += Math.max(step.latency_ms, callCursor - cursor)
  }
  // A call whose step is missing from the trace still gets a span, at the end of the timeline.
  for (const call of trace.tool_calls) {
    if (placed.has(call.seq)) continue
    children.push(toolSpan(call, cursor))
    cursor += call.latency_ms
  }

  function toolSpan(call: ToolCallTrace, startOffset: number): SpanSpec {
    const ok = OK_OUTCOMES.has(call.outcome)
    const decision = decisionByCall.get(call.seq)
    const attributes: Attributes = {
      [GEN_AI.operationName]: OPERATION.executeTool,
      [GEN_AI.toolName]: call.name,
      [GEN_AI.toolCallId]: `${trace.request_id}-call-${call.seq + 1}`,
      [GEN_AI.toolType]: 'function',
      [GEN_AI.toolCallArguments]: json(call.args),
      [US.args]: json(call.args),
      [US.argsHash]: call.args_hash,
      [US.risk]: call.risk,
      [US.outcome]: call.outcome,
      [US.executed]: call.executed,
      [US.attempt]: call.attempt,
      [US.seq]: call.seq,
      [US.step]: call.step,
    }
    if (call.result !== null) attributes[GEN_AI.toolCallResult] = json(call.result)
    if (call.idempotency_key !== null) attributes[US.idempotencyKey] = call.idempotency_key
    if (call.error !== null) {
      attributes[US.error] = call.error
      attributes[ERROR_TYPE] = errorCode(call.error, call.outcome)
    } else if (!ok) {
      attributes[ERROR_TYPE] = call.outcome
    }
    if (decision) {
      attributes[US.policyStage] = decision.stage
      attributes[US.policyDecision] = decision.decision
      attributes[US.policyReason] = decision.reason
      if (decision.rule !== null) attributes[US.policyRule] = decision.rule
    }
    return {
      name: `${OPERATION.executeTool} ${call.name}`,
      kind: SpanKind.INTERNAL,
      spanId: spanIdFor(ctx.runId, trace, 'tool', call.seq),
      parentId: rootId,
      start: at(startOffset),
      end: at(startOffset + call.latency_ms),
      attributes,
      status: ok ? {code: SpanStatusCode.UNSET} : {code: SpanStatusCode.ERROR, message: call.error ?? call.outcome},
    }
  }

  const rootEnd = Math.max(trace.latency_ms, cursor)
  const events: TimedEvent[] = []
  for (const d of trace.policy_decisions) {
    if (d.tool_call_seq !== null && decisionByCall.get(d.tool_call_seq) === d && trace.tool_calls.some((c) => c.seq === d.tool_call_seq)) continue
    const attributes: Attributes = {[US.policyStage]: d.stage, [US.policyDecision]: d.decision, [US.policyReason]: d.reason, [US.seq]: d.seq}
    if (d.tool !== null) attributes[US.policyTool] = d.tool
    if (d.rule !== null) attributes[US.policyRule] = d.rule
    events.push({name: EVENT.policyDecision, time: at(stepStart.get(d.step) ?? (d.stage === 'pre_model' ? 0 : rootEnd)), attributes})
  }
  for (const g of trace.guardrails) {
    if (g.passed) continue
    events.push({
      name: EVENT.guardrail,
      time: at(stepStart.get(g.step) ?? 0),
      attributes: {[US.guardrailCheck]: g.check, [US.guardrailStage]: g.stage, [US.guardrailSeverity]: g.severity, [US.guardrailDetail]: g.detail},
    })
  }

  const admitted = admittedContext(trace)
  const rootAttributes: Attributes = {
    [GEN_AI.operationName]: OPERATION.invokeAgent,
    [GEN_AI.agentName]: agentNameOf(ctx.bundleRef),
    [GEN_AI.usageInputTokens]: trace.input_tokens,
    [GEN_AI.usageOutputTokens]: trace.output_tokens,
    [GEN_AI.outputMessages]: JSON.stringify([{role: 'assistant', parts: [{type: 'text', content: trace.final_answer}], finish_reason: 'stop'}]),
    [US.runId]: ctx.runId,
    [US.side]: trace.side,
    [US.repeat]: trace.repeat,
    [US.line]: trace.line,
    [US.requestId]: trace.request_id,
    [US.bundle]: ctx.bundleRef,
    [US.tenant]: trace.tenant,
    [US.user]: trace.user,
    [US.role]: trace.role,
    [ENDUSER_ID]: trace.user,
    [US.status]: trace.status,
    [US.costUsd]: trace.cost_usd,
    [US.modelCalls]: trace.model_calls,
    [US.budgetHits]: trace.budget_hits,
    [US.admittedDocuments]: admitted.documents,
    [US.admittedMemory]: admitted.memory,
  }
  if (model !== null) {
    rootAttributes[GEN_AI.providerName] = model.provider
    rootAttributes[GEN_AI.requestModel] = model.name
  }
  if (ctx.sessionId !== undefined) rootAttributes[GEN_AI.conversationId] = ctx.sessionId
  if (ctx.input !== undefined) {
    rootAttributes[GEN_AI.inputMessages] = JSON.stringify(ctx.input.map((m) => ({role: m.role, parts: [{type: 'text', content: m.content}]})))
  }
  if (trace.error !== null) rootAttributes[US.error] = trace.error
  const failed = ERROR_STATUSES.has(trace.status)
  if (failed) rootAttributes[ERROR_TYPE] = trace.status

  const root: SpanSpec = {
    name: `${OPERATION.invokeAgent} ${agentNameOf(ctx.bundleRef)}`,
    kind: SpanKind.INTERNAL,
    spanId: rootId,
    parentId: null,
    start: at(0),
    end: at(rootEnd),
    attributes: rootAttributes,
    status: failed ? {code: SpanStatusCode.ERROR, message: trace.error ?? trace.status} : {code: SpanStatusCode.UNSET},
    events,
  }
  return [root, ...children].map((s) => readable(s, traceId, resource))
}

/** `timeout: no answer within 5000 ms` → `timeout`; falls back to the outcome. */
function errorCode(error: string, outcome: string): string {
  const m = /^([a-z_]+):/.exec(error)
  return m ? m[1]! : outcome
}

function readable(s: SpanSpec, traceId: string, resource: Resource): ReadableSpan {
  const context: SpanContext = {traceId, spanId: s.spanId, traceFlags: TraceFlags.SAMPLED}
  const parent: SpanContext | undefined = s.parentId === null ? undefined : {traceId, spanId: s.parentId, traceFlags: TraceFlags.SAMPLED}
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () => context,
    parentSpanContext: parent,
    startTime: s.start,
    endTime: s.end,
    status: s.status,
    attributes: s.attributes,
    links: [],
    events: s.events ?? [],
    duration: duration(s.start, s.end),
    ended: true,
    resource,
    instrumentationScope: INSTRUMENTATION_SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  }
}

/** One OTLP/JSON ExportTraceServiceRequest (what the OTLP/HTTP JSON exporter POSTs). */
export function serializeOtlpJson(spans: ReadableSpan[]): string {
  return new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans))
}

/** The resourceSpans entries of one batch, each as JSON, via the official serializer. */
export function resourceSpansJson(batch: ReadableSpan[]): string[] {
  if (batch.length === 0) return []
  const doc = JSON.parse(serializeOtlpJson(batch)) as {resourceSpans: unknown[]}
  return doc.resourceSpans.map((rs) => JSON.stringify(rs))
}

/**
 * One ExportTraceServiceRequest document over batches of spans, in chunks: each batch goes
 * through the official serializer and its resourceSpans entries are written in turn, so a run of
 * any size never needs all its spans in memory at once.
 */
export async function* otlpJsonChunks(batches: AsyncIterable<ReadableSpan[]> | Iterable<ReadableSpan[]>): AsyncGenerator<string> {
  yield '{"resourceSpans":['
  let first = true
  for await (const batch of batches) {
    for (const rs of resourceSpansJson(batch)) {
      yield (first ? '' : ',\n') + rs
      first = false
    }
  }
  yield ']}\n'
}
