import type {ChatRequest, ModelToolCall, ToolSpec} from '../types.js'
import {codingSkill} from './skill-coding.js'
import {ticketsSkill} from './skill-tickets.js'

/**
 * The scripted model's skills beyond customer support. Which one answers is decided by the tools a
 * request offers (a coding agent is offered repository tools, a ticket agent ticketing tools), so the
 * model still decides from the ChatRequest alone. When no skill claims the tools, the support agent
 * (decide.ts) answers.
 */
export type SkillAnswer = {content: string; tool_calls: ModelToolCall[]}

export interface ScriptedSkill {
  readonly name: string
  /** Pure and cheap: called on every request. */
  handles(tools: readonly ToolSpec[]): boolean
  /** `seed` and `temperature` come from the request options (or the model's defaults). */
  respond(request: ChatRequest, opts: {seed: number; temperature: number}): SkillAnswer
}

export const SKILLS: readonly ScriptedSkill[] = [codingSkill, ticketsSkill]

export function skillFor(tools: readonly ToolSpec[]): ScriptedSkill | undefined {
  for (const s of SKILLS) if (s.handles(tools)) return s
  return undefined
}
