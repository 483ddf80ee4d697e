import {renderParaphrase} from '../../../src/model/scripted/skill-answer.js'

/**
 * Final-answer wording. Every answer kind has paraphrases that say the same thing; at temperature 0
 * the first is used, above 0 one is picked by hash(seed, conversation). Only wording varies — facts
 * (order ids, amounts, ticket ids) are the same in every paraphrase — which is exactly the noise a
 * diff must learn to ignore.
 */
export type AnswerKind =
  | 'refund_done'
  | 'refund_corrected'
  | 'already_refunded'
  | 'store_credit'
  | 'escalated_approval'
  | 'escalated_threshold'
  | 'escalated_tool_failure'
  | 'escalated_invalid'
  | 'escalated_partial'
  | 'escalated_complaint'
  | 'escalated_cancel'
  | 'escalated_account'
  | 'escalation_failed'
  | 'denied'
  | 'order_status'
  | 'order_not_found'
  | 'tool_unavailable'
  | 'ask_order_id'
  | 'kb_answer'
  | 'kb_no_answer'
  | 'email_change_sent'
  | 'complaint_ack'
  | 'generic'

export type AnswerFacts = Record<string, string | number>

const TEMPLATES: Record<AnswerKind, string[]> = {
  refund_done: [
    'I have issued a refund of ${amount} for order {order}{refund_ref}. It usually appears on the original payment method within 5-10 business days.',
    'Your refund of ${amount} for order {order} has been processed{refund_ref}. Expect it on your statement within 5-10 business days.',
    'Done: order {order} has been refunded ${amount}{refund_ref}. Please allow 5-10 business days for it to show up.',
  ],
  refund_corrected: [
    'Order {order} was for ${amount}, so I have refunded the full order amount of ${amount} (you mentioned ${claimed}){refund_ref}.',
    'I refunded ${amount} for order {order}{refund_ref}; that is the full amount charged for the order (you mentioned ${claimed}).',
    'The order total for {order} is ${amount}, and that is what I refunded{refund_ref} (you mentioned ${claimed}).',
  ],
  already_refunded: [
    'Order {order} has already been refunded, so I have not issued a second refund.',
    'It looks like order {order} was refunded already; I did not issue another refund.',
    'Order {order} already shows as refunded, so no further refund was issued.',
  ],
  store_credit: [
    'Order {order} is older than {days} days, so instead of a refund I can offer ${amount} in store credit. Would you like that?',
    'Because order {order} was placed more than {days} days ago, I can offer store credit of ${amount} rather than a refund. Shall I apply it?',
    'Order {order} is past our {days}-day refund window; I can offer ${amount} as store credit instead. Let me know if you would like it.',
  ],
  escalated_approval: [
    'A refund of ${amount} for order {order} needs a supervisor\'s approval, so I have escalated it{ticket_ref}. You will hear back soon.',
    'Refunds of ${amount} need approval; I have passed order {order} to a supervisor{ticket_ref}.',
    'I have sent the ${amount} refund for order {order} for approval{ticket_ref}. A supervisor will follow up.',
  ],
  escalated_threshold: [
    'Refunds of ${amount} are handled by our team directly, so I have escalated order {order} to a human agent{ticket_ref}.',
    'Because the refund is ${amount}, a human agent will handle order {order}; I have escalated it{ticket_ref}.',
    'I have handed order {order} (${amount}) to a human agent{ticket_ref}, as refunds of this size need a person.',
  ],
  escalated_tool_failure: [
    'Our order system is not responding right now, so I have escalated your request{ticket_ref}. A team member will follow up.',
    'I could not reach our systems after several tries, so I have passed this to a team member{ticket_ref}.',
    'Something went wrong on our side; I have escalated your request to a person{ticket_ref}.',
  ],
  escalated_invalid: [
    'I could not complete the request automatically, so I have escalated it to a team member{ticket_ref}.',
    'I was not able to process this myself; a team member will take it from here{ticket_ref}.',
    'This needs a person to complete, so I have escalated it{ticket_ref}.',
  ],
  escalated_partial: [
    'I am not sure whether the last step went through, so I have asked a team member to check before anything is repeated{ticket_ref}.',
    'The last step may or may not have completed; a team member will verify it{ticket_ref}.',
    'To avoid doing anything twice, I have asked a team member to confirm what happened{ticket_ref}.',
  ],
  escalated_complaint: [
    'I am sorry about this. I have escalated your complaint to a human agent{ticket_ref}, and they will contact you.',
    'Thank you for telling us. A human agent will follow up on your complaint{ticket_ref}.',
    'I have passed your complaint to a person on our team{ticket_ref}; they will be in touch.',
  ],
  escalated_cancel: [
    'I have asked our team to cancel or return order {order}{ticket_ref}. You will get a confirmation once it is done.',
    'Your cancellation/return request for order {order} is with our team{ticket_ref}.',
    'Order {order}: a team member will handle the cancellation or return{ticket_ref}.',
  ],
  escalated_account: [
    'For your security, email changes are handled by a team member after identity checks; I have opened a request{ticket_ref}.',
    'I have opened a request for the email change{ticket_ref}; a team member will verify your identity first.',
    'A team member will complete the email change after verifying your identity{ticket_ref}.',
  ],
  escalation_failed: [
    'I could not open a ticket right now. Please try again shortly or contact support by phone.',
    'Opening a ticket failed on our side; please try again in a few minutes.',
    'I was unable to create a ticket. Please reach out again shortly.',
  ],
  denied: [
    'I am not able to do that for you ({reason}).',
    'That action is not permitted here ({reason}).',
    'Sorry, I cannot perform that action ({reason}).',
  ],
  order_status: [
    'Order {order} is {status}. It was placed on {placed} for ${amount}.',
    'Your order {order} (placed {placed}, ${amount}) is currently {status}.',
    'The current status of order {order} is {status}; it was placed on {placed} for ${amount}.',
  ],
  order_not_found: [
    'I could not find order {order}. Could you double-check the order number?',
    'There is no order {order} on file. Please check the number and try again.',
    'I was unable to locate order {order}; could you confirm the order number?',
  ],
  tool_unavailable: [
    'I cannot check that right now; please try again later.',
    'That information is not available to me at the moment.',
    'I am unable to look that up right now.',
  ],
  ask_order_id: [
    'Could you share your order number (it looks like ORD-123456)?',
    'Which order is this about? Please send the order number (ORD-123456).',
    'Please tell me the order number, for example ORD-123456, and I will take a look.',
  ],
  kb_answer: [
    '{answer} (source: {source})',
    'According to our help centre: {answer} (source: {source})',
    'Here is what our documentation says: {answer} (source: {source})',
  ],
  kb_no_answer: [
    'I could not find an answer to that in our help centre. A team member can help if you reply here.',
    'Our help centre does not cover that; please reply and a team member will assist.',
    'I did not find that in our documentation; a team member can help further.',
  ],
  email_change_sent: [
    'I have sent a confirmation link to the email address on file. Once you confirm, your email will be updated to the new address.',
    'Please check the inbox of your current email address: I have sent a link to confirm the change.',
    'A confirmation link is on its way to your current email address; the change takes effect once you confirm.',
  ],
  complaint_ack: [
    'I am sorry about your experience. I have noted your feedback.',
    'Thank you for the feedback, and I am sorry this happened.',
    'I apologise for the trouble; your feedback has been recorded.',
  ],
  generic: [
    'How can I help you with your order today?',
    'What can I help you with regarding your order?',
    'Let me know what you need help with for your order.',
  ],
}

export const PII_NOTE = ' For your security, please do not share payment card numbers in chat.'
export const WARM_OPENING = 'Thank you for your patience, and I completely understand how frustrating this is. '

export function paraphraseCount(kind: AnswerKind): number {
  return TEMPLATES[kind].length
}

export function renderAnswer(kind: AnswerKind, facts: AnswerFacts, variant: number): string {
  return renderParaphrase(TEMPLATES[kind], facts, variant)
}

export function formatMoney(n: number): string {
  return n.toFixed(2)
}
