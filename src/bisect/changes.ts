import {diffLines} from 'diff'
import {type BundleDiff, type Change, diffBundles} from '../bundle/diff.js'
import {canonicalManifest} from '../bundle/hash.js'
import type {Bundle, BundleManifest, PolicyRule, ToolContract} from '../bundle/schema.js'
import type {TemplateSlot} from '../bundle/templates.js'
import {toToolSpec} from '../tools/contract.js'
import {canonicalJson} from '../util/canonical.js'

/**
 * The bundle diff between a run's baseline and candidate, cut into atomic changes that can be
 * applied one by one to the baseline: each prompt hunk, each field of a tool contract (an argument
 * with whether it is required, a tenant's roles, the description…), each policy rule, each budget,
 * guardrail, model, agent, autonomy, flag, quota, retrieval and memory setting. The grouped bundle
 * diff (src/bundle/diff.ts) says what differs; this module says how to apply a part of it.
 *
 * Left out: name, version and description. No model and no policy ever sees them (they are not
 * template variables), so they cannot cause a difference.
 */

export type AtomicChange = {
  /** Stable, readable id: `prompt.system#2`, `policy refund-needs-approval`, `tool issue_refund args.reason`, `budgets.max_steps`. */
  id: string
  /** One line for people: what the change does. */
  label: string
}

/** A manifest being built, in canonical form, with the text of each prompt slot. */
type Draft = {manifest: Record<string, unknown>; prompts: Partial<Record<TemplateSlot, string>>; hunks: Set<string>}

type Unit = AtomicChange & {apply(draft: Draft): void}

/** The atomic changes from `base` to `cand`, in a fixed order (prompts, model, agent, tools, policies, the rest). */
export type ChangeSet = {base: Bundle; cand: Bundle; changes: AtomicChange[]; units: ReadonlyMap<string, Unit>}

export function atomicChanges(base: Bundle, cand: Bundle): ChangeSet {
  const d = diffBundles(base, cand)
  const cm = canonicalManifest(cand.manifest) as unknown as Record<string, unknown>
  const units: Unit[] = [...promptUnits(base, cand), ...fieldUnits(d, cm), ...toolUnits(d, cm), ...policyUnits(d, cm)]
  const byId = new Map<string, Unit>()
  for (const u of units) if (!byId.has(u.id)) byId.set(u.id, u)
  return {base, cand, changes: [...byId.values()].map(({id, label}) => ({id, label})), units: byId}
}

/**
 * The baseline with the changes `applied` (ids) of the set made, in canonical form: a manifest and
 * its templates, for a bundle directory. Whether it is a valid bundle is for the bundle loader to
 * say (a subset may require a field another change adds).
 */
export function hybridBundle(set: ChangeSet, applied: Iterable<string>): {manifest: BundleManifest; templates: Record<string, string>} {
  const base = set.base
  const draft: Draft = {
    manifest: structuredClone(canonicalManifest(base.manifest)) as unknown as Record<string, unknown>,
    prompts: {},
    hunks: new Set(),
  }
  for (const slot of ['system', 'plan'] as const) {
    const p = base.manifest.prompts[slot]
    if (p !== undefined) draft.prompts[slot] = lf(base.templates[p] ?? '')
  }
  const want = new Set(applied)
  // Applied in the set's order, whatever order the ids came in: the same subset is the same bundle.
  for (const c of set.changes) if (want.has(c.id)) set.units.get(c.id)!.apply(draft)
  const prompts: Record<string, string> = {}
  const templates: Record<string, string> = {}
  for (const slot of ['system', 'plan'] as const) {
    const text = draft.prompts[slot]
    if (text === undefined) continue
    const file = `prompts/${slot}.md`
    prompts[slot] = file
    templates[file] = text
  }
  const manifest = {...draft.manifest, prompts} as unknown as BundleManifest
  return {manifest, templates}
}

/**
 * Whether a change alters what the model is asked before anything is decided: the prompts, the
 * model and agent settings, the tools as offered (their specs), retrieval, memory, guardrails,
 * flags. Policy rules, roles (RBAC, decided at call time), budgets, quotas and autonomy are not:
 * with only those changed, the model is asked what the baseline asked until a decision differs.
 */
export function modelVisible(set: ChangeSet, id: string): boolean {
  return modelSurface(hybridBundle(set, [id])) !== modelSurface(hybridBundle(set, []))
}

function modelSurface(h: {manifest: BundleManifest; templates: Record<string, string>}): string {
  const {policies, policy_default, budgets, tenant_quotas, autonomy, name, version, description, tools, ...rest} = h.manifest
  return canonicalJson({...rest, tools: tools.filter((t) => t.enabled).map(toToolSpec), templates: h.templates})
}

