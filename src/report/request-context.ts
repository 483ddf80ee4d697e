import type {RecordContext, SideContexts} from '../runs/request-record.js'
import {compileInjectionMatcher, type InjectionMatcher} from '../runtime/guardrails/patterns.js'
import type {DecisionStage} from '../traffic/schema.js'
import type {GuardrailResult, GuardrailSeverity, ToolCallTrace} from '../trace/schema.js'

/**
 * What a request was about, for every view that shows one request (CLI side-by-side, TUI, HTML):
 * the conversation, the retrieved documents with their trust level, what each side's guardrails
 * did with them and where an injection pattern is, the memory entries in scope, and each side's
 * tool calls with full arguments and results. Pure: data in, data out; the views only lay it out.
 *
 * Long text is folded, never cut: a Folded keeps the whole text, a preview, and the size of what
 * the preview leaves out, so every view can say how much is folded away (or show it all).
 */

export type Folded = {
  /** The whole text. */
  text: string
  /** The first lines of the text (all of it when not folded). */
  preview: string
  folded: boolean
  /** What the preview leaves out. */
  hidden: {chars: number; lines: number}
}

export const FOLD_LINES = 6
export const FOLD_CHARS = 480

/** Folds text longer than `maxLines` lines or `maxChars` characters at a line (or, in one long line, a character) boundary. */
export function fold(text: string, maxLines = FOLD_LINES, maxChars = FOLD_CHARS): Folded {
  const lines = text.split('\n')
  if (lines.length <= maxLines && text.length <= maxChars) return {text, preview: text, folded: false, hidden: {chars: 0, lines: 0}}
  let preview = lines.slice(0, maxLines).join('\n')
  if (preview.length > maxChars) preview = preview.slice(0, maxChars)
  const shownLines = preview.split('\n').length
  return {text, preview, folded: true, hidden: {chars: text.length - preview.length, lines: lines.length - shownLines}}
}

/** A JSON value laid out for reading: pretty-printed, so a long object folds by lines. */
export function jsonText(value: unknown): string {
  if (value === undefined) return '∅'
  if (typeof value === 'string') return value
  return JSON.stringify(value, null, 2) ?? String(value)
}

/** How much a Folded hides, in words: `412 more characters, 9 more lines folded`. */
export function foldNote(f: Folded): string {
  const parts = [`${f.hidden.chars.toLocaleString('en-US')} more character${f.hidden.chars === 1 ? '' : 's'}`]
  if (f.hidden.lines > 0) parts.push(`${f.hidden.lines.toLocaleString('en-US')} more line${f.hidden.lines === 1 ? '' : 's'}`)
  return `${parts.join(', ')} folded`
}

export type Side = 'base' | 'cand'

export type ContextFinding = {side: Side; stage: DecisionStage; check: string; severity: GuardrailSeverity; detail: string}

/** Whether one side's pre-model guardrails let an entry reach the model; null when that side recorded no admission. */
export type Admission = {admitted: boolean; dropped_by: string[]} | null

export type ContextDocument = {
  id: string
  source: string
  trust: string
  tenant: string | null
  score: number | null
  content: Folded
  /** Built-in injection patterns the document's text matches. */
  injection: string[]
  /** Where the earliest match starts in `content.text`, and the text from there (up to EXCERPT characters); null when none. */
  injected_at: {offset: number; excerpt: string} | null
  /** Attacks the record is known to carry through this document (their ids). */
  attacks: string[]
  admission: {base: Admission; cand: Admission}
}

export type ContextMemory = {
  key: string
  owner: string
  written_at: string
  provenance: string | null
  tenant: string | null
  value: Folded
  admission: {base: Admission; cand: Admission}
}

export type ContextCall = {
  seq: number
  step: number
  /** The user turn it ran in (a multi-turn request); null on a single-turn one. */
  turn: number | null
  name: string
  outcome: string
  executed: boolean
  attempt: number
  args: Folded
  result: Folded | null
  error: string | null
}

export type ContextMessage = {role: string; content: Folded; turn: number; after_calls: number | null}

