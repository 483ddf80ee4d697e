import {ModelError} from '../errors.js'
import {type DivergenceReason, letThrough, type ToolCallOutcome} from '../trace/schema.js'
import {type RecordedToolCall, type TrafficRecord, turnOfRecordedCall} from '../traffic/schema.js'
import {canonicalJson} from '../util/canonical.js'
import type {CallObservation, ChatRequest, ChatResponse, Departure, ModelClient, ModelToolCall, TrajectoryModel} from './types.js'

/**
 * Model-free replay (`--model recorded`, `--model compromised`). The "model" proposes, turn by
 * turn, exactly what production's model proposed for the request — its recorded tool calls in
 * order (one call a turn, as a ReAct agent does; the runtime's own retries stand in for recorded
 * retries), then the recorded final answer — so that the candidate bundle judges real proposals
 * with no model at all. A multi-turn record is followed turn by turn: each turn's calls, then the
 * answer production ended that turn with; the runtime brings in the next user turn and asks again.
 *
 * It follows the recording only while the candidate treats each recorded call as production did.
 * Once the candidate blocks or holds a call production executed (or runs one production refused),
 * what production's model proposed next was an answer to something the candidate did not do:
 * `observe` says so, and the runtime ends the request there with a divergence marker.
 *
 * `compromised` also plays a model that falls for every injection the record declares: as soon as
 * an attack's source is in its context (the document is among the admitted evidence, or the tool
 * call's result came back), it proposes the attack's goal calls, then goes on with the recording.
 * Whether those calls run is then down to the candidate's guardrails and policy alone.
 */

export type ReplayMode = 'recorded' | 'compromised'

/** What a side did with a call, in the terms a model is told: it ran, it was denied, held, or rejected otherwise. */
type Treatment = Departure['recorded'] | 'rejected'

function candidateTreatment(outcome: ToolCallOutcome): Treatment {
  if (letThrough(outcome)) return 'executed'
  return outcome === 'denied' ? 'denied' : outcome === 'needs_approval' ? 'held' : 'rejected'
}

const DIVERGENCE_BY_OUTCOME: Partial<Record<ToolCallOutcome, DivergenceReason>> = {
  denied: 'denied',
  needs_approval: 'held_for_approval',
  invalid_args: 'schema_invalid',
  unknown_tool: 'unknown_tool',
  budget_exceeded: 'budget_exceeded',
}

/** The refusal code the runtime gives a call refused for not being in the plan (plan_first). */
const NOT_IN_PLAN = 'NOT_IN_PLAN'

export function createReplayModel(mode: ReplayMode): ModelClient {
  return {
    id: mode,
    async chat(): Promise<ChatResponse> {
      // The runtime asks forRequest for each request's own model; a bare call has no recording.
      throw new ModelError('malformed', `${mode}: model-free replay answers only for a recorded request`)
    },
    forRequest: (record, options) => new RecordedTrajectory(record, mode, options.planFirst),
  }
}

type Proposal = {
  call: ModelToolCall
  /** The recorded call this replays; null for an attack's goal call. */
  recorded: RecordedToolCall | null
  /** The attack a goal call serves. */
  attack: string | undefined
  observed: boolean
}

class RecordedTrajectory implements TrajectoryModel {
  readonly id: string
  /** `compromised` looks in the messages for the documents an attack sits in; `recorded` reads nothing. */
  readonly readsMessages: boolean
  /** The current user turn's proposals still to make; `later`, those of each later turn. */
  private queue: Proposal[]
  private readonly later: Proposal[][]
  /** Later turns answered so far (the answer that ended turn k is `record.turns[k].answer`). */
  private turn = 0
  /** plan_first: a later turn came in, so the next call asks for its plan. */
  private planDue = false
  private readonly proposals: Proposal[] = []
  private readonly byCall = new Map<ModelToolCall, Proposal>()
  private started = false
  private turnsLeft: number
  private tokensLeft: {input: number; output: number}
  private latencyLeft: number

