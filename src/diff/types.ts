import type {Decision, DecisionStage} from '../traffic/schema.js'
import type {AgentState, Divergence, GuardrailSeverity, ToolCallTrace, TraceSide, TraceStatus} from '../trace/schema.js'
import type {AlignKind} from './align.js'

/**
 * The result types of the diff engine. They are computed, never parsed from input, so they are
 * plain types rather than zod schemas. Every change carries a `field`: a stable name for the thing
 * compared (`call:<tool>#0.args.to`), shared with the noise profile so that a field seen to
 * differ between repeats of one side can be recognised in a base-versus-candidate difference.
 */

/** A tool call as the diff keeps it: everything but the (possibly large) result. */
export type CallView = Omit<ToolCallTrace, 'result'>

export type ArgChange = {
  /** Dotted path into args; `(sensitive)` when only the hash of the unredacted arguments differs. */
  path: string
  field: string
  base: unknown
  cand: unknown
  kind: 'added' | 'removed' | 'changed'
}

export type CallRow = {
  kind: AlignKind
  /** `call:<name>#<n>`: the n-th call of that tool on the side that has it (the candidate's when both). */
  field: string
  name: string
  base: CallView | null
  cand: CallView | null
  /** Field-by-field argument differences (empty when args_hash is equal). */
  args: ArgChange[]
  outcome_changed: boolean
  executed_changed: boolean
}

export type DecisionView = {decision: Decision; reason: string; rule: string | null}

export type DecisionRow = {
  kind: AlignKind
  /** `decision:<stage>:<tool>#<n>`. */
  field: string
  stage: DecisionStage
  tool: string | null
  base: DecisionView | null
  cand: DecisionView | null
  /** Decision or reason code differs (or the decision exists on one side only). */
  changed: boolean
  /** The attack whose goal call the decision was about (either side), else null. */
  attack: string | null
}

export type StepView = {state: AgentState; detail: string; /** The model's reasoning in this step, when it thought. */ thinking?: string}

export type StepRow = {kind: AlignKind; base: StepView | null; cand: StepView | null}

export type GuardrailFailure = {stage: DecisionStage; check: string; severity: GuardrailSeverity; detail: string}

export type GuardrailDelta = {
  /** `guardrail:<stage>:<check>`. */
  field: string
  failure: GuardrailFailure
}

export type NumberDelta = {base: number; cand: number; delta: number; /** delta / base; null when base is 0. */ ratio: number | null}

export type AnswerPart = {value: string; added: boolean; removed: boolean}

export type RequestDiff = {
  request_id: string
  line: number
  base_side: TraceSide
  cand_side: TraceSide
  tenant: string
  user: string
  role: string
  status: {base: TraceStatus; cand: TraceStatus; changed: boolean}
  answer: {base: string; cand: string; changed: boolean; /** Word-level diff; absent until computed. */ parts?: AnswerPart[]}
  steps: StepRow[]
  calls: CallRow[]
  decisions: DecisionRow[]
  guardrails: {base: GuardrailFailure[]; cand: GuardrailFailure[]; added: GuardrailDelta[]; removed: GuardrailDelta[]}
  budgets: {base: string[]; cand: string[]; added: string[]; removed: string[]}
  metrics: {tokens: NumberDelta; cost_usd: NumberDelta; latency_ms: NumberDelta; tool_calls: NumberDelta; steps: NumberDelta}
  /**
   * Whether a guardrail on that side flagged prompt injection, and from which step on that
   * side's calls could have followed it: 0 when it came before the model (pre-model: input,
   * retrieved documents), the step after the call whose result carried it otherwise; null when none.
   */
  injection: {base: boolean; cand: boolean; from_step: {base: number | null; cand: number | null}}
  error: {base: string | null; cand: string | null}
  /** Model-free replay: where each side left the recorded trajectory, or null. */
  diverged: {base: Divergence | null; cand: Divergence | null}
}

export const CLASSES = ['same', 'benign', 'behaviour_change', 'regression', 'improvement'] as const
export type DiffClass = (typeof CLASSES)[number]

/** A count per class, all zero, in CLASSES order. */
export const emptyClassCounts = (): Record<DiffClass, number> => Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<DiffClass, number>

export type Reason = {
  /** The class this finding argues for. */
  class: Exclude<DiffClass, 'same'>
  /** Stable machine code, e.g. `new_denial`, `status_worse`, `answer_wording`. */
  code: string
  field: string
  message: string
}

export type Classification = {
  class: DiffClass
  /** Findings that decided, most severe class first. */
  reasons: Reason[]
  /** Differences also seen between repeats of one side, excluded from the decision. */
  noise: Reason[]
}

export type NoiseProfile = {
  /** Number of repeats seen per side. */
  repeats: {base: number; cand: number}
  fields: Set<string>
}

export type ClassifyContext = {
  noise?: NoiseProfile
  /** Relative change in tokens / cost / latency still counted as benign. Default 0.2. */
  tolerance?: number
  /** Reason codes whose denial of a call the base executed marks that call a violation avoided. */
  safetyReasonPattern?: RegExp
  /**
   * The checks of the request's golden expectations (`expect`) one side meets and the other does
   * not (src/eval/golden.ts expectationDelta); absent when the request has none or it is not known.
   * Newly met is the evidence an improvement needs; newly missed is a regression.
   */
  expectation?: ExpectationDelta
}

/** A golden check that failed on one side; `key` names the expectation, the same on both sides. */
export type ExpectationCheck = {key: string; check: string; message: string; tool?: string}

export type ExpectationDelta = {
  /** Failed on the base, holds on the candidate. */
  met: ExpectationCheck[]
  /** Held on the base, fails on the candidate. */
  missed: ExpectationCheck[]
}
