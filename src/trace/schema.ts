import {z} from 'zod'
import {Decision, DecisionStage, Expectations, RequestOutcome} from '../traffic/schema.js'

/**
 * What the shadow runtime produces for one request on one side. The store persists exactly this
 * (redacted before it gets here), and the diff engine reads it back; a recorded production request
 * is converted into the same shape (`side: 'recorded'`) so that both sides compare alike.
 */

export const AgentState = z.enum(['plan', 'retrieve', 'act', 'observe', 'decide', 'finish'])
export type AgentState = z.infer<typeof AgentState>

export const StepTrace = z.object({
  index: z.number().int().nonnegative(),
  state: AgentState,
  /** Short human-readable account of what happened in this step. */
  detail: z.string(),
  input_tokens: z.number().int().nonnegative().default(0),
  output_tokens: z.number().int().nonnegative().default(0),
  latency_ms: z.number().nonnegative().default(0),
  /**
   * A model call's reasoning when the model thinks (Ollama's message.thinking), redacted as the
   * answer is; absent otherwise. Its tokens are part of output_tokens (Ollama counts them together).
   */
  thinking: z.string().optional(),
})
export type StepTrace = z.infer<typeof StepTrace>

export const ToolCallOutcome = z.enum([
  /** Executed (mock) and answered. */
  'ok',
  /** Executed and the tool answered with an error. */
  'error',
  'timeout',
  'rate_limited',
  /** The write happened but its response was lost (fault injection). */
  'partial_write',
  /** Not executed: the policy engine or RBAC said no. */
  'denied',
  /** Not executed: approval required and the (simulated) approver did not approve. */
  'needs_approval',
  /** Not executed: arguments failed the tool's schema. */
  'invalid_args',
  /** Not executed: tool unknown to the bundle or disabled. */
  'unknown_tool',
  /** The candidate called something production never did and no fixture answers it. */
  'unrecorded_call',
  /** Not executed again: the idempotency ledger already holds this write's outcome. */
  'deduplicated',
  /** Not executed: a budget or rate limit was hit. */
  'budget_exceeded',
])
export type ToolCallOutcome = z.infer<typeof ToolCallOutcome>

/** Outcomes of a call the bundle did not let through: refused, held for approval, or rejected before running. */
const STOPPED: ReadonlySet<ToolCallOutcome> = new Set(['denied', 'needs_approval', 'invalid_args', 'unknown_tool', 'budget_exceeded'])

/** Whether the bundle let a proposed call through (whether or not the sandbox could answer it). */
export const letThrough = (outcome: ToolCallOutcome): boolean => !STOPPED.has(outcome)

/**
 * A person's decision on a call the bundle held for approval (`understudy approvals decide`), as the
 * run that applied it (`approvals apply`) ran the call: approved calls executed, rejected ones were
 * refused with `APPROVAL_REJECTED`. Absent on every call no person decided.
 */
export const ApprovalRecord = z.object({
  decision: z.enum(['approved', 'rejected']),
  /** Who decided (`--by`, by default the OS user). */
  by: z.string(),
  /** When, ISO 8601. */
  at: z.string(),
  reason: z.string().nullable(),
})
export type ApprovalRecord = z.infer<typeof ApprovalRecord>

export const ToolCallTrace = z.object({
  seq: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  name: z.string(),
  risk: z.enum(['read', 'write_low', 'write_high', 'unknown']),
  /** Arguments with sensitive values replaced by `[REDACTED:<hash8>]`. */
  args: z.record(z.string(), z.unknown()),
  /** sha256 of the canonical, unredacted arguments: equal hashes mean equal arguments. */
  args_hash: z.string(),
  idempotency_key: z.string().nullable(),
  attempt: z.number().int().positive(),
  outcome: ToolCallOutcome,
  executed: z.boolean(),
  /** Redacted result (or null when there was none). */
  result: z.unknown().nullable(),
  error: z.string().nullable(),
  latency_ms: z.number().nonnegative(),
  /**
   * Only on a call an attacker's injection asked for (`--model compromised` proposes the goal calls
   * of the record's `attacks`): that attack's id, or `attack#<index>` when it has none. Absent on
   * every call the model proposed for the user's own task.
   */
  attack: z.string().optional(),
  /** Only on a held call a person decided (ApprovalRecord); absent otherwise. */
  approval: ApprovalRecord.optional(),
  /**
   * Multi-turn requests only (traffic `turns`): the user turn the call was made in, 1 for the
   * first later turn; absent in turn 0 (the request's input), so a single-turn trace never has it.
   */
  turn: z.number().int().positive().optional(),
})
export type ToolCallTrace = z.infer<typeof ToolCallTrace>

