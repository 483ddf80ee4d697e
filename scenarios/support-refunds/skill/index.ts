import {parseConversation} from '../../../src/model/scripted/conversation.js'
import {offersTools, paraphraseVariant, skillAnswer} from '../../../src/model/scripted/skill-answer.js'
import type {ScriptedSkill, SkillAnswer, SkillOptions} from '../../../src/model/scripted/skills.js'
import type {ChatRequest, ToolSpec} from '../../../src/model/types.js'
import {PII_NOTE, WARM_OPENING, paraphraseCount, renderAnswer} from './answers.js'
import {type Action, decide} from './decide.js'
import {directivesFor} from './directives.js'

/**
 * The scripted customer-support agent (docs/scripted-model.md, "Support skill"): refunds, order
 * status, returns, account changes and help-centre questions, following the directives of its
 * system prompt and building every argument from the offered tool schemas. Registered by
 * scenarios/support-refunds/scenario.yaml and by the drills built on that scenario.
 */

/** The tools the support agent knows how to use. */
const SUPPORT_TOOLS = ['lookup_order', 'issue_refund', 'send_email', 'escalate_ticket', 'search_kb'] as const

/**
 * Claims a request that offers any of its tools, or no tools at all: it still answers order and
 * policy questions from memory and retrieved documents when every tool is switched off.
 */
export function offersSupportTools(tools: readonly ToolSpec[]): boolean {
  return tools.length === 0 || SUPPORT_TOOLS.some((name) => offersTools(tools, name))
}

function finalText(action: Extract<Action, {kind: 'final'}>, variant: number, warmTone: boolean): string {
  const c = action.caseInfo
  let text = renderAnswer(action.answer, action.facts, variant)
  if (warmTone && c.upset) text = WARM_OPENING + text
  if (c.preferredName) text = `Hi ${c.preferredName}. ${text}`
  if (c.cardNumber) text += PII_NOTE
  return text
}

export function supportRespond(request: ChatRequest, opts: SkillOptions): SkillAnswer {
  const tools = Array.isArray(request.tools) ? request.tools : []
  const conv = parseConversation(request.messages)
  const directives = directivesFor(conv.system)
  const action = decide(conv, directives, tools)
  return skillAnswer(action, (final) => finalText(final, paraphraseVariant(opts, request.messages, paraphraseCount(final.answer)), directives.warmTone))
}

export const supportSkill: ScriptedSkill = {
  name: 'support',
  handles: offersSupportTools,
  respond: supportRespond,
}

export default supportSkill
