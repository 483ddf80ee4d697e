import {describe, expect, it} from 'vitest'
import {requestSpans, serializeOtlpJson, type ExportContext} from '../../src/otel/export.js'
import {importOtlpText} from '../../src/otel/import.js'
import {TrafficRecord} from '../../src/traffic/schema.js'
import {recordedSide, retriedRefundRecord} from '../factories/index.js'

const ctxFor = (r: TrafficRecord): ExportContext => ({
  runId: 'r1',
  bundleRef: r.production.bundle ?? 'production',
  model: null,
  startMs: Date.parse(r.timestamp),
  input: r.input,
  ...(r.session_id !== undefined ? {sessionId: r.session_id} : {}),
})

const kv = (key: string, value: string | number) => ({key, value: typeof value === 'number' ? {intValue: String(value)} : {stringValue: value}})

/** A trace as a foreign agent service would send it: conventional attributes, no understudy.* outcome. */
function foreignDoc(over: {rootAttrs?: {key: string; value: object}[]; toolArgs?: string} = {}) {
  const traceId = '0af7651916cd43dd8448eb211c80319c'
  return {
    resourceSpans: [
      {
        resource: {attributes: [kv('service.name', 'support-bot')]},
        scopeSpans: [
          {
            scope: {name: 'my-agent'},
            spans: [
              {
                traceId, spanId: 'b7ad6b7169203331', name: 'invoke_agent support', startTimeUnixNano: '1751360000000000000', endTimeUnixNano: '1751360002500000000',
                attributes: over.rootAttrs ?? [kv('gen_ai.operation.name', 'invoke_agent'), kv('understudy.tenant', 'acme'), kv('enduser.id', 'u-7'), kv('understudy.role', 'agent')],
                status: {code: 0},
              },
              {
                traceId, spanId: '00f067aa0ba902b7', parentSpanId: 'b7ad6b7169203331', name: 'chat gpt-4o', startTimeUnixNano: '1751360000000000000', endTimeUnixNano: '1751360001000000000',
                attributes: [
                  kv('gen_ai.operation.name', 'chat'), kv('gen_ai.usage.input_tokens', 120), kv('gen_ai.usage.output_tokens', 15),
                  kv('gen_ai.input.messages', JSON.stringify([{role: 'system', parts: [{type: 'text', content: 'You are a bot'}]}, {role: 'user', parts: [{type: 'text', content: 'Refund ORD-1'}]}])),
                ],
              },
              {
                traceId, spanId: '10f067aa0ba902b7', parentSpanId: 'b7ad6b7169203331', name: 'execute_tool lookup_order', startTimeUnixNano: '1751360001000000000', endTimeUnixNano: '1751360001250000000',
                attributes: [kv('gen_ai.operation.name', 'execute_tool'), kv('gen_ai.tool.name', 'lookup_order'), kv('gen_ai.tool.call.id', 'call_1'), kv('gen_ai.tool.call.arguments', over.toolArgs ?? '{"order_id":"ORD-1"}'), kv('gen_ai.tool.call.result', '{"status":"delivered"}')],
              },
              {
                traceId, spanId: '20f067aa0ba902b7', parentSpanId: 'b7ad6b7169203331', name: 'execute_tool issue_refund', startTimeUnixNano: '1751360001250000000', endTimeUnixNano: '1751360001300000000',
                attributes: [kv('gen_ai.operation.name', 'execute_tool'), kv('gen_ai.tool.name', 'issue_refund'), kv('gen_ai.tool.call.arguments', '{"order_id":"ORD-1"}'), kv('error.type', 'timeout')],
                status: {code: 2, message: 'deadline exceeded'},
              },
              {
                traceId, spanId: '30f067aa0ba902b7', parentSpanId: 'b7ad6b7169203331', name: 'chat gpt-4o', startTimeUnixNano: '1751360001300000000', endTimeUnixNano: '1751360002500000000',
                attributes: [kv('gen_ai.operation.name', 'chat'), kv('gen_ai.usage.input_tokens', 300), kv('gen_ai.usage.output_tokens', 40), kv('gen_ai.output.messages', JSON.stringify([{role: 'assistant', parts: [{type: 'text', content: 'I could not confirm the refund.'}], finish_reason: 'stop'}]))],
              },
            ],
          },
        ],
      },
    ],
  }
}

