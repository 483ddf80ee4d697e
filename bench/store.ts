/**
 * Trace store throughput: writes N synthetic traces (typical shape: 5 steps, 3 tool calls,
 * 3 policy decisions, 6 guardrail results) in batches, then iterates them back, and prints
 * traces/s for each. A script, not a test: timings depend on the machine.
 *
 *   node dist/bench/store.js [traces=100000] [batch=500]
 */
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {RequestTrace, TraceSide} from '../src/trace/schema.js'
import {openStore} from '../src/store/sqlite.js'

export type StoreBenchResult = {traces: number; write_per_s: number; iterate_per_s: number; file_bytes: number}

const SIDES: TraceSide[] = ['recorded', 'baseline', 'candidate']

export function syntheticTrace(i: number): RequestTrace {
  const line = Math.floor(i / 3) + 1
  const side = SIDES[i % 3]!
  const id = `req-${line}`
  const order = `ORD-${100000 + line}`
  return {
    request_id: id,
    line,
    side,
    repeat: 0,
    tenant: `tenant-${line % 7}`,
    user: `user-${line % 101}`,
    role: line % 5 === 0 ? 'supervisor' : 'agent',
    status: line % 11 === 0 ? 'needs_approval' : 'completed',
    final_answer: `I have refunded order ${order}; you should see the money within 3-5 business days.`,
    steps: ['plan', 'act', 'observe', 'act', 'finish'].map((state, index) => ({
      index,
      state: state as RequestTrace['steps'][number]['state'],
      detail: `${state} step ${index} for ${id}`,
      input_tokens: 200 + index * 10,
      output_tokens: 40 + index,
      latency_ms: 120.5 + index,
    })),
    tool_calls: [
      {seq: 0, step: 1, name: 'lookup_order', risk: 'read', args: {order_id: order, fields: ['amount', 'status']},
        args_hash: 'a'.repeat(64), idempotency_key: null, attempt: 1, outcome: 'ok', executed: true,
        result: {order_id: order, amount: 42.5, status: 'delivered', items: [{sku: 'SKU-1', qty: 1}]}, error: null,
        latency_ms: 14},
      {seq: 1, step: 3, name: 'issue_refund', risk: 'write_high', args: {order_id: order, amount: 42.5, reason: 'damaged'},
        args_hash: 'b'.repeat(64), idempotency_key: `idem-${id}`, attempt: 1, outcome: 'ok', executed: true,
        result: {refund_id: `RF-${line}`, status: 'issued'}, error: null, latency_ms: 31},
      {seq: 2, step: 3, name: 'send_email', risk: 'write_low', args: {to: '[REDACTED:email:1a2b3c4d]', template: 'refund'},
        args_hash: 'c'.repeat(64), idempotency_key: null, attempt: 1, outcome: 'ok', executed: true,
        result: {message_id: `msg-${line}`}, error: null, latency_ms: 9},
    ],
    policy_decisions: [0, 1, 2].map((seq) => ({
      seq, step: seq === 0 ? 1 : 3, stage: 'mid_run' as const, tool_call_seq: seq,
      tool: ['lookup_order', 'issue_refund', 'send_email'][seq]!, decision: 'allow' as const,
      reason: 'POLICY_DEFAULT', rule: 'default',
    })),
    guardrails: ['input_size', 'injection', 'pii', 'schema', 'rbac', 'audit'].map((check, k) => ({
      stage: k < 3 ? ('pre_model' as const) : ('mid_run' as const), step: k < 3 ? 0 : 1, check, passed: true,
      severity: 'info' as const, detail: `${check} ok`,
    })),
    budget_hits: [],
    input_tokens: 1100,
    output_tokens: 210,
    model_calls: 3,
    cost_usd: 0.0042,
    latency_ms: 1830.5,
    error: null,
  }
}

export function benchStore(total = 100_000, batchSize = 500): StoreBenchResult {
  const dir = mkdtempSync(path.join(tmpdir(), 'understudy-bench-store-'))
  const file = path.join(dir, 'bench.db')
  const store = openStore(file)
  try {
    const run = store.createRun({
      name: 'bench', candidate_ref: 'bench@1#000000000000', candidate_hash: '0'.repeat(64), baseline_ref: 'recorded',
      baseline_hash: null, traffic_file: 'synthetic', traffic_hash: '0'.repeat(64), model: 'synthetic', repeat: 1,
      faults: null, seed: 1, config: {},
    })
    // Built up front so that only the store is timed.
    const traces = Array.from({length: total}, (_, i) => syntheticTrace(i))
    let t0 = performance.now()
    for (let i = 0; i < total; i += batchSize) store.writeTraces(run.id, traces.slice(i, i + batchSize))
    const writeS = (performance.now() - t0) / 1000

    t0 = performance.now()
    let n = 0
    for (const t of store.iterateTraces(run.id)) n += t.tool_calls.length === 3 ? 1 : 0
    const iterS = (performance.now() - t0) / 1000
    if (n !== total) throw new Error(`iterated ${n} traces, wrote ${total}`)
    store.close()
    // Closed, so the WAL is checkpointed into the file and its size is the real footprint.
    const size = statSync(file).size
    return {traces: total, write_per_s: Math.round(total / writeS), iterate_per_s: Math.round(total / iterS), file_bytes: size}
  } finally {
    store.close()
    rmSync(dir, {recursive: true, force: true})
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const total = Number(process.argv[2] ?? 100_000)
  const batch = Number(process.argv[3] ?? 500)
  const r = benchStore(total, batch)
  console.log(`store write:   ${r.write_per_s.toLocaleString('en-US')} traces/s (${r.traces} traces, batches of ${batch})`)
  console.log(`store iterate: ${r.iterate_per_s.toLocaleString('en-US')} traces/s`)
  console.log(`store file:    ${(r.file_bytes / 1024 / 1024).toFixed(1)} MiB`)
}
