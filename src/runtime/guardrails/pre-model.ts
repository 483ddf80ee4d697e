import type {BundleManifest, MemoryContract} from '../../bundle/schema.js'
import type {Signals} from '../../policy/engine.js'
import type {InputMessage, MemoryEntry, TrafficRecord, TrustLevel} from '../../traffic/schema.js'
import type {ContextAdmission, DocumentAdmission, GuardrailResult, GuardrailSeverity, MemoryAdmission} from '../../trace/schema.js'
import {detectPii, injectionMatcherFor, type InjectionMatcher, type PiiKind} from './patterns.js'
import {sharedConstant, SharedResults} from './shared-results.js'

// What a passing check says, shared between requests (shared-results.ts): each detail below is the
// one the check's own code would write.
const PASS = {
  normalise: sharedConstant('pre_model', 'input.normalise', true, 'info', 'input already normalised'),
  size: new SharedResults('pre_model', 'input.size', true, 'info', (chars: number, max: number) => `${chars} of ${max} characters`),
  injection: sharedConstant('pre_model', 'input.injection', true, 'info', 'no injection pattern in input'),
  turnInjection: sharedConstant('pre_model', 'input.injection', true, 'info', 'no injection pattern in the user turn'),
  pii: sharedConstant('pre_model', 'input.pii', true, 'info', 'no personal data in input'),
  tenant: new SharedResults('pre_model', 'retrieval.tenant', true, 'info', (n: number, tenant: string) => `all ${documents(n)} belong to tenant ${tenant}`),
  trust: new SharedResults('pre_model', 'retrieval.trust', true, 'info', (minTrust: string) => `no document below ${minTrust} trust`),
  retrievalInjection: sharedConstant('pre_model', 'retrieval.injection', true, 'info', 'no injection pattern in retrieved documents'),
  ttl: new SharedResults('pre_model', 'memory.ttl', true, 'info', (n: number) => `${entries(n)} within TTL`),
  provenance: new SharedResults('pre_model', 'memory.provenance', true, 'info', (n: number) => `${entries(n)} with provenance`),
  provenanceNotRequired: sharedConstant('pre_model', 'memory.provenance', true, 'info', 'provenance not required'),
  owner: new SharedResults('pre_model', 'memory.owner', true, 'info', (n: number) => `${entries(n)} from allowed owners`),
  ownerUnrestricted: sharedConstant('pre_model', 'memory.owner', true, 'info', 'no owner restriction'),
  memoryTenant: sharedConstant('pre_model', 'memory.tenant', true, 'info', 'no entry of another tenant'),
  fieldOwner: sharedConstant('pre_model', 'memory.field_owner', true, 'info', 'every contracted field written by its owner'),
  fieldOwnerNoContract: sharedConstant('pre_model', 'memory.field_owner', true, 'info', 'no field contract'),
  schema: sharedConstant('pre_model', 'memory.schema', true, 'info', 'contracted fields have their declared types'),
  schemaNoContract: sharedConstant('pre_model', 'memory.schema', true, 'info', 'no field contract'),
  conflict: sharedConstant('pre_model', 'memory.conflict', true, 'info', 'no conflicting entries'),
}

/** A retrieved document that survived the checks, as the model will see it. */
export type Evidence = {id: string; source: string; trust: TrustLevel; content: string; injection: boolean}

export type PreModelResult = {
  guardrails: GuardrailResult[]
  signals: Signals
  input: InputMessage[]
  evidence: Evidence[]
  memory: MemoryEntry[]
  blocked: {reason: string} | null
}

export const INPUT_TOO_LONG = 'INPUT_TOO_LONG'
export const INJECTION_IN_INPUT = 'INJECTION_IN_INPUT'

const TRUST_RANK: Record<TrustLevel, number> = {untrusted: 0, internal: 1, trusted: 2}

// C0/C1 controls except tab and newline, plus the invisible format characters (zero-width,
// bidi overrides, word joiners, BOM) that hide instructions from a human reviewer.
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/g
const HAS_CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/

