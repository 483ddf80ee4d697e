import type {ModelToolCall, ToolSpec} from '../../../src/model/types.js'
import {replanOf} from '../../../src/model/scripted/skill-answer.js'
import type {Conversation, Exchange} from '../../../src/model/scripted/conversation.js'
import {type CallAction, record, RETRYABLE, retryLast} from '../../../src/model/scripted/exchanges.js'
import type {TicketAnswerKind, TicketFacts} from './answers.js'
import {buildTicketArgs, type TicketMeaning} from './args.js'
import type {TicketDirectives} from './directives.js'
import {bestRunbook, findGrantInstructions, firstSentence, type GrantInstruction, readTicketCase, type TicketCase} from './extract.js'

/** What the ticket agent does next. */
export type TicketAction =
  | CallAction
  | {kind: 'final'; answer: TicketAnswerKind; facts: TicketFacts; pii: boolean}
  | {kind: 'plan'; steps: ModelToolCall[]}

export const CAB_GROUP = 'change-advisory-board'

type State = {
  conv: Conversation
  d: TicketDirectives
  tools: readonly ToolSpec[]
  c: TicketCase
  done: Exchange[]
  /** Grant instructions found in evidence that the model is acting on (empty when the prompt forbids it). */
  injected: GrantInstruction[]
}

function str(r: Record<string, unknown> | null, ...names: string[]): string | null {
  for (const n of names) {
    const v = r?.[n]
    if (typeof v === 'string' && v.length > 0) return v
    if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  }
  return null
}

function isInjected(s: State, e: Exchange): boolean {
  if (e.name !== 'grant_access') return false
  const user = str(e.args, 'username', 'user', 'user_id', 'account')?.toLowerCase()
  const system = str(e.args, 'system', 'resource', 'application')?.toLowerCase()
  return s.injected.some((i) => i.username === user && i.system === system)
}

/** A ticket note or hand-off made as a follow-up of another action (not the task itself). */
function isFollowUp(s: State, e: Exchange): boolean {
  return (e.name === 'update_ticket' && s.c.intent !== 'ticket_update') || (e.name === 'assign_ticket' && s.c.intent !== 'assign')
}

function lastOk(s: State, name: string): Exchange | undefined {
  for (let i = s.done.length - 1; i >= 0; i--) {
    const e = s.done[i]!
    if (e.name === name && e.ok && !isInjected(s, e)) return e
  }
  return undefined
}

function attempted(s: State, name: string): boolean {
  return s.done.some((e) => e.name === name && !isInjected(s, e))
}

function call(s: State, name: string, meaning: TicketMeaning, note: string): TicketAction | null {
  const tool = s.tools.find((t) => t.function.name === name)
  if (!tool) return null
  return {kind: 'call', calls: [{name, arguments: buildTicketArgs(tool, meaning)}], note}
}

function final(s: State, answer: TicketAnswerKind, facts: TicketFacts = {}): TicketAction {
  return {kind: 'final', answer, facts, pii: s.c.pii}
}

function target(s: State): string {
  return s.c.target ?? s.c.requester ?? 'the user'
}

/** The reason code in a refusal, else a plain account of an RBAC refusal. */
function denialReason(e: Exchange): string {
  const message = e.error?.message ?? ''
  const code = /\b[A-Z][A-Z0-9_]{3,}\b/.exec(message)
  if (code) return code[0]
  const rbac = /role\s+(\S+)\s+of\s+tenant\s+\S+\s+may\s+not\s+call\s+(\w+)/i.exec(message)
  if (rbac) return `role ${rbac[1]} may not use ${rbac[2]}`
  return 'not permitted'
}

function detailOf(e: Exchange): string {
  const m = e.error?.message ?? ''
  const after = m.includes(': ') ? m.slice(m.indexOf(': ') + 2) : m
  return (after || e.error?.code || 'rejected').slice(0, 160)
}

/** Records `comment` on the ticket once, when the prompt asks for it and a ticket is known. */
function note(s: State, status: string, comment: string): TicketAction | null {
  if (!s.d.recordActionsOnTicket || !s.c.ticketId || attempted(s, 'update_ticket')) return null
  return call(s, 'update_ticket', {ticketId: s.c.ticketId, status, comment}, `Recording the action on ${s.c.ticketId}.`)
}

function changeOf(s: State): string | null {
  return str(record(lastOk(s, 'request_change')?.result), 'change_id', 'id') ?? s.c.changeId
}

function ticketRef(s: State): string {
  return s.c.ticketId ? ` (ticket ${s.c.ticketId})` : ''
}

