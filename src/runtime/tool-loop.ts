import type {AutonomyLevel, Budgets, BundleManifest, ToolContract} from '../bundle/schema.js'
import {AUTONOMY_DRAFT, AUTONOMY_RULE, autonomyGate, autonomyOf, FLAG_OFF, toolsFlaggedOff} from './autonomy.js'
import type {ModelToolCall} from '../model/types.js'
import {PolicyCall, type Signals} from '../policy/engine.js'
import {joinTexts, leafTexts, normalizeForTaint, type TaintSources, taintedArgs} from '../policy/taint.js'
import {callSignatureOf, isUnkeyedWrite, OutcomeLedger} from '../tools/ledger.js'
import type {FaultInjector, RequestTools} from '../tools/sandbox.js'
import type {Decision, TrafficRecord} from '../traffic/schema.js'
import {canonicalArgs} from '../util/canonical.js'
import {canCallTool, countKeyedCall, type BudgetUsage} from './budget.js'
import type {CompiledBundle} from './compile.js'
import {midRunGuardrails, type MidRunVerdict} from './guardrails/mid-run.js'
import {INJECTION_IN_TOOL_RESULT, INJECTION_SOURCE_TOOL, postActionGuardrails, toolResultInjection} from './guardrails/post-action.js'
import {TOOL_NOT_IN_INTENT} from './guardrails/intent.js'
import {injectionMatcherFor} from './guardrails/patterns.js'
import {SECRET_IN_ARGS, secretsInArgs} from './guardrails/secret-args.js'
import type {ToolMessageCode, ToolPayload} from './messages.js'
import type {RateLimiter} from './rate-limit.js'
import type {Redactor} from './redact.js'
import {callBase, callTrace, type CallBase, type TraceRecorder} from './trace-assembly.js'
import type {ApprovalRecord, StepTrace, ToolCallOutcome} from '../trace/schema.js'

/**
 * One proposed tool call, from proposal to what the model is told: the idempotency ledger's
 * confirm-before-retry (refused, or put to the approver for a `retry: confirm` tool), the request's intent (when the bundle declares intents), the secret scan
 * of the arguments (when the bundle asks), the mid-run
 * guardrails (schema, RBAC, budgets, rate limits, policy),
 * the simulated approver, then execution in the sandbox with injected faults and the runtime's own
 * retries. Every attempt is recorded; the request-level facts calls establish (a call awaiting
 * approval, a policy refusal, an escalation) are kept here for the driver's final decision.
 * The driver (agent.ts) owns the states: it enters `act` before a call and `observe` after it.
 */

export type Approver = 'approve' | 'deny' | 'pending'

/**
 * People's decisions on held calls (`understudy approvals apply`): the decision on the call `tool`
 * with arguments of hash `argsHash` in request `record`, or undefined when no person decided it
 * (then the simulated approver answers). Overrides the simulated approver for the calls it knows.
 */
export type ApprovalBook = (record: TrafficRecord, tool: string, argsHash: string) => ApprovalRecord | undefined

export type CallResult = {
  outcome: ToolCallOutcome
  /** What the model is told. */
  payload: ToolPayload
  /** Reason code behind a refusal, for step details and plan departures. */
  reason: string | null
  /** Budget whose exhaustion ends the request here. */
  end: string | null
}

/** What the tool loop needs from the run's dependencies. */
export type ToolLoopDeps = {
  compiled: CompiledBundle
  approver: Approver
  /** People's decisions, which take precedence over `approver` on the calls they name. */
  approvals?: ApprovalBook
  faults: FaultInjector | null
  redactor: Redactor
  limiter: RateLimiter
  signal?: AbortSignal
}

const RETRYABLE_CODES = new Set(['timeout', 'rate_limited', 'server_error'])

/** Reason code of a held call a person rejected. */
export const APPROVAL_REJECTED = 'APPROVAL_REJECTED'

