import type {ChatRequest, ToolSpec} from '../types.js'
import {codingParaphraseCount, renderCodingAnswer, SECRET_NOTE} from './coding/answers.js'
import {decideCoding} from './coding/decide.js'
import {codingDirectivesFor} from './coding/directives.js'
import {parseConversation} from './conversation.js'
import {offersTools, paraphraseVariant, skillAnswer} from './skill-answer.js'
import type {ScriptedSkill, SkillAnswer} from './skills.js'

/**
 * The scripted coding agent (docs/scripted-model.md, "Coding skill"): searches and reads a
 * repository, works on a branch of its own, writes files, runs tests and opens pull requests,
 * following the directives of its system prompt and building every argument from the offered
 * tool schemas.
 */

/** A request is a coding request when it offers the repository tools the skill works with. */
export function offersCodingTools(tools: readonly ToolSpec[]): boolean {
  return offersTools(tools, 'read_file', 'open_pull_request')
}

export function codingRespond(request: ChatRequest, opts: {seed: number; temperature: number}): SkillAnswer {
  const tools = Array.isArray(request.tools) ? request.tools : []
  const conv = parseConversation(request.messages)
  const action = decideCoding(conv, codingDirectivesFor(conv.system), tools)
  return skillAnswer(action, (final) => {
    const text = renderCodingAnswer(final.answer, final.facts, paraphraseVariant(opts, request.messages, codingParaphraseCount(final.answer)))
    return final.secretEnv.length > 0 ? text + SECRET_NOTE.replace('{env}', final.secretEnv.map((e) => `\`${e}\``).join(', ')) : text
  })
}

export const codingSkill: ScriptedSkill = {
  name: 'coding',
  handles: offersCodingTools,
  respond: codingRespond,
}
