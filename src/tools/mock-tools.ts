import type {RecordedToolCall, TrafficRecord} from '../traffic/schema.js'
import type {RequestTools, ToolAnswer, ToolExecution, ToolSandbox} from './sandbox.js'
import {canonicalArgs, canonicalJson} from '../util/canonical.js'
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

/**
 * One tool's fixtures, in file order, indexed so that a call is compared with the few fixtures
 * that can match it rather than all of them (a generated world has one fixture per order).
 * A fixture that wants a string in some field matches only a call whose argument is that very
 * string (canonical JSON of anything else is never a JSON string), so it sits in `byText` under
 * its first such field and that string; the others are in `rest`. Positions ascend in each list,
 * so the first match in file order is the smallest position that matches.
 */
type ToolFixtures = {
  list: PreparedFixture[]
  byText: Map<string, Map<string, number[]>>
  rest: number[]
}

export function createMockTools(fixtures: Fixtures | null = null, options: MockToolsOptions = {}): ToolSandbox {
  const set = fixtures ?? emptyFixtures()
  const defaultLatency = options.defaultLatencyMs ?? DEFAULT_TOOL_LATENCY_MS
  // Canonical forms and the index computed once per run, not once per call.
  const byTool = new Map<string, ToolFixtures>()
  for (const fixture of set.fixtures) {
    let t = byTool.get(fixture.tool)
    if (t === undefined) {
      t = {list: [], byText: new Map(), rest: []}
      byTool.set(fixture.tool, t)
    }
    const match = Object.entries(fixture.match).map(([k, v]): MatchField => [k, canonicalJson(v), typeof v === 'string' ? v : null])
    const at = t.list.length
    t.list.push({fixture, match})
    const keyed = match.find((f) => f[2] !== null)
    if (keyed === undefined) {
      t.rest.push(at)
      continue
    }
    let byValue = t.byText.get(keyed[0])
    if (byValue === undefined) {
      byValue = new Map()
      t.byText.set(keyed[0], byValue)
    }
    const positions = byValue.get(keyed[2]!)
    if (positions === undefined) byValue.set(keyed[2]!, [at])
    else positions.push(at)
  }
  return {
    forRequest: (record) => new MockRequestTools(record, byTool, set.tools, defaultLatency),
  }
}

/** The first fixture of `t`, in file order, whose match fields all equal the call's arguments. */
function firstMatch(t: ToolFixtures, args: Record<string, unknown>): PreparedFixture | undefined {
  let best = -1
  for (const [key, byValue] of t.byText) {
    if (!Object.hasOwn(args, key)) continue
    const value = args[key]
    if (typeof value !== 'string') continue
    const positions = byValue.get(value)
    if (positions === undefined) continue
    for (const at of positions) {
      if (best >= 0 && at >= best) break
      if (matches(t.list[at]!.match, args)) {
        best = at
        break
      }
    }
  }
  for (const at of t.rest) {
    if (best >= 0 && at >= best) break
    if (matches(t.list[at]!.match, args)) {
      best = at
      break
    }
  }
  return best < 0 ? undefined : t.list[best]
}

class MockRequestTools implements RequestTools {
  readonly executions: ToolExecution[] = []
  private readonly recorded: readonly RecordedToolCall[]
  private readonly consumed: boolean[]
  /** canonicalJson of each recorded call's args, computed the first time a call of its name is looked for. */
  private recordedArgs: (string | undefined)[] | null = null

  constructor(
    record: TrafficRecord,
    private readonly fixtures: Map<string, ToolFixtures>,
    private readonly defaults: Fixtures['tools'],
    private readonly defaultLatency: number,
  ) {
    this.recorded = record.production.tool_calls
    // A recorded call with neither result nor error never ran in production (policy or RBAC stopped
    // it): it has no answer to give, so it is never matched; fixtures answer such a call instead.
    this.consumed = this.recorded.map((c) => c.result === undefined && c.error === undefined)
  }

  async call(name: string, args: Record<string, unknown>, attempt: number, canonical?: string): Promise<ToolAnswer> {
    const answer = this.answer(name, args, canonical)
    if (answer.executed) this.executions.push({name, args, attempt, source: answer.source})
    return answer
  }

  private answer(name: string, args: Record<string, unknown>, canonical: string | undefined): ToolAnswer {
    const index = this.findRecorded(name, args, canonical)
    if (index >= 0) {
      this.consumed[index] = true
      return fromRecorded(this.recorded[index]!)
    }
    const tool = this.fixtures.get(name)
    const fixture = tool === undefined ? undefined : firstMatch(tool, args)
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

  /**
   * Same name and args first; else the next unconsumed call of that tool, whatever its args.
   * Canonical forms (the call's and the recorded calls') are computed only once a recorded call of
   * that name is still unconsumed, so a call nothing was recorded for compares nothing.
   */
  private findRecorded(name: string, args: Record<string, unknown>, given: string | undefined): number {
    const recorded = this.recorded
    if (recorded.length === 0) return -1
    const seen = (this.recordedArgs ??= new Array<string | undefined>(recorded.length))
    let canonical = given
    let sameName = -1
    for (let i = 0; i < recorded.length; i++) {
      if (this.consumed[i] || recorded[i]!.name !== name) continue
      canonical ??= canonicalArgs(args)
      const have = (seen[i] ??= canonicalArgs(recorded[i]!.args))
      if (have === canonical) return i
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
