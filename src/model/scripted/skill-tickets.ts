import type {ChatRequest, ToolSpec} from '../types.js'
import {parseConversation} from './conversation.js'
import {offersTools, paraphraseVariant, skillAnswer} from './skill-answer.js'
import type {ScriptedSkill, SkillAnswer} from './skills.js'
import {renderTicketAnswer, TICKET_PII_NOTE, ticketParaphraseCount} from './tickets/answers.js'
import {decideTicket} from './tickets/decide.js'
import {ticketDirectivesFor} from './tickets/directives.js'

/**
 * The IT service-desk skill (docs/scripted-model.md, "Ticket skill"): tickets, password resets,
 * access grants and production changes. It claims a request only when the offered tools look like
 * a ticketing system — both `get_ticket` and `request_change` — so a support agent offered
 * `lookup_order` & co. keeps the support skill.
 */
export function isTicketToolset(tools: readonly ToolSpec[]): boolean {
  return offersTools(tools, 'get_ticket', 'request_change')
}

export function ticketsRespond(request: ChatRequest, opts: {seed: number; temperature: number}): SkillAnswer {
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
