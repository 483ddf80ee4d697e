import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {crossCheck, manifestView} from '../../src/bundle/checks.js'
import {loadBundle} from '../../src/bundle/load.js'
import type {Bundle} from '../../src/bundle/schema.js'
import type {ModelClient, ModelToolCall} from '../../src/model/types.js'
import {runRequest, type Approver} from '../../src/runtime/agent.js'
import {createFaultInjector, parseFaults} from '../../src/tools/faults.js'
import {parseFixtures} from '../../src/tools/fixtures.js'
import {createMockTools} from '../../src/tools/mock-tools.js'
import {agentDeps} from '../factories/index.js'
import type {TrafficRecord} from '../../src/traffic/schema.js'
import {readTraffic} from '../../src/traffic/reader.js'
import {repoRoot} from '../helpers/cli.js'
import {withManifest} from '../helpers/scenario-replay.js'

/**
 * Confirm before retry, reachable from a valid bundle (#18): support-refunds' send_email declared
 * `idempotency: none` with `retry: confirm`; its first attempt's answer is lost (a partial write),
 * the model asks again, and the approver decides whether the retry runs.
 */

const support = path.join(repoRoot, 'scenarios', 'support-refunds')

async function unkeyedEmail(): Promise<Bundle> {
  const v1 = await loadBundle(path.join(support, 'v1'))
  return withManifest(v1, (m) => ({...m, tools: m.tools.map((t) => (t.name === 'send_email' ? {...t, idempotency: 'none' as const, retry: 'confirm' as const} : t))}))
}

async function acmeAgentRequest(): Promise<TrafficRecord> {
  for await (const line of readTraffic(path.join(support, 'traffic.jsonl'))) if (line.ok && line.record.tenant === 'acme' && line.record.role === 'agent') return line.record
  throw new Error('no acme agent request')
}

/** Sends one email, then the same again once told the first may not have gone out, then answers. */
function resending(): ModelClient {
  const email: ModelToolCall = {name: 'send_email', arguments: {to: 'ana@example.com', subject: 'Your refund', body: 'It is on its way.'}}
  let n = 0
  return {
    id: 'resending',
    chat: async () => ({message: {role: 'assistant', content: n >= 2 ? 'Done.' : '', tool_calls: n++ >= 2 ? [] : [email]}, input_tokens: 1, output_tokens: 1, latency_ms: 1, done_reason: 'stop'}),
  }
}

async function run(approver: Approver) {
  const bundle = await unkeyedEmail()
  const inner = createMockTools(parseFixtures('fixtures.yaml', 'tools:\n  send_email:\n    default: {result: {message_id: m-1}}\n'))
  let executions = 0
  const tools = {
    forRequest: (r: TrafficRecord) => {
      const t = inner.forRequest(r)
      return {
        ...t,
        call: async (...a: Parameters<typeof t.call>) => {
          executions++
          return t.call(...a)
        },
      }
    },
  }
  const trace = await runRequest(await acmeAgentRequest(), 1, agentDeps(bundle, resending(), {tools, approver, faults: createFaultInjector(parseFaults('partial_write=1'), 1)}))
  return {trace, executions}
}

describe('confirm before retry (retry: confirm)', () => {
  it('is a valid bundle setting for a write tool without idempotency keys, and only for one', async () => {
    const m = (await unkeyedEmail()).manifest
    expect(crossCheck('bundle.yaml', manifestView(null, m))).toEqual([])
    const i = m.tools.findIndex((t) => t.name === 'send_email')
    const without = {...m, tools: m.tools.map((t, j) => (j === i ? {...t, retry: undefined} : t))}
    expect(crossCheck('bundle.yaml', manifestView(null, without))).toEqual([
      `bundle.yaml:tools.${i}.idempotency: write tools (risk write_low) must set idempotency: required, or idempotency: none with retry: confirm`,
    ])
    const keyed = {...m, tools: m.tools.map((t, j) => (j === i ? {...t, idempotency: 'required' as const} : t))}
    expect(crossCheck('bundle.yaml', manifestView(null, keyed))[0]).toContain(`tools.${i}.retry: retry: confirm is for write tools with idempotency: none`)
  })

  it('approved: the retry runs, after a CONFIRM_BEFORE_RETRY decision that asked the approver', async () => {
    const {trace, executions} = await run('approve')
    expect(executions).toBe(2)
    expect(trace.policy_decisions.map((d) => [d.decision, d.reason, d.rule])).toEqual([
      ['allow', 'WRITE_ALLOWED', 'allow-writes'],
      ['require_approval', 'CONFIRM_BEFORE_RETRY', 'idempotency'],
      ['allow', 'WRITE_ALLOWED', 'allow-writes'],
    ])
  })

  it('pending: the retry waits for a person and the request ends needs_approval; denied: refused', async () => {
    const pending = await run('pending')
    expect(pending.executions).toBe(1)
    expect(pending.trace.tool_calls.map((c) => c.outcome)).toEqual(['partial_write', 'needs_approval'])
    expect(pending.trace.status).toBe('needs_approval')
    const denied = await run('deny')
    expect(denied.executions).toBe(1)
    expect(denied.trace.tool_calls.map((c) => c.outcome)).toEqual(['partial_write', 'denied'])
    expect(denied.trace.status).toBe('refused')
  })
})