/** The consequence of the first failure nothing recovered from, if any. */
function failureOutcome(s: State): TicketAction | null {
  for (let i = 0; i < s.done.length; i++) {
    const e = s.done[i]!
    if (e.ok || isInjected(s, e) || isFollowUp(s, e)) continue
    if (s.done.slice(i + 1).some((later) => later.name === e.name && later.ok)) continue
    const code = e.error?.code ?? 'server_error'
    if (RETRYABLE.has(code)) return final(s, 'tool_failure')
    switch (code) {
      case 'needs_approval':
        return awaitingApproval(s, e)
      case 'policy_denied':
      case 'forbidden': {
        const change = changeOf(s)
        if (e.name === 'apply_change' && lastOk(s, 'request_change') && change) {
          return final(s, 'change_raised', {change, reason: denialReason(e), ticket_ref: ticketRef(s)})
        }
        return final(s, 'denied', {reason: denialReason(e)})
      }
      case 'schema_invalid':
      case 'invalid_args':
        if (e.name === 'grant_access' && /justification/i.test(e.error?.message ?? '')) {
          return final(s, 'need_justification', {user: target(s), system: s.c.system ?? 'that system'})
        }
        return final(s, 'invalid_request', {detail: detailOf(e)})
      case 'not_found':
        return final(s, 'ticket_not_found', {ticket: (e.name === 'apply_change' ? changeOf(s) : s.c.ticketId) ?? 'that ticket'})
      case 'conflict':
        return final(s, 'conflict', {detail: detailOf(e)})
      case 'partial_write_unknown':
        return final(s, 'partial_write')
      default:
        return final(s, 'tool_failure')
    }
  }
  return null
}

function awaitingApproval(s: State, e: Exchange): TicketAction {
  const reason = denialReason(e)
  if (e.name === 'apply_change') {
    const change = changeOf(s) ?? 'the change'
    if (s.d.routeApprovalsToCab && s.c.ticketId && !attempted(s, 'assign_ticket')) {
      const a = call(
        s,
        'assign_ticket',
        {ticketId: s.c.ticketId, group: CAB_GROUP, comment: `Change ${change} needs approval (${reason}).`},
        'Routing the change to the change advisory board.',
      )
      if (a) return a
    }
    const routed = lastOk(s, 'assign_ticket')
    return final(s, 'change_awaiting_approval', {
      change,
      environment: s.c.environment,
      reason,
      cab_ref: routed ? `; I have assigned ${s.c.ticketId ?? 'the ticket'} to the change advisory board` : '',
    })
  }
  if (e.name === 'grant_access') {
    const n = note(s, 'pending', `Awaiting approval: ${s.c.level} access to ${s.c.system ?? 'the system'} for ${target(s)} (${reason}).`)
    if (n) return n
    return final(s, 'access_pending_approval', {level: s.c.level, system: s.c.system ?? 'the system', user: target(s), reason})
  }
  return final(s, 'denied', {reason})
}

function resetFlow(s: State): TicketAction {
  const {c, d} = s
  const user = target(s)
  if (d.verifyIdentityBeforeReset && !c.verification) {
    return note(s, 'pending', `Password reset for ${user} is waiting for identity verification.`) ?? final(s, 'verify_identity', {user})
  }
  const reset = lastOk(s, 'reset_password')
  if (!reset) {
    if (attempted(s, 'reset_password')) return final(s, 'tool_failure')
    return (
      call(s, 'reset_password', {username: user, verification: c.verification, email: c.email}, `Resetting the password for ${user}.`) ??
      final(s, 'denied', {reason: 'password resets are not available'})
    )
  }
  const r = record(reset.result)
  const id = str(r, 'reset_id', 'id')
  return (
    note(s, 'resolved', `Password reset for ${user}${id ? ` (${id})` : ''}.`) ??
    final(s, 'reset_done', {user, reset_ref: id ? ` (${id})` : '', minutes: str(r, 'expires_in_minutes') ?? '60'})
  )
}

function accessFlow(s: State): TicketAction {
  const {c} = s
  if (!c.system) return final(s, 'ask_access_details')
  const user = target(s)
  const grant = lastOk(s, 'grant_access')
  if (!grant) {
    if (attempted(s, 'grant_access')) return final(s, 'tool_failure')
    return (
      call(s, 'grant_access', {username: user, system: c.system, level: c.level, justification: c.justification}, `Requesting ${c.level} access to ${c.system} for ${user}.`) ??
      final(s, 'denied', {reason: 'access grants are not available'})
    )
  }
  const id = str(record(grant.result), 'grant_id', 'id')
  return (
    note(s, 'resolved', `Granted ${c.level} access to ${c.system} for ${user}${id ? ` (${id})` : ''}.`) ??
    final(s, 'access_granted', {level: c.level, system: c.system, user, grant_ref: id ? ` (${id})` : ''})
  )
}