export class ToolLoop {
  private readonly ledger = new OutcomeLedger()
  private readonly manifest: BundleManifest
  private readonly budgets: Budgets
  /**
   * What the guardrails found, for the policy engine: the pre-model signals once context is
   * admitted, then `injection_in_tool_result` (and `injection_source_tool`, the first such tool)
   * from the first tool result that carried injection to the end of the request. Never unset.
   */
  signals: Signals = {}
  /** Logical calls proposed so far (retries share their call's index). */
  private proposals = 0
  /** The model has already been told once that the retry budget is spent. */
  private retriesSpentTold = false
  /** A call is left waiting for a human approver. */
  awaitingApproval = false
  /**
   * Set when the request should end once the current turn closes, with why: a write was drafted
   * (autonomy: draft), or a call already held for approval was proposed again. Either way asking the
   * model again could only repeat what waits for a person.
   */
  endAfterTurn: string | null = null
  /** Tool and args hash of every call held for approval so far in this request. */
  private readonly held = new Set<string>()
  /** A call was refused by policy (or its approval denied). */
  policyDenied = false
  /** A tool whose contract `escalates` completed (or was found done in the ledger). */
  escalated = false
  /** guardrails.intents: the request's intent (null: none matched) and the only tools it may call; null when the bundle has no intents. */
  allowedTools: {intent: string | null; tools: ReadonlySet<string>} | null = null
  /** Every call proposed so far in this request with what became of it, for policy conditions. */
  private readonly history: PolicyCall[] = []
  /** The tenant's autonomy level (bundle `autonomy:`; `full` when absent). */
  private readonly autonomy: AutonomyLevel
  /** Tools feature flags turn off for the tenant, with the flag that does. */
  readonly flaggedOff: ReadonlyMap<string, string>
  /**
   * Results of successful tool answers so far: untrusted content for taint. Their normalised leaf
   * texts are collected (in answer order, into answerTexts) only when a policy condition asks for
   * taint: most requests never do, and walking every result for it was most of a call's cost.
   */
  private readonly answers: unknown[] = []
  private readonly answerTexts: string[] = []
  /** How many of `answers` answerTexts covers. */
  private answersWalked = 0
  /**
   * The user turn calls are made in (0: the request's input; k: the record's `turns[k - 1]`), and
   * the conversation policy conditions see as `messages`: the input, then each later turn's
   * answer and user message as they come in. Everything else here (ledger, budgets, history,
   * taint, held calls) spans the whole request, turns included.
   */
  private turn = 0
  private messages: readonly {role: string; content: string}[]
  /** The mid-run decision of the call being run (an approved call keeps `require_approval`). */
  private lastDecision: Decision = 'allow'
  /** Taint sources as of the last call that asked, rebuilt only when answers arrived since. */
  private sources: TaintSources | null = null
  private sourcesAnswers = -1

  constructor(
    private readonly record: TrafficRecord,
    private readonly deps: ToolLoopDeps,
    private readonly tools: RequestTools,
    private readonly recorder: TraceRecorder,
    private readonly usage: BudgetUsage,
    private readonly nowMs: number,
  ) {
    this.manifest = deps.compiled.manifest
    this.budgets = deps.compiled.manifest.budgets
    this.autonomy = autonomyOf(this.manifest, record.tenant)
    this.flaggedOff = toolsFlaggedOff(this.manifest, record.tenant)
    this.messages = record.input
  }

  /**
   * A later user turn came in after the model's `answer`: calls from now on are made in it, the
   * policy sees both messages, and the user's words are trusted taint sources as the input's are.
   * A policy refusal of an earlier turn was answered and the user went on, so it no longer makes
   * the request `refused`; a call still held for approval, or a hand-off made, still decides it.
   */
  userTurn(answer: string, content: string): void {
    this.turn++
    this.messages = [...this.messages, {role: 'assistant', content: answer}, {role: 'user', content}]
    this.sources = null
    this.policyDenied = false
  }

  /**
   * Runs one proposed call within the `act` step `step`. `attack`: the call is an attacker's goal
   * (model-free compromised replay), recorded as such; what becomes of it never decides the
   * request's own outcome (a blocked attack does not make the user's request `refused`).
   */
  async call(call: ModelToolCall, step: StepTrace, attack?: string): Promise<CallResult> {
    const from = this.recorder.toolCalls.length
    const out = await this.decideAndRun(call, step, attack)
    this.stampTurn(from)
    const payload = out.payload
    this.history.push(
      new PolicyCall(
        call.name,
        argsOf(call),
        payload.ok ? payload.result : null,
        payload.ok ? null : `${payload.error.code}: ${payload.error.message}`,
        this.lastDecision,
        out.outcome,
      ),
    )
    if (payload.ok) this.answers.push(payload.result)
    return out
  }

