import type {Budgets, Bundle, BundleManifest, ToolContract} from '../bundle/schema.js'
import {ModelError} from '../errors.js'
import type {ChatMessage, ChatResponse, ModelClient, ModelToolCall} from '../model/types.js'
import type {Signals} from '../policy/engine.js'
import {callSignatureOf, idempotencyKeyOf, isUnkeyedWrite, OutcomeLedger} from '../tools/ledger.js'
import type {FaultInjector, RequestTools, ToolSandbox} from '../tools/sandbox.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {canonicalJson, sha256} from '../util/canonical.js'
import {canCallTool, emptyUsage, exceededBudgets, type BudgetUsage} from './budget.js'
import type {CompiledBundle} from './compile.js'
import {midRunGuardrails, type MidRunVerdict} from './guardrails/mid-run.js'
import {postActionGuardrails} from './guardrails/post-action.js'
import {postModelGuardrails} from './guardrails/post-model.js'
import {preModelGuardrails} from './guardrails/pre-model.js'
import {
  assistantMessage,
  buildInitialMessages,
  parsePlan,
  renderTemplate,
  utcDate,
  toolResultMessage,
  type ToolMessageCode,
  type ToolPayload,
} from './messages.js'
import type {RateLimiter} from './rate-limit.js'
import type {Redactor} from './redact.js'
import type {
  AgentState,
  GuardrailResult,
  PolicyDecisionTrace,
  RequestTrace,
  StepTrace,
  ToolCallOutcome,
  ToolCallTrace,
  TraceSide,
  TraceStatus,
} from './trace.js'

export {compileBundle, type CompiledBundle} from './compile.js'

/**
 * The shadow runtime's agent loop for one request on one side: an explicit state machine
 *
 *   retrieve → plan → act → observe → … → decide → plan … → finish
 *
 * `retrieve` admits context (pre-model guardrails), `plan` is one model call, `act`/`observe` run
 * one proposed tool call and hand its result back, `decide` closes a turn (or judges a final
 * answer) and chooses between another model call and `finish`. Every transition is checked against
 * ALLOWED_TRANSITIONS and recorded as a StepTrace. Nothing here sleeps or touches the outside
 * world: latency is simulated, tools are the sandbox's, time is the recorded timestamp.
 */

export type Approver = 'approve' | 'deny' | 'pending'

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

/** The tool whose successful call turns a finished request into `escalated`. */
export const ESCALATION_TOOL = 'escalate_ticket'

/** Model failures that mean the whole run is invalid (not this request): they must stop it loudly. */
const FATAL_MODEL_ERRORS = new Set<ModelError['code']>(['cassette_miss', 'unreachable', 'model_missing'])

type From = AgentState | 'start'

export const ALLOWED_TRANSITIONS: Readonly<Record<From, readonly AgentState[]>> = {
  start: ['retrieve'],
  // Context admitted: ask the model, or stop (input blocked, no step budget at all).
  retrieve: ['plan', 'finish'],
  // A model answer: tool calls to run, a final answer (or plan outcome) to judge, or an end
  // (model failure, token/cost budget, unusable plan).
  plan: ['act', 'decide', 'finish'],
  // A call ends in an observation, or the request ends on a budget.
  act: ['observe', 'finish'],
  // Next call of the same turn, or close the turn.
  observe: ['act', 'decide'],
  decide: ['plan', 'finish'],
  finish: [],
}

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: From,
    readonly to: AgentState,
  ) {
    super(`illegal agent transition ${from} → ${to} (allowed: ${ALLOWED_TRANSITIONS[from].join(', ') || 'none'})`)
    this.name = 'IllegalTransitionError'
  }
}

/** Records steps; refuses (throws) any transition the table does not allow, because that is a bug. */
export class AgentStateMachine {
  private current: From = 'start'
  readonly steps: StepTrace[] = []

  get state(): From {
    return this.current
  }

  enter(to: AgentState, detail: string): StepTrace {
    if (!ALLOWED_TRANSITIONS[this.current].includes(to)) throw new IllegalTransitionError(this.current, to)
    const step: StepTrace = {index: this.steps.length, state: to, detail, input_tokens: 0, output_tokens: 0, latency_ms: 0}
    this.steps.push(step)
    this.current = to
    return step
  }
}

export async function runRequest(record: TrafficRecord, line: number, deps: AgentDeps): Promise<RequestTrace> {
  const run = new RequestRun(record, line, deps)
  await run.execute()
  return run.trace()
}

// ------------------------------------------------------------------------------------------------

