import {beforeAll, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import type {Bundle, BundleManifest} from '../../src/bundle/schema.js'
import {cassetteKey} from '../../src/model/cassette.js'
import type {ChatRequest, ChatResponse, ModelClient} from '../../src/model/types.js'
import {compileBundle, runRequest} from '../../src/runtime/agent.js'
import {planFormat} from '../../src/runtime/messages.js'
import {agentDeps, trafficRecord} from '../factories/index.js'

// guardrails.output_schema sent as Ollama's `format` on the final-answer calls only, on the shipped
// retail-orders bundle (tau-bench retail): a call that offers tools is never constrained.
const SCHEMA = {type: 'object', properties: {status: {type: 'string', enum: ['done', 'needs_human']}, reply: {type: 'string'}}, required: ['status', 'reply']}
const ANSWER = '{"reply": "Your order is on its way.", "status": "done"}'

let retail: Bundle
beforeAll(async () => {
  retail = await loadBundle('scenarios/retail-orders/v1')
})

/** retail-orders v1 with the output schema and `extra` manifest fields (a plan template when plan_first). */
function variant(extra: Partial<BundleManifest>): Bundle {
  const m = retail.manifest
  const planFirst = extra.agent?.mode === 'plan_first'
  return {
    ...retail,
    manifest: {...m, ...extra, guardrails: {...m.guardrails, output_schema: SCHEMA, ...extra.guardrails}, prompts: {...m.prompts, ...(planFirst ? {plan: 'prompts/plan.md'} : {})}},
    templates: {...retail.templates, ...(planFirst ? {'prompts/plan.md': 'Plan the calls first, as JSON.'} : {})},
  }
}

/** Answers a planning call (the plan schema as format) with an empty plan, anything else with ANSWER. */
function capture(): ModelClient & {requests: ChatRequest[]} {
  const model = {
    id: 'stub:capture',
    requests: [] as ChatRequest[],
    async chat(request: ChatRequest): Promise<ChatResponse> {
      model.requests.push(request)
      const planning = request.format !== undefined && (request.format as {required?: string[]}).required?.includes('plan') === true
      const content = planning ? '{"plan": [], "max_tool_calls": 0}' : ANSWER
      return {message: {role: 'assistant', content, tool_calls: []}, input_tokens: 10, output_tokens: 2, latency_ms: 1, done_reason: 'stop'}
    },
  }
  return model
}

async function run(b: Bundle, tenant = 'shop') {
  const model = capture()
  const trace = await runRequest(trafficRecord({tenant, role: 'customer', input: [{role: 'user', content: 'Where is my order #W2378156?'}]}), 1, agentDeps(b, model))
  return {trace, requests: model.requests, calls: model.requests.map((r) => ({tools: r.tools.length, format: r.format}))}
}

describe('output schema as Ollama format (retail-orders)', () => {
  it('react: a call that offers tools carries no format; the answer is still checked after the model', async () => {
    const {trace, calls} = await run(variant({}))
    expect(calls).toEqual([{tools: retail.manifest.tools.length, format: undefined}])
    expect(trace.status).toBe('completed')
    expect(trace.guardrails.find((g) => g.check === 'output.schema')?.passed).toBe(true)
  })

  it('react: a tenant offered no tools (every tool flagged off) is asked with the schema as format, keys in canonical order', async () => {
    const flags = {storefront: {tools: retail.manifest.tools.map((t) => t.name), default: 'on' as const, tenants: {kiosk: 'off' as const}}}
    const b = variant({flags})
    const kiosk = await run(b, 'kiosk')
    expect(kiosk.calls).toHaveLength(1)
    expect(kiosk.calls[0]!.tools).toBe(0)
    expect(JSON.stringify(kiosk.calls[0]!.format)).toBe(JSON.stringify(compileBundle(b).answerFormat))
    expect(kiosk.calls[0]!.format).toEqual(SCHEMA)
    // The format is part of what a cassette keys the exchange by.
    const {format: _, ...unformatted} = kiosk.requests[0]!
    expect(cassetteKey(kiosk.requests[0]!)).not.toBe(cassetteKey(unformatted))
    // The same bundle for a tenant with tools: unconstrained.
    expect((await run(b, 'shop')).calls[0]!.format).toBeUndefined()
  })

  it('plan_first: the plan call carries the plan schema, the answer call the output schema, neither offers tools', async () => {
    const b = variant({agent: {mode: 'plan_first'}})
    const {trace, calls} = await run(b)
    const names = retail.manifest.tools.map((t) => t.name).sort()
    expect(calls).toEqual([
      {tools: 0, format: planFormat(names)},
      {tools: 0, format: SCHEMA},
    ])
    expect(trace.status).toBe('completed')
  })

  it('without an output schema nothing changes: plan_first answers with tools offered and no format', async () => {
    const m = retail.manifest
    const b = variant({agent: {mode: 'plan_first'}})
    const plain: Bundle = {...b, manifest: {...b.manifest, guardrails: {...m.guardrails}}}
    const {calls} = await run(plain)
    expect(calls[1]).toEqual({tools: m.tools.length, format: undefined})
  })
})
