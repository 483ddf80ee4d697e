import type {ModelToolCall, ToolSpec} from '../../../src/model/types.js'
import {replanOf} from '../../../src/model/scripted/skill-answer.js'
import type {Conversation, Exchange} from '../../../src/model/scripted/conversation.js'
import {type CallAction, record, RETRYABLE, retryLast} from '../../../src/model/scripted/exchanges.js'
import {type AnswerFacts, type AnswerKind, formatMoney} from './answers.js'
import {buildArgs, findTool, type Intentions} from './args.js'
import type {Directives} from './directives.js'
import {bestEvidence, type Case, findDocumentInstructions, firstSentence, readCase} from './extract.js'

/** What the model does next. */
export type Action =
  | CallAction
  | {kind: 'final'; answer: AnswerKind; facts: AnswerFacts; caseInfo: Case}
  | {kind: 'plan'; steps: ModelToolCall[]}

type Cause = 'approval' | 'threshold' | 'tool_failure' | 'invalid' | 'partial' | 'complaint' | 'cancel' | 'account'

const CAUSE_ANSWER: Record<Cause, AnswerKind> = {
  approval: 'escalated_approval',
  threshold: 'escalated_threshold',
  tool_failure: 'escalated_tool_failure',
  invalid: 'escalated_invalid',
  partial: 'escalated_partial',
  complaint: 'escalated_complaint',
  cancel: 'escalated_cancel',
  account: 'escalated_account',
}

const CAUSE_CATEGORY: Record<Cause, string> = {
  approval: 'refund_approval',
  threshold: 'refund_approval',
  tool_failure: 'tool_failure',
  invalid: 'other',
  partial: 'tool_failure',
  complaint: 'complaint',
  cancel: 'cancellation',
  account: 'account',
}

type Order = {status: string | null; amount: number | null; placed: string | null; email: string | null}

/** Everything decide() needs, derived once per call. */
type State = {
  conv: Conversation
  d: Directives
  tools: readonly ToolSpec[]
  c: Case
  done: Exchange[]
  /** Addresses that retrieved documents told the agent to send data to. */
  injectedTargets: Set<string>
}

function argString(args: Record<string, unknown>, ...names: string[]): string | null {
  for (const n of names) {
    const v = args[n]
    if (typeof v === 'string') return v
  }
  return null
}

function recipientOf(e: Exchange): string | null {
  return argString(e.args, 'to', 'recipient', 'email', 'customer_email')?.toLowerCase() ?? null
}

function isInjected(s: State, e: Exchange): boolean {
  if (e.name !== 'send_email') return false
  const to = recipientOf(e)
  return to !== null && s.injectedTargets.has(to)
}

function numberField(r: Record<string, unknown>, ...names: string[]): number | null {
  for (const n of names) {
    const v = r[n]
    if (typeof v === 'number' && Number.isFinite(v)) return v
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
  }
  return null
}

function stringField(r: Record<string, unknown>, ...names: string[]): string | null {
  for (const n of names) {
    const v = r[n]
    if (typeof v === 'string' && v.length > 0) return v
  }
  return null
}

function lastOk(s: State, name: string): Exchange | undefined {
  for (let i = s.done.length - 1; i >= 0; i--) {
    const e = s.done[i]!
    if (e.name === name && e.ok) return e
  }
  return undefined
}

function attempted(s: State, name: string, pred: (e: Exchange) => boolean = () => true): boolean {
  return s.done.some((e) => e.name === name && pred(e))
}

function order(s: State): Order | null {
  const e = lastOk(s, 'lookup_order')
  if (!e) return null
  const r = record(e.result)
  const o = record(r?.order) ?? r
  if (!o) return {status: null, amount: null, placed: null, email: null}
  return {
    status: stringField(o, 'status', 'state')?.toLowerCase() ?? null,
    amount: numberField(o, 'amount', 'total', 'order_total', 'amount_usd'),
    placed: stringField(o, 'ordered_at', 'placed_at', 'created_at', 'order_date'),
    email: stringField(o, 'customer_email', 'email'),
  }
}

function ageInDays(placed: string | null, today: string | null): number | null {
  if (!placed || !today) return null
  const a = Date.parse(placed)
  const b = Date.parse(`${today}T23:59:59Z`)
  if (Number.isNaN(a) || Number.isNaN(b)) return null
  return Math.floor((b - a) / 86_400_000)
}

function call(s: State, name: string, meaning: Intentions, note: string): Action | null {
  const tool = findTool(s.tools, name)
  if (!tool) return null
  return {kind: 'call', calls: [{name, arguments: buildArgs(tool, meaning)}], note}
}

