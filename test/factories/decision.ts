import {GuardrailResult, PolicyDecisionTrace, type GuardrailSeverity} from '../../src/trace/schema.js'
import type {Decision, DecisionStage} from '../../src/traffic/schema.js'

/**
 * A policy decision as a trace holds it (checked by the real schema); a trace built by trace()
 * numbers its decisions' `seq` in order. Set `tool_call_seq` for a decision about a tool call.
 */
export function decision(
  stage: DecisionStage,
  tool: string | null,
  verdict: Decision,
  reason: string,
  overrides: Partial<PolicyDecisionTrace> = {},
): PolicyDecisionTrace {
  return PolicyDecisionTrace.parse({seq: 0, step: 0, stage, tool_call_seq: null, tool, decision: verdict, reason, rule: null, ...overrides})
}

/** A guardrail check's verdict as a trace holds it (checked by the real schema), at step 0. */
export function guardrail(
  stage: DecisionStage,
  check: string,
  passed: boolean,
  severity: GuardrailSeverity = 'high',
  detail = check,
): GuardrailResult {
  return GuardrailResult.parse({stage, step: 0, check, passed, severity, detail})
}