  /** Marks the calls recorded from `seq` on with the current user turn (none in turn 0). */
  private stampTurn(seq: number): void {
    if (this.turn === 0) return
    const calls = this.recorder.toolCalls
    for (let i = seq; i < calls.length; i++) calls[i]!.turn = this.turn
  }

  /**
   * Taint sources (src/policy/taint.ts): the user's messages are trusted; retrieved documents below
   * `trusted` and every successful tool answer so far are untrusted.
   */
  private taintSources(): TaintSources {
    for (; this.answersWalked < this.answers.length; this.answersWalked++) leafTexts(this.answers[this.answersWalked], this.answerTexts)
    if (this.sources === null || this.sourcesAnswers !== this.answerTexts.length) {
      const documents = this.record.retrieved.filter((d) => d.trust !== 'trusted').map((d) => normalizeForTaint(d.content))
      this.sources = {
        trusted: this.sources?.trusted ?? joinTexts(this.messages.filter((m) => m.role === 'user').map((m) => normalizeForTaint(m.content))),
        untrusted: joinTexts([...documents, ...this.answerTexts]),
      }
      this.sourcesAnswers = this.answerTexts.length
    }
    return this.sources
  }

  private async decideAndRun(call: ModelToolCall, step: StepTrace, attack?: string): Promise<CallResult> {
    const name = call.name
    const args = argsOf(call)
    const logical = this.proposals++
    const contract = this.deps.compiled.tools.get(name)?.contract
    const canonical = canonicalArgs(args)
    const base = callBase(this.record, this.deps.redactor, name, args, canonical, contract, step.index, attack)
    const firstSeq = this.recorder.toolCalls.length
    const unkeyedWrite = isUnkeyedWrite(contract)
    const signature = unkeyedWrite ? callSignatureOf(name, canonical) : ''

    // Confirm before retry: an unkeyed write that may already have happened is not repeated blindly.
    this.lastDecision = 'deny'
    if (unkeyedWrite && this.ledger.isAmbiguous(signature) && contract?.retry === 'confirm') {
      // retry: confirm — the approver is asked; approved, the retry goes on to the guardrails below.
      const reason = 'CONFIRM_BEFORE_RETRY'
      const approver = this.deps.approver
      this.recorder.decide('mid_run', step.index, firstSeq, name, approver === 'deny' ? 'deny' : 'require_approval', reason, 'idempotency')
      if (approver === 'deny') {
        this.recorder.pushCall(callTrace(base, firstSeq, 1, 'denied', false, null, `${reason}: the approver did not confirm the retry`, 0))
        if (attack === undefined) this.policyDenied = true
        return {outcome: 'denied', reason, end: null, payload: refusal('policy_denied', 'retry not confirmed: an earlier attempt of this write may have happened')}
      }
      if (approver === 'pending') {
        this.lastDecision = 'require_approval'
        this.recorder.pushCall(callTrace(base, firstSeq, 1, 'needs_approval', false, null, `${reason}: waiting for the approver to confirm the retry`, 0))
        if (attack === undefined) this.awaitingApproval = true
        return {outcome: 'needs_approval', reason, end: null, payload: refusal('needs_approval', 'an earlier attempt of this write may have happened; the retry waits for a person to confirm it')}
      }
    } else if (unkeyedWrite && this.ledger.isAmbiguous(signature)) {
      const reason = 'CONFIRM_BEFORE_RETRY'
      this.recorder.decide('mid_run', step.index, firstSeq, name, 'deny', reason, 'idempotency')
      this.recorder.pushCall(callTrace(base, firstSeq, 1, 'denied', false, null, 'partial_write_unknown', 0))
      return {
        outcome: 'denied',
        reason,
        end: null,
        payload: refusal('partial_write_unknown', 'an earlier attempt of this write failed without a clear answer and may have happened; confirm its effect before retrying'),
      }
    }

    // A tool a feature flag turns off for this tenant is not offered, and refused as unknown if called.
    const flag = this.flaggedOff.get(name)
    if (flag !== undefined) {
      const off: MidRunVerdict = {
        guardrails: [],
        decision: 'deny',
        reason: FLAG_OFF,
        rule: `flag:${flag}`,
        refusal: 'unknown_tool',
        message: `${name} is not available here (feature flag ${flag} is off for this tenant)`,
      }
      this.recorder.decide('mid_run', step.index, firstSeq, name, 'deny', FLAG_OFF, off.rule)
      return this.refuse(off, base, firstSeq, contract, attack !== undefined)
    }
    // The request's intent allows only its tools: any other call is refused unrun.
    const allowed = this.allowedTools
    if (allowed !== null && !allowed.tools.has(name)) {
      const why = allowed.intent === null ? `the request matched no intent, so no tool may be called` : `${name} is not a tool of intent ${allowed.intent}`
      this.recorder.addGuardrails([{stage: 'mid_run', step: step.index, check: 'tool.intent', passed: false, severity: 'medium', detail: why}])
      this.recorder.decide('mid_run', step.index, firstSeq, name, 'deny', TOOL_NOT_IN_INTENT, 'intent')
      this.recorder.pushCall(callTrace(base, firstSeq, 1, 'denied', false, null, `${TOOL_NOT_IN_INTENT}: ${why}`, 0))
      if (attack === undefined) this.policyDenied = true
      return {outcome: 'denied', reason: TOOL_NOT_IN_INTENT, end: null, payload: refusal('policy_denied', why)}
    }

    // Secret scan: a credential in the arguments is refused before anything else sees the call.
    if (this.manifest.guardrails.scan_args_for_secrets === true) {
      const secrets = secretsInArgs(call.arguments, contract?.sensitive_fields ?? [])
      if (secrets.length > 0) {
        const where = secrets.map((s) => `${s.kind} at ${s.path}`).join(', ')
        this.recorder.addGuardrails([{stage: 'mid_run', step: step.index, check: 'tool.args_secrets', passed: false, severity: 'high', detail: `${name}: ${where}`}])
        this.recorder.decide('mid_run', step.index, firstSeq, name, 'deny', SECRET_IN_ARGS, 'secret_scan')
        this.recorder.pushCall(callTrace(base, firstSeq, 1, 'denied', false, null, `${SECRET_IN_ARGS}: the arguments carry a secret (${where})`, 0))
        if (attack === undefined) this.policyDenied = true
        return {outcome: 'denied', reason: SECRET_IN_ARGS, end: null, payload: refusal('policy_denied', `the arguments carry a secret (${where}); the call was not run`)}
      }
    }

    const policyVerdict = midRunGuardrails({
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
      history: this.history,
      messages: this.messages,
      taint: () => taintedArgs(args, this.taintSources()),
    })
    const verdict = this.withAutonomy(policyVerdict, contract)
    this.recorder.addGuardrails(verdict.guardrails)
    this.recorder.decide('mid_run', step.index, firstSeq, name, verdict.decision, verdict.reason, verdict.rule)
    this.lastDecision = verdict.decision

    // A held call: a person's decision on it (approvals apply) wins over the simulated approver, and
    // is recorded twice: as the mid-run decision that settled the hold, and on the call itself.
    const ruling = verdict.refusal === 'needs_approval' ? this.deps.approvals?.(this.record, name, base.args_hash) : undefined
    if (ruling !== undefined) {
      const redact = this.deps.redactor.redactText
      const by = redact(ruling.by)
      base.approval = {decision: ruling.decision, by, at: ruling.at, reason: ruling.reason === null ? null : redact(ruling.reason)}
      if (ruling.decision === 'approved') this.recorder.decide('mid_run', step.index, firstSeq, name, 'allow', `APPROVED: by ${by}`, 'approval')
      else this.recorder.decide('mid_run', step.index, firstSeq, name, 'deny', `${APPROVAL_REJECTED}: by ${by}`, 'approval')
    }
    const approved = verdict.refusal === 'needs_approval' && (ruling === undefined ? this.deps.approver === 'approve' : ruling.decision === 'approved')
    if (verdict.refusal !== null && !approved) return this.refuse(verdict, base, firstSeq, contract, attack !== undefined, ruling)

    if (verdict.budgetKey !== undefined) countKeyedCall(this.usage, name, verdict.budgetKey)
    this.usage.tool_calls++
    this.usage.calls_by_tool[name] = (Object.hasOwn(this.usage.calls_by_tool, name) ? this.usage.calls_by_tool[name]! : 0) + 1
    return this.execute(name, args, canonical, contract, base, logical, unkeyedWrite, signature, step)
  }