export type RequestContext = {
  /** False when the traffic record was not available: only the traces' part is shown. */
  recorded: boolean
  /**
   * The request's messages, then (a multi-turn request) each later turn's two: the answer that
   * ended the turn before and the user's reply, with the turn number and the calls made before it.
   */
  conversation: ContextMessage[]
  documents: ContextDocument[]
  memory: ContextMemory[]
  /** Every guardrail finding (a check that did not pass), both sides, in stage order. */
  findings: ContextFinding[]
  calls: {base: ContextCall[]; cand: ContextCall[]}
}

let matcher: InjectionMatcher | null = null

/** Characters of injected text quoted from where the earliest injection pattern matches. */
export const EXCERPT = 80

function injectedAt(m: InjectionMatcher, text: string): {offset: number; excerpt: string} | null {
  const offset = m.locate(text, 'document')
  if (offset < 0) return null
  const line = text.slice(offset).split('\n')[0]!
  return {offset, excerpt: line.slice(0, EXCERPT)}
}

function admissions(guardrails: GuardrailResult[] | undefined): {documents: Map<number, Admission>; memory: Map<number, Admission>} | null {
  if (guardrails === undefined) return null
  for (let i = guardrails.length - 1; i >= 0; i--) {
    const c = guardrails[i]!.context
    if (c === undefined) continue
    return {
      documents: new Map(c.documents.map((d) => [d.index, {admitted: d.admitted, dropped_by: d.dropped_by}])),
      memory: new Map(c.memory.map((m) => [m.index, {admitted: m.admitted, dropped_by: m.superseded_by === null ? m.dropped_by : [...m.dropped_by, `superseded by #${m.superseded_by}`]}])),
    }
  }
  return null
}

function call(c: ToolCallTrace): ContextCall {
  return {
    seq: c.seq,
    step: c.step,
    turn: c.turn ?? null,
    name: c.name,
    outcome: c.outcome,
    executed: c.executed,
    attempt: c.attempt,
    args: fold(jsonText(c.args)),
    result: c.result === null || c.result === undefined ? null : fold(jsonText(c.result)),
    error: c.error,
  }
}

export function requestContext(record: RecordContext | null, sides: SideContexts): RequestContext {
  const adm = {base: admissions(sides.base?.guardrails), cand: admissions(sides.cand?.guardrails)}
  matcher ??= compileInjectionMatcher()
  const m = matcher
  const documents: ContextDocument[] = (record?.retrieved ?? []).map((d, index) => ({
    id: d.id,
    source: d.source,
    trust: d.trust,
    tenant: d.tenant ?? null,
    score: d.score ?? null,
    content: fold(d.content),
    injection: [...m(d.content, 'document')],
    injected_at: injectedAt(m, d.content),
    attacks: (record?.attacks ?? []).flatMap((a, i) => ('retrieved' in a.source && a.source.retrieved === d.id ? [a.id ?? `attack#${i}`] : [])),
    admission: {base: adm.base?.documents.get(index) ?? null, cand: adm.cand?.documents.get(index) ?? null},
  }))
  const memory: ContextMemory[] = (record?.memory ?? []).map((e, index) => ({
    key: e.key,
    owner: e.owner,
    written_at: e.written_at,
    provenance: e.provenance ?? null,
    tenant: e.tenant ?? null,
    value: fold(jsonText(e.value)),
    admission: {base: adm.base?.memory.get(index) ?? null, cand: adm.cand?.memory.get(index) ?? null},
  }))
  const findings: ContextFinding[] = []
  for (const side of ['base', 'cand'] as const)
    for (const g of sides[side]?.guardrails ?? []) if (!g.passed) findings.push({side, stage: g.stage, check: g.check, severity: g.severity, detail: g.detail})
  return {
    recorded: record !== null,
    conversation: [
      ...(record?.input ?? []).map((msg): ContextMessage => ({role: msg.role, content: fold(msg.content), turn: 0, after_calls: null})),
      ...(record?.turns ?? []).flatMap((t, i): ContextMessage[] => [
        {role: 'assistant', content: fold(t.answer), turn: i, after_calls: null},
        {role: 'user', content: fold(t.content), turn: i + 1, after_calls: t.after_calls},
      ]),
    ],
    documents,
    memory,
    findings,
    calls: {base: (sides.base?.tool_calls ?? []).map(call), cand: (sides.cand?.tool_calls ?? []).map(call)},
  }
}

