import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import type {BundleManifest} from '../../src/bundle/schema.js'
import {evaluateConsistency, memoryFate, SessionLedger} from '../../src/eval/consistency.js'
import {EvalAccumulator, evaluateRequest} from '../../src/eval/evaluate.js'
import {evaluateRun} from '../../src/runs/evaluate.js'
import {preModelGuardrails} from '../../src/runtime/guardrails/pre-model.js'
import {redactionMarker} from '../../src/runtime/redact.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {openStore} from '../../src/store/sqlite.js'
import {readTraffic} from '../../src/traffic/reader.js'
import type {MemoryEntry, TrafficRecord} from '../../src/traffic/schema.js'
import {guardrail, production, toolCall, trace, type TraceOverrides, trafficRecord} from '../factories/index.js'
import {repoRoot, runCli} from '../helpers/cli.js'

const REFUNDS = path.join(repoRoot, 'scenarios/support-refunds')
const TICKETS = path.join(repoRoot, 'scenarios/enterprise-tickets')
let refunds: BundleManifest
let tickets: BundleManifest
beforeAll(async () => {
  refunds = (await loadBundle(path.join(REFUNDS, 'v1'))).manifest
  tickets = (await loadBundle(path.join(TICKETS, 'v1'))).manifest
})

// The record's timestamp is 2025-07-01T10:00:00Z; support-refunds v1 keeps last_order_id for a day.
const HOUR_AGO = '2025-07-01T09:00:00Z'
const TWO_HOURS_AGO = '2025-07-01T08:00:00Z'
const TWO_DAYS_AGO = '2025-06-29T10:00:00Z'

function mem(key: string, value: unknown, over: Partial<MemoryEntry> = {}): MemoryEntry {
  const owner = key === 'last_order_id' ? 'orders-service' : 'crm'
  return {key, value, owner, written_at: HOUR_AGO, provenance: `${owner}:${key}`, ...over}
}

/** A candidate trace whose pre-model guardrails are what the real runtime records for this record under `manifest`. */
function candidate(r: TrafficRecord, spec: TraceOverrides = {}, manifest: BundleManifest = refunds): RequestTrace {
  return trace({request_id: r.id, guardrails: preModelGuardrails(r, manifest).guardrails, ...spec})
}

const lookup = (orderId: string, seq = 0) => toolCall('lookup_order', {order_id: orderId}, {seq})
const producedLookup = (orderId: string) => production({tool_calls: [{id: 'c1', name: 'lookup_order', args: {order_id: orderId}, result: {status: 'shipped'}, latency_ms: 50}]})
const checks = (v: ReturnType<typeof evaluateConsistency>) => v?.failures.map((f) => f.check)