describe('OTLP/JSON import', () => {
  it('round-trips a recorded request: tool calls, args, results, errors, decisions, identity, outcome, usage', () => {
    const r = retriedRefundRecord()
    const json = serializeOtlpJson(requestSpans(recordedSide(r), ctxFor(r)))
    const {records, errors} = importOtlpText(json, 'x.json')
    expect(errors).toEqual([])
    expect(records).toHaveLength(1)
    const back = records[0]!
    expect(TrafficRecord.safeParse(back).success).toBe(true)
    expect({id: back.id, tenant: back.tenant, user: back.user, role: back.role, session: back.session_id, input: back.input, timestamp: Date.parse(back.timestamp)}).toEqual({
      id: r.id, tenant: r.tenant, user: r.user, role: r.role, session: r.session_id, input: r.input, timestamp: Date.parse(r.timestamp),
    })
    const p = back.production
    expect(p.outcome).toBe(r.production.outcome)
    expect(p.usage).toEqual(r.production.usage)
    expect(p.final_answer).toBe(r.production.final_answer)
    expect(p.cost_usd).toBe(r.production.cost_usd)
    expect(p.bundle).toBe('support-refunds@1.4.0')
    const strip = (calls: TrafficRecord['production']['tool_calls']) => calls.map(({name, result, error, attempt, idempotency_key, latency_ms}) => ({name, result, error, attempt, idempotency_key, latency_ms}))
    expect(strip(p.tool_calls)).toEqual(strip(r.production.tool_calls))
    // Arguments come back as the store holds them: equal where nothing is sensitive, redacted where it is.
    expect(p.tool_calls.map((c) => c.args)).toEqual(recordedSide(r).tool_calls.map((c) => c.args))
    expect(p.tool_calls[0]!.args).toEqual(r.production.tool_calls[0]!.args)
    expect(p.tool_calls[3]!.args.to).toMatch(/^\[REDACTED:email:[0-9a-f]{8}\]$/)
    const decisions = (ds: TrafficRecord['production']['policy_decisions']) => ds.map(({stage, tool, decision, reason}) => ({stage, tool, decision, reason}))
    expect(decisions(p.policy_decisions)).toEqual(decisions(r.production.policy_decisions))
    // Each decision about a call points at the imported call.
    const ids = new Set(p.tool_calls.map((c) => c.id))
    for (const d of p.policy_decisions) if (d.tool_call_id !== undefined) expect(ids.has(d.tool_call_id)).toBe(true)
    // And the imported request replays to the same recorded trace.
    const again = recordedSide(back)
    const t = recordedSide(r)
    expect(again.tool_calls.map((c) => [c.name, c.outcome, c.idempotency_key])).toEqual(t.tool_calls.map((c) => [c.name, c.outcome, c.idempotency_key]))
    expect(again.tool_calls.slice(0, 3).map((c) => c.args_hash)).toEqual(t.tool_calls.slice(0, 3).map((c) => c.args_hash))
  })

  it('reads a foreign service trace from the conventional attributes', () => {
    const {records, errors} = importOtlpText(JSON.stringify(foreignDoc()), 'svc.json')
    expect(errors).toEqual([])
    const r = records[0]!
    expect(r).toMatchObject({id: 'otel-0af7651916cd43dd8448eb211c80319c', tenant: 'acme', user: 'u-7', role: 'agent', timestamp: '2025-07-01T08:53:20.000Z'})
    // The service's own system prompt is left to the bundle.
    expect(r.input).toEqual([{role: 'user', content: 'Refund ORD-1'}])
    expect(r.production.final_answer).toBe('I could not confirm the refund.')
    expect(r.production.usage).toEqual({input_tokens: 420, output_tokens: 55})
    expect(r.production.latency_ms).toBe(2500)
    expect(r.production.tool_calls).toEqual([
      {id: 'call_1', name: 'lookup_order', args: {order_id: 'ORD-1'}, result: {status: 'delivered'}, latency_ms: 250, attempt: 1},
      {id: 'span-20f067aa0ba902b7', name: 'issue_refund', args: {order_id: 'ORD-1'}, error: {code: 'timeout', message: 'deadline exceeded'}, latency_ms: 50, attempt: 1},
    ])
    expect(r.labels).toEqual({source: 'otel', otel_trace_id: '0af7651916cd43dd8448eb211c80319c'})
  })

  it('reports each trace that cannot be built with its trace id and field, and keeps the others', () => {
    const good = JSON.parse(serializeOtlpJson(requestSpans(recordedSide(retriedRefundRecord()), ctxFor(retriedRefundRecord()))))
    const noTenant = foreignDoc({rootAttrs: [kv('gen_ai.operation.name', 'invoke_agent'), kv('understudy.user', 'u'), kv('understudy.role', 'agent')]})
    const badArgs = foreignDoc({toolArgs: '[1,2'})
    badArgs.resourceSpans[0]!.scopeSpans[0]!.spans.forEach((s) => (s.traceId = '1af7651916cd43dd8448eb211c80319c'))
    const text = [good, noTenant, badArgs].map((d) => JSON.stringify(d)).join('\n') + '\n{oops\n'
    const {records, errors} = importOtlpText(text, 'mixed.jsonl')
    expect(records.map((r) => r.id)).toEqual(['req-000054'])
    expect(errors).toEqual([
      'mixed.jsonl:4: json: invalid JSON: ' + errors[0]!.split('invalid JSON: ')[1],
      'mixed.jsonl: trace 0af7651916cd43dd8448eb211c80319c: understudy.tenant: missing on the root span (the tenant the request ran for; map it with --tenant-attr or set --default-tenant)',
      'mixed.jsonl: trace 1af7651916cd43dd8448eb211c80319c: span 10f067aa0ba902b7.gen_ai.tool.call.arguments: expected a JSON object of arguments',
    ])
  })

  it('refuses a trace without input, a skipped request and a duplicate request id', () => {
    const r = retriedRefundRecord()
    const noInput = serializeOtlpJson(requestSpans(recordedSide(r), {...ctxFor(r), input: undefined}))
    expect(importOtlpText(noInput, 'f.json').errors[0]).toMatch(/^f\.json: trace [0-9a-f]{32}: gen_ai\.input\.messages: missing/)
    const skipped = serializeOtlpJson(requestSpans({...recordedSide(r), status: 'skipped'}, ctxFor(r)))
    expect(importOtlpText(skipped, 'f.json').errors[0]).toMatch(/understudy\.status: the request was skipped/)
    const twice = JSON.parse(serializeOtlpJson(requestSpans(recordedSide(r), ctxFor(r))))
    const other = JSON.parse(serializeOtlpJson(requestSpans(recordedSide(r), {...ctxFor(r), runId: 'r2'})))
    const both = {resourceSpans: [...twice.resourceSpans, ...other.resourceSpans]}
    const result = importOtlpText(JSON.stringify(both), 'f.json')
    expect(result.records).toHaveLength(1)
    expect(result.errors[0]).toMatch(/understudy\.request_id: request id req-000054 already used by trace [0-9a-f]{32}$/)
  })

  it('rejects a document that is not an OTLP trace export', () => {
    expect(importOtlpText('{"hello":1}', 'f.json').errors).toEqual(['f.json: resourceSpans: expected an OTLP/JSON trace export: an object with a resourceSpans array'])
  })
})