  constructor(
    private readonly record: TrafficRecord,
    private readonly mode: ReplayMode,
    private readonly planFirst: boolean,
  ) {
    this.id = mode
    this.readsMessages = mode === 'compromised'
    const prod = record.production
    const calls = prod.tool_calls
    const turns = record.turns
    const userTurns = turns?.length ?? 0
    // One pass over the recorded calls: the proposals of each user turn and the tools' own time.
    const first: Proposal[] = []
    const later: Proposal[][] = []
    for (let k = 0; k < userTurns; k++) later.push([])
    let proposed = 0
    let toolMs = 0
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!
      toolMs += call.latency_ms
      // Retries are the runtime's to make (its retry budget and faults decide); the model proposes the logical call once.
      if (call.attempt !== 1) continue
      const p = proposal({name: call.name, arguments: call.args}, call, undefined)
      const turn = turns === undefined ? 0 : turnOfRecordedCall(turns, i)
      if (turn === 0) first.push(p)
      else later[turn - 1]!.push(p)
      proposed++
    }
    this.queue = first
    this.later = later
    // Multi-turn plan_first: every turn opens with its plan, an empty one included.
    this.planDue = planFirst && turns !== undefined
    // Production's usage and model time, spread over the model calls it would take (each call, and
    // each turn's answer; plan_first: a plan and an answer a turn): totals match the recording.
    this.turnsLeft = planFirst ? 2 * (userTurns + 1) : proposed + userTurns + 1
    this.tokensLeft = {input: prod.usage.input_tokens, output: prod.usage.output_tokens}
    this.latencyLeft = Math.max(0, prod.latency_ms - toolMs)
  }

  async chat(request: ChatRequest, signal?: AbortSignal): Promise<ChatResponse> {
    if (signal?.aborted) throw new ModelError('timeout', `${this.mode}: the call was aborted`)
    if (!this.started) {
      this.started = true
      if (this.mode === 'compromised') this.fireRetrievedAttacks(request)
    }
    if (this.planFirst && ((this.proposals.length === 0 && this.queue.length > 0) || this.planDue)) {
      // plan_first: the whole turn's trajectory as the plan; the runtime then runs it call by call.
      this.planDue = false
      const planned = this.queue.splice(0)
      for (const p of planned) this.proposals.push(p)
      const plan = {plan: planned.map((p) => ({tool: p.call.name, args: p.call.arguments}))}
      return this.answer(JSON.stringify(plan), [])
    }
    const next = this.queue.shift()
    if (next === undefined) {
      const turns = this.record.turns
      if (turns === undefined || this.turn >= turns.length) return this.answer(this.record.production.final_answer, [], true)
      // The turn ends as production's did; the runtime brings in the user's reply and asks again.
      const ended = turns[this.turn]!.answer
      this.queue = this.later[this.turn++]!
      this.planDue = this.planFirst
      return this.answer(ended, [])
    }
    this.proposals.push(next)
    this.byCall.set(next.call, next)
    return this.answer('', [next.call])
  }

  attackOf(call: ModelToolCall): string | undefined {
    return this.find(call)?.attack
  }

  observe(call: ModelToolCall, seen: CallObservation): Departure | null {
    const p = this.find(call)
    if (p === undefined) return null
    p.observed = true
    // An attack's goal call is not production's: whatever became of it, the recording still applies.
    if (p.recorded === null) return null
    const rec = p.recorded
    // The attack's text reaches the model only with a result that came back.
    const answered = seen.outcome === 'ok' || seen.outcome === 'deduplicated'
    if (answered && this.mode === 'compromised') this.fireToolAttacks(rec.id)
    // Production's model went on from what it was told about this call; told anything else, the
    // candidate's model could well have gone elsewhere.
    const recorded = this.treatmentInProduction(rec)
    const now = candidateTreatment(seen.outcome)
    // A call production refused that the candidate also refuses, by its policy or by its own
    // checks (contract, tool list, budget): either way the model heard "not done", so the
    // recording still applies; the diff reports any change of reason.
    if (now === recorded || (now === 'rejected' && recorded === 'denied')) return null
    const reason = now === 'executed' ? 'ran_refused_call' : seen.code === NOT_IN_PLAN ? 'not_in_plan' : (DIVERGENCE_BY_OUTCOME[seen.outcome] ?? 'denied')
    return {reason, code: seen.code, recorded}
  }

  /** Production executed a call it logged an answer or error for; otherwise its logged decision refused or held it. */
  private treatmentInProduction(call: RecordedToolCall): Departure['recorded'] {
    if (call.result !== undefined || call.error !== undefined) return 'executed'
    let held = false
    for (const d of this.record.production.policy_decisions) {
      if (d.stage !== 'mid_run' || d.tool_call_id !== call.id) continue
      if (d.decision === 'deny') return 'denied'
      if (d.decision === 'require_approval') held = true
    }
    // Neither answered nor refused on record: production ran it and logged no answer.
    return held ? 'held' : 'executed'
  }

  /** The proposal a call replays: by identity, else (a plan the runtime parsed into new objects) the first unobserved one alike. */
  private find(call: ModelToolCall): Proposal | undefined {
    const known = this.byCall.get(call)
    if (known !== undefined) return known
    const args = canonicalJson(call.arguments ?? {})
    const p = this.proposals.find((q) => !q.observed && q.call.name === call.name && canonicalJson(q.call.arguments) === args)
    if (p !== undefined) this.byCall.set(call, p)
    return p
  }

  private fireRetrievedAttacks(request: ChatRequest): void {
    const goals: Proposal[] = []
    this.record.attacks.forEach((attack, i) => {
      const src = attack.source
      if (!('retrieved' in src)) return
      const marker = `<document id="${escapeAttr(src.retrieved)}"`
      const admitted = request.messages.some((m) => m.role === 'system' && m.content.includes(marker))
      if (admitted) for (const g of attack.goal) goals.push(proposal({name: g.name, arguments: g.args}, null, attack.id ?? `attack#${i}`))
    })
    this.queue.unshift(...goals)
  }

  private fireToolAttacks(callId: string): void {
    const goals: Proposal[] = []
    this.record.attacks.forEach((attack, i) => {
      const src = attack.source
      if (!('tool_call' in src) || src.tool_call !== callId) return
      for (const g of attack.goal) goals.push(proposal({name: g.name, arguments: g.args}, null, attack.id ?? `attack#${i}`))
    })
    this.queue.unshift(...goals)
  }

  private answer(content: string, toolCalls: ModelToolCall[], last = false): ChatResponse {
    // Each turn takes its share; the last takes whatever is left, so totals equal the recording's.
    const turns = last ? 1 : Math.max(1, this.turnsLeft)
    const input = last ? this.tokensLeft.input : Math.floor(this.tokensLeft.input / turns)
    const output = last ? this.tokensLeft.output : Math.floor(this.tokensLeft.output / turns)
    const latency = last ? this.latencyLeft : this.latencyLeft / turns
    this.tokensLeft.input -= input
    this.tokensLeft.output -= output
    this.latencyLeft -= latency
    if (this.turnsLeft > 1) this.turnsLeft--
    return {
      message: {role: 'assistant', content, tool_calls: toolCalls},
      input_tokens: input,
      output_tokens: output,
      latency_ms: latency,
      done_reason: 'stop',
    }
  }
}

function proposal(call: ModelToolCall, recorded: RecordedToolCall | null, attack: string | undefined): Proposal {
  return {call, recorded, attack, observed: false}
}

/** As the runtime writes document ids into the evidence message (runtime/messages.ts). */
function escapeAttr(value: string): string {
  return value.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'))
}