/** NFC plus control stripping; `\r\n` becomes `\n` rather than losing the line break. */
export function normaliseText(text: string): {text: string; removed: number} {
  let t = text.normalize('NFC')
  if (t.includes('\r')) t = t.replace(/\r\n?/g, '\n')
  if (!HAS_CONTROL.test(t)) return {text: t, removed: 0}
  const stripped = t.replace(CONTROL, '')
  return {text: stripped, removed: t.length - stripped.length}
}

/**
 * A later user turn of a multi-turn request, checked as the input's user messages are before the
 * model sees it: normalised, then the injection patterns (blocking when the bundle blocks
 * injection in input). The results are pre-model ones at `step`, the step the turn came in.
 */
export function userTurnGuardrails(
  content: string,
  manifest: BundleManifest,
  step: number,
): {content: string; guardrails: GuardrailResult[]; injection: boolean; blocked: {reason: string} | null} {
  const config = manifest.guardrails
  const n = normaliseText(content)
  const injections = injectionMatcherFor(config)(n.text, 'input')
  const block = injections.length > 0 && config.block_injection_in_input
  const guardrails: GuardrailResult[] = [
    injections.length === 0
      ? PASS.turnInjection.get(step)
      : {
          stage: 'pre_model',
          step,
          check: 'input.injection',
          passed: false,
          severity: block ? 'high' : 'medium',
          detail: `${block ? 'blocked' : 'flagged'} in the user turn: ${[...new Set(injections)].join(', ')}`,
        },
  ]
  return {content: n.text, guardrails, injection: injections.length > 0, blocked: block ? {reason: INJECTION_IN_INPUT} : null}
}

/**
 * Everything checked before the model sees a request: the input itself, the retrieved documents
 * and the memory entries. Each check yields one result, passed or not, so runs compare alike.
 * For a request with documents or memory, the last result also carries the admission record
 * (`context`): every document and memory entry, admitted or dropped and by which check.
 */
export function preModelGuardrails(record: TrafficRecord, manifest: BundleManifest): PreModelResult {
  const results: GuardrailResult[] = []
  const result = (check: string, passed: boolean, severity: GuardrailSeverity, detail: string): void => {
    results.push({stage: 'pre_model', step: 0, check, passed, severity, detail})
  }
  const config = manifest.guardrails
  const signals: Signals = {
    injection_in_input: false,
    injection_in_retrieved: false,
    pii_in_input: false,
    cross_tenant_document: false,
    cross_tenant_memory: false,
    memory_conflict: false,
  }

  // 1. Normalise.
  let removed = 0
  const input = record.input.map((m) => {
    const n = normaliseText(m.content)
    removed += n.removed
    return {role: m.role, content: n.text}
  })
  if (removed > 0) result('input.normalise', true, 'low', `removed ${removed} control or invisible character(s)`)
  else results.push(PASS.normalise.get(0))

  // 2. Size, before any regex runs over an oversized input.
  const chars = input.reduce((n, m) => n + m.content.length, 0)
  signals.input_chars = chars
  if (chars > config.max_input_chars) {
    result('input.size', false, 'medium', `input is ${chars} characters, limit ${config.max_input_chars}`)
    // Nothing is admitted past an oversized input.
    attachAdmission(results, {
      documents: record.retrieved.map((d, index) => ({index, id: d.id, admitted: false, dropped_by: ['input.size']})),
      memory: record.memory.map((e, index) => ({index, key: e.key, admitted: false, dropped_by: ['input.size'], superseded_by: null})),
    })
    return {guardrails: results, signals, input, evidence: [], memory: [], blocked: {reason: INPUT_TOO_LONG}}
  }
  results.push(PASS.size.get(0, chars, config.max_input_chars))

  // 3. Injection and PII in what the user wrote (system and assistant turns are not the user's).
  const match = injectionMatcherFor(config)
  const injections = new Set<string>()
  const pii = new Set<PiiKind>()
  for (const m of input) {
    if (m.role !== 'user') continue
    for (const id of match(m.content, 'input')) injections.add(id)
    for (const kind of detectPii(m.content)) pii.add(kind)
  }
  let blocked: {reason: string} | null = null
  if (injections.size > 0) {
    signals.injection_in_input = true
    const block = config.block_injection_in_input
    if (block) blocked = {reason: INJECTION_IN_INPUT}
    result('input.injection', false, block ? 'high' : 'medium', `${block ? 'blocked' : 'flagged'}: ${[...injections].join(', ')}`)
  } else {
    results.push(PASS.injection.get(0))
  }
  if (pii.size > 0) {
    signals.pii_in_input = true
    result('input.pii', false, 'low', `personal data in input: ${[...pii].join(', ')}`)
  } else {
    results.push(PASS.pii.get(0))
  }

  const documents: DocumentAdmission[] = []
  const admittedMemory: MemoryAdmission[] = []
  const evidence = checkRetrieved(record, manifest, match, signals, result, results, documents)
  const memory = checkMemory(record, manifest.memory, signals, result, results, admittedMemory)
  signals.evidence_count = evidence.length
  signals.memory_count = memory.length
  attachAdmission(results, {documents, memory: admittedMemory})

  return {guardrails: results, signals, input, evidence, memory, blocked}
}

