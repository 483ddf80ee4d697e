import type {ChatMessage, ModelToolCall, ToolSpec} from '../types.js'
import type {CallAction} from './exchanges.js'
import type {SkillAnswer} from './skills.js'
import {createTextMemo} from '../../util/text-memo.js'

/**
 * What every skill does around its own decisions: claiming a request by the tools it offers,
 * turning a decided action into the model's message, and choosing and filling a paraphrase.
 */

export type PlanAction = {kind: 'plan'; steps: ModelToolCall[]}

/** Whether every one of `names` is among the offered tools (a skill claims a request by its tools). */
export function offersTools(tools: readonly ToolSpec[], ...names: string[]): boolean {
  return names.every((name) => tools.some((t) => t?.function?.name === name))
}

/**
 * A new plan after a departure from the last one: the calls the skill would make next from what
 * happened so far (its react decision), or none when it would answer.
 */
export function replanOf(next: PlanAction | CallAction | {kind: 'final'}): PlanAction {
  if (next.kind === 'plan') return next as PlanAction
  return {kind: 'plan', steps: next.kind === 'call' ? (next as CallAction).calls : []}
}

/** The model's message for an action: the plan as JSON, the calls with their note, or the final answer's text. */
export function skillAnswer<F extends {kind: 'final'}>(action: PlanAction | CallAction | F, finalText: (action: F) => string): SkillAnswer {
  if (action.kind === 'plan') {
    const steps = (action as PlanAction).steps
    return {content: JSON.stringify({plan: steps.map((s) => ({tool: s.name, args: s.arguments})), max_tool_calls: steps.length}), tool_calls: []}
  }
  if (action.kind === 'call') {
    const {note, calls} = action as CallAction
    return {content: note, tool_calls: calls}
  }
  return {content: finalText(action as F), tool_calls: []}
}

/** FNV-1a over the seed and every message: which paraphrase a sampled (temperature > 0) answer uses. */
export function conversationHash(seed: number, messages: readonly ChatMessage[]): number {
  let h = 0x811c9dc5 ^ (seed | 0)
  for (const m of messages) {
    for (let i = 0; i < m.content.length; i++) {
      h ^= m.content.charCodeAt(i)
      h = Math.imul(h, 0x01000193)
    }
    h ^= 0x1f
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** Which of `count` paraphrases to use: the first at temperature 0, else one picked by hash(seed, conversation). */
export function paraphraseVariant(opts: {seed: number; temperature: number}, messages: readonly ChatMessage[], count: number): number {
  return opts.temperature > 0 ? conversationHash(opts.seed, messages) % count : 0
}

/**
 * Fills paraphrase number `variant` (wrapped into range) with `facts`. A missing `{…_ref}` fact
 * (an optional reference) disappears; any other missing fact stays visible as `{name}`.
 */
export function renderParaphrase(options: readonly string[], facts: Readonly<Record<string, string | number>>, variant: number): string {
  const template = options[((variant % options.length) + options.length) % options.length] ?? options[0] ?? ''
  const {literals, names} = splitParaphrase(template)
  let out = literals[0]!
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    const v = facts[name]
    out += (v === undefined ? (name.endsWith('_ref') ? '' : `{${name}}`) : String(v)) + literals[i + 1]!
  }
  return out
}

/** A paraphrase split at its `{name}` slots: names[i] sits between literals[i] and literals[i + 1]. */
type SplitParaphrase = {literals: string[]; names: string[]}

const splits = createTextMemo<SplitParaphrase>(1024)

/**
 * A skill's paraphrases are a fixed table, rendered on every final answer: each is split once
 * (bounded) and filled by concatenation, as the `{(\w+)}` replace did it.
 */
function splitParaphrase(template: string): SplitParaphrase {
  return splits.get(template, split)
}

function split(template: string): SplitParaphrase {
  const literals: string[] = []
  const names: string[] = []
  let last = 0
  for (const m of template.matchAll(/\{(\w+)\}/g)) {
    literals.push(template.slice(last, m.index))
    names.push(m[1]!)
    last = m.index + m[0].length
  }
  literals.push(template.slice(last))
  return {literals, names}
}
