import {z} from 'zod'

/**
 * One line of recorded traffic: a real production request and what production did with it.
 * The format is documented in README.md ("Recorded traffic format"); keep the two in step.
 */

export const TrustLevel = z.enum(['trusted', 'internal', 'untrusted'])
export type TrustLevel = z.infer<typeof TrustLevel>

export const InputMessage = z
  .object({
    role: z.enum(['system', 'user', 'assistant']),
    content: z.string(),
  })
  .strict()
export type InputMessage = z.infer<typeof InputMessage>

export const RetrievedDocument = z
  .object({
    id: z.string().min(1),
    source: z.string().min(1),
    trust: TrustLevel,
    content: z.string(),
    score: z.number().optional(),
    /** Tenant whose index the document came from; a document of another tenant is a leak. */
    tenant: z.string().optional(),
  })
  .strict()
export type RetrievedDocument = z.infer<typeof RetrievedDocument>

export const MemoryEntry = z
  .object({
    key: z.string().min(1),
    value: z.unknown(),
    owner: z.string().min(1),
    written_at: z.iso.datetime({offset: true}),
    provenance: z.string().min(1).optional(),
    ttl_seconds: z.number().int().positive().optional(),
    tenant: z.string().optional(),
  })
  .strict()
export type MemoryEntry = z.infer<typeof MemoryEntry>

/** The error codes the runtime knows the meaning of (timeout, rate_limited and server_error are retried). */
export const KnownToolErrorCode = z.enum([
  'timeout',
  'rate_limited',
  'server_error',
  'invalid_args',
  'not_found',
  'conflict',
  'forbidden',
])
export type KnownToolErrorCode = z.infer<typeof KnownToolErrorCode>

/**
 * A tool error's code: one of the known ones, or any code the tool itself gave (`card_declined`,
 * `ERR_QUOTA`), kept as recorded, shown, and not retried unless the tool contract lists it in
 * `retryable_errors`.
 */
export const ToolErrorCode = z.string().min(1).max(200)
export type ToolErrorCode = KnownToolErrorCode | (string & {})

export const RecordedToolCall = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1),
    args: z.record(z.string(), z.unknown()),
    /** What the tool answered; absent when it errored. */
    result: z.unknown().optional(),
    error: z
      .object({
        code: ToolErrorCode,
        message: z.string(),
        retry_after_ms: z.number().int().nonnegative().optional(),
      })
      .strict()
      .optional(),
    latency_ms: z.number().nonnegative(),
    /** 1 for the first try, 2+ for retries of the same logical call. */
    attempt: z.number().int().positive().default(1),
    idempotency_key: z.string().optional(),
  })
  .strict()
export type RecordedToolCall = z.infer<typeof RecordedToolCall>

export const DecisionStage = z.enum(['pre_model', 'mid_run', 'post_model', 'post_action'])
export type DecisionStage = z.infer<typeof DecisionStage>

export const Decision = z.enum(['allow', 'deny', 'require_approval'])
export type Decision = z.infer<typeof Decision>

export const RecordedPolicyDecision = z
  .object({
    stage: DecisionStage,
    /** The tool call (by recorded id) the decision was about, if any. */
    tool_call_id: z.string().optional(),
    tool: z.string().optional(),
    decision: Decision,
    reason: z.string().min(1),
  })
  .strict()
export type RecordedPolicyDecision = z.infer<typeof RecordedPolicyDecision>

export const RequestOutcome = z.enum([
  'completed',
  'escalated',
  'refused',
  'needs_approval',
  'budget_exceeded',
  'failed',
])
export type RequestOutcome = z.infer<typeof RequestOutcome>

export const Usage = z
  .object({
    input_tokens: z.number().int().nonnegative(),
    output_tokens: z.number().int().nonnegative(),
  })
  .strict()
export type Usage = z.infer<typeof Usage>

export const ProductionRecord = z
  .object({
    bundle: z.string().optional(),
    tool_calls: z.array(RecordedToolCall).default([]),
    policy_decisions: z.array(RecordedPolicyDecision).default([]),
    final_answer: z.string(),
    outcome: RequestOutcome,
    usage: Usage,
    latency_ms: z.number().nonnegative(),
    cost_usd: z.number().nonnegative().optional(),
  })
  .strict()
export type ProductionRecord = z.infer<typeof ProductionRecord>

/**
 * A matcher on one argument value: an object with exactly one key, which starts with `$`, so it can
 * never be mistaken for a literal object value (any other value, objects included, means equality;
 * a literal object with a `$` key is written `{"$eq": {...}}`).
 */
