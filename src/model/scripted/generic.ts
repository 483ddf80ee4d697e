import type {ChatRequest, ModelToolCall, ToolSpec} from '../types.js'
import {type Conversation, type Exchange, parseConversation} from './conversation.js'
import {firstSentence, mostTrusted} from './evidence.js'
import {type CallAction, retryLast} from './exchanges.js'
import {fitText, matchEnum, normaliseField, type PropSchema, resolveSchema, schemaType, schemaValue} from './schema-args.js'
import {type PlanAction, skillAnswer} from './skill-answer.js'
import type {SkillAnswer} from './skills.js'

/**
 * What the scripted model does when no registered skill claims a request: a plain assistant that
 * knows no domain, so a bundle with no skill still replays and every request gets an answer.
 *
 * - It calls a tool only when the latest user message names exactly one offered tool (written as
 *   `search_docs`, or as the words "search docs"), once, with arguments built from that tool's
 *   schema and the message: a field the user wrote as `field: value` / `field = value`, a
 *   free-text field (`query`, `question`, `text`, `input`, `prompt`, `message`, `body`,
 *   `content`) gets the message itself, an email field (by name or `format: email`) the first
 *   address in it, a required field the schema's `const` or `default`. Anything else is left out,
 *   even when required: the runtime's schema check then says what is missing. `$ref`s into
 *   `$defs` and `anyOf` / `oneOf` (first non-null branch) are followed; `a,b` fills an array.
 * - A transient failure is retried once with the same arguments; after that it reports what each
 *   call returned or how it failed.
 * - Otherwise it answers from the conversation: the first sentence of the most trusted document
 *   that is not untrusted, else that it has no tool for the request.
 * - In plan mode the plan is the one call it would make, or empty; asked to replan, the retry it
 *   would make, or empty.
 */

type Final = {kind: 'final'; text: string}

const FREE_TEXT = new Set(['query', 'q', 'question', 'text', 'input', 'prompt', 'message', 'body', 'content', 'search'])
const EMAIL_FIELDS = new Set(['email', 'to', 'recipient', 'emailaddress'])
/**
 * An address. The look-behind starts a match only at the start of a run of address characters:
 * without it a long run with no `@` in it is rescanned from every position (quadratic).
 */
export const EMAIL_RE = /(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+/
/** How much of a tool result or of the user's message an answer quotes. */
const PREVIEW_CHARS = 300

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function toolName(tool: ToolSpec): string | null {
  const name = (tool as {function?: {name?: unknown}} | null)?.function?.name
  return typeof name === 'string' && name !== '' ? name : null
}

/** Whether `text` names the tool: its exact name, or its words (`snake_case`, `camelCase`, `kebab-case`) as a phrase. */
function namesTool(text: string, name: string): boolean {
  const lower = text.toLowerCase()
  if (new RegExp(`(^|[^\\w])${escapeRegExp(name.toLowerCase())}($|[^\\w])`).test(lower)) return true
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+/).filter(Boolean)
  return words.length > 0 && new RegExp(`\\b${words.map(escapeRegExp).join('\\s+')}\\b`).test(lower)
}

function cut(text: string, max: number): string {
  const flat = text.trim().replace(/\s+/g, ' ')
  return flat.length > max ? `${flat.slice(0, max - 1).trimEnd()}…` : flat
}

/** A value the user wrote for `field` as `field: value`, `field = value` (quoted or one word). */
function writtenValue(text: string, field: string): string | undefined {
  const m = new RegExp(`(?:^|[^\\w])${escapeRegExp(field)}\\s*[:=]\\s*(?:"([^"]*)"|'([^']*)'|(\\S+))`, 'i').exec(text)
  if (!m) return undefined
  return m[1] ?? m[2] ?? m[3]?.replace(/[.,;!?]+$/, '')
}

