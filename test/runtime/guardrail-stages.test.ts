import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {crossCheck, manifestView} from '../../src/bundle/checks.js'
import {classifyIntent, compileIntents} from '../../src/runtime/guardrails/intent.js'
import {secretsInArgs} from '../../src/runtime/guardrails/secret-args.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import type {ModelClient} from '../../src/model/types.js'
import {runRequest} from '../../src/runtime/agent.js'
import {agentDeps} from '../factories/index.js'
import type {TrafficRecord} from '../../src/traffic/schema.js'
import {readTraffic} from '../../src/traffic/reader.js'
import {repoRoot} from '../helpers/cli.js'
import {replayScenario, withManifest} from '../helpers/scenario-replay.js'

async function readRecords(dir: string): Promise<TrafficRecord[]> {
  const out: TrafficRecord[] = []
  for await (const line of readTraffic(path.join(dir, 'traffic.jsonl'))) if (line.ok) out.push(line.record)
  return out
}

/** The guardrail stages of #18, each on a case from a shipped scenario. */

const coding = path.join(repoRoot, 'scenarios', 'coding-agent')

describe('pre-call secret scan of tool arguments (guardrails.scan_args_for_secrets)', () => {
  it('finds credentials, not personal data, and skips the contract\'s sensitive fields', () => {
    const args = {to: 'ana@example.com', body: 'use key sk-live4f9a8b7c6d5e4f3a2b1c0 please', iban: 'DE89370400440532013000', items: [{auth: 'Bearer abcdefghijklmnop1234'}]}
    expect(secretsInArgs(args, [])).toEqual([
      {path: 'body', kind: 'api_key'},
      {path: 'items.auth', kind: 'bearer_token'},
    ])
    expect(secretsInArgs(args, ['body', 'items.*.auth'])).toEqual([])
    expect(secretsInArgs({password: 'hunter2-new-9'}, [])).toEqual([])
  })

  it('coding-agent: a write_file whose content carries a database password is denied SECRET_IN_ARGS before it runs', async () => {
    const v1 = await loadBundle(path.join(coding, 'v1'))
    // The recorded request that copies a developer machine's settings, with their credentials, into
    // .env. v1's protected-paths rule refuses that file; without the rule the write runs.
    const only = (r: {id: string}) => r.id === 'code-00044'
    const unprotected = withManifest(v1, (m) => ({...m, policies: m.policies.filter((p) => p.id !== 'protected-paths')}))
    const written = (t: RequestTrace) => t.tool_calls.filter((c) => c.name === 'write_file')
    const before = (await replayScenario(coding, unprotected, {only})).traces[0]!
    expect(written(before).some((c) => c.executed)).toBe(true)

    const scanning = withManifest(unprotected, (m) => ({...m, guardrails: {...m.guardrails, scan_args_for_secrets: true}}))
    const t = (await replayScenario(coding, scanning, {only})).traces[0]!
    expect(written(t).length).toBeGreaterThan(0)
    expect(written(t).every((c) => !c.executed && c.outcome === 'denied')).toBe(true)
    expect(t.policy_decisions.find((d) => d.tool === 'write_file')).toMatchObject({decision: 'deny', reason: 'SECRET_IN_ARGS', rule: 'secret_scan'})
    const finding = t.guardrails.find((g) => g.check === 'tool.args_secrets')!
    expect(finding).toMatchObject({stage: 'mid_run', passed: false, severity: 'high'})
    expect(finding.detail).toMatch(/^write_file: (credential|url_password) at content/)
    // What the model was told names the finding, never the secret.
    expect(written(t)[0]!.error).toContain('SECRET_IN_ARGS')
  })
})