export const PolicyDecisionTrace = z.object({
  seq: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  stage: DecisionStage,
  /** seq of the tool call the decision was about, if any. */
  tool_call_seq: z.number().int().nonnegative().nullable(),
  tool: z.string().nullable(),
  decision: Decision,
  reason: z.string(),
  /** Policy rule id that decided, or a built-in source such as `rbac`, `schema`, `default`. */
  rule: z.string().nullable(),
})
export type PolicyDecisionTrace = z.infer<typeof PolicyDecisionTrace>

export const GuardrailSeverity = z.enum(['info', 'low', 'medium', 'high'])
export type GuardrailSeverity = z.infer<typeof GuardrailSeverity>

/** One retrieved document (by its position in the request's `retrieved`) and whether the model saw it. */
export const DocumentAdmission = z.object({
  index: z.number().int().nonnegative(),
  id: z.string(),
  admitted: z.boolean(),
  /** The checks that dropped it (`retrieval.tenant`, `retrieval.trust`, `input.size`); empty when admitted. */
  dropped_by: z.array(z.string()),
})
export type DocumentAdmission = z.infer<typeof DocumentAdmission>

/** One memory entry (by its position in the request's `memory`) and whether the model saw it. */
export const MemoryAdmission = z.object({
  index: z.number().int().nonnegative(),
  key: z.string(),
  /** False when a check dropped it or a newer entry of its key superseded it. */
  admitted: z.boolean(),
  /**
   * The checks that dropped it, in the order their results are reported (`memory.ttl`,
   * `memory.provenance`, `memory.owner`, `memory.tenant`, `memory.field_owner`, `memory.schema`;
   * `input.size` when nothing was admitted at all); empty when no check dropped it.
   */
  dropped_by: z.array(z.string()),
  /**
   * The entry of the same key that reached the model instead (its index): one fact per key does,
   * the newest write. Null when this entry was not superseded.
   */
  superseded_by: z.number().int().nonnegative().nullable(),
})
export type MemoryAdmission = z.infer<typeof MemoryAdmission>

/**
 * What the pre-model guardrails admitted into the model's context, entry by entry: the hand-off
 * to whoever needs to know what the model saw (the consistency suite), as data rather than prose.
 */
export const ContextAdmission = z.object({
  documents: z.array(DocumentAdmission),
  memory: z.array(MemoryAdmission),
})
export type ContextAdmission = z.infer<typeof ContextAdmission>

export const GuardrailResult = z.object({
  stage: DecisionStage,
  step: z.number().int().nonnegative(),
  check: z.string(),
  passed: z.boolean(),
  severity: GuardrailSeverity,
  detail: z.string(),
  /**
   * Only on the last pre-model result, and only for a request with retrieved documents or memory:
   * every document and memory entry, admitted or dropped and why.
   */
  context: ContextAdmission.optional(),
})
export type GuardrailResult = z.infer<typeof GuardrailResult>

export const TraceSide = z.enum(['recorded', 'baseline', 'candidate'])
export type TraceSide = z.infer<typeof TraceSide>

/** `skipped` = the traffic line itself was malformed; the run recorded it and went on. */
export const TraceStatus = z.union([RequestOutcome, z.literal('skipped')])
export type TraceStatus = z.infer<typeof TraceStatus>

/**
 * Why a model-free replay (`--model recorded` / `compromised`) stopped following the recording: the
 * candidate treated a recorded call differently from production (ran, denied, held or rejected a
 * call production treated otherwise), so production's model was answering something else when it
 * proposed what came next, and a real model would be needed to say what follows.
 */