describe('memoryFate: which memory entries reached the model, read back from the trace', () => {
  it('agrees with the runtime on every traffic line of both shipped scenarios', async () => {
    let withMemory = 0
    let dropped = 0
    for (const [dir, manifest] of [[REFUNDS, refunds], [TICKETS, tickets]] as const) {
      for await (const line of readTraffic(path.join(dir, 'traffic.jsonl'))) {
        if (!line.ok || line.record.memory.length === 0) continue
        withMemory++
        const pre = preModelGuardrails(line.record, manifest)
        const fate = memoryFate(line.record, trace({guardrails: pre.guardrails}))!
        expect(fate.uncertain).toEqual([])
        expect(fate.kept).toEqual(pre.memory)
        dropped += fate.dropped.length
      }
    }
    expect(withMemory).toBeGreaterThan(200)
    expect(dropped).toBeGreaterThan(25)
  })

  it('places each entry under every drop rule, and the newest of contradicting entries', () => {
    const r = trafficRecord({
      memory: [
        mem('last_order_id', 'ORD-100001', {written_at: TWO_DAYS_AGO}),
        mem('last_order_id', 'ORD-100002'),
        mem('customer_email', 'ann@example.com', {owner: 'billing'}),
        mem('preferred_name', 42),
        mem('preferred_name', 'Ann', {provenance: undefined}),
        mem('note', 'VIP', {tenant: 'globex'}),
        mem('nickname', 'Annie', {written_at: TWO_HOURS_AGO}),
        mem('nickname', 'Nan'),
      ],
    })
    const pre = preModelGuardrails(r, refunds)
    const fate = memoryFate(r, trace({guardrails: pre.guardrails}))!
    expect(fate.kept).toEqual(pre.memory)
    expect(fate.kept.map((e) => e.value)).toEqual(['ORD-100002', 'Nan'])
    expect(fate.dropped.map((d) => [d.entry.value, d.by])).toEqual([
      ['ORD-100001', 'memory.ttl'],
      ['ann@example.com', 'memory.owner'],
      [42, 'memory.schema'],
      ['Ann', 'memory.provenance'],
      ['VIP', 'memory.tenant'],
    ])
    expect(fate.stale.map((s) => [s.entry.value, s.newest.value])).toEqual([['Annie', 'Nan']])
  })

  it('leaves out what the admission record does not place, and is null when the input never got past the size check', () => {
    const keys = ['a', 'b', 'c', 'd', 'e', 'f']
    const r = trafficRecord({memory: keys.map((k) => mem(k, `v-${k}-100`))})
    const placed = keys.slice(0, 5).map((key, index) => ({index, key, admitted: false, dropped_by: ['memory.ttl'], superseded_by: null}))
    const t = trace({guardrails: [{...guardrail('pre_model', 'memory.ttl', false, 'low', 'dropped 6 entries past TTL: a, b, c, d, e (+1 more)'), context: {documents: [], memory: placed}}]})
    const fate = memoryFate(r, t)!
    expect(fate.dropped.map((d) => d.entry.key)).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(fate.uncertain.map((e) => e.key)).toEqual(['f'])
    expect(fate.kept).toEqual([])
    expect(memoryFate(r, trace({guardrails: [guardrail('pre_model', 'input.size', false, 'medium', 'input is 9000 characters, limit 8000')]}))).toBeNull()
  })
})

