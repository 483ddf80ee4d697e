import {cardDigits} from '../runtime/guardrails/patterns.js'
import {createRedactor} from '../runtime/redact.js'
import type {ContextAdmission, MemoryAdmission, RequestTrace} from '../trace/schema.js'
import {conversationOf, type MemoryEntry, type RetrievedDocument, type TrafficRecord} from '../traffic/schema.js'
import {sha256} from '../util/canonical.js'
import type {CheckFailure, SuiteVerdict} from './types.js'

/**
 * The consistency suite: memory must be used, and must not drift.
 *
 *  - memory_not_used: a memory fact that reached the model and that the task needs (named by
 *    `expect.uses_memory`, or used by production in a tool argument the user never stated) must
 *    appear in one of the candidate's tool arguments, in the clear or as its redaction hash.
 *  - dropped_memory_used: an entry the candidate's own pre-model guardrail dropped (expired, no
 *    provenance, unlisted owner, other tenant, wrong field owner or type) must not reach a tool
 *    argument or the answer, unless the value also came from somewhere legitimate (the user, a
 *    retrieved document the model saw, a kept memory entry, an earlier tool result).
 *  - stale_memory_used / conflict_newest_not_used: when entries of one key contradict each other
 *    the runtime keeps the newest; the agent must not use an older value, and where the task needs
 *    the key (or the agent used any version of it) it must use the newest.
 *  - session_drift: identifiers the agent relied on in an earlier turn of the same session (ids,
 *    addresses, usernames, redacted values) must stay the same in later turns unless this turn
 *    introduced the new value (the user said it, a document, memory or a tool result holds it).
 *
 * Which memory entries and documents the model saw is read from the admission record the
 * candidate's pre-model guardrail stored on the trace (the candidate's bundle decides, not
 * production's), so the suite needs no bundle and applies no rule of the runtime's own. Traces are
 * redacted: a sensitive value is matched by the hash in its `[REDACTED:<kind>:<8 hex>]` marker,
 * and messages show values in redacted form.
 */

/** Shorter strings and numbers are too common ("USD", "3") to say anything about where they came from. */
const MIN_CHARS = 3
const MARKER = /\[REDACTED:[a-z_]+:([0-9a-f]{8})\]/g
const WHOLE_MARKER = /^\[REDACTED:[a-z_]+:([0-9a-f]{8})\]$/
/** Argument names that hold what a session is about, rather than what to do with it. */
const IDENTIFIER_KEY = /(?:^|_)(?:id|ids|email|emails|to|cc|bcc|recipient|recipients|username|user|account|address|phone)$/i
/**
 * Inside free text (a longer argument, the answer) a plain word ("callback", "Daniel") says
 * nothing about where it came from; only identifier-like values (a digit, @, or an inner . - _)
 * count there. A whole argument equal to the value counts whatever it looks like.
 */
const DISTINCTIVE = /\d|@|\w[._-]\w/

const redactor = createRedactor()
const hash8 = (text: string): string => sha256(text).slice(0, 8)

// ---------------------------------------------------------------------------------------------
// Which memory entries reached the model

export type DroppedEntry = {entry: MemoryEntry; by: string}
export type StaleEntry = {entry: MemoryEntry; newest: MemoryEntry}

export type MemoryFate = {
  /** What the model saw: one entry per key, the newest where entries contradicted each other. */
  kept: MemoryEntry[]
  /** Entries a guardrail dropped, with the check (`memory.ttl`, …) that dropped them. */
  dropped: DroppedEntry[]
  /** Older entries that lost a contradiction to a newer entry of the same key. */
  stale: StaleEntry[]
  /** Entries the trace's admission record does not place: no check uses them. */
  uncertain: MemoryEntry[]
}

/** The pre-model admission record a trace carries; undefined for a trace without one. */
function admissionOf(trace: RequestTrace): ContextAdmission | undefined {
  for (const g of trace.guardrails) if (g.stage === 'pre_model' && g.context !== undefined) return g.context
  return undefined
}

/**
 * The candidate's own admission record, entry by entry: what its pre-model guardrail admitted,
 * dropped (named by the first check that dropped it) or superseded by a newer entry of the key.
 * Null when the memory never reached the model at all (the input was over the size limit). An
 * entry the record does not place (a trace without one, stored before it existed or made by
 * hand), and every entry of its key, is uncertain: left out of every check rather than guessed.
 */