const MATCHER_OPERANDS = {
  $eq: z.unknown(),
  $ne: z.unknown(),
  $in: z.array(z.unknown()),
  $not_in: z.array(z.unknown()),
  $matches: z.string().refine((src) => {
    try {
      new RegExp(src)
      return true
    } catch {
      return false
    }
  }, 'must be a valid regular expression'),
  $gt: z.number(),
  $gte: z.number(),
  $lt: z.number(),
  $lte: z.number(),
  $exists: z.boolean(),
  $contains: z.unknown(),
} as const
type MatcherOp = keyof typeof MATCHER_OPERANDS
const MATCHER_OPS = Object.keys(MATCHER_OPERANDS) as MatcherOp[]

/** An object with a `$` key claims to be a matcher (and must then be a valid one). */
export function isArgMatcher(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  for (const k in v) if (k.startsWith('$')) return true
  return false
}

/**
 * A plain value (equality, redaction-aware) or a matcher: an object with exactly one key, which
 * starts with `$` (`{"$in": [...]}`), so a matcher can never be mistaken for a literal object value.
 * A literal object that has a `$` key is written `{"$eq": {...}}`.
 */
export const ArgExpectation = z.unknown().superRefine((v, ctx) => {
  if (!isArgMatcher(v)) return
  const keys = Object.keys(v)
  const op = keys[0] as MatcherOp
  if (keys.length !== 1) {
    ctx.addIssue({code: 'custom', message: `a matcher has exactly one $-key, got ${keys.join(', ')} (a literal object with a $ key is written {"$eq": {...}})`})
  } else if (!Object.hasOwn(MATCHER_OPERANDS, op)) {
    ctx.addIssue({code: 'custom', message: `unknown matcher ${op} (matchers: ${MATCHER_OPS.join(' ')})`})
  } else {
    const r = MATCHER_OPERANDS[op].safeParse(v[op])
    if (!r.success) ctx.addIssue({code: 'custom', path: [op], message: r.error.issues[0]?.message ?? 'invalid operand'})
  }
})
export type ArgExpectation = z.infer<typeof ArgExpectation>

/** Expected or forbidden arguments: dotted path (`to.iban`, `items.0.sku`) → value or matcher. */
const ArgExpectations = z.record(z.string().min(1), ArgExpectation).default({})

/**
 * An expected or forbidden call names its tool as `tool` or, as attack goals and model tool calls
 * do, `name`; both read the same (one of them, not both).
 */
const callExpectation = <Shape extends z.ZodRawShape>(extra: Shape) =>
  z.preprocess(
    (v) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !('name' in v) || 'tool' in v) return v
      const {name, ...rest} = v as Record<string, unknown>
      return {tool: name, ...rest}
    },
    z
      .object({
        tool: z.string().min(1),
        args: ArgExpectations,
        ...extra,
      })
      .strict(),
  )

export const ForbiddenCall = callExpectation({})
export type ForbiddenCall = z.infer<typeof ForbiddenCall>

/**
 * A call that must execute successfully with arguments holding every expectation of `args`;
 * with `after_turn: N`, only in user turn N or later (`turns`), and never before it: a write the
 * user must confirm first.
 */
const ExpectedCall = callExpectation({after_turn: z.number().int().positive().optional()})

/** Expectations used by evaluation suites; optional on any request. */
export const Expectations = z
  .object({
    tools: z.array(z.string()).optional(),
    forbidden_tools: z.array(z.string()).optional(),
    /**
     * Calls that must execute successfully: some call of `tool` executed with outcome ok whose
     * arguments hold every expectation of `args` (paths and matchers: src/eval/arg-match.ts); with
     * `after_turn: N`, in user turn N or later, and no such call executed in an earlier turn.
     */
    calls: z.array(ExpectedCall).optional(),
    /**
     * Calls that must not execute: no executed call of `tool` may hold every expectation of `args`
     * (compared as the trace stores them, so a redaction marker matches the value it hides).
     * Absent, denied or held for approval all pass; other calls of the tool are allowed.
     */
    forbidden_calls: z.array(ForbiddenCall).optional(),
    /** The request's outcome must be this one, or one of these ("refuse or hand off"). */
    outcome: z.union([RequestOutcome, z.array(RequestOutcome).min(1)]).optional(),
    decision: Decision.optional(),
    answer_contains: z.array(z.string()).optional(),
    answer_not_contains: z.array(z.string()).optional(),
    /**
     * Memory keys whose value the agent must use in a tool argument (the consistency suite);
     * `key.path` names one field of a structured value.
     */
    uses_memory: z.array(z.string().min(1)).optional(),
  })
  .strict()
export type Expectations = z.infer<typeof Expectations>

/**
 * Where an attack's text reaches the model: a retrieved document (by `id`) or the result of a
 * recorded tool call (by `id`). The attack is "in context" once that document is admitted or that
 * call's result comes back.
 */