/**
 * On the stage's last result; a request with neither documents nor memory has nothing to record.
 * That result is replaced by a copy with the record, never changed: it may be a shared one.
 */
function attachAdmission(results: GuardrailResult[], context: ContextAdmission): void {
  if (context.documents.length === 0 && context.memory.length === 0) return
  const last = results[results.length - 1]!
  results[results.length - 1] = {stage: last.stage, step: last.step, check: last.check, passed: last.passed, severity: last.severity, detail: last.detail, context}
}

type Emit = (check: string, passed: boolean, severity: GuardrailSeverity, detail: string) => void

function checkRetrieved(
  record: TrafficRecord,
  manifest: BundleManifest,
  match: InjectionMatcher,
  signals: Signals,
  result: Emit,
  results: GuardrailResult[],
  admission: DocumentAdmission[],
): Evidence[] {
  const docs = record.retrieved
  if (docs.length === 0) return []
  const minTrust = manifest.retrieval?.min_trust ?? 'untrusted'
  const crossTenant: string[] = []
  const lowTrust: string[] = []
  const injected: string[] = []
  const evidence: Evidence[] = []

  for (let index = 0; index < docs.length; index++) {
    const doc = docs[index]!
    if (doc.tenant !== undefined && doc.tenant !== record.tenant) {
      crossTenant.push(doc.id)
      admission.push({index, id: doc.id, admitted: false, dropped_by: ['retrieval.tenant']})
      continue
    }
    if (TRUST_RANK[doc.trust] < TRUST_RANK[minTrust]) {
      lowTrust.push(doc.id)
      admission.push({index, id: doc.id, admitted: false, dropped_by: ['retrieval.trust']})
      continue
    }
    admission.push({index, id: doc.id, admitted: true, dropped_by: []})
    const content = normaliseText(doc.content).text
    const injection = match(content, 'document').length > 0
    if (injection) injected.push(doc.id)
    evidence.push({id: doc.id, source: doc.source, trust: doc.trust, content, injection})
  }

  if (crossTenant.length > 0) {
    signals.cross_tenant_document = true
    result('retrieval.tenant', false, 'high', `dropped ${documents(crossTenant.length)} of another tenant: ${list(crossTenant)}`)
  } else {
    results.push(PASS.tenant.get(0, docs.length, record.tenant))
  }
  if (lowTrust.length > 0) {
    result('retrieval.trust', false, 'low', `dropped ${documents(lowTrust.length)} below ${minTrust} trust: ${list(lowTrust)}`)
  } else {
    results.push(PASS.trust.get(0, minTrust))
  }
  if (injected.length > 0) {
    signals.injection_in_retrieved = true
    result('retrieval.injection', false, 'medium', `injection pattern in ${documents(injected.length)}: ${list(injected)}`)
  } else {
    results.push(PASS.retrievalInjection.get(0))
  }
  return evidence
}

