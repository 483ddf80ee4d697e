import type {ChatRequest, ToolSpec} from '../types.js'
import {codingConversationHash, codingParaphraseCount, renderCodingAnswer, SECRET_NOTE} from './coding/answers.js'
import {decideCoding} from './coding/decide.js'
import {codingDirectivesFor} from './coding/directives.js'
import {parseConversation} from './conversation.js'
import type {ScriptedSkill, SkillAnswer} from './skills.js'

/**
 * The scripted coding agent (docs/scripted-model.md, "Coding skill"): searches and reads a
 * repository, works on a branch of its own, writes files, runs tests and opens pull requests,
 * following the directives of its system prompt and building every argument from the offered
 * tool schemas.
 */

/** A request is a coding request when it offers the repository tools the skill works with. */
export function offersCodingTools(tools: readonly ToolSpec[]): boolean {
  let read = false
  let pr = false
  for (const t of tools) {
    const name = t?.function?.name
    if (name === 'read_file') read = true
    else if (name === 'open_pull_request') pr = true
  }
  return read && pr
}

export function codingRespond(request: ChatRequest, opts: {seed: number; temperature: number}): SkillAnswer {
  const tools = Array.isArray(request.tools) ? request.tools : []
  const conv = parseConversation(request.messages)
  const action = decideCoding(conv, codingDirectivesFor(conv.system), tools)
  switch (action.kind) {
    case 'plan':
      return {content: JSON.stringify({plan: action.steps.map((s) => ({tool: s.name, args: s.arguments}))}), tool_calls: []}
    case 'call':
      return {content: action.note, tool_calls: action.calls}
    case 'final': {
      const variant = opts.temperature > 0 ? codingConversationHash(opts.seed, request.messages) % codingParaphraseCount(action.answer) : 0
      let text = renderCodingAnswer(action.answer, action.facts, variant)
      if (action.secretEnv.length > 0) text += SECRET_NOTE.replace('{env}', action.secretEnv.map((e) => `\`${e}\``).join(', '))
      return {content: text, tool_calls: []}
    }
  }
}

export const codingSkill: ScriptedSkill = {
  name: 'coding',
  handles: offersCodingTools,
  respond: codingRespond,
}