type CallResult = {
  outcome: ToolCallOutcome
  /** What the model is told; absent when the request ends on this call. */
  payload: ToolPayload
  /** Reason code behind a refusal, for step details and plan departures. */
  reason: string | null
  /** Budget whose exhaustion ends the request here. */
  end: string | null
}

type Turn = {response: ChatResponse; step: StepTrace; blocked: {reason: string} | null}

const RETRYABLE_CODES = new Set(['timeout', 'rate_limited', 'server_error'])

class RequestRun {
  private readonly sm = new AgentStateMachine()
  private readonly manifest: BundleManifest
  private readonly budgets: Budgets
  private readonly toolCalls: ToolCallTrace[] = []
  private readonly decisions: PolicyDecisionTrace[] = []
  private readonly guardrails: GuardrailResult[] = []
  private readonly budgetHits: string[] = []
  private readonly usage: BudgetUsage = emptyUsage()
  private readonly ledger = new OutcomeLedger()
  private readonly tools: RequestTools
  private readonly nowMs: number
  private signals: Signals = {}
  private messages: ChatMessage[] = []
  /** plan_first: the rendered plan prompt, sent with the first model call only. */
  private planMessage: string | null = null
  private inputTokens = 0
  private outputTokens = 0
  private modelCalls = 0
  private latencyMs = 0
  private status: TraceStatus = 'failed'
  private finalAnswer = ''
  private error: string | null = null
  /** Logical calls proposed so far (retries share their call's index). */
  private proposals = 0
  private awaitingApproval = false
  private policyDenied = false
  private escalated = false
  /** The model has already been told once that the retry budget is spent. */
  private retriesSpentTold = false

  constructor(
    private readonly record: TrafficRecord,
    private readonly line: number,
    private readonly deps: AgentDeps,
  ) {
    this.manifest = deps.compiled.manifest
    this.budgets = deps.compiled.manifest.budgets
    this.tools = deps.tools.forRequest(record)
    this.nowMs = Date.parse(record.timestamp)
  }

  async execute(): Promise<void> {
    if (!this.retrieve()) return
    if (this.manifest.agent.mode === 'plan_first') await this.planFirst()
    else await this.react()
  }

  // ---------------------------------------------------------------- retrieve

  /** Pre-model guardrails; builds the conversation. False when the request ends here. */
  private retrieve(): boolean {
    const step = this.sm.enter('retrieve', '')
    const pre = preModelGuardrails(this.record, this.manifest)
    this.addGuardrails(pre.guardrails)
    this.signals = pre.signals
    step.detail = `admitted ${pre.evidence.length} document(s), ${pre.memory.length} memory entr${pre.memory.length === 1 ? 'y' : 'ies'}`
    if (pre.blocked) {
      this.decide('pre_model', step.index, null, null, 'deny', pre.blocked.reason, 'guardrail')
      this.finish('refused', `input blocked: ${pre.blocked.reason}`)
      return false
    }
    const c = this.deps.compiled
    const vars = {
      tenant: this.record.tenant,
      user: this.record.user,
      role: this.record.role,
      date: utcDate(this.nowMs),
      tools: c.toolList,
    }
    const parts = {system: renderTemplate(c.system, vars), plan: null, memory: pre.memory, evidence: pre.evidence, input: pre.input}
    this.messages = buildInitialMessages(parts)
    if (c.plan !== null) this.planMessage = renderTemplate(c.plan, vars)
    return true
  }

