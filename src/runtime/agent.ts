import type {Budgets, Bundle, BundleManifest} from '../bundle/schema.js'
import {ModelError} from '../errors.js'
import type {ChatMessage, ChatRequest, ChatResponse, ModelClient, ModelToolCall, TrajectoryModel} from '../model/types.js'
import type {FaultInjector, ToolSandbox} from '../tools/sandbox.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {emptyUsage, exceededBudgets, type BudgetUsage} from './budget.js'
import type {CompiledBundle} from './compile.js'
import {INJECTION_IN_TOOL_RESULT} from './guardrails/post-action.js'
import {postModelGuardrails} from './guardrails/post-model.js'
import {preModelGuardrails} from './guardrails/pre-model.js'
import {assistantMessage, buildInitialMessages, parsePlan, PLAN_FORMAT, renderTemplate, toolResultMessage, utcDate} from './messages.js'
import type {RateLimiter} from './rate-limit.js'
import type {Redactor} from './redact.js'
import {AgentStateMachine} from './state-machine.js'
import {throwIfAborted, ToolLoop, type Approver, type CallResult} from './tool-loop.js'
import {TraceRecorder} from './trace-assembly.js'
import type {RequestTrace, StepTrace, ToolCallOutcome, TraceSide, TraceStatus} from '../trace/schema.js'

export {compileBundle, type CompiledBundle} from './compile.js'
export {AgentStateMachine, ALLOWED_TRANSITIONS, IllegalTransitionError} from './state-machine.js'
export type {Approver} from './tool-loop.js'

/**
 * The shadow runtime's agent loop for one request on one side. It drives the state machine
 * (state-machine.ts) in the order below; each tool call is the tool loop's (tool-loop.ts), and
 * everything recorded on the way becomes the RequestTrace (trace-assembly.ts).
 *
 *  1. retrieve: the pre-model guardrails admit input, documents and memory; a blocked input
 *     finishes `refused`, otherwise the conversation is built from what was admitted.
 *  2. plan: one model call, within the step, token and cost budgets; its answer passes the
 *     post-model guardrails.
 *  3. act → observe, once per proposed call (react mode), or once per planned call with the plan
 *     as the first answer (plan_first mode: a failed planned call departs from the plan, and every
 *     later proposal is refused unrun). A request budget hit during a call finishes here.
 *  4. decide: a turn of calls closes and the model is asked again (back to plan), or a final answer
 *     is judged: needs_approval, then escalated, then refused, else completed.
 *  5. finish.
 *
 * Nothing here sleeps or touches the outside world: latency is simulated, tools are the sandbox's,
 * time is the recorded timestamp.
 */

export type AgentDeps = {
  bundle: Bundle
  compiled: CompiledBundle
  model: ModelClient
  tools: ToolSandbox
  approver: Approver
  faults: FaultInjector | null
  redactor: Redactor
  limiter: RateLimiter
  side: TraceSide
  repeat: number
  signal?: AbortSignal
}

/**
 * Model failures that mean the whole run is invalid (not this request): they must stop it loudly.
 * An answer that is not a chat response (`malformed`) is the server's or the protocol's fault,
 * never this request's: recorded as the request's failure it would fail every request alike.
 * What stays per request: a timeout, a 5xx after retries, an answer over model.max_answer_bytes.
 */
const FATAL_MODEL_ERRORS: ReadonlySet<ModelError['code']> = new Set<ModelError['code']>(['cassette_miss', 'unreachable', 'model_missing', 'malformed'])

export async function runRequest(record: TrafficRecord, line: number, deps: AgentDeps): Promise<RequestTrace> {
  const run = new RequestRun(record, line, deps)
  await run.execute()
  return run.trace()
}

// ------------------------------------------------------------------------------------------------

type Turn = {response: ChatResponse; step: StepTrace; blocked: {reason: string} | null}

class RequestRun {
  private readonly sm = new AgentStateMachine()
  private readonly recorder: TraceRecorder
  private readonly calls: ToolLoop
  private readonly manifest: BundleManifest
  private readonly budgets: Budgets
  private readonly usage: BudgetUsage = emptyUsage()
  /** The model asked for this request: the run's, or (model-free replay) this request's own. */
  private readonly model: ModelClient
  /** Model-free replay: the trajectory being replayed, told what became of each call. */
  private readonly trajectory: TrajectoryModel | null
  private messages: ChatMessage[] = []
  /** plan_first: the rendered plan prompt, sent with the first model call only. */
  private planMessage: string | null = null