describe('consistency: memory the task needs must be used', () => {
  const r = trafficRecord({
    input: [{role: 'user', content: 'Has my last order shipped yet?'}],
    memory: [mem('last_order_id', 'ORD-100058')],
    production: producedLookup('ORD-100058'),
  })

  it('passes when the candidate looks up the remembered order', () => {
    expect(evaluateConsistency(r, candidate(r, {tool_calls: [lookup('ORD-100058')]}))).toEqual({suite: 'consistency', passed: true, failures: []})
  })

  it('fails when the candidate asks again, saying what it answered', () => {
    const v = evaluateConsistency(r, candidate(r, {final_answer: 'Could you share your order number?'}))
    expect(v?.passed).toBe(false)
    expect(v?.failures).toEqual([
      {
        check: 'memory_not_used',
        message:
          'memory last_order_id (ORD-100058) reached the model and the task needs it (production used it in lookup_order.order_id), but no tool call used it; the agent made no tool call and answered "Could you share your order number?"',
        tool: 'lookup_order',
      },
    ])
  })

  it('fails when the candidate used another order, showing which', () => {
    const v = evaluateConsistency(r, candidate(r, {tool_calls: [lookup('ORD-100099')]}))
    expect(v?.failures[0]?.message).toContain('lookup_order.order_id got ORD-100099 instead')
  })

  it('does not apply when the user stated the value, or when production never used the memory', () => {
    const stated = trafficRecord({...r, input: [{role: 'user', content: 'Has ORD-100058 shipped?'}]})
    expect(evaluateConsistency(stated, candidate(stated, {final_answer: 'Which order?'}))).toBeNull()
    const unused = trafficRecord({...r, production: production()})
    expect(evaluateConsistency(unused, candidate(unused, {final_answer: 'Which order?'}))).toBeNull()
  })

  it('matches a redacted argument by the hash in its marker, and never shows the clear address', () => {
    const email = 'wen.evans16@example.com'
    const refund = trafficRecord({
      input: [{role: 'user', content: 'ORD-200009 is broken, refund $179.28 please.'}],
      memory: [mem('customer_email', email)],
      production: production({tool_calls: [{id: 'c1', name: 'issue_refund', args: {order_id: 'ORD-200009', amount: 179.28, customer_email: email}, result: {ok: true}, latency_ms: 9}]}),
    })
    const args = (to: string) => ({order_id: 'ORD-200009', amount: 179.28, customer_email: redactionMarker('field', to)})
    expect(evaluateConsistency(refund, candidate(refund, {tool_calls: [toolCall('issue_refund', args(email))]}))?.passed).toBe(true)
    const wrong = evaluateConsistency(refund, candidate(refund, {tool_calls: [toolCall('issue_refund', args('someone@else.example'))]}))
    expect(wrong?.failures.map((f) => f.check)).toEqual(['memory_not_used'])
    const message = wrong!.failures[0]!.message
    expect(message).toContain(`memory customer_email (${redactionMarker('email', email)})`)
    expect(message).toContain(`issue_refund.customer_email got ${redactionMarker('field', 'someone@else.example')} instead`)
    expect(message).not.toContain(email)
  })

  it('expect.uses_memory names what must be used, down to one field of a structured value', () => {
    const reset = trafficRecord({
      input: [{role: 'user', content: 'Identity was checked, please reset the password for ravi.kim.'}],
      memory: [{key: 'identity_verified', value: {username: 'ravi.kim', method: 'callback'}, owner: 'idp', written_at: '2025-07-01T09:55:00Z', provenance: 'idp:VRF-1', ttl_seconds: 900}],
      expect: {uses_memory: ['identity_verified.method']},
    })
    const withMethod = candidate(reset, {tool_calls: [toolCall('reset_password', {username: 'ravi.kim', verified_via: 'callback'})]}, tickets)
    expect(evaluateConsistency(reset, withMethod)?.passed).toBe(true)
    const without = evaluateConsistency(reset, candidate(reset, {tool_calls: [toolCall('reset_password', {username: 'ravi.kim'})]}, tickets))
    expect(without?.failures).toEqual([
      {check: 'memory_not_used', message: 'memory identity_verified.method (callback) reached the model and the task needs it (expect.uses_memory names it), but no tool call used it; it called reset_password'},
    ])
    const missing = trafficRecord({...reset, expect: {uses_memory: ['pending_change_id']}})
    expect(evaluateConsistency(missing, withMethod)?.failures[0]?.message).toBe('expect.uses_memory names pending_change_id, but the request holds no memory entry pending_change_id')
    const expired = trafficRecord({...reset, timestamp: '2025-07-01T11:00:00Z'})
    expect(evaluateConsistency(expired, candidate(expired, {}, tickets))?.failures[0]?.message).toBe(
      "expect.uses_memory names identity_verified.method, but the candidate's memory.ttl guardrail dropped it, so the agent could not use it",
    )
  })
})

describe('consistency: memory a guardrail dropped must not be used', () => {
  const expired = trafficRecord({
    input: [{role: 'user', content: 'Where is my last order?'}],
    memory: [mem('last_order_id', 'ORD-100053', {written_at: TWO_DAYS_AGO})],
  })

  it('fails when the candidate looks up the expired order, naming the guardrail', () => {
    const v = evaluateConsistency(expired, candidate(expired, {tool_calls: [lookup('ORD-100053')]}))
    expect(v?.failures).toEqual([
      {check: 'dropped_memory_used', message: 'memory last_order_id (ORD-100053) was dropped by the memory.ttl guardrail, but lookup_order.order_id used it', tool: 'lookup_order'},
    ])
  })

  it('passes when the candidate asks for the order number instead', () => {
    expect(evaluateConsistency(expired, candidate(expired, {final_answer: 'Could you share your order number?'}))).toEqual({suite: 'consistency', passed: true, failures: []})
  })

  it('accepts the value when it came from the user, a document or an earlier tool result', () => {
    const stated = trafficRecord({...expired, input: [{role: 'user', content: 'Where is ORD-100053?'}]})
    expect(evaluateConsistency(stated, candidate(stated, {tool_calls: [lookup('ORD-100053')]}))).toBeNull()
    const fromTool = candidate(expired, {
      tool_calls: [toolCall('search_orders', {customer: 'me'}, {result: {orders: ['ORD-100053']}}), lookup('ORD-100053', 1)],
    })
    expect(evaluateConsistency(expired, fromTool)?.passed).toBe(true)
  })

  it("catches another tenant's memory in the answer; a plain word in prose is no evidence", () => {
    const other = trafficRecord({
      input: [{role: 'user', content: 'Any update on my ticket?'}],
      memory: [mem('last_order_id', 'ORD-300006', {tenant: 'globex'}), mem('preferred_name', 'callback', {tenant: 'globex'})],
    })
    const v = evaluateConsistency(other, candidate(other, {final_answer: 'Your order ORD-300006 is on its way; we will callback.'}))
    expect(v?.failures).toEqual([{check: 'dropped_memory_used', message: 'memory last_order_id (ORD-300006) was dropped by the memory.tenant guardrail, but the final answer used it'}])
  })
})