export function memoryFate(record: TrafficRecord, trace: RequestTrace): MemoryFate | null {
  const entries = record.memory
  if (entries.length === 0) return {kept: [], dropped: [], stale: [], uncertain: []}
  if (trace.guardrails.some((g) => g.stage === 'pre_model' && g.check === 'input.size' && !g.passed)) return null

  const placed: (MemoryAdmission | undefined)[] = new Array(entries.length)
  for (const m of admissionOf(trace)?.memory ?? []) if (m.index < entries.length) placed[m.index] = m
  const newestOf = (m: MemoryAdmission): MemoryEntry | undefined => {
    const winner = m.superseded_by === null ? undefined : placed[m.superseded_by]
    return winner?.admitted ? entries[winner.index] : undefined
  }
  // A key with an unplaced entry (or one superseded by an entry not placed as admitted) may have
  // its newest value among the unplaced: leave the whole key out.
  const doubtful = new Set<string>()
  entries.forEach((e, i) => {
    const m = placed[i]
    if (m === undefined || (m.dropped_by.length === 0 && !m.admitted && newestOf(m) === undefined)) doubtful.add(e.key)
  })

  const fate: MemoryFate = {kept: [], dropped: [], stale: [], uncertain: []}
  entries.forEach((entry, i) => {
    const m = placed[i]
    if (m !== undefined && m.dropped_by.length > 0) fate.dropped.push({entry, by: m.dropped_by[0]!})
    else if (m === undefined || doubtful.has(entry.key)) fate.uncertain.push(entry)
    else if (m.admitted) fate.kept.push(entry)
    else {
      const newest = newestOf(m)!
      // A superseded entry that agrees with the newest one is no contradiction.
      if (JSON.stringify(entry.value) !== JSON.stringify(newest.value)) fate.stale.push({entry, newest})
    }
  })
  return fate
}

/** The retrieved documents the model saw: the admitted ones, or all of them for a trace without an admission record. */
function seenDocuments(record: TrafficRecord, trace: RequestTrace): RetrievedDocument[] {
  const admission = admissionOf(trace)
  if (admission === undefined) return record.retrieved
  return admission.documents.filter((d) => d.admitted && d.index < record.retrieved.length).map((d) => record.retrieved[d.index]!)
}

// ---------------------------------------------------------------------------------------------
// Facts (the trackable scalars of a memory value) and where a trace uses them

/** One scalar of a memory entry's value: `path` is '' for a scalar entry, `a.b.0` inside an object. */
export type MemoryFact = {key: string; path: string; value: string | number; written_at: string}

const label = (f: MemoryFact): string => (f.path === '' ? f.key : `${f.key}.${f.path}`)

function trackable(value: unknown): value is string | number {
  if (typeof value === 'string') return value.trim().length >= MIN_CHARS
  return typeof value === 'number' && Number.isFinite(value) && String(value).length >= MIN_CHARS
}

export function memoryFacts(entry: MemoryEntry): MemoryFact[] {
  const out: MemoryFact[] = []
  const walk = (value: unknown, path: string): void => {
    if (trackable(value)) out.push({key: entry.key, path, value, written_at: entry.written_at})
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, path === '' ? String(i) : `${path}.${i}`))
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, path === '' ? k : `${path}.${k}`)
    }
  }
  walk(entry.value, '')
  return out
}

