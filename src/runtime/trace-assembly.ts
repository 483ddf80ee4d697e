import type {ToolContract} from '../bundle/schema.js'
import {idempotencyKeyOf} from '../tools/ledger.js'
import type {TrafficRecord} from '../traffic/schema.js'
import {hashArgs} from '../util/canonical.js'
import {storedForm} from './guardrails/shared-results.js'
import type {Redactor} from './redact.js'
import type {
  ApprovalRecord,
  ContextAdmission,
  Divergence,
  GuardrailResult,
  PolicyDecisionTrace,
  RequestTrace,
  StepTrace,
  ToolCallOutcome,
  ToolCallTrace,
  TraceSide,
  TraceStatus,
} from '../trace/schema.js'

/**
 * Everything one request's run records, and the RequestTrace built from it. Whatever reaches the
 * recorder from the model or the request (guardrail details, admission ids and keys, errors) is
 * redacted here, so a trace is never assembled from clear text.
 */
export class TraceRecorder {
  readonly toolCalls: ToolCallTrace[] = []
  readonly decisions: PolicyDecisionTrace[] = []
  readonly guardrails: GuardrailResult[] = []
  readonly budgetHits: string[] = []
  inputTokens = 0
  outputTokens = 0
  modelCalls = 0
  latencyMs = 0
  /** What the request ended as; `failed` until the run says otherwise. */
  status: TraceStatus = 'failed'
  /** Redacted by whoever sets it. */
  finalAnswer = ''
  /** Redacted by whoever sets it. */
  error: string | null = null
  /** Set when a model-free replay left the recorded trajectory. */
  diverged: Divergence | null = null

  constructor(private readonly redactor: Redactor) {}

  pushCall(call: ToolCallTrace): void {
    this.toolCalls.push(call)
  }

  /** Time spent in a step counts for the step and for the request. */
  addLatency(step: StepTrace, ms: number): void {
    step.latency_ms += ms
    this.latencyMs += ms
  }

  addGuardrails(results: GuardrailResult[]): void {
    const redactor = this.redactor
    // A literal of the result's own field order, not a spread: same object, built far cheaper.
    for (const g of results) {
      // A shared result (frozen, it cannot change) is redacted once per redactor, not per request:
      // stored as itself when its detail holds nothing to redact, else as one frozen copy.
      const form = storedForm(g)
      if (form !== undefined) {
        if (form.redactor !== redactor) {
          const detail = redactor.redactText(g.detail)
          form.stored = detail === g.detail ? g : Object.freeze({stage: g.stage, step: g.step, check: g.check, passed: g.passed, severity: g.severity, detail})
          form.redactor = redactor
        }
        this.guardrails.push(form.stored!)
        continue
      }
      const detail = redactor.redactText(g.detail)
      if (g.context === undefined) {
        this.guardrails.push({stage: g.stage, step: g.step, check: g.check, passed: g.passed, severity: g.severity, detail})
      } else {
        this.guardrails.push({stage: g.stage, step: g.step, check: g.check, passed: g.passed, severity: g.severity, detail, context: this.redactContext(g.context)})
      }
    }
  }

  /** Ids and keys come from the request, so they are redacted like the details that name them. */
  private redactContext(context: ContextAdmission): ContextAdmission {
    const r = this.redactor
    return {
      documents: context.documents.map((d) => ({index: d.index, id: r.redactText(d.id), admitted: d.admitted, dropped_by: d.dropped_by})),
      memory: context.memory.map((m) => ({
        index: m.index,
        key: r.redactText(m.key),
        admitted: m.admitted,
        dropped_by: m.dropped_by,
        superseded_by: m.superseded_by,
      })),
    }
  }

  decide(
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

  build(record: TrafficRecord, line: number, side: TraceSide, repeat: number, steps: StepTrace[], costUsd: number): RequestTrace {
    const trace: RequestTrace = {
      request_id: this.redactor.redactText(record.id),
      line,
      side,
      repeat,
      tenant: record.tenant,
      user: record.user,
      role: record.role,
      status: this.status,
      final_answer: this.finalAnswer,
      steps,
      tool_calls: this.toolCalls,
      policy_decisions: this.decisions,
      guardrails: this.guardrails,
      budget_hits: this.budgetHits,
      input_tokens: this.inputTokens,
      output_tokens: this.outputTokens,
      model_calls: this.modelCalls,
      cost_usd: costUsd,
      latency_ms: this.latencyMs,
      error: this.error,
    }
    if (this.diverged !== null) trace.diverged = {...this.diverged, tool: this.redactor.redactText(this.diverged.tool)}
    return trace
  }
}

/** What every attempt of one logical call shares in its ToolCallTrace. */
export type CallBase = {
  step: number
  name: string
  risk: ToolCallTrace['risk']
  args: Record<string, unknown>
  args_hash: string
  idempotency_key: string | null
  /** The attack whose goal this call is, for a call an injection asked for; else undefined. */
  attack?: string
  /** A person's decision on this held call, when one was applied; else undefined. */
  approval?: ApprovalRecord
}

const NO_PATHS: string[] = []

/** `canonical` is canonicalJson(args), computed once per call for the hash, the key and the signature. */
export function callBase(
  record: TrafficRecord,
  redactor: Redactor,
  name: string,
  args: Record<string, unknown>,
  canonical: string,
  contract: ToolContract | undefined,
  step: number,
  attack?: string,
): CallBase {
  const base: CallBase = {
    step,
    name,
    risk: contract?.risk ?? 'unknown',
    args: redactor.redactArgs(args, contract?.sensitive_fields ?? NO_PATHS),
    args_hash: hashArgs(args),
    idempotency_key: contract?.idempotency === 'required' ? idempotencyKeyOf(record.id, name, canonical) : null,
  }
  if (attack !== undefined) base.attack = attack
  return base
}

/**
 * One ToolCallTrace, its fields written out in the order `{...base, seq, …}` gave them: a literal
 * of fixed shape is cheaper to build than a spread, and this runs for every attempt of every call.
 */
export function callTrace(
  base: CallBase,
  seq: number,
  attempt: number,
  outcome: ToolCallOutcome,
  executed: boolean,
  result: unknown,
  error: string | null,
  latency_ms: number,
): ToolCallTrace {
  const call: ToolCallTrace = {
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
  if (base.attack !== undefined) call.attack = base.attack
  if (base.approval !== undefined) call.approval = base.approval
  return call
}