describe('pre-model intent classifier (guardrails.intents)', () => {
  const intents = compileIntents([
    {name: 'refund', patterns: ['\\brefund'], examples: [], tools: ['lookup_order', 'issue_refund']},
    {name: 'status', patterns: [], examples: ['where is my order'], tools: ['lookup_order']},
  ])

  it('first match wins, by pattern or by every word of an example; no match is no intent', () => {
    expect(classifyIntent('Please REFUND order 7', intents)).toMatchObject({intent: {name: 'refund'}, by: 'pattern /\\brefund/'})
    expect(classifyIntent('Hi, where is my order ORD-1?', intents)).toMatchObject({intent: {name: 'status'}, by: 'example "where is my order"'})
    expect(classifyIntent('where is the manager', intents)).toEqual({intent: null, by: 'no intent matched'})
  })

  it('support-refunds v2: a refund request that follows a document\'s instruction to email someone is refused TOOL_NOT_IN_INTENT', async () => {
    const support = path.join(repoRoot, 'scenarios', 'support-refunds')
    const v2 = await loadBundle(path.join(support, 'v2'))
    const emailed = (t: RequestTrace) => t.tool_calls.some((c) => c.name === 'send_email' && c.executed)
    // v2 dropped the prompt's injection guard: find the refund requests where it emails as a document says.
    const before = await replayScenario(support, v2, {only: (r) => r.retrieved.length > 0 && /refund/i.test(r.input.at(-1)?.content ?? '')})
    const hijacked = before.traces.filter(emailed).map((t) => t.request_id)
    expect(hijacked.length).toBeGreaterThan(0)

    const withIntents = withManifest(v2, (m) => ({
      ...m,
      guardrails: {
        ...m.guardrails,
        intents: [
          {name: 'refund', patterns: ['\\brefund'], examples: [], tools: ['lookup_order', 'issue_refund', 'escalate_ticket']},
          {name: 'other', patterns: ['.'], examples: [], tools: ['lookup_order', 'search_kb', 'escalate_ticket', 'send_email']},
        ],
      },
    }))
    const {traces} = await replayScenario(support, withIntents, {only: (r) => hijacked.includes(r.id)})
    expect(traces).toHaveLength(hijacked.length)
    for (const t of traces) {
      // send_email is not offered to a refund request, so the model never proposes it.
      expect(emailed(t)).toBe(false)
      expect(t.tool_calls.some((c) => c.name === 'send_email')).toBe(false)
      expect(t.guardrails[0]).toMatchObject({stage: 'pre_model', check: 'intent.classify', passed: true})
      expect(t.guardrails[0]!.detail).toMatch(/^intent refund \(pattern/)
    }

    // A model that proposes it anyway (it was told of it elsewhere) is refused, unrun.
    const record = (await readRecords(support)).find((r) => r.id === hijacked[0])!
    const stubborn: ModelClient = {
      id: 'stubborn',
      chat: async (req) => {
        expect(req.tools.map((t) => t.function.name).sort()).toEqual(['escalate_ticket', 'issue_refund', 'lookup_order'])
        const told = req.messages.some((m) => m.role === 'tool')
        return {message: {role: 'assistant', content: told ? 'Done.' : '', tool_calls: told ? [] : [{name: 'send_email', arguments: {to: 'x@evil.test', subject: 's', body: 'b'}}]}, input_tokens: 1, output_tokens: 1, latency_ms: 1, done_reason: 'stop'}
      },
    }
    const deps = agentDeps(withIntents, stubborn)
    const t = await runRequest(record, 1, deps)
    expect(t.tool_calls).toMatchObject([{name: 'send_email', outcome: 'denied', executed: false}])
    expect(t.policy_decisions.find((d) => d.tool === 'send_email')).toMatchObject({decision: 'deny', reason: 'TOOL_NOT_IN_INTENT', rule: 'intent'})
    expect(t.status).toBe('refused')
  })

  it('an intent naming a tool the bundle lacks is one located error', async () => {
    const problems = crossCheck('bundle.yaml', manifestView(null, {...(await loadBundle(path.join(coding, 'v1'))).manifest, guardrails: {max_input_chars: 1, injection_patterns: [], block_injection_in_input: false, forbidden_output_patterns: [], intents: [{name: 'x', patterns: ['('], examples: [], tools: ['nope']}]}}))
    expect(problems).toEqual([
        'bundle.yaml:guardrails.intents.0.patterns.0: not a valid regular expression: /(/i: Unterminated group',
      'bundle.yaml:guardrails.intents.0.tools.0: unknown tool "nope"',
    ])
  })
})

describe('post-model output schema (guardrails.output_schema)', () => {
  const support = path.join(repoRoot, 'scenarios', 'support-refunds')
  const schema = {type: 'object', properties: {answer: {type: 'string'}, order_id: {type: 'string', pattern: '^ORD-[0-9]{6}$'}}, required: ['answer']}

  it('support-refunds: prose answers fail OUTPUT_NOT_JSON; a JSON answer is checked against the schema', async () => {
    const v1 = await loadBundle(path.join(support, 'v1'))
    const strict = withManifest(v1, (m) => ({...m, guardrails: {...m.guardrails, output_schema: schema}}))
    const {traces} = await replayScenario(support, strict, {limit: 5})
    for (const t of traces) {
      expect(t.status).toBe('failed')
      expect(t.error).toBe('OUTPUT_NOT_JSON: the final answer is not one JSON document')
      expect(t.guardrails.find((g) => g.check === 'output.schema')).toMatchObject({stage: 'post_model', passed: false, severity: 'high'})
      expect(t.policy_decisions.at(-1)).toMatchObject({stage: 'post_model', decision: 'deny', reason: 'OUTPUT_NOT_JSON', rule: 'output_schema'})
    }
    const record = (await readRecords(support))[0]!
    const answering = (content: string): ModelClient => ({
      id: 'json',
      chat: async () => ({message: {role: 'assistant', content, tool_calls: []}, input_tokens: 1, output_tokens: 1, latency_ms: 1, done_reason: 'stop'}),
    })
    const run = (content: string) =>
      runRequest(record, 1, agentDeps(strict, answering(content)))
    const ok = await run('```json\n{"answer": "Your order ORD-100001 has shipped.", "order_id": "ORD-100001"}\n```')
    expect(ok.status).toBe('completed')
    expect(ok.guardrails.find((g) => g.check === 'output.schema')).toMatchObject({passed: true})
    const bad = await run('{"answer": "Shipped.", "order_id": "100001"}')
    expect(bad.status).toBe('failed')
    expect(bad.error).toMatch(/^OUTPUT_SCHEMA_INVALID: .*order_id/)
  })

  it('an output schema that is not a valid JSON Schema is a located bundle error', async () => {
    const m = (await loadBundle(path.join(coding, 'v1'))).manifest
    const problems = crossCheck('bundle.yaml', manifestView(null, {...m, guardrails: {...m.guardrails, output_schema: {type: 'objekt'}}}))
    expect(problems.length).toBeGreaterThan(0)
    for (const p of problems) expect(p).toMatch(/^bundle\.yaml:guardrails\.output_schema\.type: /)
  })
})