function final(s: State, answer: AnswerKind, facts: AnswerFacts = {}): Action {
  return {kind: 'final', answer, facts, caseInfo: s.c}
}

function refundAmount(s: State, o: Order | null): number | null {
  const claimed = s.c.amount
  if (o?.amount != null) return claimed !== null ? Math.min(claimed, o.amount) : o.amount
  return claimed
}

function ticketRef(s: State): string {
  const e = lastOk(s, 'escalate_ticket')
  const r = record(e?.result)
  const id = r ? stringField(r, 'ticket_id', 'id', 'ticket') : null
  return id ? ` (ticket ${id})` : ''
}

function causeFacts(s: State): AnswerFacts {
  const amount = refundAmount(s, order(s))
  return {order: s.c.orderId ?? 'your order', amount: amount !== null ? formatMoney(amount) : '0.00', ticket_ref: ticketRef(s)}
}

function causeSummary(s: State, cause: Cause): string {
  const f = causeFacts(s)
  const o = s.c.orderId ?? 'unknown order'
  switch (cause) {
    case 'approval':
      return `Refund of $${f.amount} for ${o} needs approval.`
    case 'threshold':
      return `Refund of $${f.amount} for ${o} is above the automatic limit.`
    case 'tool_failure':
      return `Tools failed repeatedly while handling ${o}.`
    case 'invalid':
      return `Could not build a valid request for ${o}; needs manual handling.`
    case 'partial':
      return `A write for ${o} may have partially completed; verify before retrying.`
    case 'complaint':
      return `Customer complaint${s.c.orderId ? ` about ${o}` : ''}.`
    case 'cancel':
      return `Customer asks to cancel or return ${o}.`
    case 'account':
      return 'Customer asks to change the account email; identity check needed.'
  }
}

/** Escalates for `cause`, or gives the final answer once the escalation is done or impossible. */
function escalate(s: State, cause: Cause): Action {
  if (lastOk(s, 'escalate_ticket')) return final(s, CAUSE_ANSWER[cause], causeFacts(s))
  const priority = cause === 'complaint' || cause === 'cancel' || cause === 'account' ? (s.c.upset ? 'high' : 'normal') : 'high'
  const meaning: Intentions = {orderId: s.c.orderId, priority, category: CAUSE_CATEGORY[cause], summary: causeSummary(s, cause)}
  return call(s, 'escalate_ticket', meaning, 'Escalating to a human agent.') ?? final(s, CAUSE_ANSWER[cause], causeFacts(s))
}

/** The outcome of the first unrecovered failure, if any: a cause to escalate or a final answer. */
function failureOutcome(s: State): Action | null {
  for (let i = 0; i < s.done.length; i++) {
    const e = s.done[i]!
    if (e.ok || isInjected(s, e)) continue
    if (recoveredLater(s.done, i)) continue
    const code = e.error?.code ?? 'server_error'
    if (e.name === 'escalate_ticket' && code !== 'policy_denied' && code !== 'forbidden') return final(s, 'escalation_failed')
    if (RETRYABLE.has(code)) return escalate(s, 'tool_failure')
    switch (code) {
      case 'needs_approval':
        return escalate(s, 'approval')
      case 'schema_invalid':
      case 'invalid_args':
        return escalate(s, 'invalid')
      case 'partial_write_unknown':
        return escalate(s, 'partial')
      case 'conflict':
        return e.name === 'issue_refund' ? final(s, 'already_refunded', {order: s.c.orderId ?? 'your order'}) : escalate(s, 'invalid')
      case 'policy_denied':
      case 'forbidden':
        return final(s, 'denied', {reason: denialReason(e)})
      case 'not_found':
        return final(s, 'order_not_found', {order: s.c.orderId ?? 'that order'})
      default:
        return final(s, 'tool_unavailable')
    }
  }
  return null
}

/** Whether a later call of the same tool as done[i] succeeded. */
function recoveredLater(done: readonly Exchange[], i: number): boolean {
  const name = done[i]!.name
  for (let j = i + 1; j < done.length; j++) if (done[j]!.name === name && done[j]!.ok) return true
  return false
}

function denialReason(e: Exchange): string {
  const m = /\b[A-Z][A-Z0-9_]{3,}\b/.exec(e.error?.message ?? '')
  return m ? m[0] : 'not permitted'
}

function historyBody(s: State): string {
  const o = order(s)
  const orders = s.c.orderId ? [`${s.c.orderId}${o?.status ? ` (${o.status}, $${formatMoney(o.amount ?? 0)})` : ''}`] : []
  return `Order history for ${s.c.customerEmail ?? 'the customer'}: ${orders.length ? orders.join(', ') : 'no orders referenced'}.`
}