describe('consistency: contradicting memory resolves to the newest value', () => {
  const conflict = trafficRecord({
    input: [{role: 'user', content: 'Where is my last order?'}],
    memory: [mem('last_order_id', 'ORD-100001', {written_at: TWO_HOURS_AGO}), mem('last_order_id', 'ORD-100002')],
    // Production used the older value: the task needs the key, and the newest is what counts.
    production: producedLookup('ORD-100001'),
  })

  it('passes only when the newest value is used', () => {
    const t = candidate(conflict, {tool_calls: [lookup('ORD-100002')]})
    expect(t.guardrails.find((g) => g.check === 'memory.conflict')).toMatchObject({passed: false})
    expect(evaluateConsistency(conflict, t)?.passed).toBe(true)
    const stale = evaluateConsistency(conflict, candidate(conflict, {tool_calls: [lookup('ORD-100001')]}))
    expect(checks(stale)).toEqual(['stale_memory_used', 'conflict_newest_not_used'])
    expect(stale!.failures[0]!.message).toBe(
      'memory last_order_id holds contradictory entries; the newest (written 2025-07-01T09:00:00Z) is ORD-100002, but lookup_order.order_id used the older ORD-100001 (written 2025-07-01T08:00:00Z)',
    )
  })

  it('does not apply when nothing needs the key and no version of it was used', () => {
    const kb = trafficRecord({...conflict, production: production()})
    expect(evaluateConsistency(kb, candidate(kb, {final_answer: 'Standard shipping takes 3-5 days.'}))).toBeNull()
  })
})