export const DivergenceReason = z.enum([
  /** The candidate's policy, RBAC or a guardrail denied a call production executed. */
  'denied',
  /** The candidate held for approval a call production executed. */
  'held_for_approval',
  /** The call's arguments fail the candidate's tool contract. */
  'schema_invalid',
  /** The candidate has no such tool, or it is disabled. */
  'unknown_tool',
  /** A budget or rate limit of the candidate refused the call. */
  'budget_exceeded',
  /** plan_first: the call is not in the candidate's plan. */
  'not_in_plan',
  /** The candidate ran a call production refused or held: production's model went on from that. */
  'ran_refused_call',
])
export type DivergenceReason = z.infer<typeof DivergenceReason>

export const Divergence = z.object({
  /** The `act` step of the call where the replay diverged. */
  step: z.number().int().nonnegative(),
  /** seq of that call's (first) attempt in `tool_calls`. */
  tool_call_seq: z.number().int().nonnegative(),
  tool: z.string(),
  reason: DivergenceReason,
  /** The candidate's own reason code for the refusal (e.g. a policy reason), when it gave one. */
  code: z.string().nullable(),
  /** What production did with the same call. */
  recorded: z.enum(['executed', 'denied', 'held']),
})
export type Divergence = z.infer<typeof Divergence>

/**
 * A request's golden expectations as its traces keep them: the traffic record's `expect` block
 * (validated when the line was read, then redacted as the trace is) and whether the record is
 * labelled a known issue (`labels.known_issue`). The golden suite judges a trace by these alone,
 * so a run's golden scores never depend on the traffic file still being there or unchanged.
 */
export const TraceGolden = z.object({
  expect: Expectations,
  known_issue: z.boolean(),
})
export type TraceGolden = z.infer<typeof TraceGolden>

export const RequestTrace = z.object({
  request_id: z.string(),
  /** 1-based line in the traffic file, so every finding points back to its source. */
  line: z.number().int().positive(),
  side: TraceSide,
  /** 0 for the first pass; --repeat N adds passes 1..N-1 used for noise cancellation. */
  repeat: z.number().int().nonnegative(),
  tenant: z.string(),
  user: z.string(),
  role: z.string(),
  status: TraceStatus,
  final_answer: z.string(),
  steps: z.array(StepTrace),
  tool_calls: z.array(ToolCallTrace),
  policy_decisions: z.array(PolicyDecisionTrace),
  guardrails: z.array(GuardrailResult),
  /** Names of the budgets hit: max_steps, max_tool_calls, max_total_tokens, max_retries, ... */
  budget_hits: z.array(z.string()),
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  model_calls: z.number().int().nonnegative(),
  cost_usd: z.number().nonnegative(),
  latency_ms: z.number().nonnegative(),
  /** Why the request was skipped or failed, when it was. */
  error: z.string().nullable(),
  /** Model-free replay only: where the candidate left the recorded trajectory; absent when it did not. */
  diverged: Divergence.optional(),
  /**
   * Set on every trace of a replayed request whose record has an `expect` block, the same on each;
   * absent otherwise (and on skipped traces, which no suite judges).
   */
  golden: TraceGolden.optional(),
})
export type RequestTrace = z.infer<typeof RequestTrace>

/**
 * The ids of the retrieved documents and the keys of the memory entries the model saw (admitted by
 * the pre-model guardrails), in request order. Read from the pre-model `context`; a trace without
 * one had nothing to admit, so both lists are empty.
 */
export function admittedContext(trace: Pick<RequestTrace, 'guardrails'>): {documents: string[]; memory: string[]} {
  for (let i = trace.guardrails.length - 1; i >= 0; i--) {
    const context = trace.guardrails[i]!.context
    if (context === undefined) continue
    return {documents: context.documents.filter((d) => d.admitted).map((d) => d.id), memory: context.memory.filter((m) => m.admitted).map((m) => m.key)}
  }
  return {documents: [], memory: []}
}
