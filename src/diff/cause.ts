import {canonicalJson, sha256} from '../util/canonical.js'
import type {Classification, DiffClass, Reason, RequestDiff} from './types.js'

/**
 * The cause of a request's difference, as data that is the same for every request the same bundle
 * change affected: which tool, which policy rule and reason codes, which guardrail check, which
 * argument field, which status change, under which finding code. Nothing that varies per request
 * goes in (request and run ids, times, argument values, messages, the `#n` occurrence of a call),
 * so the id hashed from it is stable across runs and machines and can be named (`--cause <id>`).
 *
 * Only the findings that decided the request's class make its cause: a regression's cause is why it
 * is a regression, not the answer worded differently on the side.
 */

/** One decisive finding, reduced to what names its cause. Absent keys do not apply to its code. */
export type CauseFacet = {
  code: string
  tool?: string
  stage?: string
  /** A policy decision that changed: decisions (`none` where a side made none), rules, reason codes. */
  decision?: {from: string; from_reason: string | null; from_rule: string | null; to: string; to_reason: string | null; to_rule: string | null}
  guardrail?: {check: string; severity: string}
  /** An argument field (dotted path, never its value) and how it changed. */
  arg?: {path: string; change: string}
  /** A call's outcome on each side (`none` where a side has no such call). */
  outcome?: {from: string; to: string}
  status?: {from: string; to: string}
  budget?: string
  /** Model-free replay: why a side left its recording, and the policy or contract code that made it. */
  diverged?: {side: string; reason: string; code: string | null}
}

export type CauseSignature = {class: Exclude<DiffClass, 'same'>; facets: CauseFacet[]}

export type CauseGroup = {
  /** Short hash of the signature's canonical JSON: the same signature has the same id on any run and machine. */
  cause: string
  class: Exclude<DiffClass, 'same'>
  signature: CauseSignature
  /** How many requests have this cause. */
  requests: number
  /** The first request ids of the group, in line order. */
  examples: string[]
}

export const CAUSE_ID_LENGTH = 10
export const MAX_CAUSE_EXAMPLES = 5

/** Most harmful first: what a reviewer must look at, then what only changed, then what got better, then what does not matter. */
const HARM: Record<Exclude<DiffClass, 'same'>, number> = {regression: 0, behaviour_change: 1, improvement: 2, benign: 3}

/** The id of a signature: the first CAUSE_ID_LENGTH hex digits of the sha256 of its canonical JSON. */
export const causeId = (signature: CauseSignature): string => sha256(canonicalJson(signature)).slice(0, CAUSE_ID_LENGTH)

/**
 * The cause signature of a classified request; null when it is `same`. Pure. Facets are sorted and
 * de-duplicated (three denied calls of one tool under one rule are one facet).
 */
export function causeSignature(diff: RequestDiff, classification: Classification): CauseSignature | null {
  const key = causeKey(diff, classification)
  return key === null ? null : signatureOfKey(key)
}

/**
 * The signature as one string (its class, then its facets' JSON, sorted, one a line): what a run
 * groups by. Cheaper than the signature object, and only one group in many is ever hashed.
 */
export function causeKey(diff: RequestDiff, classification: Classification): string | null {
  const cls = classification.class
  if (cls === 'same') return null
  // facetOf builds every object with its keys in sorted order, so JSON.stringify is its canonical
  // JSON (the tests pin that): sorting keys per request was most of the cost over a large run.
  const facets: string[] = []
  for (const r of classification.reasons) if (r.class === cls) facets.push(facetJson(diff, r))
  if (facets.length === 1) return `${cls}\n${facets[0]}`
  facets.sort()
  let key = cls
  for (let i = 0; i < facets.length; i++) if (i === 0 || facets[i] !== facets[i - 1]) key += `\n${facets[i]}`
  return key
}

/** A finding named by its code alone (answer, steps, metrics): one string per code, made once. */
const CODE_ONLY = new Map<string, string>()