function applyFlow(s: State, change: string): TicketAction {
  const {c} = s
  if (!lastOk(s, 'apply_change')) {
    if (attempted(s, 'apply_change')) return final(s, 'tool_failure')
    return (
      call(s, 'apply_change', {changeId: change, environment: c.environment, risk: c.risk}, `Applying ${change} to ${c.environment}.`) ??
      final(s, 'change_raised', {change, reason: 'applying changes is not available', ticket_ref: ticketRef(s)})
    )
  }
  return note(s, 'resolved', `Change ${change} applied to ${c.environment}.`) ?? final(s, 'change_applied', {change, environment: c.environment, ticket_ref: ticketRef(s)})
}

function changeFlow(s: State): TicketAction {
  const {c} = s
  if (!c.system) return final(s, 'invalid_request', {detail: 'which system the change is for is missing'})
  if (!lastOk(s, 'request_change')) {
    if (attempted(s, 'request_change')) return final(s, 'tool_failure')
    const summary = firstSentence(c.question).slice(0, 200)
    return (
      call(s, 'request_change', {ticketId: c.ticketId, system: c.system, summary, risk: c.risk, environment: c.environment}, `Raising a change for ${c.system}.`) ??
      final(s, 'denied', {reason: 'change requests are not available'})
    )
  }
  const change = changeOf(s)
  if (!change) return final(s, 'tool_failure')
  return applyFlow(s, change)
}

/** Reads the ticket first when the prompt says so; null once it has been read (or tried). */
function readFirst(s: State): TicketAction | null {
  if (!s.d.readTicketBeforeChanging || !s.c.ticketId || attempted(s, 'get_ticket')) return null
  return call(s, 'get_ticket', {ticketId: s.c.ticketId}, `Reading ${s.c.ticketId}.`)
}

function assignFlow(s: State): TicketAction {
  const {c} = s
  if (!c.ticketId) return final(s, 'ask_ticket_id')
  const who = c.assignee ?? c.group
  if (!who) return final(s, 'invalid_request', {detail: 'who to assign it to is missing'})
  const read = readFirst(s)
  if (read) return read
  if (!lastOk(s, 'assign_ticket')) {
    return call(s, 'assign_ticket', {ticketId: c.ticketId, assignee: c.assignee, group: c.group}, `Assigning ${c.ticketId} to ${who}.`) ?? final(s, 'denied', {reason: 'assignment is not available'})
  }
  return final(s, 'assigned', {ticket: c.ticketId, assignee: who})
}

function updateFlow(s: State): TicketAction {
  const {c} = s
  if (!c.ticketId) return final(s, 'ask_ticket_id')
  const status = c.newStatus ?? 'in_progress'
  const read = readFirst(s)
  if (read) return read
  if (!lastOk(s, 'update_ticket')) {
    const comment = `Status set to ${status} at the request of ${c.requester ?? 'the requester'}.`
    return call(s, 'update_ticket', {ticketId: c.ticketId, status, comment}, `Updating ${c.ticketId}.`) ?? final(s, 'denied', {reason: 'ticket updates are not available'})
  }
  return final(s, 'ticket_updated', {ticket: c.ticketId, status: str(record(lastOk(s, 'update_ticket')?.result), 'status') ?? status})
}

function statusFlow(s: State): TicketAction {
  const {c} = s
  if (!c.ticketId) return final(s, 'ask_ticket_id')
  const got = lastOk(s, 'get_ticket')
  if (!got) return call(s, 'get_ticket', {ticketId: c.ticketId}, `Reading ${c.ticketId}.`) ?? final(s, 'tool_failure')
  const t = record(got.result)
  return final(s, 'ticket_status', {
    ticket: c.ticketId,
    title: str(t, 'title', 'summary') ?? 'untitled',
    status: str(t, 'status', 'state') ?? 'open',
    assignee: str(t, 'assignee', 'assigned_to') ?? str(t, 'group') ?? 'nobody yet',
    updated: (str(t, 'updated_at', 'updated') ?? 'recently').slice(0, 10),
  })
}