function refundFlow(s: State): Action {
  const {c, d} = s
  if (!c.orderId) return final(s, 'ask_order_id')
  const o = order(s)
  const needLookup = d.lookupBeforeRefund || c.amount === null
  if (needLookup && !o && !attempted(s, 'lookup_order')) {
    const a = call(s, 'lookup_order', {orderId: c.orderId}, `Looking up order ${c.orderId}.`)
    if (a) return a
  }
  if (o?.status === 'refunded') return final(s, 'already_refunded', {order: c.orderId})
  const amount = refundAmount(s, o)
  if (amount === null) return final(s, 'tool_unavailable')
  if (o && d.storeCreditAfterDays !== null) {
    const age = ageInDays(o.placed, d.today)
    if (age !== null && age > d.storeCreditAfterDays) {
      return final(s, 'store_credit', {order: c.orderId, days: d.storeCreditAfterDays, amount: formatMoney(amount)})
    }
  }
  if (d.escalateRefundsAbove !== null && amount > d.escalateRefundsAbove) return escalate(s, 'threshold')
  const refund = lastOk(s, 'issue_refund')
  if (!refund) {
    const meaning: Intentions = {
      orderId: c.orderId,
      amount,
      currency: 'USD',
      reason: c.reason,
      method: 'original_payment',
      // Only an address the customer gave (or memory holds): a looked-up address is for contacting them.
      email: c.customerEmail,
    }
    return call(s, 'issue_refund', meaning, `Issuing a refund of $${formatMoney(amount)} for ${c.orderId}.`) ?? final(s, 'tool_unavailable')
  }
  const r = record(refund.result)
  const refundId = r ? stringField(r, 'refund_id', 'id') : null
  const email = c.customerEmail ?? o?.email ?? null
  if (d.confirmRefundsByEmail && email && !attempted(s, 'send_email', (e) => recipientOf(e) === email)) {
    const a = call(
      s,
      'send_email',
      {
        email,
        subject: `Your refund for order ${c.orderId}`,
        body: `We have refunded $${formatMoney(amount)} for order ${c.orderId}${refundId ? ` (refund ${refundId})` : ''}. It should appear within 5-10 business days.`,
      },
      'Sending the refund confirmation.',
    )
    if (a) return a
  }
  const facts: AnswerFacts = {order: c.orderId, amount: formatMoney(amount), refund_ref: refundId ? ` (refund ${refundId})` : ''}
  if (c.amount !== null && amount < c.amount) return final(s, 'refund_corrected', Object.assign({}, facts, {claimed: formatMoney(c.amount)}))
  return final(s, 'refund_done', facts)
}

function lookupThen(s: State, then: (o: Order) => Action): Action {
  const {c} = s
  if (!c.orderId) return final(s, 'ask_order_id')
  const o = order(s)
  if (o) return then(o)
  return call(s, 'lookup_order', {orderId: c.orderId}, `Looking up order ${c.orderId}.`) ?? final(s, 'tool_unavailable')
}

function statusFlow(s: State): Action {
  return lookupThen(s, (o) =>
    final(s, 'order_status', {
      order: s.c.orderId ?? '',
      status: o.status ?? 'being processed',
      placed: o.placed ? o.placed.slice(0, 10) : 'an unknown date',
      amount: formatMoney(o.amount ?? 0),
    }),
  )
}

function accountFlow(s: State): Action {
  const {c} = s
  const current = c.customerEmail
  const target = c.emails.find((e) => e !== current) ?? null
  if (!current || !target) return escalate(s, 'account')
  if (!attempted(s, 'send_email', (e) => recipientOf(e) === current)) {
    const a = call(
      s,
      'send_email',
      {
        email: current,
        subject: 'Confirm your email change',
        body: `We received a request to change the email on your account to ${target}. Follow the link in this message to confirm.`,
      },
      'Sending a confirmation link to the current address.',
    )
    if (a) return a
    return escalate(s, 'account')
  }
  return final(s, 'email_change_sent')
}

function kbFlow(s: State): Action {
  const evidence = bestEvidence(s.conv.documents)
  if (evidence && !s.d.searchBeforeAnswering) {
    return final(s, 'kb_answer', {answer: firstSentence(evidence.content), source: evidence.id})
  }
  const searched = lastOk(s, 'search_kb')
  if (!searched && !attempted(s, 'search_kb')) {
    const a = call(s, 'search_kb', {query: s.c.question.slice(0, 200), topK: 3}, 'Searching the knowledge base.')
    if (a) return a
  }
  const r = record(searched?.result)
  const results = Array.isArray(r?.results) ? r.results : Array.isArray(searched?.result) ? (searched.result as unknown[]) : []
  const top = record(results[0])
  if (top) {
    const text = stringField(top, 'snippet', 'content', 'text', 'answer', 'summary') ?? ''
    return final(s, 'kb_answer', {answer: firstSentence(text), source: stringField(top, 'id', 'title') ?? 'knowledge base'})
  }
  if (evidence) return final(s, 'kb_answer', {answer: firstSentence(evidence.content), source: evidence.id})
  return final(s, 'kb_no_answer')
}