// ---------------------------------------------------------------------------------------------
// Prompts: one change per hunk of the line diff, so that a prompt edit of three sentences is three
// changes. A slot only one side has is one change.

type Segment = {same: string} | {old: string; new: string; line: number}

/** The line diff of two texts as unchanged runs and hunks (a removal and the addition right after it are one hunk). */
export function promptHunks(a: string, b: string): Segment[] {
  const out: Segment[] = []
  let line = 1
  for (const part of diffLines(a, b)) {
    const last = out.at(-1)
    if (!part.added && !part.removed) {
      out.push({same: part.value})
      line += part.count ?? 0
      continue
    }
    const hunk = last !== undefined && 'old' in last ? last : null
    if (hunk === null) out.push({old: part.removed ? part.value : '', new: part.added ? part.value : '', line})
    else if (part.removed) hunk.old += part.value
    else hunk.new += part.value
    if (part.removed) line += part.count ?? 0
  }
  return out
}

function promptUnits(base: Bundle, cand: Bundle): Unit[] {
  const units: Unit[] = []
  for (const slot of ['system', 'plan'] as const) {
    const pa = base.manifest.prompts[slot]
    const pb = cand.manifest.prompts[slot]
    if (pa === undefined && pb === undefined) continue
    const tb = pb === undefined ? undefined : lf(cand.templates[pb] ?? '')
    if (pa === undefined || pb === undefined) {
      units.push({
        id: `prompt.${slot}`,
        label: pa === undefined ? `${slot} prompt added` : `${slot} prompt removed`,
        apply: (draft) => {
          if (tb === undefined) delete draft.prompts[slot]
          else draft.prompts[slot] = tb
        },
      })
      continue
    }
    const ta = lf(base.templates[pa] ?? '')
    const segments = promptHunks(ta, tb!)
    let n = 0
    for (const seg of segments) {
      if (!('old' in seg)) continue
      const id = `prompt.${slot}#${++n}`
      units.push({
        id,
        label: `${slot} prompt line ${seg.line}: ${hunkLabel(seg)}`,
        // Applies this hunk to the slot's text as it stands: hunks never overlap, so each is found
        // by rebuilding the text from the segments with the hunks already applied kept.
        apply: (draft) => {
          draft.hunks.add(id)
          let i = 0
          draft.prompts[slot] = segments.map((s) => ('same' in s ? s.same : draft.hunks.has(`prompt.${slot}#${++i}`) ? s.new : s.old)).join('')
        },
      })
    }
  }
  return units
}

function hunkLabel(seg: {old: string; new: string}): string {
  const first = (text: string): string => {
    const line = text.split('\n').find((l) => l.trim() !== '') ?? ''
    return line.length > 60 ? `${line.slice(0, 60)}…` : line
  }
  const parts: string[] = []
  if (seg.old !== '') parts.push(`- "${first(seg.old)}"`)
  if (seg.new !== '') parts.push(`+ "${first(seg.new)}"`)
  return parts.join(' ')
}

// ---------------------------------------------------------------------------------------------
// Settings: each leaf the grouped diff lists is one change (a memory field, named by its key, is one).

function fieldUnits(d: BundleDiff, cand: Record<string, unknown>): Unit[] {
  const units: Unit[] = []
  const groups = [d.model, d.agent, d.autonomy, d.flags, d.policies.default, d.budgets, d.tenant_quotas, d.retrieval, d.guardrails]
  for (const group of groups) for (const c of group) units.push(settingUnit(c, cand))
  for (const c of d.memory) {
    const m = /^memory\.fields\.(.+?)(\.|$)/.exec(c.path)
    if (m === null) {
      units.push(settingUnit(c, cand))
      continue
    }
    const key = m[1]!
    units.push({
      id: `memory.fields.${key}`,
      label: `memory field ${key} ${describe(c)}`,
      apply: (draft) => {
        const memory = (draft.manifest.memory ?? {fields: [], owners: []}) as {fields: {key: string}[]}
        const wanted = ((cand.memory as {fields?: {key: string}[]} | undefined)?.fields ?? []).find((f) => f.key === key)
        memory.fields = memory.fields.filter((f) => f.key !== key)
        if (wanted !== undefined) memory.fields = [...memory.fields, structuredClone(wanted)].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))
        draft.manifest.memory = memory
      },
    })
  }
  return units
}

