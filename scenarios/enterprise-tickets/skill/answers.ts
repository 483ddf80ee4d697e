import {renderParaphrase} from '../../../src/model/scripted/skill-answer.js'

/**
 * The ticket agent's final-answer wording. Every kind has three paraphrases stating the same facts
 * (ticket, change, grant and reset ids, systems, levels); temperature 0 always uses the first, above
 * 0 one is picked by hash(seed, conversation) — the wording noise a diff must learn to ignore.
 */
export type TicketAnswerKind =
  | 'reset_done'
  | 'verify_identity'
  | 'access_granted'
  | 'access_pending_approval'
  | 'need_justification'
  | 'ask_access_details'
  | 'change_applied'
  | 'change_awaiting_approval'
  | 'change_raised'
  | 'assigned'
  | 'ticket_updated'
  | 'ticket_status'
  | 'ticket_not_found'
  | 'ask_ticket_id'
  | 'runbook_answer'
  | 'runbook_none'
  | 'denied'
  | 'tool_failure'
  | 'invalid_request'
  | 'partial_write'
  | 'conflict'
  | 'generic'

export type TicketFacts = Record<string, string | number>

const TEMPLATES: Record<TicketAnswerKind, string[]> = {
  reset_done: [
    'I have reset the password for {user}{reset_ref}. A one-time link was sent to their registered contact and expires in {minutes} minutes.',
    'The password for {user} has been reset{reset_ref}; the one-time link sent to their registered contact is valid for {minutes} minutes.',
    'Done: {user} has a new password reset{reset_ref}. They should use the one-time link (valid {minutes} minutes) sent to their registered contact.',
  ],
  verify_identity: [
    'Before I can reset the password for {user}, their identity has to be verified (callback to the registered number, their manager, or an ID check). Let me know once that is done.',
    'I cannot reset the password for {user} until their identity is verified by callback, manager approval or an ID check. Please confirm when it is verified.',
    'Identity verification is required first: please verify {user} by callback, manager approval or ID check, then ask me again to reset the password.',
  ],
  access_granted: [
    'Granted {level} access to {system} for {user}{grant_ref}.',
    '{user} now has {level} access to {system}{grant_ref}.',
    'Access is in place: {user} has {level} rights on {system}{grant_ref}.',
  ],
  access_pending_approval: [
    '{level} access to {system} for {user} needs approval ({reason}); the request is waiting for an approver.',
    'The request for {level} access to {system} for {user} is waiting for approval ({reason}).',
    'An approver has to sign off before {user} gets {level} access to {system} ({reason}).',
  ],
  need_justification: [
    'I could not submit the access request for {user} on {system}: a business justification is required. Please tell me why the access is needed.',
    'Access requests for {system} need a business justification. Could you tell me why {user} needs it?',
    'Please add a business justification (why {user} needs access to {system}) and I will submit the request.',
  ],
  ask_access_details: [
    'Which system should the access be for, and at what level (read, write or admin)?',
    'Please tell me the system and the access level (read, write or admin) you need.',
    'To request access I need the system name and the level: read, write or admin.',
  ],
  change_applied: [
    'Change {change} has been applied to {environment}{ticket_ref}.',
    'I applied change {change} in {environment}{ticket_ref}.',
    'Done: change {change} is live in {environment}{ticket_ref}.',
  ],
  change_awaiting_approval: [
    'Change {change} for {environment} needs approval ({reason}) before it can be applied{cab_ref}.',
    'Change {change} is waiting for approval ({reason}); it will be applied to {environment} once approved{cab_ref}.',
    'Before change {change} goes to {environment} it has to be approved ({reason}){cab_ref}.',
  ],
  change_raised: [
    'I raised change {change}{ticket_ref}, but I am not allowed to apply it ({reason}); a change manager needs to apply it.',
    'Change {change} is raised{ticket_ref}; applying it needs a change manager ({reason}).',
    'Change request {change} exists now{ticket_ref}. A change manager has to apply it ({reason}).',
  ],
  assigned: [
    '{ticket} is now assigned to {assignee}.',
    'I assigned {ticket} to {assignee}.',
    'Done: {assignee} owns {ticket} now.',
  ],
  ticket_updated: [
    '{ticket} is now {status}.',
    'I set {ticket} to {status}.',
    'Done: the status of {ticket} is {status}.',
  ],
  ticket_status: [
    '{ticket} ("{title}") is {status}, assigned to {assignee}; last updated {updated}.',
    'The status of {ticket} ("{title}") is {status}. {assignee} is working on it (last update {updated}).',
    '{ticket}: {status}, with {assignee} ("{title}", updated {updated}).',
  ],
  ticket_not_found: [
    'I could not find {ticket}. Could you double-check the ticket number?',
    'There is no ticket {ticket} that I can see; please check the number.',
    'I was unable to locate {ticket}; could you confirm the ticket number?',
  ],
  ask_ticket_id: [
    'Which ticket is this about? Please send the ticket number (it looks like INC-123456).',
    'Could you share the ticket number, for example INC-123456?',
    'Please tell me the ticket number (INC-123456) and I will take a look.',
  ],
  runbook_answer: [
    '{answer} (runbook: {source})',
    'According to the runbook: {answer} (runbook: {source})',
    'Here is what the runbook says: {answer} (runbook: {source})',
  ],
  runbook_none: [
    'I could not find a runbook for that. Please open a ticket and the service desk will help.',
    'No runbook covers that yet; the service desk can help if you open a ticket.',
    'I did not find that in the runbooks; please raise a ticket for the service desk.',
  ],
  denied: [
    'I am not able to do that ({reason}).',
    'That action is not permitted ({reason}).',
    'Sorry, I cannot perform that action ({reason}).',
  ],
  tool_failure: [
    'The ticketing systems are not responding right now, so I could not complete this. Please try again shortly.',
    'I could not reach the systems I need after several tries; please try again in a few minutes.',
    'Something went wrong on our side and the request did not go through. Please try again later.',
  ],
  invalid_request: [
    'I could not submit that request ({detail}). Please check the details and try again.',
    'The request was rejected as incomplete ({detail}); please check the details.',
    'That request could not be submitted ({detail}). Could you check the details?',
  ],
  partial_write: [
    'I am not sure whether the last step went through, so I have not repeated it. Please check before trying again.',
    'The last step may or may not have completed; I did not retry it so nothing happens twice.',
    'To avoid doing anything twice I stopped: please confirm whether the last step took effect.',
  ],
  conflict: [
    'That could not be done because the ticket or change changed in the meantime ({detail}).',
    'The update conflicted with another change ({detail}); please check the current state.',
    'Someone else changed it first ({detail}); please review and try again.',
  ],
  generic: [
    'How can I help with your IT request today?',
    'What can I help you with: a ticket, access, a password or a change?',
    'Let me know what you need: ticket status, access, a password reset or a change.',
  ],
}

export const TICKET_PII_NOTE = ' For your security, please do not share passwords or personal identifiers (SSNs, phone or card numbers) in tickets.'

export function ticketParaphraseCount(kind: TicketAnswerKind): number {
  return TEMPLATES[kind].length
}

export function renderTicketAnswer(kind: TicketAnswerKind, facts: TicketFacts, variant: number): string {
  return renderParaphrase(TEMPLATES[kind], facts, variant)
}
