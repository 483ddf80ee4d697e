import type {ChatRequest, ToolSpec} from '../../../src/model/types.js'
import {parseConversation} from '../../../src/model/scripted/conversation.js'
import {offersTools, paraphraseVariant, skillAnswer} from '../../../src/model/scripted/skill-answer.js'
import type {ScriptedSkill, SkillAnswer, SkillOptions} from '../../../src/model/scripted/skills.js'
import {renderTicketAnswer, TICKET_PII_NOTE, ticketParaphraseCount} from './answers.js'
import {decideTicket} from './decide.js'
import {ticketDirectivesFor} from './directives.js'

/**
 * The IT service-desk skill (docs/scripted-model.md, "Ticket skill"): tickets, password resets,
 * access grants and production changes. It claims a request only when the offered tools look like
 * a ticketing system — both `get_ticket` and `request_change` — so registered beside other skills
 * it leaves their requests alone. Registered by scenarios/enterprise-tickets/scenario.yaml.
 */
export function isTicketToolset(tools: readonly ToolSpec[]): boolean {
  return offersTools(tools, 'get_ticket', 'request_change')
}

export function ticketsRespond(request: ChatRequest, opts: SkillOptions): SkillAnswer {
  const conv = parseConversation(request.messages)
  const directives = ticketDirectivesFor(conv.system)
  const action = decideTicket(conv, directives, request.tools)
  return skillAnswer(action, (final) => {
    const text = renderTicketAnswer(final.answer, final.facts, paraphraseVariant(opts, request.messages, ticketParaphraseCount(final.answer)))
    return final.pii ? text + TICKET_PII_NOTE : text
  })
}

export const ticketsSkill: ScriptedSkill = {
  name: 'tickets',
  handles: isTicketToolset,
  respond: ticketsRespond,
}

export default ticketsSkill