/** One side's admission of an entry in words: `admitted`, `dropped (retrieval.trust)`, or `not recorded` (recorded traffic has no guardrails). */
export function admissionText(a: Admission): string {
  if (a === null) return 'not recorded'
  return a.admitted ? 'admitted' : `dropped${a.dropped_by.length > 0 ? ` (${a.dropped_by.join(', ')})` : ''}`
}

/**
 * The context as plain text lines (no escaping, no colour: the caller escapes), for the text views.
 * `full` unfolds everything; otherwise a folded text shows its preview and what is folded away.
 */
export function contextTextLines(ctx: RequestContext, options: {full?: boolean} = {}): {title: string; lines: string[]}[] {
  const body = (f: Folded, indent: string): string[] => {
    const text = options.full || !f.folded ? f.text : f.preview
    const out = text.split('\n').map((l) => indent + l)
    if (f.folded && !options.full) out.push(`${indent}⋯ ${foldNote(f)}`)
    return out
  }
  const sections: {title: string; lines: string[]}[] = []
  if (!ctx.recorded) sections.push({title: 'request', lines: ['traffic record not available: conversation, documents and memory not shown']})
  if (ctx.conversation.length > 0)
    sections.push({title: 'conversation', lines: ctx.conversation.flatMap((msg) => [`${messageLabel(msg)}:`, ...body(msg.content, '  ')])})
  if (ctx.documents.length > 0)
    sections.push({
      title: 'retrieved documents',
      lines: ctx.documents.flatMap((d) => {
        const flags = [
          `trust ${d.trust}`,
          ...(d.tenant === null ? [] : [`tenant ${d.tenant}`]),
          `base ${admissionText(d.admission.base)}`,
          `candidate ${admissionText(d.admission.cand)}`,
        ]
        const warn = [
          ...(d.injection.length > 0 ? [`injection pattern: ${d.injection.join(', ')}`] : []),
          ...(d.injected_at === null ? [] : [`injected text at character ${d.injected_at.offset}: "${d.injected_at.excerpt}"`]),
          ...(d.attacks.length > 0 ? [`known attack: ${d.attacks.join(', ')}`] : []),
        ]
        return [`${d.id} (${d.source}) · ${flags.join(' · ')}`, ...warn.map((w) => `  ! ${w}`), ...body(d.content, '  ')]
      }),
    })
  if (ctx.memory.length > 0)
    sections.push({
      title: 'memory in scope',
      lines: ctx.memory.flatMap((e) => [
        `${e.key} · owner ${e.owner} · written ${e.written_at}${e.provenance ? ` · ${e.provenance}` : ''} · base ${admissionText(e.admission.base)} · candidate ${admissionText(e.admission.cand)}`,
        ...body(e.value, '  '),
      ]),
    })
  if (ctx.findings.length > 0)
    sections.push({
      title: 'guardrail findings',
      lines: ctx.findings.map((f) => `${f.side === 'base' ? 'base' : 'candidate'} ${f.stage} ${f.check} (${f.severity}): ${f.detail}`),
    })
  for (const side of ['base', 'cand'] as const) {
    const calls = ctx.calls[side]
    if (calls.length === 0) continue
    sections.push({
      title: `${side === 'base' ? 'base' : 'candidate'} tool calls in full`,
      lines: calls.flatMap((c) => [
        `#${c.seq} step ${c.step}${c.turn === null ? '' : ` turn ${c.turn}`} ${c.name} → ${c.outcome}${c.executed ? '' : ' (not executed)'}${c.attempt > 1 ? ` [attempt ${c.attempt}]` : ''}${c.error ? ` error: ${c.error}` : ''}`,
        '  args:',
        ...body(c.args, '    '),
        ...(c.result === null ? [] : ['  result:', ...body(c.result, '    ')]),
      ]),
    })
  }
  return sections
}

/** A message's role, and for a later user turn which turn it starts and after how many calls: `user (turn 1, after 2 calls)`. */
export function messageLabel(m: ContextMessage): string {
  if (m.after_calls === null) return m.role
  return `${m.role} (turn ${m.turn}, after ${m.after_calls} call${m.after_calls === 1 ? '' : 's'})`
}