describe('consistency: no drift across a session', () => {
  const turn = (id: string, _line: number, content: string, over: Record<string, unknown> = {}) =>
    trafficRecord({id, session_id: 'sess-1', input: [{role: 'user', content}], ...over})
  const t1 = turn('req-1', 1, 'Who is working on INC-200013?')
  const t2 = turn('req-2', 2, 'Please assign it to the service-desk.')
  const first = trace({request_id: 'req-1', line: 1, tool_calls: [toolCall('get_ticket', {ticket_id: 'INC-200013'})]})
  const second = (ticket: string, repeat = 0) =>
    trace({request_id: 'req-2', line: 2, repeat, tool_calls: [toolCall('assign_ticket', {ticket_id: ticket, group: 'service-desk'}, {risk: 'write_low'})]})

  it('keeps a later turn on the identifiers of the earlier one, showing both values on a contradiction', () => {
    const sessions = new SessionLedger()
    expect(evaluateConsistency(t1, first, sessions)).toBeNull()
    expect(evaluateConsistency(t2, second('INC-200099'), sessions)?.failures).toEqual([
      {
        check: 'session_drift',
        message: 'session sess-1: ticket_id was INC-200013 in req-1 (line 1), but assign_ticket now uses INC-200099, which nothing in this turn introduced',
        tool: 'assign_ticket',
      },
    ])
    const again = new SessionLedger()
    evaluateConsistency(t1, first, again)
    expect(evaluateConsistency(t2, second('INC-200013'), again)).toEqual({suite: 'consistency', passed: true, failures: []})
  })

  it('accepts a new value the user gave in this turn, and holds later turns to it', () => {
    const sessions = new SessionLedger()
    evaluateConsistency(t1, first, sessions)
    const changed = turn('req-2', 2, 'Actually, assign INC-200099 to the service-desk.')
    expect(evaluateConsistency(changed, second('INC-200099'), sessions)?.passed).toBe(true)
    const t3 = turn('req-3', 3, 'And close it.')
    const back = trace({request_id: 'req-3', line: 3, tool_calls: [toolCall('update_ticket', {ticket_id: 'INC-200013', status: 'closed'})]})
    expect(evaluateConsistency(t3, back, sessions)?.failures[0]?.message).toContain('ticket_id was INC-200099 in req-2 (line 2), but update_ticket now uses INC-200013')
  })

  it('compares redacted addresses by their markers', () => {
    const sessions = new SessionLedger()
    const mail = (id: string, line: number, to: string) =>
      trace({request_id: id, line, tool_calls: [toolCall('send_email', {to: redactionMarker('field', to), subject: 's', body: 'b'}, {risk: 'write_low'})]})
    evaluateConsistency(turn('req-1', 1, 'Email me the receipt.'), mail('req-1', 1, 'ann@example.com'), sessions)
    const v = evaluateConsistency(turn('req-2', 2, 'And the invoice too.'), mail('req-2', 2, 'bob@example.com'), sessions)
    expect(v?.failures[0]?.message).toBe(
      `session sess-1: to was ${redactionMarker('field', 'ann@example.com')} in req-1 (line 1), but send_email now uses ${redactionMarker('field', 'bob@example.com')}, which nothing in this turn introduced`,
    )
    const typed = evaluateConsistency(turn('req-2', 2, 'Send the invoice to bob@example.com instead.'), mail('req-2', 2, 'bob@example.com'), (() => {
      const s = new SessionLedger()
      evaluateConsistency(turn('req-1', 1, 'Email me the receipt.'), mail('req-1', 1, 'ann@example.com'), s)
      return s
    })())
    expect(typed?.passed).toBe(true)
  })

  it('runs through the accumulator: per repeat, per session, with the pass rate in the summary', () => {
    const acc = new EvalAccumulator('r1', {suites: ['consistency']})
    acc.add(t1, {...first, repeat: 0})
    acc.add(t1, {...first, repeat: 1, tool_calls: [toolCall('get_ticket', {ticket_id: 'INC-200099'})]})
    acc.add(trafficRecord({id: 'req-x', session_id: 'sess-2', input: [{role: 'user', content: 'Status of INC-200050?'}]}), trace({request_id: 'req-x', line: 2, tool_calls: [toolCall('get_ticket', {ticket_id: 'INC-200050'})]}))
    // Repeat 1 of turn 2 follows repeat 1 of turn 1, so both repeats are consistent.
    acc.add({...t2}, {...second('INC-200013', 0), line: 3})
    acc.add({...t2}, {...second('INC-200099', 1), line: 3})
    acc.add(turn('req-4', 4, 'Assign it to the dba-team.'), trace({request_id: 'req-4', line: 4, tool_calls: [toolCall('assign_ticket', {ticket_id: 'INC-200050'})]}))
    const s = acc.summary()
    expect(s.results.consistency).toMatchObject({applicable: 2, passed: 1, failed: 1, pass_rate: 0.5})
    expect(s.results.consistency!.failures[0]).toMatchObject({request_id: 'req-4', line: 4})
    expect(s.results.consistency!.failures[0]!.checks[0]!.message).toContain('ticket_id was INC-200013 in req-2 (line 3)')
    // Without a ledger each request is judged alone.
    expect(evaluateRequest(t2, second('INC-200099'), {suites: ['consistency']})).toEqual([])
  })

  it('stays bounded: the least recently seen session is closed, and the summary says so', () => {
    const acc = new EvalAccumulator('r1', {suites: ['consistency'], sessions: new SessionLedger(1)})
    acc.add(t1, first)
    acc.add(trafficRecord({id: 'req-o', session_id: 'sess-2'}), trace({request_id: 'req-o', line: 2, tool_calls: [toolCall('get_ticket', {ticket_id: 'INC-200050'})]}))
    acc.add(t2, {...second('INC-200099'), line: 3})
    const s = acc.summary()
    expect(s.results.consistency).toMatchObject({applicable: 0, pass_rate: null})
    expect(s.results.consistency!.notes?.[0]).toMatch(/^2 session\(s\) were closed early to bound memory \(over 1 open at once\)/)
  })
})