/** Hashes a redaction marker would carry for this value (as a field, a pattern match or a card). */
function factHashes(value: string | number): string[] {
  const text = String(value)
  const out = [hash8(text)]
  const digits = cardDigits(text)
  if (digits !== text && /^\d+$/.test(digits)) out.push(hash8(digits))
  return out
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
/** The value as a whole token: "Dan" is not found in "Daniel", "ORD-1" not in "ORD-12". */
function tokenRegex(value: string, flags = ''): RegExp {
  return new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(value)}(?![A-Za-z0-9])`, flags)
}

type ArgLeaf = {seq: number; tool: string; path: string; value: string | number}

/** Where this value appears in a trace: as a whole argument, inside one, or as its redaction hash. */
export type Use = {seq: number; where: string; tool: string | null; /** The value as the trace holds it (a marker when it was redacted). */ shown: string}

/** A candidate trace's tool arguments and answer, indexed once per request. */
class TraceUse {
  readonly leaves: ArgLeaf[] = []
  private readonly markers = new Map<string, Use>()
  private readonly answerMarkers = new Map<string, string>()

  constructor(readonly trace: RequestTrace) {
    for (const call of trace.tool_calls) {
      const walk = (value: unknown, path: string): void => {
        if (typeof value === 'string' || typeof value === 'number') {
          this.leaves.push({seq: call.seq, tool: call.name, path, value})
          if (typeof value === 'string') {
            for (const m of value.matchAll(MARKER)) {
              if (!this.markers.has(m[1]!)) this.markers.set(m[1]!, {seq: call.seq, where: `${call.name}.${path}`, tool: call.name, shown: m[0]})
            }
          }
        } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, path === '' ? String(i) : `${path}.${i}`))
        else if (value !== null && typeof value === 'object') {
          for (const [k, v] of Object.entries(value)) walk(v, path === '' ? k : `${path}.${k}`)
        }
      }
      walk(call.args, '')
    }
    for (const m of trace.final_answer.matchAll(MARKER)) this.answerMarkers.set(m[1]!, m[0])
  }

  /** The first tool call whose arguments hold the value. */
  inArgs(value: string | number): Use | null {
    const text = String(value)
    const re = typeof value === 'string' && DISTINCTIVE.test(text) ? tokenRegex(text) : null
    for (const leaf of this.leaves) {
      const hit = typeof leaf.value === 'number' ? String(leaf.value) === text : leaf.value === text || (re?.test(leaf.value))
      if (hit) return {seq: leaf.seq, where: `${leaf.tool}.${leaf.path}`, tool: leaf.tool, shown: shown(text)}
    }
    for (const h of factHashes(value)) {
      const use = this.markers.get(h)
      if (use) return use
    }
    return null
  }

  inAnswer(value: string | number): Use | null {
    const text = String(value)
    const at = {seq: Number.POSITIVE_INFINITY, where: 'the final answer', tool: null}
    if (DISTINCTIVE.test(text) && tokenRegex(text).test(this.trace.final_answer)) return {...at, shown: shown(text)}
    const h = factHashes(value).find((x) => this.answerMarkers.has(x))
    return h === undefined ? null : {...at, shown: this.answerMarkers.get(h)!}
  }
}

/** A value for a message: through the redactor (a clear address never appears) and short. */
function shown(value: string | number): string {
  const text = redactor.redactText(String(value))
  return text.length > 60 ? `${text.slice(0, 57)}…` : text
}

function excerpt(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim()
  return one.length > 80 ? `${one.slice(0, 77)}…` : one
}

/**
 * Where a value may legitimately come from besides memory: the conversation, retrieved documents,
 * the memory entries that were kept, and tool results the agent had already seen.
 */
class Sources {
  private readonly text: string
  private tokens: Set<string> | null = null

  constructor(
    texts: string[],
    private readonly trace: RequestTrace,
  ) {
    this.text = texts.join('\n')
  }

  /** `value` is in the clear (from the record) or a whole redaction marker (from the trace). */
  has(value: string | number, beforeSeq: number): boolean {
    const text = String(value)
    const marker = WHOLE_MARKER.exec(text)
    if (marker) return this.tokenHashes().has(marker[1]!) || this.inResults(text, marker[1]!, beforeSeq)
    if (tokenRegex(text, 'i').test(this.text)) return true
    return this.inResults(text, null, beforeSeq, factHashes(value))
  }

  private inResults(text: string, hash: string | null, beforeSeq: number, hashes: string[] = []): boolean {
    const re = hash === null ? tokenRegex(text, 'i') : null
    for (const call of this.trace.tool_calls) {
      if (call.seq >= beforeSeq || call.result === null || call.result === undefined) continue
      const result = typeof call.result === 'string' ? call.result : JSON.stringify(call.result)
      if (hash !== null ? result.includes(text) : re!.test(result)) return true
      for (const m of result.matchAll(MARKER)) if (hashes.includes(m[1]!)) return true
    }
    return false
  }

  /** Hashes of every word of the sources, to recognise a redacted argument the user typed. */
  private tokenHashes(): Set<string> {
    if (this.tokens === null) {
      this.tokens = new Set()
      for (const raw of this.text.split(/[\s,;()<>"'`[\]{}]+/)) {
        const word = raw.replace(/[.:!?]+$/, '')
        if (word.length >= MIN_CHARS) for (const h of factHashes(word)) this.tokens.add(h)
      }
    }
    return this.tokens
  }
}