  constructor(
    private readonly record: TrafficRecord,
    private readonly line: number,
    private readonly deps: AgentDeps,
  ) {
    this.manifest = deps.compiled.manifest
    this.budgets = deps.compiled.manifest.budgets
    this.recorder = new TraceRecorder(deps.redactor)
    this.calls = new ToolLoop(record, deps, deps.tools.forRequest(record), this.recorder, this.usage, Date.parse(record.timestamp))
    this.trajectory = deps.model.forRequest?.(record, {planFirst: this.manifest.agent.mode === 'plan_first'}) ?? null
    this.model = this.trajectory ?? deps.model
  }

  async execute(): Promise<void> {
    if (!this.retrieve()) return
    if (this.manifest.agent.mode === 'plan_first') await this.planFirst()
    else await this.react()
  }

  trace(): RequestTrace {
    return this.recorder.build(this.record, this.line, this.deps.side, this.deps.repeat, this.sm.steps, this.usage.cost_usd)
  }

  // ---------------------------------------------------------------- 1. retrieve

  /** Pre-model guardrails; builds the conversation. False when the request ends here. */
  private retrieve(): boolean {
    const step = this.sm.enter('retrieve', '')
    const pre = preModelGuardrails(this.record, this.manifest)
    this.recorder.addGuardrails(pre.guardrails)
    // A copy: the tool loop adds what tool results reveal, and starts from "no injection seen there".
    this.calls.signals = {...pre.signals, [INJECTION_IN_TOOL_RESULT]: false}
    step.detail = `admitted ${pre.evidence.length} document(s), ${pre.memory.length} memory entr${pre.memory.length === 1 ? 'y' : 'ies'}`
    if (pre.blocked) {
      this.recorder.decide('pre_model', step.index, null, null, 'deny', pre.blocked.reason, 'guardrail')
      this.finish('refused', `input blocked: ${pre.blocked.reason}`)
      return false
    }
    const c = this.deps.compiled
    const vars = {
      tenant: this.record.tenant,
      user: this.record.user,
      role: this.record.role,
      date: utcDate(Date.parse(this.record.timestamp)),
      tools: c.toolList,
    }
    const parts = {system: renderTemplate(c.system, vars), plan: null, memory: pre.memory, evidence: pre.evidence, input: pre.input}
    this.messages = buildInitialMessages(parts)
    if (c.plan !== null) this.planMessage = renderTemplate(c.plan, vars)
    return true
  }

  // ---------------------------------------------------------------- modes: plan → act/observe → decide

  private async react(): Promise<void> {
    for (;;) {
      const turn = await this.modelTurn(this.messages)
      if (!turn) return
      const calls = turn.response.message.tool_calls
      if (calls.length === 0) return this.finalAnswerTurn(turn)
      turn.step.detail = `model proposed ${calls.length} call(s): ${names(calls)}`
      this.messages.push(assistantMessage(turn.response.message.content, calls))
      for (const call of calls) {
        const result = await this.act(call, this.messages)
        if (result.end !== null) return
      }
      this.sm.enter('decide', `turn closed after ${calls.length} call(s); asking the model again`)
    }
  }