describe('consistency over a stored run', () => {
  let dir: string
  let db: string
  let runId: string
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'understudy-consistency-'))
    const traffic = path.join(dir, 'traffic.jsonl')
    db = path.join(dir, 'u.db')
    const records = [
      trafficRecord({id: 'req-mem', input: [{role: 'user', content: 'Has my last order shipped yet?'}], memory: [mem('last_order_id', 'ORD-100058')], production: producedLookup('ORD-100058')}),
      trafficRecord({id: 'req-exp', input: [{role: 'user', content: 'Where is my last order?'}], memory: [mem('last_order_id', 'ORD-100053', {written_at: TWO_DAYS_AGO})]}),
      trafficRecord({id: 'req-s1', session_id: 'sess-9', input: [{role: 'user', content: 'Where is ORD-100070?'}], production: producedLookup('ORD-100070')}),
      trafficRecord({id: 'req-s2', session_id: 'sess-9', input: [{role: 'user', content: 'Refund it please.'}]}),
      trafficRecord({id: 'req-kb', input: [{role: 'user', content: 'Does store credit expire?'}]}),
    ]
    writeFileSync(traffic, records.map((r) => JSON.stringify(r)).join('\n') + '\n')
    const traces = [
      candidate(records[0]!, {line: 1, tool_calls: [lookup('ORD-100058')]}),
      candidate(records[1]!, {line: 2, tool_calls: [lookup('ORD-100053')]}),
      candidate(records[2]!, {line: 3, tool_calls: [lookup('ORD-100070')]}),
      candidate(records[3]!, {line: 4, tool_calls: [toolCall('issue_refund', {order_id: 'ORD-100071', amount: 20}, {risk: 'write_high'})]}),
      candidate(records[4]!, {line: 5, final_answer: 'Store credit never expires.'}),
    ]
    const store = openStore(db)
    try {
      const run = store.createRun({
        name: 'consistency fixture', candidate_ref: 'support-refunds@1.4.0#0123456789ab', candidate_hash: '0'.repeat(64), baseline_ref: 'recorded', baseline_hash: null,
        traffic_file: traffic, traffic_hash: 'f'.repeat(64), model: 'scripted:support-agent', repeat: 1, faults: null, seed: 1,
        config: {traffic, candidate: path.join(REFUNDS, 'v1'), baseline: 'recorded'},
      })
      store.writeTraces(run.id, traces)
      store.setRequestsTotal(run.id, records.length)
      store.finishRun(run.id, 'completed')
      runId = run.id
    } finally {
      store.close()
    }
  })
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('streams the run through the suite', async () => {
    const store = openStore(db, {readonly: true})
    try {
      const run = store.getRun(runId)!
      const s = await evaluateRun(store, run, run.traffic_file, {suites: ['consistency']})
      expect(s.results.consistency).toMatchObject({applicable: 3, passed: 1, failed: 2})
      expect(s.results.consistency!.failures.map((f) => [f.request_id, f.checks.map((c) => c.check)])).toEqual([
        ['req-exp', ['dropped_memory_used']],
        ['req-s2', ['session_drift']],
      ])
    } finally {
      store.close()
    }
  })

  it('understudy eval --suite consistency prints the pass rate and failures, and --json returns them (e2e)', async () => {
    const r = await runCli(['eval', runId, '--db', db, '--suite', 'consistency'], {cwd: dir})
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/consistency\s+33\.3%\s+1\/3 passed\s+\[BELOW\]/)
    expect(r.stdout).toContain('req-s2 (line 4): session_drift: session sess-9: order_id was ORD-100070 in req-s1 (line 3), but issue_refund now uses ORD-100071')
    const json = await runCli(['eval', runId, '--db', db, '--suite', 'consistency', '--json', '--gate'], {cwd: dir})
    expect(json.code).toBe(3)
    const out = JSON.parse(json.stdout)
    expect(out.suites).toEqual(['consistency'])
    expect(out.results.consistency).toMatchObject({applicable: 3, passed: 1, failed: 2})
    expect(out.gate.below).toEqual(['consistency'])
  })
})