function facetJson(diff: RequestDiff, r: Reason): string {
  const f = r.field
  if (f === 'answer' || f === 'steps' || f === 'tokens' || f === 'cost_usd' || f === 'latency_ms') {
    let json = CODE_ONLY.get(r.code)
    if (json === undefined) CODE_ONLY.set(r.code, (json = JSON.stringify({code: r.code})))
    return json
  }
  return JSON.stringify(facetOf(diff, r))
}

export function signatureOfKey(key: string): CauseSignature {
  const [cls, ...facets] = key.split('\n')
  return {class: cls as CauseSignature['class'], facets: facets.map((f) => JSON.parse(f) as CauseFacet)}
}

/**
 * The facet of one finding. Its keys, and those of every nested object, are set in sorted order
 * (arg, budget, code, decision, diverged, guardrail, outcome, stage, status, tool).
 */
function facetOf(diff: RequestDiff, r: Reason): CauseFacet {
  const f = r.field
  const p: Omit<CauseFacet, 'code'> = {}
  if (f === 'status') {
    p.status = {from: diff.status.base, to: diff.status.cand}
  } else if (f.startsWith('decision:')) {
    const row = diff.decisions.find((d) => d.field === f)
    if (row) {
      p.decision = {
        from: row.base?.decision ?? 'none',
        from_reason: row.base?.reason ?? null,
        from_rule: row.base?.rule ?? null,
        to: row.cand?.decision ?? 'none',
        to_reason: row.cand?.reason ?? null,
        to_rule: row.cand?.rule ?? null,
      }
      p.stage = row.stage
      if (row.tool !== null) p.tool = row.tool
    }
  } else if (f.startsWith('call:')) {
    // `call:<tool>#<n>`, then `.executed`, `.outcome` or `.args.<path>`: the row is found by its
    // field rather than by parsing, since a tool name may hold any character.
    const row = diff.calls.find((c) => f.startsWith(c.field) && (f.length === c.field.length || f.charCodeAt(c.field.length) === 0x2e))
    if (row) {
      const arg = row.args.find((a) => a.field === f)
      if (arg) p.arg = {change: arg.kind, path: arg.path}
      else p.outcome = {from: row.base?.outcome ?? 'none', to: row.cand?.outcome ?? 'none'}
      p.tool = row.name
    }
  } else if (f.startsWith('guardrail:')) {
    const g = diff.guardrails.added.find((x) => x.field === f) ?? diff.guardrails.removed.find((x) => x.field === f)
    if (g) {
      p.guardrail = {check: g.failure.check, severity: g.failure.severity}
      p.stage = g.failure.stage
    }
  } else if (f.startsWith('budget:')) {
    p.budget = f.slice('budget:'.length)
  } else if (f.startsWith('diverged:')) {
    const side = f.slice('diverged:'.length)
    const d = side === 'base' ? diff.diverged.base : side === 'cand' ? diff.diverged.cand : null
    if (d) {
      p.diverged = {code: d.code ?? null, reason: d.reason, side}
      p.tool = d.tool
    }
  }
  // Anything else (answer, steps, tokens, cost, latency) is named by its code alone.
  return {...(p.arg && {arg: p.arg}), ...(p.budget !== undefined && {budget: p.budget}), code: r.code, ...rest(p)}
}

/** The keys after `code`, in sorted order. */
function rest(p: Omit<CauseFacet, 'code'>): Omit<CauseFacet, 'code' | 'arg' | 'budget'> {
  const out: Omit<CauseFacet, 'code' | 'arg' | 'budget'> = {}
  if (p.decision) out.decision = p.decision
  if (p.diverged) out.diverged = p.diverged
  if (p.guardrail) out.guardrail = p.guardrail
  if (p.outcome) out.outcome = p.outcome
  if (p.stage !== undefined) out.stage = p.stage
  if (p.status) out.status = p.status
  if (p.tool !== undefined) out.tool = p.tool
  return out
}

