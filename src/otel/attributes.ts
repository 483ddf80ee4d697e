/**
 * Attribute and operation names. The `gen_ai.*` names follow the OpenTelemetry GenAI semantic
 * conventions (still incubating upstream, so they are spelled out here rather than imported from
 * `@opentelemetry/semantic-conventions/incubating`, whose exports may change in a minor release;
 * a test checks that the two agree). `understudy.*` carries what the conventions have no name for.
 */
export const GEN_AI = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolType: 'gen_ai.tool.type',
  toolCallArguments: 'gen_ai.tool.call.arguments',
  toolCallResult: 'gen_ai.tool.call.result',
  agentName: 'gen_ai.agent.name',
  conversationId: 'gen_ai.conversation.id',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
} as const

export const OPERATION = {
  invokeAgent: 'invoke_agent',
  chat: 'chat',
  executeTool: 'execute_tool',
} as const

/** Inference operations whose spans carry token usage. */
export const INFERENCE_OPERATIONS: ReadonlySet<string> = new Set(['chat', 'text_completion', 'generate_content'])

export const ERROR_TYPE = 'error.type'
export const ENDUSER_ID = 'enduser.id'

export const US = {
  runId: 'understudy.run_id',
  side: 'understudy.side',
  repeat: 'understudy.repeat',
  line: 'understudy.line',
  requestId: 'understudy.request_id',
  bundle: 'understudy.bundle',
  tenant: 'understudy.tenant',
  user: 'understudy.user',
  role: 'understudy.role',
  status: 'understudy.status',
  error: 'understudy.error',
  finalAnswer: 'understudy.final_answer',
  costUsd: 'understudy.cost_usd',
  budgetHits: 'understudy.budget_hits',
  modelCalls: 'understudy.model_calls',
  // what the pre-model guardrails admitted into the model's context (on every root span; empty when none)
  admittedDocuments: 'understudy.context.admitted_document_ids',
  admittedMemory: 'understudy.context.admitted_memory_keys',
  step: 'understudy.step',
  seq: 'understudy.seq',
  // tool calls
  args: 'understudy.args',
  argsHash: 'understudy.args_hash',
  risk: 'understudy.risk',
  outcome: 'understudy.outcome',
  executed: 'understudy.executed',
  attempt: 'understudy.attempt',
  idempotencyKey: 'understudy.idempotency_key',
  // policy decisions (on a tool span, or on a `understudy.policy_decision` event)
  policyStage: 'understudy.policy.stage',
  policyDecision: 'understudy.policy.decision',
  policyReason: 'understudy.policy.reason',
  policyRule: 'understudy.policy.rule',
  policyTool: 'understudy.policy.tool',
  // guardrails (on a `understudy.guardrail` event)
  guardrailCheck: 'understudy.guardrail.check',
  guardrailStage: 'understudy.guardrail.stage',
  guardrailSeverity: 'understudy.guardrail.severity',
  guardrailDetail: 'understudy.guardrail.detail',
} as const

export const EVENT = {
  policyDecision: 'understudy.policy_decision',
  guardrail: 'understudy.guardrail',
} as const
