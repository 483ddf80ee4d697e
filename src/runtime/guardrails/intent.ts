import type {IntentConfig} from '../../bundle/schema.js'
import type {GuardrailResult} from '../../trace/schema.js'

/**
 * The pre-model intent classifier (`guardrails.intents`): deterministic, no model. Intents are
 * asked in the bundle's order and the first that matches the latest user message wins: a pattern
 * (case-insensitive regex) that finds a match, or an example every word of which (lowercase letters
 * and digits) is a word of the message.
 */

export const TOOL_NOT_IN_INTENT = 'TOOL_NOT_IN_INTENT'

export type CompiledIntent = {name: string; patterns: RegExp[]; examples: string[][]; tools: ReadonlySet<string>}

export function compileIntents(intents: readonly IntentConfig[]): CompiledIntent[] {
  return intents.map((i) => ({
    name: i.name,
    patterns: i.patterns.map((p) => new RegExp(p, 'i')),
    examples: i.examples.map(words).filter((w) => w.length > 0),
    tools: new Set(i.tools),
  }))
}

function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
}

export type IntentMatch = {intent: CompiledIntent | null; by: string}

export function classifyIntent(text: string, intents: readonly CompiledIntent[]): IntentMatch {
  let have: Set<string> | null = null
  for (const intent of intents) {
    for (const re of intent.patterns) if (re.test(text)) return {intent, by: `pattern /${re.source}/`}
    for (const example of intent.examples) {
      have ??= new Set(words(text))
      if (example.every((w) => have!.has(w))) return {intent, by: `example "${example.join(' ')}"`}
    }
  }
  return {intent: null, by: 'no intent matched'}
}

/** The pre-model finding: which intent, by what, and which tools it allows. */
export function intentResult(match: IntentMatch): GuardrailResult {
  const i = match.intent
  return {
    stage: 'pre_model',
    step: 0,
    check: 'intent.classify',
    passed: i !== null,
    severity: i === null ? 'low' : 'info',
    detail: i === null ? 'no intent matched: no tools offered' : `intent ${i.name} (${match.by}): tools ${[...i.tools].sort().join(', ') || 'none'}`,
  }
}
