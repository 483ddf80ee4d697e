import type {ChatRequest, ToolSpec} from '../../../src/model/types.js'
import {parseConversation} from '../../../src/model/scripted/conversation.js'
import {offersTools, paraphraseVariant, skillAnswer} from '../../../src/model/scripted/skill-answer.js'
import type {ScriptedSkill, SkillAnswer, SkillOptions} from '../../../src/model/scripted/skills.js'
import {codingParaphraseCount, renderCodingAnswer, SECRET_NOTE} from './answers.js'
import {decideCoding} from './decide.js'
import {codingDirectivesFor} from './directives.js'

/**
 * The scripted coding agent (docs/scripted-model.md, "Coding skill"): searches and reads a
 * repository, works on a branch of its own, writes files, runs tests and opens pull requests,
 * following the directives of its system prompt and building every argument from the offered
 * tool schemas. Registered by scenarios/coding-agent/scenario.yaml.
 */

/** A request is a coding request when it offers the repository tools the skill works with. */
export function offersCodingTools(tools: readonly ToolSpec[]): boolean {
  return offersTools(tools, 'read_file', 'open_pull_request')
}

export function codingRespond(request: ChatRequest, opts: SkillOptions): SkillAnswer {
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

export default codingSkill
