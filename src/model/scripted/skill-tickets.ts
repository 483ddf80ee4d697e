import type {ChatRequest, ToolSpec} from '../types.js'
import {parseConversation} from './conversation.js'
import type {ScriptedSkill, SkillAnswer} from './skills.js'
import {renderTicketAnswer, TICKET_PII_NOTE, ticketConversationHash, ticketParaphraseCount} from './tickets/answers.js'
import {decideTicket} from './tickets/decide.js'
import {ticketDirectivesFor} from './tickets/directives.js'

/**
 * The IT service-desk skill (docs/scripted-model.md, "Ticket skill"): tickets, password resets,
 * access grants and production changes. It claims a request only when the offered tools look like
 * a ticketing system — both `get_ticket` and `request_change` — so a support agent offered
 * `lookup_order` & co. keeps the support skill.
 */
export function isTicketToolset(tools: readonly ToolSpec[]): boolean {
  let ticket = false
  let change = false
  for (const t of tools) {
    const name = t?.function?.name
    if (name === 'get_ticket') ticket = true
    else if (name === 'request_change') change = true
  }
  return ticket && change
}

export function ticketsRespond(request: ChatRequest, opts: {seed: number; temperature: number}): SkillAnswer {
  const conv = parseConversation(request.messages)
  const directives = ticketDirectivesFor(conv.system)
  const action = decideTicket(conv, directives, request.tools)
  switch (action.kind) {
    case 'plan':
      return {content: JSON.stringify({plan: action.steps.map((s) => ({tool: s.name, args: s.arguments}))}), tool_calls: []}
    case 'call':
      return {content: action.note, tool_calls: action.calls}
    case 'final': {
      const variant = opts.temperature > 0 ? ticketConversationHash(opts.seed, request.messages) % ticketParaphraseCount(action.answer) : 0
      const text = renderTicketAnswer(action.answer, action.facts, variant)
      return {content: action.pii ? text + TICKET_PII_NOTE : text, tool_calls: []}
    }
  }
}

export const ticketsSkill: ScriptedSkill = {
  name: 'tickets',
  handles: isTicketToolset,
  respond: ticketsRespond,
}