function checkMemory(
  record: TrafficRecord,
  contract: MemoryContract | undefined,
  signals: Signals,
  result: Emit,
  results: GuardrailResult[],
  admission: MemoryAdmission[],
): MemoryEntry[] {
  const all = record.memory
  if (all.length === 0) return []
  const now = Date.parse(record.timestamp)
  const fieldTtl = new Map((contract?.fields ?? []).map((f) => [f.key, f.ttl_seconds]))
  const owners = new Set(contract?.owners ?? [])
  const provenanceRequired = contract?.provenance_required ?? false
  const expired: string[] = []
  const noProvenance: string[] = []
  const notOwner: string[] = []
  const otherTenant: string[] = []
  const wrongFieldOwner: string[] = []
  const wrongType: string[] = []
  const fields = new Map((contract?.fields ?? []).map((f) => [f.key, f]))
  const kept: MemoryEntry[] = []

  for (let index = 0; index < all.length; index++) {
    const entry = all[index]!
    const field = fields.get(entry.key)
    // A field has one owning service; any other writer is rejected, however trusted it is otherwise.
    const wrongOwner = field !== undefined && field.owner !== entry.owner
    if (wrongOwner) wrongFieldOwner.push(`${entry.key} (${entry.owner}, owner ${field.owner})`)
    const badType = field !== undefined && memoryType(entry.value) !== field.type
    if (badType) wrongType.push(`${entry.key} (${memoryType(entry.value)}, expected ${field.type})`)
    const ttl = effectiveTtl(entry, fieldTtl.get(entry.key), contract)
    const isExpired = ttl !== undefined && Date.parse(entry.written_at) + ttl * 1000 < now
    if (isExpired) expired.push(entry.key)
    const unproven = provenanceRequired && entry.provenance === undefined
    if (unproven) noProvenance.push(entry.key)
    const unlisted = owners.size > 0 && !owners.has(entry.owner)
    if (unlisted) notOwner.push(`${entry.key} (${entry.owner})`)
    const foreign = entry.tenant !== undefined && entry.tenant !== record.tenant
    if (foreign) otherTenant.push(entry.key)
    // In the order the checks' results are reported below.
    const droppedBy: string[] = []
    if (isExpired) droppedBy.push('memory.ttl')
    if (unproven) droppedBy.push('memory.provenance')
    if (unlisted) droppedBy.push('memory.owner')
    if (foreign) droppedBy.push('memory.tenant')
    if (wrongOwner) droppedBy.push('memory.field_owner')
    if (badType) droppedBy.push('memory.schema')
    admission.push({index, key: entry.key, admitted: droppedBy.length === 0, dropped_by: droppedBy, superseded_by: null})
    if (droppedBy.length === 0) kept.push(entry)
  }
  const {entries: resolved, conflicts, owners: multiOwner, supersededBy} = resolveConflicts(kept)
  if (supersededBy.size > 0) {
    const indexOf = new Map(all.map((e, i) => [e, i]))
    for (const [loser, winner] of supersededBy) {
      const a = admission[indexOf.get(loser)!]!
      a.admitted = false
      a.superseded_by = indexOf.get(winner)!
    }
  }

  const n = all.length
  if (expired.length > 0) result('memory.ttl', false, 'low', `dropped ${entries(expired.length)} past TTL: ${list(expired)}`)
  else results.push(PASS.ttl.get(0, n))
  if (noProvenance.length > 0) {
    result('memory.provenance', false, 'medium', `dropped ${entries(noProvenance.length)} without provenance: ${list(noProvenance)}`)
  } else {
    results.push(provenanceRequired ? PASS.provenance.get(0, n) : PASS.provenanceNotRequired.get(0))
  }
  if (notOwner.length > 0) {
    result('memory.owner', false, 'high', `dropped ${entries(notOwner.length)} from an unlisted owner: ${list(notOwner)}`)
  } else {
    results.push(owners.size > 0 ? PASS.owner.get(0, n) : PASS.ownerUnrestricted.get(0))
  }
  if (otherTenant.length > 0) {
    signals.cross_tenant_memory = true
    result('memory.tenant', false, 'high', `dropped ${entries(otherTenant.length)} of another tenant: ${list(otherTenant)}`)
  } else {
    results.push(PASS.memoryTenant.get(0))
  }
  if (wrongFieldOwner.length > 0) {
    result('memory.field_owner', false, 'high', `rejected ${entries(wrongFieldOwner.length)} written by a service that does not own the field: ${list(wrongFieldOwner)}`)
  } else {
    results.push(fields.size > 0 ? PASS.fieldOwner.get(0) : PASS.fieldOwnerNoContract.get(0))
  }
  if (wrongType.length > 0) result('memory.schema', false, 'medium', `dropped ${entries(wrongType.length)} of the wrong type: ${list(wrongType)}`)
  else results.push(fields.size > 0 ? PASS.schema.get(0) : PASS.schemaNoContract.get(0))
  if (conflicts.length > 0 || multiOwner.length > 0) {
    signals.memory_conflict = true
    const parts: string[] = []
    if (conflicts.length > 0) parts.push(`contradictory values for ${list(conflicts)} (kept the newest)`)
    if (multiOwner.length > 0) parts.push(`written by more than one owner: ${list(multiOwner)}`)
    result('memory.conflict', false, 'medium', parts.join('; '))
  } else {
    results.push(PASS.conflict.get(0))
  }
  return resolved
}