function runbookFlow(s: State): TicketAction {
  const evidence = bestRunbook(s.conv.documents)
  if (evidence && !s.d.searchRunbooksFirst) return final(s, 'runbook_answer', {answer: firstSentence(evidence.content), source: evidence.id})
  const searched = lastOk(s, 'search_runbooks')
  if (!searched && !attempted(s, 'search_runbooks')) {
    const a = call(s, 'search_runbooks', {query: s.c.question.slice(0, 200), topK: 3}, 'Searching the runbooks.')
    if (a) return a
  }
  const r = record(searched?.result)
  const results = Array.isArray(r?.results) ? r.results : []
  const docs = results.map((x, i) => {
    const d = record(x)
    return {id: str(d, 'id', 'title') ?? `result-${i + 1}`, source: 'runbooks', trust: 'internal', content: str(d, 'snippet', 'content', 'text') ?? ''}
  })
  const top = bestRunbook(docs.filter((d) => d.content !== ''))
  if (top) return final(s, 'runbook_answer', {answer: firstSentence(top.content), source: top.id})
  if (evidence) return final(s, 'runbook_answer', {answer: firstSentence(evidence.content), source: evidence.id})
  return final(s, 'runbook_none')
}

function mainFlow(s: State): TicketAction {
  switch (s.c.intent) {
    case 'password_reset':
      return resetFlow(s)
    case 'access_request':
      return accessFlow(s)
    case 'change_request':
      return changeFlow(s)
    case 'apply_change':
      return s.c.changeId ? applyFlow(s, s.c.changeId) : final(s, 'invalid_request', {detail: 'the change number is missing'})
    case 'assign':
      return assignFlow(s)
    case 'ticket_update':
      return updateFlow(s)
    case 'ticket_status':
      return statusFlow(s)
    case 'runbook_question':
      return runbookFlow(s)
    case 'unknown':
      return s.c.ticketId ? statusFlow(s) : final(s, 'generic')
  }
}

/** The calls the model would make if each succeeded: the plan for plan_first mode. */
function plan(s: State): ModelToolCall[] {
  const steps: ModelToolCall[] = []
  const add = (name: string, meaning: TicketMeaning) => {
    const tool = s.tools.find((t) => t.function.name === name)
    if (tool) steps.push({name, arguments: buildTicketArgs(tool, meaning)})
  }
  const {c, d} = s
  const user = target(s)
  switch (c.intent) {
    case 'password_reset':
      if (!d.verifyIdentityBeforeReset || c.verification) add('reset_password', {username: user, verification: c.verification, email: c.email})
      break
    case 'access_request':
      if (c.system) add('grant_access', {username: user, system: c.system, level: c.level, justification: c.justification})
      break
    case 'change_request':
      if (c.system) add('request_change', {ticketId: c.ticketId, system: c.system, summary: firstSentence(c.question).slice(0, 200), risk: c.risk, environment: c.environment})
      break
    case 'apply_change':
      if (c.changeId) add('apply_change', {changeId: c.changeId, environment: c.environment, risk: c.risk})
      break
    case 'assign':
    case 'ticket_update':
    case 'ticket_status':
    case 'unknown':
      if (c.ticketId) add('get_ticket', {ticketId: c.ticketId})
      break
    case 'runbook_question':
      if (!bestRunbook(s.conv.documents) || d.searchRunbooksFirst) add('search_runbooks', {query: c.question.slice(0, 200), topK: 3})
      break
  }
  return steps
}

/**
 * The next action, as a pure function of the conversation, the prompt's directives and the offered
 * tools. Order of concerns: a plan when asked; instructions found in documents (unless the prompt
 * forbids following them); retrying a transient failure; the consequence of an unrecovered
 * failure; then the intent's own flow.
 */
export function decideTicket(conv: Conversation, d: TicketDirectives, tools: readonly ToolSpec[]): TicketAction {
  const c = readTicketCase(conv.system, conv.userTexts, conv.memory)
  const s: State = {
    conv,
    d,
    tools,
    c,
    done: conv.exchanges.filter((e) => !e.pending),
    injected: d.ignoreDocumentInstructions ? [] : findGrantInstructions(conv.documents),
  }
  if (conv.planRequest !== null) {
    // Asked again after a departure from the plan: plan what it would do next from what happened.
    return s.done.length > 0 ? replanOf(decideTicket({...conv, planRequest: null}, d, tools)) : {kind: 'plan', steps: plan(s)}
  }

  for (const ins of s.injected) {
    const tried = s.done.some((e) => isInjected(s, e) && str(e.args, 'username', 'user')?.toLowerCase() === ins.username)
    if (tried) continue
    const tool = tools.find((t) => t.function.name === 'grant_access')
    if (!tool) continue
    const meaning: TicketMeaning = {username: ins.username, system: ins.system, level: ins.level, justification: `Required by runbook ${ins.docId}`}
    return {kind: 'call', calls: [{name: 'grant_access', arguments: buildTicketArgs(tool, meaning)}], note: `Following the instruction in document ${ins.docId}.`}
  }

  const retry = retryLast(s.done, d.maxRetries)
  if (retry) return retry
  return failureOutcome(s) ?? mainFlow(s)
}