function settingUnit(c: Change, cand: Record<string, unknown>): Unit {
  const set = c.kind === 'gained' || c.kind === 'lost'
  return {
    id: set ? `${c.path} ${c.kind === 'gained' ? '+' : '-'}${canonicalJson(c.value)}` : c.path,
    label: `${c.path} ${describe(c)}`,
    apply: (draft) => applyChange(draft.manifest, cand, c),
  }
}

/** Makes `c` in `target`: the candidate's value at its path (none when the candidate has none), or one element gained or lost. */
function applyChange(target: Record<string, unknown>, cand: Record<string, unknown>, c: Change): void {
  const segments = resolvePath(target, cand, c.path)
  if (c.kind === 'gained' || c.kind === 'lost') {
    const list = getPath(target, segments)
    const items = Array.isArray(list) ? [...list] : []
    const key = canonicalJson(c.value)
    const kept = items.filter((x) => canonicalJson(x) !== key)
    setPath(target, segments, c.kind === 'gained' ? [...kept, structuredClone(c.value)].sort(byJson) : kept)
    return
  }
  setPath(target, segments, structuredClone(getPath(cand, segments)))
}

/** A dotted path split into keys; a key holding a dot (a tenant, a tool) is matched as one key of either object. */
function resolvePath(a: unknown, b: unknown, dotted: string): string[] {
  const parts = dotted.split('.')
  const out: string[] = []
  let x: unknown = a
  let y: unknown = b
  for (let i = 0; i < parts.length; ) {
    let j = i + 1
    for (let k = parts.length; k > i + 1; k--) {
      const key = parts.slice(i, k).join('.')
      if (hasKey(x, key) || hasKey(y, key)) {
        j = k
        break
      }
    }
    const key = parts.slice(i, j).join('.')
    out.push(key)
    x = hasKey(x, key) ? (x as Record<string, unknown>)[key] : undefined
    y = hasKey(y, key) ? (y as Record<string, unknown>)[key] : undefined
    i = j
  }
  return out
}

const hasKey = (o: unknown, key: string): boolean => o !== null && typeof o === 'object' && Object.hasOwn(o, key)

function getPath(o: unknown, path: string[]): unknown {
  let x = o
  for (const k of path) x = hasKey(x, k) ? (x as Record<string, unknown>)[k] : undefined
  return x
}

function setPath(o: Record<string, unknown>, path: string[], value: unknown): void {
  let x: Record<string, unknown> = o
  for (const k of path.slice(0, -1)) {
    const next = x[k]
    if (next === null || typeof next !== 'object') x[k] = {}
    x = x[k] as Record<string, unknown>
  }
  const last = path.at(-1)!
  if (value === undefined) delete x[last]
  else x[last] = value
}

// ---------------------------------------------------------------------------------------------
// Tools: a tool added or removed is one change; a changed tool is one change per field, an argument
// being one field together with whether it is required (`args.reason`), a role list per tenant
// (`roles.initech`).

function toolUnits(d: BundleDiff, cand: Record<string, unknown>): Unit[] {
  const units: Unit[] = []
  const candTools = (cand.tools as ToolContract[]).map((t) => t)
  const candTool = (name: string): ToolContract | undefined => candTools.find((t) => t.name === name)
  for (const t of d.tools.added) {
    units.push({id: `tool ${t.name}`, label: `tool ${t.name} added (${t.risk})`, apply: (draft) => putTool(draft, t.name, candTool(t.name))})
  }
  for (const t of d.tools.removed) {
    units.push({id: `tool ${t.name}`, label: `tool ${t.name} removed`, apply: (draft) => putTool(draft, t.name, undefined)})
  }
  for (const {name, changes} of d.tools.changed) {
    const byField = new Map<string, Change[]>()
    for (const c of changes) {
      const field = toolField(c)
      byField.set(field, [...(byField.get(field) ?? []), c])
    }
    for (const [field, list] of byField) {
      units.push({
        id: `tool ${name} ${field}`,
        label: `tool ${name} ${field}: ${list.map((c) => `${c.path} ${describe(c)}`).join('; ')}`,
        apply: (draft) => applyToolField(draft, name, field, candTool(name)!),
      })
    }
  }
  return units
}

function toolField(c: Change): string {
  const p = c.path.split('.')
  if (p[0] === 'args' && p[1] === 'properties' && p.length >= 3) return `args.${p[2]}`
  if (p[0] === 'args' && p[1] === 'required' && (c.kind === 'gained' || c.kind === 'lost')) return `args.${String(c.value)}`
  if (p[0] === 'args' && p.length >= 2) return `args.${p[1]}`
  if (p[0] === 'roles' && p.length >= 2) return `roles.${p.slice(1).join('.')}`
  return p[0]!
}

