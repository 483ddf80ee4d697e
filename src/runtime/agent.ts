import type {Budgets, Bundle, BundleManifest, TenantQuota} from '../bundle/schema.js'
import {formatArgIssues} from '../tools/contract.js'
import {ModelError} from '../errors.js'
import type {ChatMessage, ChatRequest, ChatResponse, ModelClient, ModelToolCall, TrajectoryModel} from '../model/types.js'
import type {FaultInjector, ToolSandbox} from '../tools/sandbox.js'
import type {TrafficRecord, UserTurn} from '../traffic/schema.js'
import {emptyUsage, exceededBudgets, type BudgetUsage} from './budget.js'
import {type CompiledBundle, offerOf, type ToolOffer} from './compile.js'
import {classifyIntent, intentResult} from './guardrails/intent.js'
import {RATE_LIMITED_TENANT, rateKeys} from './guardrails/mid-run.js'
import {INJECTION_IN_TOOL_RESULT} from './guardrails/post-action.js'
import {postModelGuardrails} from './guardrails/post-model.js'
import {preModelGuardrails, userTurnGuardrails} from './guardrails/pre-model.js'
import {assistantMessage, buildInitialMessages, parseJsonAnswer, parsePlan, renderPrompt, toolResultMessage, utcDate} from './messages.js'
import type {RateLimiter} from './rate-limit.js'
import type {Redactor} from './redact.js'
import {AgentStateMachine} from './state-machine.js'
import {throwIfAborted, ToolLoop, type ApprovalBook, type Approver, type CallResult} from './tool-loop.js'
import {TraceRecorder} from './trace-assembly.js'
import type {RequestTrace, StepTrace, ToolCallOutcome, TraceSide, TraceStatus} from '../trace/schema.js'

export {compileBundle, type CompiledBundle} from './compile.js'
export {AgentStateMachine, ALLOWED_TRANSITIONS, IllegalTransitionError} from './state-machine.js'
export type {ApprovalBook, Approver} from './tool-loop.js'

