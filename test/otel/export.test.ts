import path from 'node:path'
import * as semconv from '@opentelemetry/semantic-conventions/incubating'
import {describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {GEN_AI} from '../../src/otel/attributes.js'
import {requestSpans, serializeOtlpJson, type ExportContext} from '../../src/otel/export.js'
import {exportContext} from '../../src/otel/export-run.js'
import type {RunInfo} from '../../src/store/api.js'
import {TrafficRecord} from '../../src/traffic/schema.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {recordedSide, retriedRefundRecord, step, toolCall, trace, trafficRecordInput} from '../factories/index.js'
import {repoRoot} from '../helpers/cli.js'

type Attr = {key: string; value: Record<string, unknown>}
type Span = {traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; startTimeUnixNano: string; endTimeUnixNano: string; attributes: Attr[]; status: {code: number; message?: string}; events: {name: string; attributes: Attr[]}[]}
type Doc = {resourceSpans: {resource: {attributes: Attr[]}; scopeSpans: {scope: {name: string}; spans: Span[]}[]}[]}

const ctx = (over: Partial<ExportContext> = {}): ExportContext => ({
  runId: 'r20250701T000000-abcdef',
  bundleRef: 'support-refunds@2.0.0#0123456789ab',
  model: 'scripted:support-agent',
  startMs: Date.parse('2025-07-02T00:59:01Z'),
  ...over,
})

const parse = (json: string): Doc => JSON.parse(json) as Doc
const spansOf = (doc: Doc): Span[] => doc.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
const attr = (s: Span, key: string): unknown => {
  const v = s.attributes.find((a) => a.key === key)?.value
  return v === undefined ? undefined : Object.values(v)[0]
}

const candidate = () =>
  trace({
    request_id: 'req-000054',
    steps: [
      {...step('retrieve'), latency_ms: 0},
      {...step('plan'), input_tokens: 700, output_tokens: 30, latency_ms: 400},
      {...step('act'), latency_ms: 150},
      {...step('observe')},
      {...step('plan'), input_tokens: 900, output_tokens: 60, latency_ms: 500},
      {...step('finish')},
    ],
    tool_calls: [
      toolCall('lookup_order', {order_id: 'ORD-100030'}, {step: 2, latency_ms: 100}),
      toolCall('issue_refund', {order_id: 'ORD-100030', amount: 900}, {step: 2, latency_ms: 50, risk: 'write_high', outcome: 'denied', executed: false, result: null, idempotency_key: 'k'}),
    ],
    policy_decisions: [{seq: 0, step: 2, stage: 'mid_run', tool_call_seq: 1, tool: 'issue_refund', decision: 'deny', reason: 'REFUND_OVER_HARD_LIMIT', rule: 'refund-hard-limit'}],
    input_tokens: 1600,
    output_tokens: 90,
    model_calls: 2,
    latency_ms: 1050,
  })

describe('OTLP/JSON export', () => {
  it('has the resourceSpans → scopeSpans → spans shape with hex ids and typed attribute values', () => {
    const doc = parse(serializeOtlpJson(requestSpans(candidate(), ctx())))
    expect(doc.resourceSpans).toHaveLength(1)
    expect(doc.resourceSpans[0]!.scopeSpans[0]!.scope.name).toBe('understudy')
    const spans = spansOf(doc)
    expect(spans.map((s) => s.name)).toEqual(['invoke_agent support-refunds', 'chat support-agent', 'execute_tool lookup_order', 'execute_tool issue_refund', 'chat support-agent'])
    const [root, ...children] = spans
    for (const s of spans) {
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(s.spanId).toMatch(/^[0-9a-f]{16}$/)
      expect(s.traceId).toBe(root!.traceId)
      expect(s.startTimeUnixNano).toMatch(/^\d+$/)
      for (const a of s.attributes) {
        expect(Object.keys(a).sort()).toEqual(['key', 'value'])
        expect(Object.keys(a.value)).toHaveLength(1)
        expect(['stringValue', 'intValue', 'doubleValue', 'boolValue', 'arrayValue']).toContain(Object.keys(a.value)[0])
      }
    }
    expect(root!.parentSpanId).toBeUndefined()
    for (const c of children) expect(c.parentSpanId).toBe(root!.spanId)
    expect(root!.attributes.find((a) => a.key === 'understudy.line')!.value).toEqual({intValue: 1})
    expect(root!.attributes.find((a) => a.key === 'understudy.tenant')!.value).toEqual({stringValue: 'acme'})
  })

  it('uses the GenAI semantic-convention names, which match the official incubating constants', () => {
    expect(GEN_AI).toMatchObject({
      operationName: semconv.ATTR_GEN_AI_OPERATION_NAME,
      providerName: semconv.ATTR_GEN_AI_PROVIDER_NAME,
      requestModel: semconv.ATTR_GEN_AI_REQUEST_MODEL,
      usageInputTokens: semconv.ATTR_GEN_AI_USAGE_INPUT_TOKENS,
      usageOutputTokens: semconv.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
      toolName: semconv.ATTR_GEN_AI_TOOL_NAME,
      toolCallId: semconv.ATTR_GEN_AI_TOOL_CALL_ID,
      toolCallArguments: semconv.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
      toolCallResult: semconv.ATTR_GEN_AI_TOOL_CALL_RESULT,
      agentName: semconv.ATTR_GEN_AI_AGENT_NAME,
      inputMessages: semconv.ATTR_GEN_AI_INPUT_MESSAGES,
      outputMessages: semconv.ATTR_GEN_AI_OUTPUT_MESSAGES,
    })
    const spans = spansOf(parse(serializeOtlpJson(requestSpans(candidate(), ctx()))))
    const [root, chat, lookup, refund] = spans
    expect(attr(root!, 'gen_ai.operation.name')).toBe('invoke_agent')
    expect(attr(chat!, 'gen_ai.operation.name')).toBe('chat')
    expect(attr(chat!, 'gen_ai.request.model')).toBe('support-agent')
    expect(attr(chat!, 'gen_ai.provider.name')).toBe('scripted')
    expect(attr(chat!, 'gen_ai.usage.input_tokens')).toBe(700)
    expect(attr(chat!, 'gen_ai.usage.output_tokens')).toBe(30)
    expect(attr(lookup!, 'gen_ai.operation.name')).toBe('execute_tool')
    expect(attr(lookup!, 'gen_ai.tool.name')).toBe('lookup_order')
    expect(attr(lookup!, 'gen_ai.tool.call.id')).toBe('req-000054-call-1')
    expect(JSON.parse(attr(lookup!, 'understudy.args') as string)).toEqual({order_id: 'ORD-100030'})
    // Denied: ERROR status, the decision on the span.
    expect(refund!.status.code).toBe(2)
    expect(lookup!.status.code).toBe(0)
    expect(attr(refund!, 'understudy.policy.decision')).toBe('deny')
    expect(attr(refund!, 'understudy.policy.reason')).toBe('REFUND_OVER_HARD_LIMIT')
    expect(attr(refund!, 'understudy.outcome')).toBe('denied')
    expect(attr(refund!, 'understudy.risk')).toBe('write_high')
    expect(attr(refund!, 'understudy.idempotency_key')).toBe('k')
    expect(attr(refund!, 'understudy.args_hash')).toMatch(/^[0-9a-f]{64}$/)
  })

  it('lays spans on a timeline from the request timestamp using the simulated latencies', () => {
    const [root, chat1, lookup, refund, chat2] = spansOf(parse(serializeOtlpJson(requestSpans(candidate(), ctx()))))
    const t0 = BigInt(Date.parse('2025-07-02T00:59:01Z')) * 1_000_000n
    const ms = (n: number) => t0 + BigInt(n) * 1_000_000n
    expect(BigInt(root!.startTimeUnixNano)).toBe(t0)
    expect(BigInt(root!.endTimeUnixNano)).toBe(ms(1050))
    expect([chat1!.startTimeUnixNano, chat1!.endTimeUnixNano].map(BigInt)).toEqual([ms(0), ms(400)])
    expect([lookup!.startTimeUnixNano, lookup!.endTimeUnixNano].map(BigInt)).toEqual([ms(400), ms(500)])
    expect([refund!.startTimeUnixNano, refund!.endTimeUnixNano].map(BigInt)).toEqual([ms(500), ms(550)])
    expect([chat2!.startTimeUnixNano, chat2!.endTimeUnixNano].map(BigInt)).toEqual([ms(550), ms(1050)])
  })

  it('is deterministic: the same run gives the same bytes; another run, side or request other ids', () => {
    const a = serializeOtlpJson(requestSpans(candidate(), ctx()))
    expect(serializeOtlpJson(requestSpans(candidate(), ctx()))).toBe(a)
    const ids = (json: string) => spansOf(parse(json)).map((s) => `${s.traceId}/${s.spanId}`)
    const base = ids(a)
    expect(new Set(base).size).toBe(base.length)
    expect(ids(serializeOtlpJson(requestSpans(candidate(), ctx({runId: 'r-other'}))))[0]).not.toBe(base[0])
    expect(ids(serializeOtlpJson(requestSpans({...candidate(), side: 'baseline'}, ctx())))[0]).not.toBe(base[0])
    expect(ids(serializeOtlpJson(requestSpans({...candidate(), request_id: 'req-2'}, ctx())))[0]).not.toBe(base[0])
  })

  it('keeps redaction: a planted secret and a sensitive address never reach the export', async () => {
    const secret = 'sk-live-4f9a8b7c6d5e4f3a2b1c'
    const address = 'wen.evans16@example.com'
    const bundle = await loadBundle(path.join(repoRoot, 'scenarios/support-refunds/v1'))
    const r = retriedRefundRecord({input: [{role: 'user', content: `my api key is ${secret}, refund ORD-100030 please`}]})
    const planted = {
      ...r,
      production: {
        ...r.production,
        tool_calls: r.production.tool_calls.map((c) =>
          c.name === 'issue_refund' ? {...c, args: {...c.args, customer_email: address}, ...(c.result ? {result: {...(c.result as object), note: `token=${secret}`}} : {})} : c,
        ),
        final_answer: `Done, ${secret}`,
      },
    }
    const redactor = createRedactor()
    const t = recordedSide(planted, {bundle})
    const json = serializeOtlpJson(requestSpans(t, ctx({model: null, input: planted.input.map((m) => ({...m, content: redactor.redactText(m.content)}))})))
    expect(json).not.toContain(secret)
    expect(json).not.toContain(address)
    expect(json).toContain('[REDACTED:')
  })

  it('puts decisions without a tool call and failed guardrails on the root as events; a failed run is ERROR', () => {
    const t = recordedSide(retriedRefundRecord())
    const [root] = spansOf(parse(serializeOtlpJson(requestSpans({...t, status: 'failed', error: 'model error', guardrails: [{stage: 'pre_model', step: 0, check: 'retrieval.injection', passed: false, severity: 'medium', detail: 'flagged'}]}, ctx({model: null})))))
    expect(root!.status).toMatchObject({code: 2})
    const names = root!.events.map((e) => e.name)
    expect(names).toEqual(['understudy.policy_decision', 'understudy.guardrail'])
    expect(root!.events[0]!.attributes.find((a) => a.key === 'understudy.policy.reason')!.value).toEqual({stringValue: 'INPUT_OK'})
  })
})

describe('admitted context on the root span (#18)', () => {
  it('exports the ids of the documents and the keys of the memory entries the model saw, from a support-refunds request', async () => {
    const {readFileSync} = await import('node:fs')
    const {TrafficRecord} = await import('../../src/traffic/schema.js')
    const {compileBundle, runRequest} = await import('../../src/runtime/agent.js')
    const {createScriptedModel} = await import('../../src/model/scripted.js')
    const {createMockTools} = await import('../../src/tools/mock-tools.js')
    const {RateLimiter} = await import('../../src/runtime/rate-limit.js')
    const {admittedContext} = await import('../../src/trace/schema.js')
    const dir = path.join(repoRoot, 'scenarios', 'support-refunds')
    const records = readFileSync(path.join(dir, 'traffic.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => TrafficRecord.parse(JSON.parse(l)))
    // The first request with both retrieved documents and memory.
    const bundle = await loadBundle(path.join(dir, 'v1'))
    const deps = {
      bundle,
      compiled: compileBundle(bundle),
      model: createScriptedModel({name: 'support-agent', seed: 7}),
      tools: createMockTools(null),
      approver: 'pending' as const,
      faults: null,
      redactor: createRedactor(),
      limiter: new RateLimiter(),
      side: 'candidate' as const,
      repeat: 0,
    }
    let found = false
    for (const [i, record] of records.entries()) {
      if (record.retrieved.length === 0 || record.memory.length === 0) continue
      const t = await runRequest(record, i + 1, deps)
      const admitted = admittedContext(t)
      found = true
      expect(admitted.documents.length).toBeGreaterThan(0)
      expect(admitted.memory.length).toBeGreaterThan(0)
      const root = spansOf(parse(serializeOtlpJson(requestSpans(t, ctx()))))[0]!
      const values = (key: string) => ((attr(root, key) as {values?: {stringValue: string}[]}).values ?? []).map((v) => v.stringValue)
      expect(values('understudy.context.admitted_document_ids')).toEqual(admitted.documents)
      expect(values('understudy.context.admitted_memory_keys')).toEqual(admitted.memory)
      // What was dropped is not among them.
      const context = t.guardrails.find((g) => g.context !== undefined)!.context!
      const dropped = [...context.documents.filter((d) => !d.admitted).map((d) => d.id), ...context.memory.filter((m) => !m.admitted).map((m) => m.key)]
      for (const id of dropped) expect([...admitted.documents, ...admitted.memory]).not.toContain(id)
      break
    }
    expect(found).toBe(true)
    // A request with nothing to admit still carries both, empty.
    const bare = spansOf(parse(serializeOtlpJson(requestSpans(candidate(), ctx()))))[0]!
    expect(attr(bare, 'understudy.context.admitted_document_ids')).toEqual({values: []})
  })
})

describe('the exported input of a multi-turn request', () => {
  it('lists each later turn after the first input: the answer that ended the turn, then the user reply (redacted)', () => {
    // A domain this code has never seen: a greenhouse controller that asks before it opens the vents.
    const record = TrafficRecord.parse(
      trafficRecordInput({
        input: [{role: 'user', content: 'It is too hot in bay 3.'}],
        turns: [{after_calls: 0, answer: 'Shall I open the bay 3 vents to 40%?', content: 'Yes, and text me at mara@example.org when done.'}],
      }),
    )
    const run = {id: 'r1', candidate_ref: 'greenhouse@2.0.0#0123456789ab', baseline_ref: 'recorded', model: 'scripted:greenhouse', started_at: '2026-12-04T00:00:00Z'} as RunInfo
    const redactor = createRedactor()
    const got = exportContext(run, {trace: trace(), record}, 'candidate', true, redactor.redactText).input
    expect(got?.map((m) => m.role)).toEqual(['user', 'assistant', 'user'])
    expect(got?.[1]?.content).toBe('Shall I open the bay 3 vents to 40%?')
    expect(got?.[2]?.content).toMatch(/^Yes, and text me at \[REDACTED:email:[0-9a-f]+\] when done\.$/)
    expect(exportContext(run, {trace: trace(), record}, 'candidate', false, redactor.redactText).input).toBeUndefined()
  })
})