  /**
   * The tenant's autonomy level on top of the policy's verdict: it only ever makes a write stricter
   * (a denial stays a denial; read_only denies, draft and low_risk_writes hold for a person). A
   * drafted write left waiting (no person approved it) ends the request after its turn
   * (`endAfterTurn`, set in refuse), so a model is not asked again only to propose it once more.
   */
  private withAutonomy(verdict: MidRunVerdict, contract: ToolContract | undefined): MidRunVerdict {
    if (this.autonomy === 'full' || (verdict.refusal !== null && verdict.refusal !== 'needs_approval')) return verdict
    const gate = autonomyGate(this.autonomy, contract?.risk)
    if (gate === null) return verdict
    // Object.assign, not `{...verdict, …}`: see RequestRun.retrieve (a spread followed by keys is slow on this V8).
    if (gate.effect === 'deny') return Object.assign({}, verdict, {decision: 'deny', reason: gate.reason, rule: AUTONOMY_RULE, refusal: 'denied', message: gate.message} as const)
    if (verdict.refusal === 'needs_approval' && gate.effect === 'hold') return verdict
    return Object.assign({}, verdict, {decision: 'require_approval', reason: gate.reason, rule: AUTONOMY_RULE, refusal: 'needs_approval', message: gate.message} as const)
  }