function memoryType(value: unknown): string {
  if (value === null || Array.isArray(value)) return 'object'
  const t = typeof value
  return t === 'string' || t === 'number' || t === 'boolean' ? t : 'object'
}

/**
 * One fact per key reaches the model. Entries that disagree (same key, different values) are a
 * contradiction: the newest write wins and the conflict is recorded, never silently merged. Two
 * owners writing one key is flagged even when they agree: ownership must be unambiguous.
 */
function resolveConflicts(kept: MemoryEntry[]): {
  entries: MemoryEntry[]
  conflicts: string[]
  owners: string[]
  /** Each entry that lost to a newer one of its key → that entry. */
  supersededBy: ReadonlyMap<MemoryEntry, MemoryEntry>
} {
  if (kept.length < 2) return {entries: kept, conflicts: [], owners: [], supersededBy: NONE_SUPERSEDED}
  const byKey = new Map<string, MemoryEntry[]>()
  for (const e of kept) {
    const list = byKey.get(e.key)
    if (list) list.push(e)
    else byKey.set(e.key, [e])
  }
  if (byKey.size === kept.length) return {entries: kept, conflicts: [], owners: [], supersededBy: NONE_SUPERSEDED}
  const conflicts: string[] = []
  const owners: string[] = []
  const winners = new Set<MemoryEntry>()
  const supersededBy = new Map<MemoryEntry, MemoryEntry>()
  for (const [key, list] of byKey) {
    if (list.length === 1) {
      winners.add(list[0]!)
      continue
    }
    const values = new Set(list.map((e) => JSON.stringify(e.value)))
    if (values.size > 1) conflicts.push(key)
    const distinctOwners = new Set(list.map((e) => e.owner))
    if (distinctOwners.size > 1) owners.push(`${key} (${[...distinctOwners].sort().join(', ')})`)
    let newest = list[0]!
    for (const e of list) if (Date.parse(e.written_at) > Date.parse(newest.written_at)) newest = e
    winners.add(newest)
    for (const e of list) if (e !== newest) supersededBy.set(e, newest)
  }
  return {entries: kept.filter((e) => winners.has(e)), conflicts, owners, supersededBy}
}

const NONE_SUPERSEDED: ReadonlyMap<MemoryEntry, MemoryEntry> = new Map()

/**
 * The strictest TTL that applies: the writer's own, and the contract's (per field, else default).
 * The contract sets the longest retention; a writer may always ask for less.
 */
function effectiveTtl(
  entry: MemoryEntry,
  fieldTtl: number | undefined,
  contract: MemoryContract | undefined,
): number | undefined {
  const contractTtl = fieldTtl ?? contract?.default_ttl_seconds
  if (entry.ttl_seconds === undefined) return contractTtl
  if (contractTtl === undefined) return entry.ttl_seconds
  return Math.min(entry.ttl_seconds, contractTtl)
}

const documents = (n: number): string => `${n} document${n === 1 ? '' : 's'}`
const entries = (n: number): string => `${n} ${n === 1 ? 'entry' : 'entries'}`

/** Ids in a detail line, capped so one bad request cannot bloat every trace. */
function list(ids: string[]): string {
  const shown = ids.slice(0, 5).join(', ')
  return ids.length > 5 ? `${shown} (+${ids.length - 5} more)` : shown
}
