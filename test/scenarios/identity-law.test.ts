import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {mulberry32, type Rng} from '../../scenarios/lib/prng.js'
import {classifyRequest} from '../../src/diff/classify.js'
import {diffRequest} from '../../src/diff/request-diff.js'
import type {RequestTrace, TraceStatus} from '../../src/trace/schema.js'
import {decision, guardrail, toolCall, trace} from '../factories/index.js'
import {repoRoot, runCli} from '../helpers/cli.js'

/**
 * Issue #15, the identity law: replaying a bundle against itself shows no regression, no behaviour
 * change and a green scorecard — against the same bundle as baseline, and (model-free) against
 * production's own recording.
 */

const tmp = mkdtempSync(path.join(tmpdir(), 'identity-law-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

type Classes = Record<'same' | 'benign' | 'behaviour_change' | 'regression' | 'improvement', number>

let n = 0
async function shadow(scenario: string, args: string[]): Promise<{classes: Classes; requests: number; runId: string; db: string}> {
  const db = path.join(tmp, `${scenario}-${n++}.db`)
  const r = await runCli(['shadow', '--scenario', path.join(repoRoot, 'scenarios', scenario), ...args, '--db', db, '--json'])
  expect(r.code, r.stderr).toBe(0)
  const doc = JSON.parse(r.stdout) as {classes: Classes; requests: number; run: {id: string}}
  return {classes: doc.classes, requests: doc.requests, runId: doc.run.id, db}
}

async function gate(runId: string, db: string): Promise<number> {
  const r = await runCli(['scorecard', runId, '--db', db, '--gate'])
  expect(r.stdout).toContain('GREEN')
  return r.code
}

const SCENARIOS = [
  // scenario, its baseline bundle, the model for a bundle against itself (banking has no scripted skill)
  ['support-refunds', 'v1', []],
  ['coding-agent', 'v1', []],
  ['enterprise-tickets', 'v1', []],
  ['banking-assistant', 'v1', ['--model', 'recorded']],
] as const
const LIMIT = '150'

describe('identity law: a bundle replayed against itself', () => {
  for (const [scenario, bundle, model] of SCENARIOS) {
    const dir = path.join(repoRoot, 'scenarios', scenario, bundle)

    it(`${scenario}: --baseline ${bundle} --candidate ${bundle}: every request the same, gate green`, async () => {
      const run = await shadow(scenario, ['--candidate', dir, '--baseline', dir, ...model, '--limit', LIMIT])
      expect(run.requests).toBeGreaterThan(0)
      expect(run.classes).toMatchObject({regression: 0, behaviour_change: 0, improvement: 0})
      expect(run.classes.same).toBe(run.requests)
      expect(await gate(run.runId, run.db)).toBe(0)
    }, 60_000)

    it(`${scenario}: --model recorded against the recording: no regression or behaviour change, gate green, same counts twice`, async () => {
      const args = ['--candidate', dir, '--baseline', 'recorded', '--model', 'recorded', '--limit', LIMIT]
      const run = await shadow(scenario, args)
      expect(run.requests).toBeGreaterThan(0)
      expect(run.classes).toMatchObject({regression: 0, behaviour_change: 0, improvement: 0})
      expect(await gate(run.runId, run.db)).toBe(0)
      // Nothing depends on the wall clock: the same command gives the same counts.
      expect((await shadow(scenario, args)).classes).toEqual(run.classes)
    }, 60_000)
  }
})

const STATUSES: TraceStatus[] = ['completed', 'refused', 'failed', 'escalated', 'needs_approval', 'budget_exceeded']
const RISKS = ['read', 'write_low', 'write_high'] as const

/** A random trace built from the factories: calls of every risk and outcome, decisions, guardrails, totals. */
function randomTrace(rng: Rng): RequestTrace {
  const calls = Array.from({length: rng.int(0, 6)}, (_, i) => {
    const executed = rng.chance(0.7)
    return toolCall(
      rng.pick(['lookup', 'refund', 'email', 'search']),
      {id: rng.int(1, 5), amount: rng.int(1, 3000)},
      {
        risk: rng.pick(RISKS),
        executed,
        outcome: executed ? rng.pick(['ok', 'error', 'timeout'] as const) : rng.pick(['denied', 'needs_approval', 'invalid_args'] as const),
        attempt: rng.int(1, 2),
        idempotency_key: rng.chance(0.3) ? `k${i}` : null,
        latency_ms: rng.int(1, 500),
        // Multi-turn traces too: calls of later user turns.
        ...(rng.chance(0.3) ? {turn: rng.int(1, 2)} : {}),
      },
    )
  })
  return trace({
    status: rng.pick(STATUSES),
    final_answer: `answer ${rng.int(0, 99)}`,
    tool_calls: calls,
    policy_decisions: calls.map((c) => decision('mid_run', c.name, rng.pick(['allow', 'deny', 'require_approval'] as const), rng.pick(['POLICY_DEFAULT', 'PII', 'LIMIT']))),
    guardrails: rng.chance(0.5) ? [guardrail(rng.pick(['pre_model', 'post_model'] as const), rng.pick(['injection_in_retrieved', 'pii']), rng.chance(0.5), rng.pick(['low', 'high'] as const))] : [],
    budget_hits: rng.chance(0.2) ? ['max_steps'] : [],
    input_tokens: rng.int(0, 5000),
    output_tokens: rng.int(0, 500),
    latency_ms: rng.int(0, 20_000),
    cost_usd: rng.int(0, 1000) / 100_000,
  })
}

describe('identity law: property', () => {
  it('diffRequest(t, t) classifies as same for 500 random traces', () => {
    const rng = mulberry32(15)
    for (let i = 0; i < 500; i++) {
      const t = randomTrace(rng)
      const c = classifyRequest(diffRequest(t, structuredClone(t)))
      expect(c, JSON.stringify(t)).toEqual({class: 'same', reasons: [], noise: []})
    }
  })

  it('a trace and the same trace with only its latency changed is never a behaviour change', () => {
    const rng = mulberry32(16)
    for (let i = 0; i < 200; i++) {
      const t = randomTrace(rng)
      const c = classifyRequest(diffRequest(t, {...structuredClone(t), latency_ms: t.latency_ms * rng.int(2, 50) + rng.int(0, 5000)}))
      expect(['same', 'benign']).toContain(c.class)
    }
  })
})
