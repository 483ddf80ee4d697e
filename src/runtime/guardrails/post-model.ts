import type {BundleManifest, GuardrailConfig} from '../../bundle/schema.js'
import type {GuardrailResult} from '../../trace/schema.js'
import {compileBundlePattern, findSecrets} from './patterns.js'
import {sharedConstant, SharedResults} from './shared-results.js'

export const OUTPUT_LEAKS_SECRET = 'OUTPUT_LEAKS_SECRET'
export const OUTPUT_FORBIDDEN = 'OUTPUT_FORBIDDEN'

const forbiddenCache = new WeakMap<GuardrailConfig, RegExp[]>()
function forbiddenFor(config: GuardrailConfig): RegExp[] {
  let list = forbiddenCache.get(config)
  if (!list) {
    list = config.forbidden_output_patterns.map(compileBundlePattern)
    forbiddenCache.set(config, list)
  }
  return list
}

// What a passing check says, shared between requests (shared-results.ts).
const PASS = {
  forbidden: new SharedResults('post_model', 'output.forbidden', true, 'info', (n: number) => `none of ${n} forbidden pattern(s)`),
  noForbidden: sharedConstant('post_model', 'output.forbidden', true, 'info', 'no forbidden patterns configured'),
  secrets: sharedConstant('post_model', 'output.secrets', true, 'info', 'no secret in answer'),
}

/**
 * Checks a final answer before it would reach the user. Details name the kind of leak or the
 * pattern, never the leaked text: guardrail results are stored as they are.
 */
export function postModelGuardrails(
  answer: string,
  ctx: {manifest: BundleManifest; step: number},
): {guardrails: GuardrailResult[]; blocked: {reason: string} | null} {
  const config = ctx.manifest.guardrails
  const result = (check: string, passed: boolean, detail: string): GuardrailResult => ({
    stage: 'post_model',
    step: ctx.step,
    check,
    passed,
    severity: passed ? 'info' : 'high',
    detail,
  })

  const patterns = config.forbidden_output_patterns
  const hits = forbiddenFor(config).flatMap((re, i) => (re.test(answer) ? [patterns[i]!] : []))
  const forbidden =
    hits.length > 0
      ? result('output.forbidden', false, `answer matches forbidden pattern(s): ${hits.join(', ')}`)
      : patterns.length > 0
        ? PASS.forbidden.get(ctx.step, patterns.length)
        : PASS.noForbidden.get(ctx.step)

  const kinds = findSecrets(answer, {leaksOnly: true})
  const secrets =
    kinds.length > 0
      ? result('output.secrets', false, `answer contains: ${kinds.join(', ')}`)
      : PASS.secrets.get(ctx.step)

  // A leaked secret is the graver finding, so it names the block when both apply.
  const blocked = kinds.length > 0 ? {reason: OUTPUT_LEAKS_SECRET} : hits.length > 0 ? {reason: OUTPUT_FORBIDDEN} : null
  return {guardrails: [forbidden, secrets], blocked}
}