export const AttackSource = z.union([
  z.object({retrieved: z.string().min(1)}).strict(),
  z.object({tool_call: z.string().min(1)}).strict(),
])
export type AttackSource = z.infer<typeof AttackSource>

/** A call the attacker wants made, as a model that fell for the injection would propose it. */
export const AttackGoalCall = z
  .object({
    name: z.string().min(1),
    args: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
export type AttackGoalCall = z.infer<typeof AttackGoalCall>

/**
 * A prompt injection the record is known to carry (from the benchmark or red-team exercise it came
 * from). `--model compromised` proposes the goal calls as soon as the source is in context.
 */
export const Attack = z
  .object({
    id: z.string().min(1).max(200).optional(),
    source: AttackSource,
    goal: z.array(AttackGoalCall).min(1),
  })
  .strict()
export type Attack = z.infer<typeof Attack>

/**
 * A later user turn of a multi-turn request: production's model ended a turn with an answer (a
 * question such as "shall I go ahead?") and the user replied. The turn came in after the first
 * `after_calls` entries of `production.tool_calls` (attempts included), so every recorded call
 * belongs to exactly one turn: turn 0 is the request's `input`, turn k the k-th entry of `turns`.
 */
export const UserTurn = z
  .object({
    after_calls: z.number().int().nonnegative(),
    /** What production answered at the end of the turn before: the message the user replies to. */
    answer: z.string(),
    /** The user's reply. */
    content: z.string(),
  })
  .strict()
export type UserTurn = z.infer<typeof UserTurn>

export const TrafficRecord = z
  .object({
    id: z.string().min(1).max(200),
    timestamp: z.iso.datetime({offset: true}),
    tenant: z.string().min(1),
    user: z.string().min(1),
    role: z.string().min(1),
    session_id: z.string().optional(),
    input: z.array(InputMessage).min(1),
    retrieved: z.array(RetrievedDocument).default([]),
    memory: z.array(MemoryEntry).default([]),
    production: ProductionRecord,
    /** Free-form labels from the recorder or generator (category, scenario tags). */
    labels: z.record(z.string(), z.string()).default({}),
    expect: Expectations.optional(),
    attacks: z.array(Attack).default([]),
    /**
     * Later user turns, in order; absent on a single-turn request (and then nothing about it
     * changes: it parses, hashes and replays as before). `production.final_answer` ends the last turn.
     */
    turns: z.array(UserTurn).min(1).optional(),
  })
  .strict()
  .superRefine((record, ctx) => {
    // Turns come in order, each after calls that exist: the boundaries split the recorded calls.
    let before = 0
    record.turns?.forEach((turn, i) => {
      const at = turn.after_calls
      if (at < before) ctx.addIssue({code: 'custom', path: ['turns', i, 'after_calls'], message: `must be at least the previous turn's (${before})`})
      else if (at > record.production.tool_calls.length)
        ctx.addIssue({code: 'custom', path: ['turns', i, 'after_calls'], message: `production recorded only ${record.production.tool_calls.length} tool call(s)`})
      before = Math.max(before, at)
    })
    // An attack must point at text the record really carries, or compromised replay could never fire it.
    record.attacks.forEach((attack, i) => {
      const src = attack.source
      if ('retrieved' in src) {
        if (!record.retrieved.some((d) => d.id === src.retrieved))
          ctx.addIssue({code: 'custom', path: ['attacks', i, 'source', 'retrieved'], message: `no retrieved document has id ${JSON.stringify(src.retrieved)}`})
      } else if (!record.production.tool_calls.some((c) => c.id === src.tool_call)) {
        ctx.addIssue({code: 'custom', path: ['attacks', i, 'source', 'tool_call'], message: `no recorded tool call has id ${JSON.stringify(src.tool_call)}`})
      }
    })
  })
export type TrafficRecord = z.infer<typeof TrafficRecord>

/** Every message of the request's conversation as recorded: the input, then each later turn's answer and user reply. */
export function conversationOf(record: Pick<TrafficRecord, 'input' | 'turns'>): InputMessage[] {
  if (record.turns === undefined) return record.input
  return [...record.input, ...record.turns.flatMap((t): InputMessage[] => [{role: 'assistant', content: t.answer}, {role: 'user', content: t.content}])]
}

/** The user turn (0: the request's input, k: `turns[k - 1]`) in which recorded call `index` was made. */
export function turnOfRecordedCall(turns: readonly UserTurn[] | undefined, index: number): number {
  let turn = 0
  if (turns !== undefined) for (const t of turns) if (t.after_calls <= index) turn++
  return turn
}