// ---------------------------------------------------------------------------------------------
// Sessions

/** Identifiers one turn relied on, per argument name (`ticket_id`), with where they were used. */
type SlotUse = {value: string; tool: string}
type TurnState = {slots: Map<string, {request_id: string; line: number; uses: SlotUse[]}>}

export const MAX_OPEN_SESSIONS = 10_000
const MAX_SLOTS = 32
const MAX_SLOT_VALUES = 8

/**
 * What each open session has relied on so far, per repeat. Traces arrive in traffic-line order and
 * a session's turns are usually close together, so the least recently seen sessions are closed
 * once more than `limit` are open: memory stays bounded whatever the run's size.
 */
export class SessionLedger {
  private readonly sessions = new Map<string, Map<number, TurnState>>()
  /** Sessions closed early to stay bounded; a later turn of one is compared as a first turn. */
  evicted = 0

  constructor(readonly limit = MAX_OPEN_SESSIONS) {}

  /** Repeat N of a turn follows repeat N of the turn before (a run repeats every request alike). */
  get(session: string, repeat: number): TurnState | undefined {
    return this.sessions.get(session)?.get(repeat)
  }

  set(session: string, repeat: number, state: TurnState): void {
    let s = this.sessions.get(session)
    if (s) this.sessions.delete(session)
    else s = new Map()
    s.set(repeat, state)
    this.sessions.set(session, s)
    while (this.sessions.size > this.limit) {
      this.sessions.delete(this.sessions.keys().next().value!)
      this.evicted++
    }
  }

  get open(): number {
    return this.sessions.size
  }
}

function identifierSlots(trace: RequestTrace): Map<string, (SlotUse & {seq: number})[]> {
  const slots = new Map<string, (SlotUse & {seq: number})[]>()
  for (const call of trace.tool_calls) {
    const walk = (value: unknown, key: string | null): void => {
      if (typeof value === 'string' || typeof value === 'number') {
        const text = String(value)
        if (key === null || !(IDENTIFIER_KEY.test(key) || WHOLE_MARKER.test(text)) || text.trim().length < MIN_CHARS) return
        let uses = slots.get(key)
        if (!uses) {
          if (slots.size >= MAX_SLOTS) return
          uses = []
          slots.set(key, uses)
        }
        if (uses.length < MAX_SLOT_VALUES && !uses.some((u) => u.value === text)) uses.push({value: text, tool: call.name, seq: call.seq})
      } else if (Array.isArray(value)) for (const v of value) walk(v, key)
      else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k)
    }
    walk(call.args, null)
  }
  return slots
}

// ---------------------------------------------------------------------------------------------
// The suite

export function evaluateConsistency(record: TrafficRecord, trace: RequestTrace, sessions: SessionLedger | null = null): SuiteVerdict | null {
  const failures: CheckFailure[] = []
  const use = new TraceUse(trace)
  const fate = memoryFate(record, trace)
  const docs = seenDocuments(record, trace)
  const keptTexts = fate === null ? [] : fate.kept.flatMap((e) => memoryFacts(e).map((f) => String(f.value)))
  const sources = new Sources([...conversationOf(record).map((m) => m.content), ...docs.map((d) => d.content), ...keptTexts], trace)
  let applies = false
  if (fate !== null && record.memory.length > 0) applies = checkMemory(record, trace, fate, docs, use, failures)
  if (sessions !== null && record.session_id !== undefined) applies = checkSession(record, trace, sessions, sources, failures) || applies
  return applies ? {suite: 'consistency', passed: failures.length === 0, failures} : null
}

type Need = {fact: MemoryFact; why: string; tool: string | null; path: string | null}

