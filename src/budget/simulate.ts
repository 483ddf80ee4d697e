import type {RequestTrace, ToolCallTrace} from '../trace/schema.js'
import {countsAsToolCall, isRetry} from './usage.js'

/**
 * `understudy budget simulate`: what-if over stored traces, without re-running the model. Each
 * trace's model steps and tool calls are replayed in order against new limits, with the runtime's
 * rules (src/runtime/agent.ts): a model call past max_steps never happens; a model call that takes
 * the token total past max_total_tokens happens but ends the request, so the calls it proposed never
 * run; a counted tool call past max_tool_calls and a retry past max_retries are refused and the
 * request stops there. What the trace did after the cut is what the new limits would have saved,
 * including executed actions that would not have happened.
 *
 * A trace can only be shortened: a request the stored run already cut on a budget cannot be
 * extended by looser limits without re-running it, and is reported as such.
 */

export type SimLimits = {max_steps: number; max_tool_calls: number; max_total_tokens: number; max_retries: number}

export type CutPoint = {
  budget: keyof SimLimits
  /** Index of the trace step at which the request would have ended. */
  step: number
  /** seq of the refused tool call, when the cut is a tool call or a retry. */
  tool_call_seq: number | null
  detail: string
}

export type LostAction = {seq: number; step: number; tool: string; risk: string; outcome: string}

export type SimulatedRequest = {
  request_id: string
  line: number
  tenant: string
  status: string
  cut: CutPoint | null
  /** Executed calls at or after the cut: they would not have happened. */
  lost_actions: LostAction[]
  saved: {steps: number; tool_calls: number; tokens: number}
  /** The stored run already ended this request on a budget. */
  runaway: boolean
  /** Runaway and the new limits stop it before the stored run did. */
  stops_earlier: boolean
  /** Runaway, and the new limits do not stop it before the stored cut: what follows needs a re-run. */
  needs_rerun: boolean
}

export type BudgetSimulation = {
  limits: SimLimits
  requests: number
  cut: number
  runaway: number
  stopped_earlier: number
  needs_rerun: number
  lost_actions: number
  lost_writes: number
  saved: {steps: number; tool_calls: number; tokens: number}
  /** Every request the new limits change (cut or stopped earlier), in traffic order. */
  changed: SimulatedRequest[]
  /** Runaway requests whose stored cut the new limits cannot extend. */
  rerun_ids: string[]
}

type Event = {kind: 'step'; index: number; state: string; tokens: number} | {kind: 'call'; call: ToolCallTrace}

/** Steps and calls in the order they happened: by step index, a step before the calls it made, calls by seq. */
function timeline(t: RequestTrace): Event[] {
  const events: {at: number; order: number; e: Event}[] = []
  for (const s of t.steps) events.push({at: s.index, order: -1, e: {kind: 'step', index: s.index, state: s.state, tokens: s.input_tokens + s.output_tokens}})
  for (const c of t.tool_calls) events.push({at: c.step, order: c.seq, e: {kind: 'call', call: c}})
  events.sort((a, b) => a.at - b.at || a.order - b.order)
  return events.map((x) => x.e)
}

function findCut(t: RequestTrace, limits: SimLimits): {cut: CutPoint; from: number} | null {
  const events = timeline(t)
  let steps = 0
  let tokens = 0
  let calls = 0
  let retries = 0
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    if (e.kind === 'step') {
      if (e.state !== 'plan') continue
      if (steps + 1 > limits.max_steps) {
        return {cut: {budget: 'max_steps', step: e.index, tool_call_seq: null, detail: `model call ${steps + 1} would exceed max_steps ${limits.max_steps}`}, from: i}
      }
      steps++
      tokens += e.tokens
      if (tokens > limits.max_total_tokens) {
        // The model call itself happened (its tokens are spent); everything after it is cut.
        return {cut: {budget: 'max_total_tokens', step: e.index, tool_call_seq: null, detail: `${tokens} tokens after model call ${steps} exceed max_total_tokens ${limits.max_total_tokens}`}, from: i + 1}
      }
      continue
    }
    const c = e.call
    if (isRetry(c)) {
      if (retries + 1 > limits.max_retries) {
        return {cut: {budget: 'max_retries', step: c.step, tool_call_seq: c.seq, detail: `retry ${retries + 1} (${c.name}, attempt ${c.attempt}) would exceed max_retries ${limits.max_retries}`}, from: i}
      }
      retries++
    } else if (countsAsToolCall(c)) {
      if (calls + 1 > limits.max_tool_calls) {
        return {cut: {budget: 'max_tool_calls', step: c.step, tool_call_seq: c.seq, detail: `tool call ${calls + 1} (${c.name}) would exceed max_tool_calls ${limits.max_tool_calls}`}, from: i}
      }
      calls++
    }
  }
  return null
}

export function simulateTrace(t: RequestTrace, limits: SimLimits): SimulatedRequest {
  const runaway = t.budget_hits.length > 0 || t.status === 'budget_exceeded'
  const found = findCut(t, limits)
  const out: SimulatedRequest = {
    request_id: t.request_id,
    line: t.line,
    tenant: t.tenant,
    status: t.status,
    cut: null,
    lost_actions: [],
    saved: {steps: 0, tool_calls: 0, tokens: 0},
    runaway,
    stops_earlier: false,
    needs_rerun: false,
  }
  if (!found) {
    // The stored run stopped it on a budget and the new limits do not stop it sooner: what it would
    // have done past the stored cut is not in the trace.
    out.needs_rerun = runaway
    return out
  }
  out.cut = found.cut
  const rest = timeline(t).slice(found.from)
  for (const e of rest) {
    if (e.kind === 'step') {
      if (e.state === 'plan') {
        out.saved.steps++
        out.saved.tokens += e.tokens
      }
      continue
    }
    if (countsAsToolCall(e.call)) out.saved.tool_calls++
    if (e.call.executed) {
      out.lost_actions.push({seq: e.call.seq, step: e.call.step, tool: e.call.name, risk: e.call.risk, outcome: e.call.outcome})
    }
  }
  out.stops_earlier = runaway
  return out
}

export function simulateBudgets(traces: Iterable<RequestTrace>, limits: SimLimits): BudgetSimulation {
  const sim: BudgetSimulation = {
    limits,
    requests: 0,
    cut: 0,
    runaway: 0,
    stopped_earlier: 0,
    needs_rerun: 0,
    lost_actions: 0,
    lost_writes: 0,
    saved: {steps: 0, tool_calls: 0, tokens: 0},
    changed: [],
    rerun_ids: [],
  }
  for (const t of traces) {
    if (t.status === 'skipped') continue
    sim.requests++
    const r = simulateTrace(t, limits)
    if (r.runaway) sim.runaway++
    if (r.needs_rerun) {
      sim.needs_rerun++
      sim.rerun_ids.push(r.request_id)
    }
    if (!r.cut) continue
    sim.cut++
    if (r.stops_earlier) sim.stopped_earlier++
    sim.lost_actions += r.lost_actions.length
    sim.lost_writes += r.lost_actions.filter((a) => a.risk !== 'read').length
    sim.saved.steps += r.saved.steps
    sim.saved.tool_calls += r.saved.tool_calls
    sim.saved.tokens += r.saved.tokens
    sim.changed.push(r)
  }
  return sim
}