function mainFlow(s: State): Action {
  switch (s.c.intent) {
    case 'refund':
      return refundFlow(s)
    case 'order_status':
      return statusFlow(s)
    case 'cancel_return':
      return lookupThen(s, () => escalate(s, 'cancel'))
    case 'account_change':
      return accountFlow(s)
    case 'complaint':
      return s.d.escalateComplaints ? escalate(s, 'complaint') : final(s, 'complaint_ack')
    case 'kb_question':
      return kbFlow(s)
    case 'unknown':
      return s.c.orderId ? statusFlow(s) : final(s, 'generic')
  }
}

/** Tool calls the model would make if every call succeeded: the plan for plan_first mode. */
function plan(s: State): ModelToolCall[] {
  const steps: ModelToolCall[] = []
  const add = (name: string, meaning: Intentions) => {
    const tool = findTool(s.tools, name)
    if (tool) steps.push({name, arguments: buildArgs(tool, meaning)})
  }
  const {c, d} = s
  switch (c.intent) {
    case 'refund':
      if (!c.orderId) break
      if (d.lookupBeforeRefund || c.amount === null) add('lookup_order', {orderId: c.orderId})
      if (c.amount !== null && d.escalateRefundsAbove !== null && c.amount > d.escalateRefundsAbove)
        add('escalate_ticket', {orderId: c.orderId, priority: 'high', category: 'refund_approval', summary: causeSummary(s, 'threshold')})
      else
        add('issue_refund', {orderId: c.orderId, amount: c.amount, currency: 'USD', reason: c.reason, method: 'original_payment', email: c.customerEmail})
      break
    case 'order_status':
    case 'unknown':
      if (c.orderId) add('lookup_order', {orderId: c.orderId})
      break
    case 'cancel_return':
      if (c.orderId) add('lookup_order', {orderId: c.orderId})
      add('escalate_ticket', {orderId: c.orderId, priority: 'normal', category: 'cancellation', summary: causeSummary(s, 'cancel')})
      break
    case 'complaint':
      if (d.escalateComplaints) add('escalate_ticket', {orderId: c.orderId, priority: c.upset ? 'high' : 'normal', category: 'complaint', summary: causeSummary(s, 'complaint')})
      break
    case 'account_change':
      add('escalate_ticket', {priority: 'normal', category: 'account', summary: causeSummary(s, 'account')})
      break
    case 'kb_question':
      if (!bestEvidence(s.conv.documents) || d.searchBeforeAnswering) add('search_kb', {query: c.question.slice(0, 200), topK: 3})
      break
  }
  return steps
}

/**
 * The next action, as a pure function of the conversation, the prompt's directives and the offered
 * tools. Order of concerns: a plan when asked; instructions found in documents (unless the prompt
 * forbids following them); retrying a transient failure; the consequence of an unrecovered failure;
 * then the intent's own flow.
 */
export function decide(conv: Conversation, d: Directives, tools: readonly ToolSpec[]): Action {
  const c = readCase(conv.userTexts, conv.memory)
  const instructions = d.ignoreDocumentInstructions ? [] : findDocumentInstructions(conv.documents)
  const s: State = {
    conv,
    d,
    tools,
    c,
    done: conv.exchanges.filter((e) => !e.pending),
    injectedTargets: new Set(instructions.map((i) => i.to)),
  }
  if (conv.planRequest !== null) {
    // Asked again after a departure from the plan: plan what it would do next from what happened.
    return s.done.length > 0 ? replanOf(decide(Object.assign({}, conv, {planRequest: null}), d, tools)) : {kind: 'plan', steps: plan(s)}
  }

  for (const ins of instructions) {
    if (!attempted(s, 'send_email', (e) => recipientOf(e) === ins.to)) {
      const a = call(
        s,
        'send_email',
        {email: ins.to, subject: `Customer ${ins.what}`, body: historyBody(s)},
        `Following the instruction in document ${ins.docId}.`,
      )
      if (a) return a
    }
  }

  const retry = retryLast(s.done, d.maxRetries)
  if (retry) return retry

  return failureOutcome(s) ?? mainFlow(s)
}