  private async planFirst(): Promise<void> {
    // The plan prompt goes right after the system prompt, on the first call only.
    const first = [this.messages[0]!, {role: 'system' as const, content: this.planMessage ?? ''}, ...this.messages.slice(1)]
    // The plan's JSON Schema as Ollama's `format`: a model that would wrap its plan in prose is held
    // to the JSON the plan parser reads. Tools stay offered: the plan names them and their arguments.
    const turn = await this.modelTurn(first, PLAN_FORMAT)
    if (!turn) return
    const message = turn.response.message
    const parsed =
      message.tool_calls.length > 0
        ? ({ok: false, error: 'the model proposed tool calls instead of a plan'} as const)
        : parsePlan(message.content)
    if (!parsed.ok) {
      this.recorder.error = `plan_first: the model's first answer is not a usable plan: ${parsed.error}`
      this.finish('failed', 'no usable plan')
      return
    }
    const planned = parsed.calls
    turn.step.detail = `plan of ${planned.length} call(s)${planned.length ? ': ' + names(planned) : ''}`

    let departed: string | null = null
    const attempted: ModelToolCall[] = []
    const replies: ChatMessage[] = []
    for (let i = 0; i < planned.length; i++) {
      const call = planned[i]!
      attempted.push(call)
      const result = await this.act(call, replies)
      if (result.end !== null) return
      if (!succeeded(result.outcome)) {
        departed = `planned call ${i + 1} (${call.name}) ended ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`
        break
      }
    }
    this.messages.push(assistantMessage(message.content, attempted), ...replies)
    this.sm.enter(
      'decide',
      departed ? `departed from the plan: ${departed}; asking the model for the answer` : `plan carried out (${attempted.length} call(s)); asking the model for the answer`,
    )

    for (;;) {
      const next = await this.modelTurn(this.messages)
      if (!next) return
      const calls = next.response.message.tool_calls
      if (calls.length === 0) return this.finalAnswerTurn(next)
      next.step.detail = `model proposed ${calls.length} call(s): ${names(calls)}`
      this.messages.push(assistantMessage(next.response.message.content, calls))
      // Every planned call has run (or the run departed), so any call now is off the plan: refused.
      for (const call of calls) {
        departed ??= `the model proposed ${call.name}, which is not in the plan`
        if (!this.refuseUnplanned(call, this.messages)) return
      }
      this.sm.enter('decide', `off the plan: ${departed}; asking the model for the answer`)
    }
  }

  // ---------------------------------------------------------------- 2. plan

  /** One model call in a `plan` step; null when the request ended instead (budget, model failure). */
  private async modelTurn(messages: ChatMessage[], format?: ChatRequest['format']): Promise<Turn | null> {
    throwIfAborted(this.deps.signal)
    const rec = this.recorder
    if (this.usage.steps + 1 > this.budgets.max_steps) {
      rec.budgetHits.push('max_steps')
      this.finish('budget_exceeded', 'step budget spent')
      return null
    }
    const step = this.sm.enter('plan', 'model call')
    const c = this.deps.compiled
    let response: ChatResponse
    try {
      response = await this.model.chat(
        {
          model: this.manifest.model.name,
          messages: messages.slice(),
          tools: c.toolSpecs,
          ...(format === undefined ? {} : {format}),
          ...(this.manifest.model.think === undefined ? {} : {think: this.manifest.model.think}),
          options: c.options,
        },
        this.deps.signal,
      )
    } catch (e) {
      if (e instanceof ModelError && !FATAL_MODEL_ERRORS.has(e.code)) {
        rec.error = this.deps.redactor.redactText(e.message)
        step.detail = `model error (${e.code})`
        this.finish('failed', `model error: ${e.code}`)
        return null
      }
      throw e
    }
    rec.modelCalls++
    this.usage.steps++
    rec.inputTokens += response.input_tokens
    rec.outputTokens += response.output_tokens
    this.usage.total_tokens = rec.inputTokens + rec.outputTokens
    const pricing = this.manifest.model.pricing
    this.usage.cost_usd = (rec.inputTokens / 1000) * pricing.input_per_1k + (rec.outputTokens / 1000) * pricing.output_per_1k
    rec.latencyMs += response.latency_ms
    step.input_tokens = response.input_tokens
    step.output_tokens = response.output_tokens
    step.latency_ms = response.latency_ms
    if (response.thinking) step.thinking = this.deps.redactor.redactText(response.thinking)
    step.detail = response.message.tool_calls.length > 0 ? 'model proposed tool calls' : 'model answered'

    let blocked: {reason: string} | null = null
    if (response.message.content !== '') {
      const post = postModelGuardrails(response.message.content, {manifest: this.manifest, step: step.index})
      rec.addGuardrails(post.guardrails)
      if (post.blocked) {
        blocked = post.blocked
        rec.decide('post_model', step.index, null, null, 'deny', post.blocked.reason, 'guardrail')
      }
    }

    const over = exceededBudgets(this.budgets, this.usage)
    if (over.length > 0) {
      rec.budgetHits.push(...over)
      if (response.message.tool_calls.length === 0) rec.finalAnswer = this.deps.redactor.redactText(response.message.content)
      this.finish('budget_exceeded', `over budget after the model call: ${over.join(', ')}`)
      return null
    }
    return {response, step, blocked}
  }

  // ---------------------------------------------------------------- 3. act → observe

