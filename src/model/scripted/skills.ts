import type {ChatRequest, ModelToolCall, ToolSpec} from '../types.js'

/**
 * A skill is the domain half of the scripted model: what an agent of one kind (support, coding,
 * service desk …) decides from a conversation and the tools it is offered. Skills live beside the
 * scenarios that use them and are registered by the module paths a run names (scenario.yaml
 * `skill:`, `--skill`); src/ knows none of them. Which registered skill answers is decided by the
 * tools a request offers, so the model still decides from the ChatRequest alone. When no skill
 * claims a request, the generic behaviour (generic.ts) answers.
 */
export type SkillAnswer = {content: string; tool_calls: ModelToolCall[]}

/** Taken from the request options, else the model's defaults. */
export type SkillOptions = {seed: number; temperature: number}

export interface ScriptedSkill {
  readonly name: string
  /** Pure and cheap: called on every request. */
  handles(tools: readonly ToolSpec[]): boolean
  /** Deterministic in (request, opts): a replay must be reproducible. */
  respond(request: ChatRequest, opts: SkillOptions): SkillAnswer
}

/** The first of `skills` (in registration order) that claims `tools`, or undefined. */
export function skillFor(skills: readonly ScriptedSkill[], tools: readonly ToolSpec[]): ScriptedSkill | undefined {
  for (const s of skills) if (s.handles(tools)) return s
  return undefined
}

/** Whether `v` has the shape of a skill (what a skill module must export). */
export function isScriptedSkill(v: unknown): v is ScriptedSkill {
  if (v === null || typeof v !== 'object') return false
  const s = v as Record<string, unknown>
  return typeof s.name === 'string' && s.name !== '' && typeof s.handles === 'function' && typeof s.respond === 'function'
}