function tools(draft: Draft): ToolContract[] {
  return draft.manifest.tools as ToolContract[]
}

function putTool(draft: Draft, name: string, tool: ToolContract | undefined): void {
  const rest = tools(draft).filter((t) => t.name !== name)
  draft.manifest.tools = (tool === undefined ? rest : [...rest, structuredClone(tool)]).sort(byName)
}

function applyToolField(draft: Draft, name: string, field: string, from: ToolContract): void {
  const tool = tools(draft).find((t) => t.name === name)
  if (tool === undefined) return
  const t = tool as unknown as Record<string, unknown>
  const src = from as unknown as Record<string, unknown>
  if (field.startsWith('args.')) {
    const key = field.slice('args.'.length)
    const args = t.args as Record<string, unknown>
    const fromArgs = src.args as Record<string, unknown>
    const props = (args.properties ?? {}) as Record<string, unknown>
    const fromProps = (fromArgs.properties ?? {}) as Record<string, unknown>
    if (Object.hasOwn(fromProps, key) || Object.hasOwn(props, key)) {
      // An argument: its schema, and whether it is required, as the candidate has them.
      if (Object.hasOwn(fromProps, key)) props[key] = structuredClone(fromProps[key])
      else delete props[key]
      args.properties = props
      const required = new Set((args.required as string[] | undefined) ?? [])
      if (((fromArgs.required as string[] | undefined) ?? []).includes(key)) required.add(key)
      else required.delete(key)
      if (required.size > 0 || args.required !== undefined) args.required = [...required].sort()
    } else if (Object.hasOwn(fromArgs, key)) args[key] = structuredClone(fromArgs[key])
    else delete args[key]
    return
  }
  if (field.startsWith('roles.')) {
    const tenant = field.slice('roles.'.length)
    const roles = t.roles as Record<string, unknown>
    const fromRoles = src.roles as Record<string, unknown>
    if (Object.hasOwn(fromRoles, tenant)) roles[tenant] = structuredClone(fromRoles[tenant])
    else delete roles[tenant]
    return
  }
  if (Object.hasOwn(src, field)) t[field] = structuredClone(src[field])
  else delete t[field]
}

// ---------------------------------------------------------------------------------------------
// Policies: each rule added, removed or changed is one change (a rule decides as a whole).

function policyUnits(d: BundleDiff, cand: Record<string, unknown>): Unit[] {
  const rule = (id: string): PolicyRule | undefined => (cand.policies as PolicyRule[]).find((p) => p.id === id)
  const put = (draft: Draft, id: string, r: PolicyRule | undefined): void => {
    const rest = (draft.manifest.policies as PolicyRule[]).filter((p) => p.id !== id)
    draft.manifest.policies = (r === undefined ? rest : [...rest, structuredClone(r)]).sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
  }
  return [
    ...d.policies.added.map((p) => ({id: `policy ${p.id}`, label: `policy ${p.id} added (${p.effect} ${p.reason})`, apply: (dr: Draft) => put(dr, p.id, rule(p.id))})),
    ...d.policies.removed.map((p) => ({id: `policy ${p.id}`, label: `policy ${p.id} removed (${p.effect} ${p.reason})`, apply: (dr: Draft) => put(dr, p.id, undefined)})),
    ...d.policies.changed.map(({id, changes}) => ({
      id: `policy ${id}`,
      label: `policy ${id} changed: ${changes.map((c) => `${c.path} ${describe(c)}`).join('; ')}`,
      apply: (dr: Draft) => put(dr, id, rule(id)),
    })),
  ]
}

// ---------------------------------------------------------------------------------------------

function describe(c: Change): string {
  const v = (x: unknown): string => {
    const s = canonicalJson(x)
    return s.length > 40 ? `${s.slice(0, 40)}…` : s
  }
  if (c.kind === 'added') return `added ${v(c.after)}`
  if (c.kind === 'removed') return `removed (was ${v(c.before)})`
  if (c.kind === 'changed') return `${v(c.before)} → ${v(c.after)}`
  return `${c.kind} ${v(c.value)}`
}

const byName = (x: {name: string}, y: {name: string}): number => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)
const byJson = (x: unknown, y: unknown): number => {
  const a = canonicalJson(x)
  const b = canonicalJson(y)
  return a < b ? -1 : a > b ? 1 : 0
}

function lf(text: string): string {
  return text.replace(/\r\n/g, '\n')
}