  /**
   * One proposed call: an `act` step, then (unless the request ends) an `observe` step. `end` is
   * set on the result when the request ends here: a request budget, or a model-free replay that
   * can no longer follow its recording.
   */
  private async act(call: ModelToolCall, replies: ChatMessage[]): Promise<CallResult> {
    throwIfAborted(this.deps.signal)
    const step = this.sm.enter('act', call.name)
    const seq = this.recorder.toolCalls.length
    const result = await this.calls.call(call, step, this.trajectory?.attackOf(call))
    step.detail = `${call.name}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`
    if (result.end !== null) {
      this.recorder.budgetHits.push(result.end)
      this.finish('budget_exceeded', `budget ${result.end} hit at ${call.name}`)
      return result
    }
    if (this.diverges(call, result.outcome, result.reason, step.index, seq)) return {...result, end: 'diverged'}
    const told = result.payload.ok ? 'result' : `error ${result.payload.error.code}`
    this.sm.enter('observe', `${call.name}: ${told} returned to the model`)
    replies.push(toolResultMessage(call.name, result.payload))
    return result
  }

  /**
   * Model-free replay: whether the candidate just left the recorded trajectory. If so the request
   * ends here, marked: what production's model proposed next answered something that did not happen.
   */
  private diverges(call: ModelToolCall, outcome: ToolCallOutcome, code: string | null, step: number, seq: number): boolean {
    const d = this.trajectory?.observe(call, {outcome, code}) ?? null
    if (d === null) return false
    this.recorder.diverged = {step, tool_call_seq: seq, tool: call.name, reason: d.reason, code: d.code, recorded: d.recorded}
    // What the candidate's own refusal makes of the request; what a model would do next is unknown.
    const status: TraceStatus =
      d.reason === 'held_for_approval' ? 'needs_approval'
      : d.reason === 'budget_exceeded' ? 'budget_exceeded'
      : d.reason === 'denied' || d.reason === 'not_in_plan' ? 'refused'
      : d.reason === 'ran_refused_call' ? 'completed'
      : 'failed'
    this.finish(status, `replay diverged at ${call.name}: ${d.reason}${d.code ? ` (${d.code})` : ''}; the recording no longer applies`)
    return true
  }

  /** plan_first after a departure: the call is recorded and refused, never executed. False when the request ended. */
  private refuseUnplanned(call: ModelToolCall, replies: ChatMessage[]): boolean {
    const step = this.sm.enter('act', `${call.name}: refused, not in the plan`)
    const seq = this.recorder.toolCalls.length
    this.calls.refuseUnplanned(call, step, this.trajectory?.attackOf(call))
    if (this.diverges(call, 'denied', 'NOT_IN_PLAN', step.index, seq)) return false
    this.sm.enter('observe', `${call.name}: error policy_denied returned to the model`)
    replies.push(
      toolResultMessage(call.name, {
        ok: false,
        error: {code: 'policy_denied', message: 'not in the plan; no further tool calls will run, write the final answer'},
      }),
    )
    return true
  }

  // ---------------------------------------------------------------- 4. decide → 5. finish

  private finalAnswerTurn(turn: Turn): void {
    this.recorder.finalAnswer = this.deps.redactor.redactText(turn.response.message.content)
    if (turn.blocked) {
      this.sm.enter('decide', `final answer blocked: ${turn.blocked.reason}`)
      this.finish('refused', `refused: ${turn.blocked.reason}`)
      return
    }
    // A call left waiting for a human approver is the request's real outcome, even when the agent
    // also opened a ticket about it (production records it so); then a completed escalation; then a
    // refusal by policy; otherwise the model simply answered.
    const status: TraceStatus = this.calls.awaitingApproval
      ? 'needs_approval'
      : this.calls.escalated
        ? 'escalated'
        : this.calls.policyDenied
          ? 'refused'
          : 'completed'
    this.sm.enter('decide', `final answer accepted (${status})`)
    this.finish(status, status)
  }

  private finish(status: TraceStatus, detail: string): void {
    this.recorder.status = status
    this.sm.enter('finish', detail)
  }
}

function succeeded(outcome: ToolCallOutcome): boolean {
  return outcome === 'ok' || outcome === 'deduplicated'
}

function names(calls: ModelToolCall[]): string {
  return calls.map((c) => c.name).join(', ')
}