export const OUTPUT_NOT_JSON = 'OUTPUT_NOT_JSON'
export const OUTPUT_SCHEMA_INVALID = 'OUTPUT_SCHEMA_INVALID'

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
 *     as the first answer (plan_first mode: a planned call that is denied or fails departs from the
 *     plan; the model replans while agent.max_replans allows, else every later proposal is refused
 *     unrun). A request budget hit during a call finishes here.
 *  4. decide: a turn of calls closes and the model is asked again (back to plan), or a final answer
 *     is judged: needs_approval, then escalated, then refused, else completed. A multi-turn record
 *     (traffic `turns`): an answer accepted while a later user turn remains ends that turn instead;
 *     the user's message (checked as input is) joins the conversation and the same request goes
 *     on (back to plan; plan_first: a new plan), its budgets, ledger, history and taint whole.
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
  /** People's decisions on held calls (`approvals apply`); they take precedence over `approver`. */
  approvals?: ApprovalBook
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
  /**
   * Whether the model reads the conversation. One that does not (model-free `recorded` replay:
   * production's proposals, whatever it is told) is sent none, and no prompt, message or tool
   * result text is built for it; nothing else reads them.
   */
  private readonly converses: boolean
  /** plan_first: the rendered plan prompt, sent with the first model call only. */
  private planMessage: string | null = null
  /** What this request is offered: every enabled tool, or its intent's (guardrails.intents). */
  private offer: ToolOffer
  /** The user turn the conversation is in: 0 for the input, k once `record.turns[k - 1]` came in. */
  private userTurn = 0
  /** The request's recorded time: what rate limits and the prompt's date are computed from. */
  private readonly nowMs: number
  /** The tenant's `tenant_quotas` entry, if any. */
  private readonly tenantQuota: TenantQuota | undefined
  /** The limiter key of the tenant's tokens per minute, built once per request. */
  private tokensKey: string | null = null

  constructor(
    private readonly record: TrafficRecord,
    private readonly line: number,
    private readonly deps: AgentDeps,
  ) {
    this.manifest = deps.compiled.manifest
    this.budgets = deps.compiled.manifest.budgets
    this.recorder = new TraceRecorder(deps.redactor)
    this.nowMs = Date.parse(record.timestamp)
    const quotas = this.manifest.tenant_quotas
    this.tenantQuota = Object.hasOwn(quotas, record.tenant) ? quotas[record.tenant] : undefined
    this.calls = new ToolLoop(record, deps, deps.tools.forRequest(record), this.recorder, this.usage, this.nowMs)
    this.trajectory = deps.model.forRequest?.(record, {planFirst: this.manifest.agent.mode === 'plan_first'}) ?? null
    this.model = this.trajectory ?? deps.model
    this.converses = this.trajectory?.readsMessages ?? true
    const c = deps.compiled
    this.offer = this.withoutFlaggedOff({toolSpecs: c.toolSpecs, toolList: c.toolList, planning: c.planning})
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
    // tenant_quotas.max_requests_per_minute, over recorded time: an over-quota request never starts.
    const perMinute = this.tenantQuota?.max_requests_per_minute
    if (perMinute !== undefined && !this.deps.limiter.take(rateKeys.requests(this.record.tenant), perMinute, this.nowMs)) {
      const why = `tenant ${this.record.tenant} is over ${perMinute} request(s) per minute`
      this.recorder.addGuardrails([{stage: 'pre_model', step: 0, check: 'rate_limit.tenant_requests', passed: false, severity: 'medium', detail: why}])
      this.recorder.decide('pre_model', step.index, null, null, 'deny', RATE_LIMITED_TENANT, 'tenant_quota')
      this.recorder.error = `${RATE_LIMITED_TENANT}: ${why}`
      this.finish('refused', `${RATE_LIMITED_TENANT}: ${why}`)
      return false
    }
    const pre = preModelGuardrails(this.record, this.manifest)
    const intents = this.deps.compiled.intents
    if (intents !== null && !pre.blocked) {
      // The intent decides what the request is offered and may call, before the model sees anything.
      const lastUser = pre.input.findLast((m) => m.role === 'user')?.content ?? ''
      const match = classifyIntent(lastUser, intents.list)
      const intent = match.intent === null ? null : intents.list.find((i) => i === match.intent)!
      this.offer = this.withoutFlaggedOff(intent === null ? intents.unmatched : intent.offer)
      this.calls.allowedTools = intent === null ? {intent: null, tools: new Set()} : {intent: intent.name, tools: intent.tools}
      this.recorder.addGuardrails([intentResult(match)])
    }
    this.recorder.addGuardrails(pre.guardrails)
    // A copy: the tool loop adds what tool results reveal, and starts from "no injection seen there".
    // Object.assign, not a spread: on this V8 (Node 20) an object cloned by `{...x}` takes the slow
    // path for every property added to it afterwards (~3-8 µs here, ~0.1 µs this way).
    const signals = Object.assign({}, pre.signals)
    signals[INJECTION_IN_TOOL_RESULT] = false
    this.calls.signals = signals
    step.detail = `admitted ${pre.evidence.length} document(s), ${pre.memory.length} memory entr${pre.memory.length === 1 ? 'y' : 'ies'}`
    if (pre.blocked) {
      this.recorder.decide('pre_model', step.index, null, null, 'deny', pre.blocked.reason, 'guardrail')
      this.finish('refused', `input blocked: ${pre.blocked.reason}`)
      return false
    }
    const c = this.deps.compiled
    const prompts = c.promptsFor(this.record.tenant)
    if (prompts.off.length > 0) step.detail += `; prompt section(s) flagged off: ${prompts.off.join(', ')}`
    if (!this.converses) return true
    const vars = {
      tenant: this.record.tenant,
      user: this.record.user,
      role: this.record.role,
      date: utcDate(this.nowMs),
      tools: this.offer.toolList,
    }
    const parts = {system: renderPrompt(prompts.system, vars), plan: null, memory: pre.memory, evidence: pre.evidence, input: pre.input}
    this.messages = buildInitialMessages(parts)
    if (prompts.plan !== null) this.planMessage = renderPrompt(prompts.plan, vars)
    return true
  }

  // ---------------------------------------------------------------- modes: plan → act/observe → decide

  private async react(): Promise<void> {
    for (;;) {
      const turn = await this.modelTurn(this.messages)
      if (!turn) return
      const calls = turn.response.message.tool_calls
      if (calls.length === 0) {
        if (this.finalAnswerTurn(turn)) continue
        return
      }
      turn.step.detail = `model proposed ${calls.length} call(s): ${names(calls)}`
      if (this.converses) this.messages.push(assistantMessage(turn.response.message.content, calls))
      for (const call of calls) {
        const result = await this.act(call, this.messages)
        if (result.end !== null) return
      }
      if (this.endsAfterTurn(calls.length)) return
      this.sm.enter('decide', `turn closed after ${calls.length} call(s); asking the model again`)
    }
  }

  /**
   * A turn after which only a person can move the request on (writes drafted, a held call proposed
   * again): it ends `needs_approval` with the model's answer so far, instead of asking the model
   * to repeat itself until the step budget runs out.
   */
  private endsAfterTurn(calls: number): boolean {
    const why = this.calls.endAfterTurn
    if (why === null) return false
    this.sm.enter('decide', `turn closed after ${calls} call(s): ${why}; waiting for a person`)
    this.finish('needs_approval', why)
    return true
  }

  /**
   * plan_first: a planning call (the plan's JSON Schema as `format`, no tools offered, the tool
   * catalog in the prompt), then the plan's calls, at most as many as the plan says it will make.
   * A planned call that is denied or fails departs from the plan: while `agent.max_replans` allows,
   * the model is asked for a new plan with what happened so far; otherwise (or once a plan is carried
   * out) it is asked for the answer, and any call it proposes then is refused unrun as not in the plan.
   */
  private async planFirst(): Promise<void> {
    const planning = this.offer.planning!
    const maxReplans = this.manifest.agent.max_replans ?? 0
    // The plan prompt and the tool catalog go right after the system prompt, on the first call only.
    const first = this.converses ? [this.messages[0]!, {role: 'system' as const, content: this.planMessage ?? ''}, planning.catalog, ...this.messages.slice(1)] : this.messages
    let turn = await this.modelTurn(first, planning.format, false)
    // One pass per user turn: a later turn gets a plan of its own, asked as a replan is.
    for (;;) {
      if (!(await this.planFirstTurn(turn, maxReplans))) return
      turn = await this.modelTurn(this.replanMessages(), planning.format, false)
    }
  }

  /** One user turn of plan_first from its plan (`turn`): true when a later user turn came in. */
  private async planFirstTurn(turn: Turn | null, maxReplans: number): Promise<boolean> {
    const planning = this.offer.planning!
    let replans = 0
    let departed: string | null = null
    for (;;) {
      if (!turn) return false
      const message = turn.response.message
      const parsed =
        message.tool_calls.length > 0
          ? ({ok: false, error: 'the model proposed tool calls instead of a plan'} as const)
          : parsePlan(message.content)
      if (!parsed.ok) {
        this.recorder.error = `plan_first: the model's ${replans === 0 ? 'first answer' : `replan ${replans}`} is not a usable plan: ${parsed.error}`
        this.finish('failed', 'no usable plan')
        return false
      }
      const planned = parsed.calls
      turn.step.detail = `${replans === 0 ? 'plan' : `replan ${replans}`} of ${planned.length} call(s)${planned.length ? ': ' + names(planned) : ''}; budget ${parsed.max_tool_calls} call(s)`

      departed = null
      const attempted: ModelToolCall[] = []
      const replies: ChatMessage[] = []
      for (let i = 0; i < planned.length; i++) {
        const call = planned[i]!
        attempted.push(call)
        if (i >= parsed.max_tool_calls) {
          const why = `the plan said it would make ${parsed.max_tool_calls} call(s)`
          if (!this.refuseUnplanned(call, replies, 'PLAN_BUDGET_EXCEEDED', why)) return false
          departed = `planned call ${i + 1} (${call.name}) is over the plan's own budget: ${why}`
          break
        }
        const result = await this.act(call, replies)
        if (result.end !== null) return false
        if (!succeeded(result.outcome)) {
          departed = `planned call ${i + 1} (${call.name}) ended ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`
          break
        }
      }
      if (this.converses) this.messages.push(assistantMessage(message.content, attempted), ...replies)
      if (this.endsAfterTurn(attempted.length)) return false
      if (departed === null || replans >= maxReplans) break
      replans++
      this.sm.enter('decide', `departed from the plan: ${departed}; replanning (${replans} of ${maxReplans})`)
      // The replan request goes last, after what happened, on this call only.
      turn = await this.modelTurn(this.replanMessages(), planning.format, false)
    }
    this.sm.enter(
      'decide',
      departed ? `departed from the plan: ${departed}; asking the model for the answer` : `plan carried out; asking the model for the answer`,
    )

    // The answer phase runs no call, so under an output schema it is a final-answer call: no tools
    // offered, the schema as `format`. Without one it offers the tools as it always has.
    const answerFormat = this.deps.compiled.answerFormat
    for (;;) {
      const next = answerFormat === null ? await this.modelTurn(this.messages) : await this.modelTurn(this.messages, answerFormat, false)
      if (!next) return false
      const calls = next.response.message.tool_calls
      if (calls.length === 0) return this.finalAnswerTurn(next)
      next.step.detail = `model proposed ${calls.length} call(s): ${names(calls)}`
      if (this.converses) this.messages.push(assistantMessage(next.response.message.content, calls))
      // Every planned call has run (or the run departed), so any call now is off the plan: refused.
      for (const call of calls) {
        departed ??= `the model proposed ${call.name}, which is not in the plan`
        if (!this.refuseUnplanned(call, this.messages, 'NOT_IN_PLAN', 'not in the plan')) return false
      }
      if (this.endsAfterTurn(calls.length)) return false
      this.sm.enter('decide', `off the plan: ${departed}; asking the model for the answer`)
    }
  }

  /** plan_first: what a (re)planning call is sent, the plan prompt and the tool catalog last. */
  private replanMessages(): ChatMessage[] {
    if (!this.converses) return this.messages
    return [...this.messages, {role: 'system', content: this.planMessage ?? ''}, this.offer.planning!.catalog]
  }

  // ---------------------------------------------------------------- 2. plan

  /** One model call in a `plan` step; null when the request ended instead (budget, model failure). */
  private async modelTurn(messages: ChatMessage[], format?: ChatRequest['format'], offerTools = true): Promise<Turn | null> {
    throwIfAborted(this.deps.signal)
    const rec = this.recorder
    if (this.usage.steps + 1 > this.budgets.max_steps) {
      rec.budgetHits.push('max_steps')
      this.finish('budget_exceeded', 'step budget spent')
      return null
    }
    // tenant_quotas.max_tokens_per_minute: the tenant's tokens in the last minute of recorded time.
    const tokenQuota = this.tenantQuota?.max_tokens_per_minute
    if (tokenQuota !== undefined && this.deps.limiter.tokens.sum((this.tokensKey ??= rateKeys.tokens(this.record.tenant)), this.nowMs) >= tokenQuota) {
      const why = `tenant ${this.record.tenant} is over ${tokenQuota} token(s) per minute`
      rec.addGuardrails([{stage: 'mid_run', step: this.sm.steps.length - 1, check: 'rate_limit.tenant_tokens', passed: false, severity: 'medium', detail: why}])
      rec.decide('mid_run', this.sm.steps.length - 1, null, null, 'deny', RATE_LIMITED_TENANT, 'tenant_quota')
      rec.budgetHits.push('tenant_quota.max_tokens_per_minute')
      rec.error = `${RATE_LIMITED_TENANT}: ${why}`
      this.finish('budget_exceeded', `${RATE_LIMITED_TENANT}: ${why}`)
      return null
    }
    const step = this.sm.enter('plan', 'model call')
    const c = this.deps.compiled
    const tools = offerTools ? this.offer.toolSpecs : []
    // A call offering no tools can only be answered in text: the output schema constrains it, unless
    // the caller asked for another format (plan_first's plan).
    const shape = format ?? (tools.length === 0 && c.answerFormat !== null ? c.answerFormat : undefined)
    // Built property by property in the wire order (model, messages, tools, format, think, options):
    // the same object as spreading the optional keys in, without the two throwaway objects a call.
    const request = {model: this.manifest.model.name, messages: messages.slice(), tools} as ChatRequest
    if (shape !== undefined) request.format = shape
    const think = this.manifest.model.think
    if (think !== undefined) request.think = think
    request.options = c.options
    let response: ChatResponse
    try {
      response = await this.model.chat(request, this.deps.signal)
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
    if (tokenQuota !== undefined) this.deps.limiter.tokens.add((this.tokensKey ??= rateKeys.tokens(this.record.tenant)), this.nowMs, response.input_tokens + response.output_tokens)
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

  /** An offer less the tools a feature flag turns off for this request's tenant. */
  private withoutFlaggedOff(offer: ToolOffer): ToolOffer {
    const off = this.calls.flaggedOff
    if (off.size === 0) return offer
    return offerOf(
      offer.toolSpecs.filter((t) => !off.has(t.function.name)),
      offer.planning !== null,
    )
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
    if (this.diverges(call, result.outcome, result.reason, step.index, seq)) return Object.assign({}, result, {end: 'diverged'})
    const told = result.payload.ok ? 'result' : `error ${result.payload.error.code}`
    this.sm.enter('observe', `${call.name}: ${told} returned to the model`)
    if (this.converses) replies.push(toolResultMessage(call.name, result.payload))
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

  /** plan_first: the call is recorded and refused, never executed (see ToolLoop.refuseUnplanned). False when the request ended. */
  private refuseUnplanned(call: ModelToolCall, replies: ChatMessage[], reason: 'NOT_IN_PLAN' | 'PLAN_BUDGET_EXCEEDED', why: string): boolean {
    const step = this.sm.enter('act', `${call.name}: refused, ${why}`)
    const seq = this.recorder.toolCalls.length
    this.calls.refuseUnplanned(call, step, reason, why, this.trajectory?.attackOf(call))
    if (this.diverges(call, 'denied', reason, step.index, seq)) return false
    this.sm.enter('observe', `${call.name}: error policy_denied returned to the model`)
    if (this.converses) replies.push(toolResultMessage(call.name, {ok: false, error: {code: 'policy_denied', message: `${why}; no further tool calls will run, write the final answer`}}))
    return true
  }

  // ---------------------------------------------------------------- 4. decide → 5. finish

  /** An answer without calls: the request's final answer, or (true) the end of a turn a later user turn follows. */
  private finalAnswerTurn(turn: Turn): boolean {
    this.recorder.finalAnswer = this.deps.redactor.redactText(turn.response.message.content)
    if (turn.blocked) {
      this.sm.enter('decide', `final answer blocked: ${turn.blocked.reason}`)
      this.finish('refused', `refused: ${turn.blocked.reason}`)
      return false
    }
    const invalid = this.outputProblem(turn.step.index, turn.response.message.content)
    if (invalid !== null) {
      this.recorder.error = invalid
      this.sm.enter('decide', `final answer rejected: ${invalid}`)
      this.finish('failed', invalid.slice(0, invalid.indexOf(':')))
      return false
    }
    const next = this.record.turns?.[this.userTurn]
    if (next !== undefined) return this.nextUserTurn(turn.response.message.content, next)
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
    return false
  }

  /**
   * The model's answer ended a turn and the record's next user turn comes in: checked as input is
   * (an injection there blocks as it would in the input), then added to the conversation, and
   * the tool loop's calls from here on belong to it. False when the turn's input is blocked.
   */
  private nextUserTurn(answer: string, next: UserTurn): boolean {
    this.userTurn++
    const step = this.sm.enter('decide', `answer ends turn ${this.userTurn - 1}; user turn ${this.userTurn} of ${this.record.turns!.length} comes in`)
    const checked = userTurnGuardrails(next.content, this.manifest, step.index)
    this.recorder.addGuardrails(checked.guardrails)
    if (checked.injection) this.calls.signals = Object.assign({}, this.calls.signals, {injection_in_input: true})
    if (checked.blocked) {
      this.recorder.decide('pre_model', step.index, null, null, 'deny', checked.blocked.reason, 'guardrail')
      this.finish('refused', `user turn ${this.userTurn} blocked: ${checked.blocked.reason}`)
      return false
    }
    if (this.converses) this.messages.push({role: 'assistant', content: answer}, {role: 'user', content: checked.content})
    this.calls.userTurn(answer, checked.content)
    return true
  }

  /**
   * guardrails.output_schema: null when the final answer is one JSON document valid against it (or
   * the bundle declares none); else the reason, recorded as a post-model finding and decision.
   */
  private outputProblem(step: number, content: string): string | null {
    const validate = this.deps.compiled.outputSchema
    if (validate === null) return null
    const parsed = parseJsonAnswer(content)
    const problem =
      parsed === undefined
        ? `${OUTPUT_NOT_JSON}: the final answer is not one JSON document`
        : (() => {
            const issues = validate(parsed.value)
            return issues.length === 0 ? null : `${OUTPUT_SCHEMA_INVALID}: ${formatArgIssues(issues)}`
          })()
    const redacted = problem === null ? null : this.deps.redactor.redactText(problem)
    this.recorder.addGuardrails([
      {stage: 'post_model', step, check: 'output.schema', passed: problem === null, severity: problem === null ? 'info' : 'high', detail: redacted ?? 'the final answer matches the output schema'},
    ])
    if (redacted !== null) this.recorder.decide('post_model', step, null, null, 'deny', redacted.slice(0, redacted.indexOf(':')), 'output_schema')
    return redacted
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
