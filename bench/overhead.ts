import {loadFixtures} from '../src/tools/fixtures.js'
import {createMockTools} from '../src/tools/mock-tools.js'
import {loadBundle} from '../src/bundle/load.js'
import {createModel} from '../src/model/factory.js'
import type {ModelClient} from '../src/model/types.js'
import {runRequest, type AgentDeps} from '../src/runtime/agent.js'
import {compileBundle} from '../src/runtime/compile.js'
import {RateLimiter} from '../src/runtime/rate-limit.js'
import {recordedTrace} from '../src/runtime/recorded.js'
import {createRedactor} from '../src/runtime/redact.js'
import {readTraffic} from '../src/traffic/reader.js'
import type {Scenario} from './workspace.js'

export type OverheadResult = {requests: number; warmup: number; model_calls: number; p50_ms: number; p95_ms: number; p99_ms: number; max_ms: number}

/** The scripted model, with the wall time spent inside chat() added up, so it can be taken out. */
function timed(model: ModelClient): {model: ModelClient; spent: () => number; calls: () => number} {
  let ms = 0
  let n = 0
  return {
    model: {
      id: model.id,
      async chat(request, signal) {
        const t0 = performance.now()
        try {
          return await model.chat(request, signal)
        } finally {
          ms += performance.now() - t0
          n++
        }
      },
    },
    spent: () => ms,
    calls: () => n,
  }
}

/**
 * Per-request runtime overhead outside the model: for each request, one at a time (no overlap, so
 * each interval is that request's alone), the wall time of what the shadow runner does for it —
 * the recorded side's trace and the candidate's agent loop with every guardrail, policy check,
 * budget, rate limit, mock tool and redaction — minus the time spent inside model.chat(). Parsing
 * the line and writing the store are batched per run and measured by the throughput figure.
 * The first `warmup` requests (JIT warm-up) are run but not counted.
 */
export async function measureOverhead(traffic: string, sc: Scenario, count: number, warmup: number): Promise<OverheadResult> {
  const bundle = await loadBundle(sc.candidate)
  const inner = await createModel({spec: null, bundleModel: bundle.manifest.model, skills: [sc.skill]})
  const clock = timed(inner)
  const redactor = createRedactor()
  const deps: AgentDeps = {
    bundle,
    compiled: compileBundle(bundle),
    model: clock.model,
    tools: createMockTools(loadFixtures(sc.fixtures)),
    approver: 'pending',
    faults: null,
    redactor,
    limiter: new RateLimiter(),
    side: 'candidate',
    repeat: 0,
  }
  const samples = new Float64Array(count)
  let n = 0
  let seen = 0
  for await (const item of readTraffic(traffic)) {
    if (!item.ok) throw new Error(item.error)
    if (seen >= warmup + count) break
    const before = clock.spent()
    const t0 = performance.now()
    recordedTrace(item.record, item.line, redactor, bundle)
    await runRequest(item.record, item.line, deps)
    const dt = performance.now() - t0 - (clock.spent() - before)
    if (seen >= warmup) samples[n++] = dt
    seen++
  }
  const sorted = samples.subarray(0, n).sort()
  const pct = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))] ?? 0
  return {requests: n, warmup, model_calls: clock.calls(), p50_ms: pct(50), p95_ms: pct(95), p99_ms: pct(99), max_ms: sorted[n - 1] ?? 0}
}