function checkMemory(
  record: TrafficRecord,
  trace: RequestTrace,
  fate: MemoryFate,
  docs: RetrievedDocument[],
  use: TraceUse,
  failures: CheckFailure[],
): boolean {
  let applies = false
  const input = conversationOf(record).map((m) => m.content).join('\n')
  const inInput = (v: string | number): boolean => tokenRegex(String(v), 'i').test(input)
  const conflictKeys = new Set(fate.stale.map((s) => s.entry.key))

  // Where production put a value the user never stated: that is what the task needed from memory.
  const production = record.production.tool_calls.flatMap((c) => {
    const out: {tool: string; path: string; value: string | number}[] = []
    const walk = (v: unknown, path: string): void => {
      if (typeof v === 'string' || typeof v === 'number') out.push({tool: c.name, path, value: v})
      else if (Array.isArray(v)) v.forEach((x, i) => walk(x, path === '' ? String(i) : `${path}.${i}`))
      else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, path === '' ? k : `${path}.${k}`)
    }
    walk(c.args, '')
    return out
  })
  const productionUse = (value: string | number): {tool: string; path: string} | null => {
    const text = String(value)
    const re = typeof value === 'string' && DISTINCTIVE.test(text) ? tokenRegex(text) : null
    const hit = production.find((p) => (typeof p.value === 'number' ? String(p.value) === text : p.value === text || (re?.test(p.value))))
    return hit ? {tool: hit.tool, path: hit.path} : null
  }

  const explicit = record.expect?.uses_memory ?? []
  const keys = [...new Set(record.memory.map((e) => e.key))].sort((a, b) => b.length - a.length)
  const explicitKeys = new Set<string>()
  const needs: Need[] = []
  for (const spec of explicit) {
    const key = keys.find((k) => spec === k || spec.startsWith(`${k}.`))
    if (key === undefined) {
      applies = true
      failures.push({check: 'memory_not_used', message: `expect.uses_memory names ${spec}, but the request holds no memory entry ${spec.split('.')[0]}`})
      continue
    }
    explicitKeys.add(key)
    const path = spec === key ? '' : spec.slice(key.length + 1)
    const kept = fate.kept.find((e) => e.key === key)
    if (kept === undefined) {
      const dropped = fate.dropped.find((d) => d.entry.key === key)
      if (dropped) {
        applies = true
        failures.push({check: 'memory_not_used', message: `expect.uses_memory names ${spec}, but the candidate's ${dropped.by} guardrail dropped it, so the agent could not use it`})
      }
      continue
    }
    if (conflictKeys.has(key)) continue
    for (const fact of memoryFacts(kept)) {
      if (path === '' || fact.path === path || fact.path.startsWith(`${path}.`)) needs.push({fact, why: 'expect.uses_memory names it', tool: null, path: null})
    }
  }
  for (const entry of fate.kept) {
    if (explicitKeys.has(entry.key) || conflictKeys.has(entry.key)) continue
    for (const fact of memoryFacts(entry)) {
      if (inInput(fact.value)) continue
      const p = productionUse(fact.value)
      if (p) needs.push({fact, why: `production used it in ${p.tool}.${p.path}`, tool: p.tool, path: p.path})
    }
  }

  // An agent that never ran (blocked input) could not use anything; the other checks still hold.
  const ran = trace.model_calls > 0 || trace.tool_calls.length > 0
  if (ran) {
    for (const need of needs) {
      applies = true
      if (use.inArgs(need.fact.value) !== null) continue
      failures.push({
        check: 'memory_not_used',
        message: `memory ${label(need.fact)} (${shown(need.fact.value)}) reached the model and the task needs it (${need.why}), but no tool call used it; ${instead(trace, need)}`,
        ...(need.tool ? {tool: need.tool} : {}),
      })
    }
  }

  // Dropped entries: the agent must not use what its guardrail withheld.
  for (const {entry, by} of fate.dropped) {
    for (const fact of memoryFacts(entry)) {
      if (inInput(fact.value) || docs.some((d) => tokenRegex(String(fact.value), 'i').test(d.content))) continue
      if (fate.kept.some((k) => memoryFacts(k).some((f) => String(f.value) === String(fact.value)))) continue
      applies = true
      const found = leak(use, trace, fact.value)
      if (found !== null) {
        failures.push({check: 'dropped_memory_used', message: `memory ${label(fact)} (${found.shown}) was dropped by the ${by} guardrail, but ${found.where} used it`, ...toolOf(found)})
        break
      }
    }
  }

  // Contradictions: the newest write is the truth; an older value must not be used.
  const byKey = new Map<string, StaleEntry[]>()
  for (const s of fate.stale) {
    const list = byKey.get(s.entry.key)
    if (list) list.push(s)
    else byKey.set(s.entry.key, [s])
  }
  for (const [key, stale] of byKey) {
    const newest = stale[0]!.newest
    const newestFacts = memoryFacts(newest)
    const newestValues = new Set(newestFacts.map((f) => String(f.value)))
    const staleFacts = stale.flatMap((s) => memoryFacts(s.entry)).filter((f) => !newestValues.has(String(f.value)) && !inInput(f.value))
    const needed =
      explicitKeys.has(key) ||
      [...newestFacts, ...staleFacts].some((f) => !inInput(f.value) && productionUse(f.value) !== null)
    let staleUse: {fact: MemoryFact; use: Use} | null = null
    for (const f of staleFacts) {
      const found = leak(use, trace, f.value)
      if (found !== null) {
        staleUse = {fact: f, use: found}
        break
      }
    }
    const newestUsed = newestFacts.some((f) => use.inArgs(f.value) !== null)
    if (!needed && staleUse === null && !newestUsed) continue
    applies = true
    const newestShown = newestFacts.length === 0 ? '(nothing trackable)' : newestFacts.map((f) => shown(f.value)).join(', ')
    if (staleUse !== null) {
      failures.push({
        check: 'stale_memory_used',
        message: `memory ${key} holds contradictory entries; the newest (written ${newest.written_at}) is ${newestShown}, but ${staleUse.use.where} used the older ${staleUse.use.shown} (written ${staleUse.fact.written_at})`,
        ...toolOf(staleUse.use),
      })
    }
    if (needed && ran && !newestUsed && newestFacts.length > 0) {
      failures.push({
        check: 'conflict_newest_not_used',
        message: `memory ${key} holds contradictory entries and the task needs it; the newest (written ${newest.written_at}) is ${newestShown}, but no tool call used it`,
      })
    }
  }
  return applies
}