  // ---------------------------------------------------------------- modes

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
    const turn = await this.modelTurn(first)
    if (!turn) return
    const message = turn.response.message
    const parsed =
      message.tool_calls.length > 0
        ? ({ok: false, error: 'the model proposed tool calls instead of a plan'} as const)
        : parsePlan(message.content)
    if (!parsed.ok) {
      this.error = `plan_first: the model's first answer is not a usable plan: ${parsed.error}`
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
        this.refuseUnplanned(call, this.messages)
      }
      this.sm.enter('decide', `off the plan: ${departed}; asking the model for the answer`)
    }
  }

  // ---------------------------------------------------------------- model

  /** One model call in a `plan` step; null when the request ended instead (budget, model failure). */
  private async modelTurn(messages: ChatMessage[]): Promise<Turn | null> {
    this.checkAbort()
    if (this.usage.steps + 1 > this.budgets.max_steps) {
      this.budgetHits.push('max_steps')
      this.finish('budget_exceeded', 'step budget spent')
      return null
    }
    const step = this.sm.enter('plan', 'model call')
    const c = this.deps.compiled
    let response: ChatResponse
    try {
      response = await this.deps.model.chat(
        {model: this.manifest.model.name, messages: messages.slice(), tools: c.toolSpecs, options: c.options},
        this.deps.signal,
      )
    } catch (e) {
      if (e instanceof ModelError && !FATAL_MODEL_ERRORS.has(e.code)) {
        this.error = this.deps.redactor.redactText(e.message)
        step.detail = `model error (${e.code})`
        this.finish('failed', `model error: ${e.code}`)
        return null
      }
      throw e
    }
    this.modelCalls++
    this.usage.steps++
    this.inputTokens += response.input_tokens
    this.outputTokens += response.output_tokens
    this.usage.total_tokens = this.inputTokens + this.outputTokens
    const pricing = this.manifest.model.pricing
    this.usage.cost_usd =
      (this.inputTokens / 1000) * pricing.input_per_1k + (this.outputTokens / 1000) * pricing.output_per_1k
    this.latencyMs += response.latency_ms
    step.input_tokens = response.input_tokens
    step.output_tokens = response.output_tokens
    step.latency_ms = response.latency_ms
    step.detail = response.message.tool_calls.length > 0 ? 'model proposed tool calls' : 'model answered'

    let blocked: {reason: string} | null = null
    if (response.message.content !== '') {
      const post = postModelGuardrails(response.message.content, {manifest: this.manifest, step: step.index})
      this.addGuardrails(post.guardrails)
      if (post.blocked) {
        blocked = post.blocked
        this.decide('post_model', step.index, null, null, 'deny', post.blocked.reason, 'guardrail')
      }
    }

    const over = exceededBudgets(this.budgets, this.usage)
    if (over.length > 0) {
      this.budgetHits.push(...over)
      if (response.message.tool_calls.length === 0) this.finalAnswer = this.deps.redactor.redactText(response.message.content)
      this.finish('budget_exceeded', `over budget after the model call: ${over.join(', ')}`)
      return null
    }
    return {response, step, blocked}
  }

  private finalAnswerTurn(turn: Turn): void {
    this.finalAnswer = this.deps.redactor.redactText(turn.response.message.content)
    if (turn.blocked) {
      this.sm.enter('decide', `final answer blocked: ${turn.blocked.reason}`)
      this.finish('refused', `refused: ${turn.blocked.reason}`)
      return
    }
    // A call left waiting for a human approver is the request's real outcome, even when the agent
    // also opened a ticket about it (production records it so); then a completed escalation; then a
    // refusal by policy; otherwise the model simply answered.
    const status: TraceStatus = this.awaitingApproval
      ? 'needs_approval'
      : this.escalated
        ? 'escalated'
        : this.policyDenied
          ? 'refused'
          : 'completed'
    this.sm.enter('decide', `final answer accepted (${status})`)
    this.finish(status, status)
  }

  // ---------------------------------------------------------------- tools

  /** One proposed call: an `act` step, then (unless the request ends) an `observe` step. */
  private async act(call: ModelToolCall, replies: ChatMessage[]): Promise<CallResult> {
    this.checkAbort()
    const step = this.sm.enter('act', call.name)
    const result = await this.handleCall(call, step)
    step.detail = `${call.name}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`
    if (result.end !== null) {
      this.budgetHits.push(result.end)
      this.finish('budget_exceeded', `budget ${result.end} hit at ${call.name}`)
      return result
    }
    const told = result.payload.ok ? 'result' : `error ${result.payload.error.code}`
    this.sm.enter('observe', `${call.name}: ${told} returned to the model`)
    replies.push(toolResultMessage(call.name, result.payload))
    return result
  }

  /** plan_first after a departure: the call is recorded and refused, never executed. */
  private refuseUnplanned(call: ModelToolCall, replies: ChatMessage[]): void {
    const step = this.sm.enter('act', `${call.name}: refused, not in the plan`)
    const args = argsOf(call)
    const contract = this.deps.compiled.tools.get(call.name)?.contract
    this.proposals++
    const seq = this.toolCalls.length
    this.decide('mid_run', step.index, seq, call.name, 'deny', 'NOT_IN_PLAN', 'plan')
    this.pushCall(callTrace(this.callBase(call.name, args, canonicalJson(args), contract, step.index), seq, 1, 'denied', false, null, 'NOT_IN_PLAN: not in the plan', 0))
    this.sm.enter('observe', `${call.name}: error policy_denied returned to the model`)
    replies.push(
      toolResultMessage(call.name, {
        ok: false,
        error: {code: 'policy_denied', message: 'not in the plan; no further tool calls will run, write the final answer'},
      }),
    )
  }

  /** `canonical` is canonicalJson(args), computed once per call for the hash, the key and the signature. */
  private callBase(name: string, args: Record<string, unknown>, canonical: string, contract: ToolContract | undefined, step: number) {
    return {
      step,
      name,
      risk: contract?.risk ?? ('unknown' as const),
      args: this.deps.redactor.redactArgs(args, contract?.sensitive_fields ?? NO_PATHS),
      args_hash: sha256(canonical),
      idempotency_key: contract?.idempotency === 'required' ? idempotencyKeyOf(this.record.id, name, canonical) : null,
    }
  }

  private async handleCall(call: ModelToolCall, step: StepTrace): Promise<CallResult> {
    const name = call.name
    const args = argsOf(call)
    const logical = this.proposals++
    const contract = this.deps.compiled.tools.get(name)?.contract
    const canonical = canonicalJson(args)
    const base = this.callBase(name, args, canonical, contract, step.index)
    const firstSeq = this.toolCalls.length
    const unkeyedWrite = isUnkeyedWrite(contract)
    const signature = unkeyedWrite ? callSignatureOf(name, canonical) : ''

    // Confirm before retry: an unkeyed write that may already have happened is not repeated blindly.
    if (unkeyedWrite && this.ledger.isAmbiguous(signature)) {
      const reason = 'CONFIRM_BEFORE_RETRY'
      this.decide('mid_run', step.index, firstSeq, name, 'deny', reason, 'idempotency')
      this.pushCall(callTrace(base, firstSeq, 1, 'denied', false, null, 'partial_write_unknown', 0))
      return {
        outcome: 'denied',
        reason,
        end: null,
        payload: refusal('partial_write_unknown', 'an earlier attempt of this write failed without a clear answer and may have happened; confirm its effect before retrying'),
      }
    }

    const verdict = midRunGuardrails({
      // The model's arguments as sent, so that a non-object fails the schema check.
      call,
      tools: this.deps.compiled.tools,
      policy: this.deps.compiled.policy,
      record: this.record,
      usage: this.usage,
      budgets: this.budgets,
      signals: this.signals,
      step: step.index,
      limiter: this.deps.limiter,
      nowMs: this.nowMs,
      tenantQuota: Object.hasOwn(this.manifest.tenant_quotas, this.record.tenant)
        ? this.manifest.tenant_quotas[this.record.tenant]
        : undefined,
    })
    this.addGuardrails(verdict.guardrails)
    this.decide('mid_run', step.index, firstSeq, name, verdict.decision, verdict.reason, verdict.rule)

    const approved = verdict.refusal === 'needs_approval' && this.deps.approver === 'approve'
    if (verdict.refusal !== null && !approved) return this.refuse(verdict, base, firstSeq, contract)

    this.usage.tool_calls++
    this.usage.calls_by_tool[name] = (Object.hasOwn(this.usage.calls_by_tool, name) ? this.usage.calls_by_tool[name]! : 0) + 1
    return this.runAllowedCall(name, args, contract, base, logical, unkeyedWrite, signature, step)
  }

  private refuse(verdict: MidRunVerdict, base: ReturnType<RequestRun['callBase']>, seq: number, contract: ToolContract | undefined): CallResult {
    let outcome: ToolCallOutcome
    let code: ToolMessageCode
    let end: string | null = null
    let message = verdict.message
    switch (verdict.refusal) {
      case 'unknown_tool':
        outcome = 'unknown_tool'
        code = 'unknown_tool'
        break
      case 'invalid_args':
        outcome = 'invalid_args'
        code = 'schema_invalid'
        break
      case 'budget_exceeded':
        outcome = 'budget_exceeded'
        code = 'budget_exceeded'
        // A request budget ends the request; a per-minute rate limit only refuses this call.
        if (verdict.reason.startsWith('BUDGET_')) end = this.budgetName(verdict.reason, contract)
        break
      case 'needs_approval':
        if (this.deps.approver === 'deny') {
          outcome = 'denied'
          code = 'policy_denied'
          message = `approval denied: ${verdict.message}`
          this.policyDenied = true
        } else {
          outcome = 'needs_approval'
          code = 'needs_approval'
          this.awaitingApproval = true
        }
        break
      default:
        outcome = 'denied'
        code = 'policy_denied'
        this.policyDenied = true
    }
    const error = this.deps.redactor.redactText(`${verdict.reason}: ${message}`)
    this.pushCall(callTrace(base, seq, 1, outcome, false, null, error, 0))
    return {outcome, reason: verdict.reason, end, payload: refusal(code, this.deps.redactor.redactText(message))}
  }

  /** `max_tool_calls` or `tool:<name>.max_calls_per_request`, as the budget module names them. */
  private budgetName(reason: string, contract: ToolContract | undefined): string {
    if (contract) {
      const check = canCallTool(this.budgets, this.usage, contract)
      if (!check.ok) return check.budget
    }
    return reason.slice('BUDGET_'.length).toLowerCase()
  }

  /** Executes an allowed call, with the runtime's own retries, faults and the idempotency ledger. */
  private async runAllowedCall(
    name: string,
    args: Record<string, unknown>,
    contract: ToolContract | undefined,
    base: ReturnType<RequestRun['callBase']>,
    logical: number,
    unkeyedWrite: boolean,
    signature: string,
    step: StepTrace,
  ): Promise<CallResult> {
    const redactor = this.deps.redactor
    const key = base.idempotency_key
    const risk = base.risk
    // Retry-After (and nothing else) delays the next attempt; simulated, never slept.
    let waitMs = 0
    for (let attempt = 1; ; attempt++) {
      this.checkAbort()
      const seq = this.toolCalls.length
      const done = key !== null ? this.ledger.lookup(key) : undefined
      if (done) {
        this.addLatency(step, waitMs)
        this.pushCall(callTrace(base, seq, attempt, 'deduplicated', false, redactor.redactValue(done.result), null, waitMs))
        if (name === ESCALATION_TOOL) this.escalated = true
        return {outcome: 'deduplicated', reason: null, end: null, payload: {ok: true, result: done.result}}
      }

      const fault = this.deps.faults?.decide({requestId: this.record.id, call: logical, attempt, tool: name, risk}) ?? null
      let outcome: ToolCallOutcome
      let result: unknown = null
      let error: {code: ToolMessageCode; message: string; retry_after_ms?: number} | null = null
      let executed = false
      let latency: number
      if (fault?.kind === 'timeout') {
        outcome = 'timeout'
        error = {code: 'timeout', message: `no answer within ${fault.latency_ms} ms (injected fault)`}
        latency = fault.latency_ms
      } else if (fault?.kind === 'rate_limit') {
        outcome = 'rate_limited'
        error = {code: 'rate_limited', message: 'rate limited (injected fault)', retry_after_ms: fault.retry_after_ms}
        latency = fault.latency_ms
      } else {
        const answer = await this.tools.call(name, args, attempt)
        latency = answer.latency_ms + (fault?.latency_ms ?? 0)
        executed = answer.executed
        if (answer.outcome === 'unrecorded_call') {
          outcome = 'unrecorded_call'
          error = {code: 'server_error', message: `unrecorded_call: nothing recorded or configured answers this ${name} call`}
        } else if (answer.outcome === 'ok' && fault?.kind === 'partial_write') {
          // The write happened; only its answer is lost. The ledger still learns what it did.
          outcome = 'partial_write'
          if (key !== null) this.ledger.record(key, {outcome: 'partial_write', result: answer.result})
          error = {code: 'partial_write_unknown', message: 'the write was sent but its response was lost (injected fault)'}
        } else {
          outcome = answer.outcome
          result = answer.result
          error = answer.error
          if (outcome === 'ok' && key !== null) this.ledger.record(key, {outcome: 'ok', result})
        }
      }
      this.addLatency(step, waitMs + latency)
      this.pushCall(
        callTrace(
          base,
          seq,
          attempt,
          outcome,
          executed,
          outcome === 'ok' ? redactor.redactValue(result) : null,
          error ? redactor.redactText(`${error.code}: ${error.message}`) : null,
          waitMs + latency,
        ),
      )
      // Every attempt is audited; only executed ones have a result to verify.
      const post = postActionGuardrails(
        {name, risk, outcome, result: outcome === 'ok' ? result : null, error: error ? `${error.code}: ${error.message}` : null, executed},
        {step: step.index},
      )
      this.addGuardrails(post.guardrails)

      if (outcome === 'ok') {
        if (name === ESCALATION_TOOL) this.escalated = true
        return {outcome, reason: null, end: null, payload: {ok: true, result}}
      }
      const ambiguous = outcome === 'timeout' || outcome === 'partial_write'
      if (ambiguous && unkeyedWrite) {
        this.ledger.markAmbiguous(signature)
        return {
          outcome,
          reason: null,
          end: null,
          payload: refusal('partial_write_unknown', 'the write may or may not have happened; do not blindly retry it'),
        }
      }
      const retryable = outcome === 'partial_write' || (error !== null && RETRYABLE_CODES.has(error.code) && outcome !== 'unrecorded_call')
      if (!retryable || error === null) {
        return {outcome, reason: error?.code ?? null, end: null, payload: refusal(error?.code ?? 'server_error', error?.message ?? '')}
      }
      if (this.usage.retries < this.budgets.max_retries) {
        this.usage.retries++
        waitMs = error.retry_after_ms ?? 0
        continue
      }
      // Retry budget spent: tell the model once; a model that keeps going anyway ends the request.
      if (this.retriesSpentTold) return {outcome, reason: 'max_retries', end: 'max_retries', payload: refusal(error.code, error.message)}
      this.retriesSpentTold = true
      return {outcome, reason: error.code, end: null, payload: refusal(error.code, `${error.message}; retry budget spent`)}
    }
  }

  // ---------------------------------------------------------------- recording

  private pushCall(call: ToolCallTrace): void {
    this.toolCalls.push(call)
  }

  private addLatency(step: StepTrace, ms: number): void {
    step.latency_ms += ms
    this.latencyMs += ms
  }

  private addGuardrails(results: GuardrailResult[]): void {
    const redactor = this.deps.redactor
    // A literal of the result's own field order, not a spread: same object, built far cheaper.
    for (const g of results) {
      this.guardrails.push({stage: g.stage, step: g.step, check: g.check, passed: g.passed, severity: g.severity, detail: redactor.redactText(g.detail)})
    }
  }

  private decide(
    stage: PolicyDecisionTrace['stage'],
    step: number,
    toolCallSeq: number | null,
    tool: string | null,
    decision: PolicyDecisionTrace['decision'],
    reason: string,
    rule: string | null,
  ): void {
    this.decisions.push({seq: this.decisions.length, step, stage, tool_call_seq: toolCallSeq, tool, decision, reason, rule})
  }

  private finish(status: TraceStatus, detail: string): void {
    this.status = status
    this.sm.enter('finish', detail)
  }

  private checkAbort(): void {
    const signal = this.deps.signal
    if (signal?.aborted) throw signal.reason ?? new Error('aborted')
  }

  trace(): RequestTrace {
    return {
      request_id: this.record.id,
      line: this.line,
      side: this.deps.side,
      repeat: this.deps.repeat,
      tenant: this.record.tenant,
      user: this.record.user,
      role: this.record.role,
      status: this.status,
      final_answer: this.finalAnswer,
      steps: this.sm.steps,
      tool_calls: this.toolCalls,
      policy_decisions: this.decisions,
      guardrails: this.guardrails,
      budget_hits: this.budgetHits,
      input_tokens: this.inputTokens,
      output_tokens: this.outputTokens,
      model_calls: this.modelCalls,
      cost_usd: this.usage.cost_usd,
      latency_ms: this.latencyMs,
      error: this.error,
    }
  }
}