  /**
   * plan_first: a call the plan does not allow (off the plan, `NOT_IN_PLAN`, or over the plan's own
   * call budget, `PLAN_BUDGET_EXCEEDED`) is recorded and refused, never executed.
   */
  refuseUnplanned(call: ModelToolCall, step: StepTrace, reason: string, why: string, attack?: string): void {
    const args = argsOf(call)
    const contract = this.deps.compiled.tools.get(call.name)?.contract
    this.proposals++
    const seq = this.recorder.toolCalls.length
    this.recorder.decide('mid_run', step.index, seq, call.name, 'deny', reason, 'plan')
    const base = callBase(this.record, this.deps.redactor, call.name, args, canonicalArgs(args), contract, step.index, attack)
    this.recorder.pushCall(callTrace(base, seq, 1, 'denied', false, null, `${reason}: ${why}`, 0))
    this.stampTurn(seq)
    this.history.push(new PolicyCall(call.name, args, null, `${reason}: ${why}`, 'deny', 'denied'))
  }

  private refuse(
    verdict: MidRunVerdict,
    base: CallBase,
    seq: number,
    contract: ToolContract | undefined,
    attack: boolean,
    ruling?: ApprovalRecord,
  ): CallResult {
    let outcome: ToolCallOutcome
    let code: ToolMessageCode
    let end: string | null = null
    let message = verdict.message
    let reason = verdict.reason
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
        if (verdict.reason.startsWith('BUDGET_')) end = this.budgetName(verdict.reason, contract, verdict.budgetKey)
        break
      case 'needs_approval':
        if (ruling !== undefined) {
          // Rejected by a person: refused like a denial, with the rejection as its reason code.
          outcome = 'denied'
          code = 'policy_denied'
          reason = APPROVAL_REJECTED
          message = `approval rejected${ruling.reason ? `: ${ruling.reason}` : ''} (${verdict.message})`
          if (!attack) this.policyDenied = true
        } else if (this.deps.approver === 'deny') {
          outcome = 'denied'
          code = 'policy_denied'
          message = `approval denied: ${verdict.message}`
          if (!attack) this.policyDenied = true
        } else {
          outcome = 'needs_approval'
          code = 'needs_approval'
          if (!attack) {
            this.awaitingApproval = true
            if (reason === AUTONOMY_DRAFT) this.endAfterTurn ??= 'writes drafted for review (autonomy: draft)'
            const signature = `${base.name}\u0000${base.args_hash}`
            if (this.held.has(signature)) this.endAfterTurn ??= `${base.name} proposed again while held for approval`
            this.held.add(signature)
          }
        }
        break
      default:
        outcome = 'denied'
        code = 'policy_denied'
        if (!attack) this.policyDenied = true
    }
    const error = this.deps.redactor.redactText(`${reason}: ${message}`)
    this.recorder.pushCall(callTrace(base, seq, 1, outcome, false, null, error, 0))
    return {outcome, reason, end, payload: refusal(code, this.deps.redactor.redactText(message))}
  }

  private matcher() {
    return injectionMatcherFor(this.manifest.guardrails)
  }

  /** A tool result carried injection: every later policy decision of this request sees it. */
  private noteInjection(tool: string): void {
    if (this.signals[INJECTION_IN_TOOL_RESULT] !== true) this.signals[INJECTION_SOURCE_TOOL] = tool
    this.signals[INJECTION_IN_TOOL_RESULT] = true
  }

  /** `max_tool_calls` or `tool:<name>.max_calls_per_request`, as the budget module names them. */
  private budgetName(reason: string, contract: ToolContract | undefined, key: string | undefined): string {
    if (contract) {
      const check = canCallTool(this.budgets, this.usage, contract, key)
      if (!check.ok) return check.budget
    }
    return reason.slice('BUDGET_'.length).toLowerCase()
  }

  /** Executes an allowed call, with the runtime's own retries, faults and the idempotency ledger. */
  private async execute(
    name: string,
    args: Record<string, unknown>,
    canonical: string,
    contract: ToolContract | undefined,
    base: CallBase,
    logical: number,
    unkeyedWrite: boolean,
    signature: string,
    step: StepTrace,
  ): Promise<CallResult> {
    const redactor = this.deps.redactor
    const recorder = this.recorder
    const key = base.idempotency_key
    const risk = base.risk
    const escalates = contract?.escalates === true && base.attack === undefined
    // Retry-After (and nothing else) delays the next attempt; simulated, never slept.
    let waitMs = 0
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(this.deps.signal)
      const seq = recorder.toolCalls.length
      const done = key !== null ? this.ledger.lookup(key) : undefined
      if (done) {
        recorder.addLatency(step, waitMs)
        recorder.pushCall(callTrace(base, seq, attempt, 'deduplicated', false, redactor.redactValue(done.result), null, waitMs))
        // The ledger's answer goes back to the model like any other result.
        const injection = toolResultInjection(name, done.result, this.matcher(), step.index)
        if (injection) {
          recorder.addGuardrails([injection])
          this.noteInjection(name)
        }
        if (escalates) this.escalated = true
        return {outcome: 'deduplicated', reason: null, end: null, payload: {ok: true, result: done.result}}
      }

      const fault = this.deps.faults?.decide({requestId: this.record.id, call: logical, attempt, tool: name, risk}) ?? null
      let outcome: ToolCallOutcome
      let result: unknown = null
      let error: {code: ToolMessageCode; message: string; retry_after_ms?: number} | null = null
      let executed = false
      let latency: number
      // What the tool itself said that reaches the model (never the runtime's own messages).
      let untrusted: unknown = null
      if (fault?.kind === 'timeout') {
        outcome = 'timeout'
        error = {code: 'timeout', message: `no answer within ${fault.latency_ms} ms (injected fault)`}
        latency = fault.latency_ms
      } else if (fault?.kind === 'rate_limit') {
        outcome = 'rate_limited'
        error = {code: 'rate_limited', message: 'rate limited (injected fault)', retry_after_ms: fault.retry_after_ms}
        latency = fault.latency_ms
      } else {
        const answer = await this.tools.call(name, args, attempt, canonical)
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
          untrusted = outcome === 'ok' ? result : (error?.message ?? null)
          if (outcome === 'ok' && key !== null) this.ledger.record(key, {outcome: 'ok', result})
        }
      }
      recorder.addLatency(step, waitMs + latency)
      recorder.pushCall(
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
        {name, risk, outcome, result: outcome === 'ok' ? result : null, error: error ? `${error.code}: ${error.message}` : null, executed, untrusted, checks: contract?.result},
        {step: step.index, match: this.matcher()},
      )
      recorder.addGuardrails(post.guardrails)
      if (post.injected) this.noteInjection(name)

      if (outcome === 'ok') {
        if (escalates) this.escalated = true
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
      // Known transient codes, and those the contract lists; any other code (a tool's own) is final.
      const retryable =
        outcome === 'partial_write' ||
        (error !== null && (RETRYABLE_CODES.has(error.code) || contract?.retryable_errors?.includes(error.code) === true) && outcome !== 'unrecorded_call')
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
}

/** Stops between attempts (and before each model call) once the run is interrupted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new Error('aborted')
}

export function refusal(code: ToolMessageCode, message: string): ToolPayload {
  return {ok: false, error: {code, message}}
}

/** Arguments for hashing and the trace; a model that sends a non-object gets `{}` here (and SCHEMA_INVALID). */
function argsOf(call: ModelToolCall): Record<string, unknown> {
  const a: unknown = call.arguments
  return a !== null && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>) : {}
}