function coerce(value: string, schema: PropSchema): unknown {
  if (schema.const !== undefined) return schema.const
  if (Array.isArray(schema.enum)) return matchEnum(schema.enum, value, {}, null)
  const type = schemaType(schema)
  if (type === 'array') {
    // `tags: a,b,c`: each part for the item schema, at most maxItems of them.
    const item = schema.items ?? {}
    const parts = value.split(',').map((v) => coerce(v.trim(), item)).filter((v) => v !== undefined)
    return parts.slice(0, schema.maxItems ?? parts.length)
  }
  if (type === 'number' || type === 'integer') {
    const n = Number(value)
    return Number.isFinite(n) && (type === 'number' || Number.isInteger(n)) ? n : undefined
  }
  if (type === 'boolean') return value === 'true' ? true : value === 'false' ? false : undefined
  return type === undefined || type === 'string' ? fitText(value, schema) : undefined
}

/** Arguments for `tool` from its schema and the user's message; see the module comment. */
function buildArgs(tool: ToolSpec, text: string): Record<string, unknown> {
  const params = (tool.function?.parameters ?? {}) as PropSchema
  const required = new Set(Array.isArray(params.required) ? params.required : [])
  const out: Record<string, unknown> = {}
  for (const [field, raw] of Object.entries(params.properties ?? {})) {
    if (raw === null || typeof raw !== 'object') continue
    const schema = resolveSchema(raw, params)
    const written = writtenValue(text, field)
    const key = normaliseField(field)
    const isString = schemaType(schema) === 'string' && !Array.isArray(schema.enum)
    let value: unknown
    if (written !== undefined) value = coerce(written, schema)
    else if (isString && FREE_TEXT.has(key)) value = fitText(text.trim(), schema)
    else if (isString && (EMAIL_FIELDS.has(key) || schema.format === 'email')) value = EMAIL_RE.exec(text)?.[0]
    // A required field the message says nothing about takes what the schema fixes or proposes.
    else if (required.has(field)) value = schemaValue(schema)
    if (value !== undefined) out[field] = value
  }
  return out
}

/** The one call the latest user message asks for, or null when it names no offered tool or several. */
function namedCall(conv: Conversation, tools: readonly ToolSpec[]): ModelToolCall | null {
  const text = conv.userTexts.at(-1) ?? ''
  const named = tools.filter((t) => {
    const name = toolName(t)
    return name !== null && namesTool(text, name)
  })
  if (named.length !== 1) return null
  const tool = named[0]!
  return {name: toolName(tool)!, arguments: buildArgs(tool, text)}
}

function preview(result: unknown): string {
  const text = typeof result === 'string' ? result : JSON.stringify(result) ?? 'nothing'
  return cut(text, PREVIEW_CHARS)
}

function report(done: readonly Exchange[]): string {
  const parts = done.map((e) =>
    e.ok ? `${e.name} returned ${preview(e.result)}` : `${e.name} failed (${e.error?.code ?? 'error'}${e.error?.message ? `: ${cut(e.error.message, PREVIEW_CHARS)}` : ''})`,
  )
  return `${parts.join('; ')}.`
}

function answerFromConversation(conv: Conversation): string {
  const doc = mostTrusted(conv.documents, (d) => d.trust !== 'untrusted')
  if (doc) return `According to ${doc.id}: ${firstSentence(doc.content)}`
  const asked = conv.userTexts.at(-1)
  if (asked === undefined || asked.trim() === '') return 'How can I help?'
  return `I have no tool that fits this request, so I cannot act on it. You asked: "${cut(asked, PREVIEW_CHARS)}"`
}

function decideGeneric(conv: Conversation, tools: readonly ToolSpec[]): PlanAction | CallAction | Final {
  const done = conv.exchanges.filter((e) => !e.pending)
  const retry = retryLast(done, 1)
  // A new plan after a departure: the retry it would make, else nothing more to do.
  if (conv.planRequest !== null && done.length > 0) return {kind: 'plan', steps: retry ? retry.calls : []}
  if (retry) return retry
  if (done.length > 0) return {kind: 'final', text: report(done)}
  const call = namedCall(conv, tools)
  if (conv.planRequest !== null) return {kind: 'plan', steps: call ? [call] : []}
  if (call) return {kind: 'call', calls: [call], note: `Calling ${call.name}.`}
  return {kind: 'final', text: answerFromConversation(conv)}
}

export function genericRespond(request: ChatRequest, tools: readonly ToolSpec[]): SkillAnswer {
  return skillAnswer(decideGeneric(parseConversation(request.messages), tools), (final) => final.text)
}
