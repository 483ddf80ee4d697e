import {z} from 'zod'

/**
 * The bundle manifest (`bundle.yaml` or `bundle.json`): one versioned release unit.
 * Every type the rest of the code uses for bundles comes from these schemas.
 * Keys are snake_case in files and in the parsed objects alike, so that an error path
 * (`tools.2.args.properties.amount.maximum`) is exactly what the user wrote.
 */

const identifier = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_]*$/, 'must be snake_case: a lowercase letter, then lowercase letters, digits or _')

export const RiskLevel = z.enum(['read', 'write_low', 'write_high'])
export type RiskLevel = z.infer<typeof RiskLevel>

/**
 * A tool's argument schema: any standard JSON Schema object (src/bundle/arg-schema.ts checks it
 * against its draft's meta-schema and compiles it). zod only says it is a mapping; the keywords are
 * checked with their locations by the bundle checks.
 */
export const ArgSchema = z.record(z.string(), z.unknown())
export type ArgSchema = z.infer<typeof ArgSchema>

const ToolContractFields = z
  .object({
    name: identifier,
    description: z.string().min(1),
    risk: RiskLevel,
    /**
     * The argument schema (an object schema: tool arguments are always a JSON object). A definition
     * pasted from OpenAI (`parameters`) or Anthropic (`input_schema`) may keep its key: exactly one
     * of the three, and the parsed contract (so the canonical form and the hash) has it as `args`.
     */
    args: ArgSchema.optional(),
    parameters: ArgSchema.optional(),
    input_schema: ArgSchema.optional(),
    /** tenant id (or "*" for every tenant) -> roles allowed to call this tool. */
    roles: z.record(z.string(), z.array(z.string().min(1)).min(1)),
    idempotency: z.enum(['required', 'none']).default('none'),
    /**
     * `confirm`: a write without idempotency keys (`idempotency: none`) whose earlier attempt may have
     * happened (a timeout, a lost answer) is retried only once the approver confirms it. Absent: such
     * a retry is refused (and the bundle hash of a contract without it).
     */
    retry: z.enum(['confirm']).optional(),
    /** Argument fields (dotted paths into args) whose values never reach the store in the clear. */
    sensitive_fields: z.array(z.string().min(1)).default([]),
    budget: z
      .object({
        max_calls_per_request: z.number().int().nonnegative(),
        /**
         * A CEL expression (e.g. `args.order_id`): the limit then holds for each value of it
         * separately, "once per order" rather than "once per request".
         */
        per: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    rate_limits: z
      .object({
        per_user_per_minute: z.number().int().positive().optional(),
        per_tenant_per_minute: z.number().int().positive().optional(),
        /** A CEL expression: each window is kept per value of it (per user and order, say). */
        per: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Disabled tools stay in the contract (so diffs show them) but every call is refused. */
    enabled: z.boolean().default(true),
    /**
     * A completed call of this tool hands the request to a human: a request that then ends with a
     * final answer is `escalated` (unless a call still awaits approval). Absent means false, and the
     * hash does not tell the two apart.
     */
    escalates: z.boolean().optional(),
    /**
     * What the post-action check expects of a successful call's result. `structured` (default
     * true): an object or array, else RESULT_MALFORMED; `confirms_with_id` (default true): a write's
     * result carries an identifier (`id` or `*_id`), else WRITE_UNCONFIRMED. Set false for a tool
     * that answers plain text, or whose writes return no id. At their defaults they leave the hash as it was.
     */
    result: z
      .object({
        structured: z.boolean().optional(),
        confirms_with_id: z.boolean().optional(),
      })
      .strict()
      .optional(),
    /** Error codes of this tool the runtime retries, beyond the retryable known ones (timeout, rate_limited, server_error). */
    retryable_errors: z.array(z.string().min(1)).optional(),
  })
  .strict()

const SCHEMA_KEYS = ['args', 'parameters', 'input_schema'] as const

export const ToolContract = ToolContractFields.superRefine((tool, ctx) => {
  const given = SCHEMA_KEYS.filter((k) => tool[k] !== undefined)
  if (given.length === 0) ctx.addIssue({code: 'custom', path: ['args'], message: 'missing required field: the argument schema (args, or parameters / input_schema as OpenAI and Anthropic write it)'})
  for (const k of given.slice(1)) ctx.addIssue({code: 'custom', path: [k], message: `give the argument schema once: ${given.join(' and ')} are both set`})
}).transform(({args, parameters, input_schema, ...rest}) => ({...rest, args: (args ?? parameters ?? input_schema)!}))
export type ToolContract = z.output<typeof ToolContract>

export const PolicyEffect = z.enum(['allow', 'deny', 'require_approval'])
export type PolicyEffect = z.infer<typeof PolicyEffect>

export const ConditionOp = z.enum([
  'eq',
  'ne',
  'gt',
  'gte',
  'lt',
  'lte',
  'in',
  'not_in',
  'contains',
  'not_contains',
  'matches',
  'not_matches',
  'exists',
  'missing',
])
export type ConditionOp = z.infer<typeof ConditionOp>

/**
 * One test over the proposed action. `field` is a dotted path into the policy context:
 * `tool`, `risk`, `tenant`, `user`, `role`, `step`, `tool_calls`, `args.<path>`,
 * `signals.<name>` (guardrail findings: `injection_in_input`, `injection_in_retrieved`,
 * `injection_in_tool_result` (true from the first tool answer that carried injection to the end of
 * the request), `injection_source_tool` (that tool's name), `pii_in_input`,
 * `cross_tenant_document`, `cross_tenant_memory`, `memory_conflict`, `input_chars`,
 * `evidence_count`, `memory_count`; the README lists them).
 */
export const PolicyCondition = z
  .object({
    field: z.string().min(1),
    op: ConditionOp,
    value: z.unknown().optional(),
  })
  .strict()
export type PolicyCondition = z.infer<typeof PolicyCondition>

export const PolicyRule = z
  .object({
    id: z.string().min(1).regex(/^[a-z0-9][a-z0-9_.-]*$/, 'must be lowercase letters, digits, _ . or -'),
    description: z.string().optional(),
    effect: PolicyEffect,
    /** Reason code recorded with the decision, e.g. REFUND_OVER_LIMIT. */
    reason: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an UPPER_SNAKE reason code'),
    /** Which actions the rule looks at; every listed selector must match. Empty = every tool call. */
    tools: z.array(z.string()).optional(),
    risk: z.array(RiskLevel).optional(),
    tenants: z.array(z.string()).optional(),
    roles: z.array(z.string()).optional(),
    /** Every condition must hold for the rule to fire. */
    when: z.array(PolicyCondition).default([]),
    /**
     * A CEL expression that must also hold (docs/policy-language.md: the variables it sees, with
     * history and taint). Compiled and type-checked when the bundle loads.
     */
    if: z.string().min(1).optional(),
  })
  .strict()
export type PolicyRule = z.infer<typeof PolicyRule>

export const Budgets = z
  .object({
    max_steps: z.number().int().nonnegative(),
    max_tool_calls: z.number().int().nonnegative(),
    max_total_tokens: z.number().int().nonnegative(),
    max_retries: z.number().int().nonnegative(),
    max_cost_usd: z.number().nonnegative().optional(),
  })
  .strict()
export type Budgets = z.infer<typeof Budgets>

export const TenantQuota = z
  .object({
    max_tokens_per_minute: z.number().int().positive().optional(),
    max_tool_calls_per_minute: z.number().int().positive().optional(),
    max_requests_per_minute: z.number().int().positive().optional(),
  })
  .strict()
export type TenantQuota = z.infer<typeof TenantQuota>

/** model.max_answer_bytes when a bundle does not say: 1 MiB. */
export const DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024

export const ModelConfig = z
  .object({
    provider: z.enum(['scripted', 'ollama']),
    name: z.string().min(1),
    temperature: z.number().min(0).max(2).default(0),
    seed: z.number().int().default(0),
    max_output_tokens: z.number().int().positive().default(1024),
    timeout_ms: z.number().int().positive().default(30_000),
    /** USD per 1,000 tokens, for cost estimates; a local model costs 0 unless you say otherwise. */
    pricing: z
      .object({input_per_1k: z.number().nonnegative(), output_per_1k: z.number().nonnegative()})
      .strict()
      .default({input_per_1k: 0, output_per_1k: 0}),
    /** Extra options passed through to the provider (Ollama's `options`). */
    options: z.record(z.string(), z.unknown()).default({}),
    /**
     * The largest model answer (its text plus its tool calls as JSON, in UTF-8 bytes) a request
     * accepts; a larger one fails that request and is never stored. Left out of the hash at its
     * default (src/bundle/hash.ts), so bundles that do not set it keep the hash they had.
     */
    max_answer_bytes: z.number().int().positive().default(DEFAULT_MAX_ANSWER_BYTES),
    /**
     * Ollama's `think` for thinking models: on, off, or a level. Left out: not sent, and the
     * bundle keeps the hash it had (an absent optional field is not in the canonical form).
     */
    think: z.union([z.boolean(), z.enum(['low', 'medium', 'high'])]).optional(),
    /**
     * Ollama's `keep_alive`, sent with every call and with the load before the run: a duration
     * ("10m", "1h") or seconds (a negative number keeps the model loaded). Left out: not sent.
     */
    /**
     * Ollama drops every argument-schema keyword but type, description, enum, properties, required,
     * items and anyOf (src/bundle/model-visible.ts), so the model never sees `maximum`, `pattern`…
     * true: the Ollama client writes them into each parameter's description. Left out: off, and the
     * bundle keeps the hash it had.
     */
    describe_constraints: z.boolean().optional(),
    keep_alive: z.union([z.number().int(), z.string().regex(/^-?(\d+|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$/, 'a duration such as "5m", "1h" or "-1"')]).optional(),
  })
  .strict()
export type ModelConfig = z.infer<typeof ModelConfig>

export const RetrievalConfig = z
  .object({
    index: z.string().min(1),
    embedding_version: z.string().min(1),
    top_k: z.number().int().positive().default(5),
    chunking: z
      .object({
        strategy: z.enum(['fixed', 'sentence', 'semantic', 'none']),
        size: z.number().int().positive().optional(),
        overlap: z.number().int().nonnegative().optional(),
      })
      .strict(),
    /** Lowest trust level whose text may be quoted as evidence; lower is dropped. */
    min_trust: z.enum(['untrusted', 'internal', 'trusted']).default('untrusted'),
  })
  .strict()
export type RetrievalConfig = z.infer<typeof RetrievalConfig>

export const MemoryField = z
  .object({
    key: z.string().min(1),
    type: z.enum(['string', 'number', 'boolean', 'object']),
    owner: z.string().min(1),
    ttl_seconds: z.number().int().positive().optional(),
  })
  .strict()
export type MemoryField = z.infer<typeof MemoryField>

export const MemoryContract = z
  .object({
    fields: z.array(MemoryField).default([]),
    default_ttl_seconds: z.number().int().positive(),
    provenance_required: z.boolean().default(true),
    /** Services allowed to write memory at all. */
    owners: z.array(z.string().min(1)).default([]),
  })
  .strict()
export type MemoryContract = z.infer<typeof MemoryContract>

/**
 * One intent of the pre-model classifier: a request whose latest user message matches one of
 * `patterns` (case-insensitive regex) or contains every word of one of `examples` is of this intent,
 * and may use only `tools`.
 */
export const IntentConfig = z
  .object({
    name: z.string().min(1),
    patterns: z.array(z.string().min(1)).default([]),
    examples: z.array(z.string().min(1)).default([]),
    tools: z.array(z.string().min(1)),
  })
  .strict()
export type IntentConfig = z.infer<typeof IntentConfig>

export const GuardrailConfig = z
  .object({
    max_input_chars: z.number().int().positive().default(20_000),
    /**
     * Extra regular expressions (case-insensitive) flagged as prompt injection, besides the built-in
     * patterns: in user input, retrieved documents and every tool result.
     */
    injection_patterns: z.array(z.string()).default([]),
    /** Block the request outright when injection is found in user input (else only flag it). */
    block_injection_in_input: z.boolean().default(false),
    /** Final answers must not contain these (case-insensitive regex), e.g. internal codes. */
    forbidden_output_patterns: z.array(z.string()).default([]),
    /**
     * Scan every tool call's arguments for credentials before it runs and deny one that carries any
     * (`SECRET_IN_ARGS`). Absent: false (and the bundle hash of a bundle without it).
     */
    scan_args_for_secrets: z.boolean().optional(),
    /**
     * The deterministic intent classifier, asked before the model, in order (first match wins). A
     * request is offered, and may call, only its intent's tools; one that matches no intent gets none
     * (declare a catch-all last, pattern ".", to give unmatched requests tools). Absent: no
     * classification, every enabled tool (and the bundle hash of a bundle without it).
     */
    intents: z.array(IntentConfig).optional(),
    /**
     * The post-model output schema: a JSON Schema the final answer must satisfy. The answer must be
     * one JSON document (a ```json fence around it is allowed) and valid against it; otherwise the
     * request ends `failed` (OUTPUT_NOT_JSON / OUTPUT_SCHEMA_INVALID) with a post-model finding.
     * Absent: free text (and the bundle hash of a bundle without it).
     */
    output_schema: ArgSchema.optional(),
  })
  .strict()
export type GuardrailConfig = z.infer<typeof GuardrailConfig>

/**
 * How far the agent may act on its own (progressive autonomy), enforced by the runtime on each
 * proposed write: `read_only` refuses every write, `draft` records writes without running them
 * and ends the request once they are drafted, `low_risk_writes` holds `write_high` calls for
 * approval, `full` is no limit beyond the policy's.
 */
export const AutonomyLevel = z.enum(['read_only', 'draft', 'low_risk_writes', 'full'])
export type AutonomyLevel = z.infer<typeof AutonomyLevel>

/** `autonomy: draft`, or `autonomy: {default: full, tenants: {acme: draft}}`; a bare level is the default for every tenant. */
export const Autonomy = z.preprocess(
  (v) => (typeof v === 'string' ? {default: v} : v),
  z
    .object({
      default: AutonomyLevel,
      tenants: z.record(z.string().min(1), AutonomyLevel).default({}),
    })
    .strict(),
)
export type Autonomy = z.infer<typeof Autonomy>

/**
 * A feature flag: the tools it names are offered to the model and callable only for the tenants it
 * is `on` for (`default`, overridden per tenant). A tool named by several flags needs all of them on.
 * The prompt sections it names (`{{#section name}}` … `{{/section name}}` in a prompt template, see
 * src/bundle/templates.ts) are in the prompts only for those tenants, likewise. A flag names at least
 * one tool or section; `sections` absent: the flag hashes as it did before sections existed.
 */
export const FeatureFlag = z
  .object({
    tools: z.array(z.string().min(1)).min(1).optional(),
    sections: z.array(z.string().min(1)).min(1).optional(),
    default: z.enum(['on', 'off']),
    tenants: z.record(z.string().min(1), z.enum(['on', 'off'])).default({}),
  })
  .strict()
export type FeatureFlag = z.infer<typeof FeatureFlag>

export const BundleManifest = z
  .object({
    name: z.string().min(1).regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be lowercase letters, digits, . _ or -'),
    version: z.string().min(1),
    description: z.string().optional(),
    model: ModelConfig,
    agent: z
      .object({
        mode: z.enum(['react', 'plan_first']),
        /**
         * plan_first: how many times the model may be asked for a new plan after a planned call was
         * denied or failed. Absent: 0, no replanning (and the bundle hash of a bundle without it).
         */
        max_replans: z.number().int().nonnegative().optional(),
      })
      .strict()
      .default({mode: 'react'}),
    /** Template files, relative to the bundle directory. */
    prompts: z
      .object({
        system: z.string().min(1),
        plan: z.string().min(1).optional(),
      })
      .strict(),
    tools: z.array(ToolContract).min(1),
    policies: z.array(PolicyRule).default([]),
    /** Decision when no rule fires. */
    policy_default: PolicyEffect.default('allow'),
    budgets: Budgets,
    tenant_quotas: z.record(z.string(), TenantQuota).default({}),
    retrieval: RetrievalConfig.optional(),
    memory: MemoryContract.optional(),
    /** Absent: `full` for every tenant, and the bundle hashes as it did before autonomy existed. */
    autonomy: Autonomy.optional(),
    /** Feature flags by name; absent: no tool is flagged, and the bundle hashes as before flags existed. */
    flags: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lowercase letters, digits, _ or -'), FeatureFlag).optional(),
    guardrails: GuardrailConfig.default({
      max_input_chars: 20_000,
      injection_patterns: [],
      block_injection_in_input: false,
      forbidden_output_patterns: [],
    }),
  })
  .strict()
export type BundleManifest = z.infer<typeof BundleManifest>

/** A loaded bundle: the manifest plus the text of every template it references. */
export type Bundle = {
  /** Absolute directory the bundle was loaded from. */
  dir: string
  /** `bundle.yaml` or `bundle.json`, relative to dir. */
  manifestFile: string
  manifest: BundleManifest
  /** Template path (as written in the manifest) -> file text. */
  templates: Record<string, string>
  /** sha256 over the canonical form, hex. */
  hash: string
  /** `name@version#hash12`. */
  ref: string
}