const NO_PATHS: string[] = []

type CallBase = ReturnType<RequestRun['callBase']>

/**
 * One ToolCallTrace, its fields written out in the order `{...base, seq, …}` gave them: a literal
 * of fixed shape is cheaper to build than a spread, and this runs for every attempt of every call.
 */
function callTrace(
  base: CallBase,
  seq: number,
  attempt: number,
  outcome: ToolCallOutcome,
  executed: boolean,
  result: unknown,
  error: string | null,
  latency_ms: number,
): ToolCallTrace {
  return {
    step: base.step,
    name: base.name,
    risk: base.risk,
    args: base.args,
    args_hash: base.args_hash,
    idempotency_key: base.idempotency_key,
    seq,
    attempt,
    outcome,
    executed,
    result,
    error,
    latency_ms,
  }
}

function refusal(code: ToolMessageCode, message: string): ToolPayload {
  return {ok: false, error: {code, message}}
}

/** Arguments for hashing and the trace; a model that sends a non-object gets `{}` here (and SCHEMA_INVALID). */
function argsOf(call: ModelToolCall): Record<string, unknown> {
  const a: unknown = call.arguments
  return a !== null && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>) : {}
}

function succeeded(outcome: ToolCallOutcome): boolean {
  return outcome === 'ok' || outcome === 'deduplicated'
}

function names(calls: ModelToolCall[]): string {
  return calls.map((c) => c.name).join(', ')
}