/** A tally's groups as plain data, keyed by causeKey, in the order first met: what a worker thread hands back. */
export type CauseTallyState = [key: string, requests: number, examples: string[]][]

/**
 * Counts requests per cause over a run, in line order. Parts of a run counted on several threads
 * are absorbed in line order, so the examples are the run's first ones whatever the split.
 */
export class CauseTally {
  private readonly groups = new Map<string, {requests: number; examples: string[]}>()
  /** groupsSorted()'s last answer, until the next add or absorb. */
  private sorted: CauseGroup[] | null = null

  add(key: string | null, requestId: string): void {
    if (key === null) return
    this.sorted = null
    const g = this.groups.get(key)
    if (g === undefined) this.groups.set(key, {requests: 1, examples: [requestId]})
    else {
      g.requests++
      if (g.examples.length < MAX_CAUSE_EXAMPLES) g.examples.push(requestId)
    }
  }

  state(): CauseTallyState {
    return [...this.groups].map(([key, g]) => [key, g.requests, g.examples])
  }

  absorb(state: CauseTallyState): void {
    this.sorted = null
    for (const [key, requests, examples] of state) {
      const g = this.groups.get(key)
      if (g === undefined) this.groups.set(key, {requests, examples: [...examples]})
      else {
        g.requests += requests
        for (const e of examples) if (g.examples.length < MAX_CAUSE_EXAMPLES) g.examples.push(e)
      }
    }
  }

  /**
   * The groups, most harmful class first, then the largest, then by id. Made again only after
   * something was added (a screen asks on every render while a run loads); the answer is shared:
   * do not change it.
   */
  groupsSorted(): readonly CauseGroup[] {
    if (this.sorted !== null) return this.sorted
    const out: CauseGroup[] = []
    for (const [key, g] of this.groups) {
      const signature = signatureOfKey(key)
      out.push({cause: causeId(signature), class: signature.class, signature, requests: g.requests, examples: g.examples})
    }
    this.sorted = out.sort((a, b) => HARM[a.class] - HARM[b.class] || b.requests - a.requests || (a.cause < b.cause ? -1 : a.cause > b.cause ? 1 : 0))
    return this.sorted
  }
}

/** Whether `id` names this cause: the whole id or a prefix of at least 4 digits. */
export const matchesCause = (cause: string, id: string): boolean => id.length >= 4 && cause.startsWith(id.toLowerCase())

/** Short text of a signature for listings: `code tool stage decision…` per facet, joined by `; `. */
export function describeSignature(s: CauseSignature): string {
  return s.facets.map(describeFacet).join('; ')
}

function describeFacet(f: CauseFacet): string {
  const parts: string[] = [f.code]
  if (f.tool !== undefined) parts.push(f.tool)
  if (f.arg) parts.push(`arg ${f.arg.path} ${f.arg.change}`)
  if (f.decision) {
    const d = f.decision
    const side = (dec: string, reason: string | null, rule: string | null): string => `${dec}${reason ? ` ${reason}` : ''}${rule ? ` [${rule}]` : ''}`
    parts.push(`${side(d.from, d.from_reason, d.from_rule)} → ${side(d.to, d.to_reason, d.to_rule)}${f.stage ? ` at ${f.stage}` : ''}`)
  } else if (f.guardrail) parts.push(`${f.stage ?? ''} ${f.guardrail.check} (${f.guardrail.severity})`.trim())
  if (f.outcome) parts.push(`${f.outcome.from} → ${f.outcome.to}`)
  if (f.status) parts.push(`status ${f.status.from} → ${f.status.to}`)
  if (f.budget !== undefined) parts.push(`budget ${f.budget}`)
  if (f.diverged) parts.push(`${f.diverged.side} ${f.diverged.reason}${f.diverged.code ? ` ${f.diverged.code}` : ''}`)
  return parts.join(' ')
}