/** Where a value the agent should not have had shows up: a tool argument or the answer, unless a tool result gave it first. */
function leak(use: TraceUse, trace: RequestTrace, value: string | number): Use | null {
  const sources = new Sources([], trace)
  const arg = use.inArgs(value)
  if (arg !== null && !sources.has(value, arg.seq)) return arg
  const answer = use.inAnswer(value)
  if (answer !== null && !sources.has(value, Number.POSITIVE_INFINITY)) return answer
  return null
}

const toolOf = (use: Use): {tool?: string} => (use.tool === null ? {} : {tool: use.tool})

/** What the candidate did instead of using a needed fact, for the failure message. */
function instead(trace: RequestTrace, need: Need): string {
  if (trace.tool_calls.length === 0) return `the agent made no tool call and answered "${excerpt(trace.final_answer)}"`
  if (need.tool !== null && need.path !== null) {
    const same = trace.tool_calls.filter((c) => c.name === need.tool)
    if (same.length === 0) return `it never called ${need.tool} (it called ${[...new Set(trace.tool_calls.map((c) => c.name))].join(', ')})`
    const got = [...new Set(same.map((c) => valueAt(c.args, need.path!)).filter((v) => v !== undefined).map((v) => shown(typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v))))]
    if (got.length > 0) return `${need.tool}.${need.path} got ${got.join(', ')} instead`
    return `${need.tool} was called without ${need.path}`
  }
  return `it called ${[...new Set(trace.tool_calls.map((c) => c.name))].join(', ')}`
}

function valueAt(value: unknown, path: string): unknown {
  let v = value
  for (const seg of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[seg]
  }
  return v
}

function checkSession(record: TrafficRecord, trace: RequestTrace, sessions: SessionLedger, sources: Sources, failures: CheckFailure[]): boolean {
  const session = `${record.tenant}\u0000${record.session_id}`
  const prev = sessions.get(session, trace.repeat)
  const current = identifierSlots(trace)
  let applies = false
  if (prev !== undefined) {
    for (const [slot, uses] of current) {
      const before = prev.slots.get(slot)
      if (before === undefined) continue
      applies = true
      const known = new Set(before.uses.map((u) => u.value))
      for (const u of uses) {
        if (known.has(u.value) || sources.has(u.value, u.seq)) continue
        failures.push({
          check: 'session_drift',
          message: `session ${record.session_id}: ${slot} was ${before.uses.map((b) => b.value).join(', ')} in ${before.request_id} (line ${before.line}), but ${u.tool} now uses ${u.value}, which nothing in this turn introduced`,
          tool: u.tool,
        })
        break
      }
    }
  }
  const slots = new Map(prev?.slots ?? [])
  for (const [slot, uses] of current) {
    if (!slots.has(slot) && slots.size >= MAX_SLOTS) continue
    slots.set(slot, {request_id: trace.request_id, line: trace.line, uses: uses.map(({value, tool}) => ({value, tool}))})
  }
  sessions.set(session, trace.repeat, {slots})
  return applies
}
