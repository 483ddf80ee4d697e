import type {RecordedToolCall, TrafficRecord} from '../traffic/schema.js'
import type {RequestTools, ToolAnswer, ToolExecution, ToolSandbox} from './sandbox.js'
import {canonicalJson} from '../util/canonical.js'
import type {Fixture, FixtureAnswer, Fixtures} from './fixtures.js'
import {emptyFixtures} from './fixtures.js'

/**
 * Mock tools for shadow runs. A call is answered, in order, by
 *   1. a not-yet-consumed recorded call of this request with the same name and canonical args,
 *   2. the next not-yet-consumed recorded call of this request with the same name,
 *      (recorded calls production never executed, having neither result nor error, are skipped)
 *   3. the first fixture of that tool whose `match` fields all deep-equal the call's args,
 *   4. the tool's default answer,
 *   5. nothing: outcome `unrecorded_call`.
 * Recorded calls are consumed as they answer, so a recorded timeout-then-success replays the same way.
 */

export const DEFAULT_TOOL_LATENCY_MS = 50

export type MockToolsOptions = {defaultLatencyMs?: number}

/** A match field: its canonical JSON, and the string itself when the fixture wants a string. */
type MatchField = [key: string, canonical: string, text: string | null]
type PreparedFixture = {fixture: Fixture; match: MatchField[]}

export function createMockTools(fixtures: Fixtures | null = null, options: MockToolsOptions = {}): ToolSandbox {
  const set = fixtures ?? emptyFixtures()
  const defaultLatency = options.defaultLatencyMs ?? DEFAULT_TOOL_LATENCY_MS
  // Canonical forms computed once per run, not once per call.
  const byTool = new Map<string, PreparedFixture[]>()
  for (const fixture of set.fixtures) {
    const list = byTool.get(fixture.tool) ?? []
    list.push({fixture, match: Object.entries(fixture.match).map(([k, v]): MatchField => [k, canonicalJson(v), typeof v === 'string' ? v : null])})
    byTool.set(fixture.tool, list)
  }
  return {
    forRequest: (record) => new MockRequestTools(record, byTool, set.tools, defaultLatency),
  }
}

class MockRequestTools implements RequestTools {
  readonly executions: ToolExecution[] = []
  private readonly recorded: readonly RecordedToolCall[]
  private readonly consumed: boolean[]
  private recordedArgs: string[] | null = null

  constructor(
    record: TrafficRecord,
    private readonly fixtures: Map<string, PreparedFixture[]>,
    private readonly defaults: Fixtures['tools'],
    private readonly defaultLatency: number,
  ) {
    this.recorded = record.production.tool_calls
    // A recorded call with neither result nor error never ran in production (policy or RBAC stopped
    // it): it has no answer to give, so it is never matched; fixtures answer such a call instead.
    this.consumed = this.recorded.map((c) => c.result === undefined && c.error === undefined)
  }

  async call(name: string, args: Record<string, unknown>, attempt: number): Promise<ToolAnswer> {
    const answer = this.answer(name, args)
    if (answer.executed) this.executions.push({name, args, attempt, source: answer.source})
    return answer
  }

  private answer(name: string, args: Record<string, unknown>): ToolAnswer {
    const canonical = canonicalJson(args)
    const index = this.findRecorded(name, canonical)
    if (index >= 0) {
      this.consumed[index] = true
      return fromRecorded(this.recorded[index]!)
    }
    const fixture = this.fixtures.get(name)?.find((f) => matches(f.match, args))
    if (fixture) return fromFixture(fixture.fixture, 'fixture', this.defaultLatency)
    const fallback = Object.hasOwn(this.defaults, name) ? this.defaults[name] : undefined
    if (fallback) return fromFixture(fallback.default, 'default', this.defaultLatency)
    return {
      outcome: 'unrecorded_call',
      result: null,
      error: null,
      latency_ms: 0,
      executed: false,
      source: 'none',
    }
  }

  /** Same name and args first; else the next unconsumed call of that tool, whatever its args. */
  private findRecorded(name: string, canonical: string): number {
    if (this.recorded.length === 0) return -1
    this.recordedArgs ??= this.recorded.map((c) => canonicalJson(c.args))
    let sameName = -1
    for (let i = 0; i < this.recorded.length; i++) {
      if (this.consumed[i] || this.recorded[i]!.name !== name) continue
      if (this.recordedArgs[i] === canonical) return i
      if (sameName < 0) sameName = i
    }
    return sameName
  }
}

function matches(match: MatchField[], args: Record<string, unknown>): boolean {
  for (const [key, want, text] of match) {
    if (!Object.hasOwn(args, key)) return false
    const got = args[key]
    // Canonical JSON is one-to-one on strings: two strings match exactly when they are equal.
    if (text !== null && typeof got === 'string') {
      if (got !== text) return false
    } else if (canonicalJson(got) !== want) return false
  }
  return true
}

function fromRecorded(call: RecordedToolCall): ToolAnswer {
  if (call.error) {
    const outcome = call.error.code === 'timeout' ? 'timeout' : call.error.code === 'rate_limited' ? 'rate_limited' : 'error'
    return {
      outcome,
      result: null,
      error: {...call.error},
      latency_ms: call.latency_ms,
      // A timeout or a rate-limit refusal is no answer at all; any other error is the tool answering.
      executed: outcome === 'error',
      source: 'recorded',
    }
  }
  return {outcome: 'ok', result: call.result ?? null, error: null, latency_ms: call.latency_ms, executed: true, source: 'recorded'}
}

function fromFixture(answer: FixtureAnswer, source: 'fixture' | 'default', defaultLatency: number): ToolAnswer {
  const latency = answer.latency_ms ?? defaultLatency
  if (answer.error) {
    const code = answer.error.code
    const outcome = code === 'timeout' ? 'timeout' : code === 'rate_limited' ? 'rate_limited' : 'error'
    return {outcome, result: null, error: {...answer.error}, latency_ms: latency, executed: outcome === 'error', source}
  }
  return {outcome: 'ok', result: answer.result ?? null, error: null, latency_ms: latency, executed: true, source}
}
