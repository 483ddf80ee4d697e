import {structuredPatch} from 'diff'
import {ValidationError} from '../errors.js'
import {canonicalJson} from '../util/canonical.js'
import {canonicalArgs} from './hash.js'
import type {Bundle, BundleManifest, PolicyRule, ToolContract} from './schema.js'
import {normaliseTemplatePath, type TemplateSlot} from './templates.js'
import {validateBundle} from './validate.js'

/**
 * One difference at a dotted path. `gained`/`lost` are for lists whose order has no meaning
 * (`args.required`, `roles.acme`, `sensitive_fields`, selector lists): one entry per element.
 */
export type Change =
  | {path: string; kind: 'added'; after: unknown}
  | {path: string; kind: 'removed'; before: unknown}
  | {path: string; kind: 'changed'; before: unknown; after: unknown}
  | {path: string; kind: 'gained' | 'lost'; value: unknown}

export type PromptChange = {
  slot: TemplateSlot
  /** Template path in each bundle; null where the slot is not used. */
  before: string | null
  after: string | null
  /** Unified diff of the text (LF-normalised); empty when only the path changed. */
  patch: string
  lines_added: number
  lines_removed: number
}

export type ToolSummary = {name: string; risk: ToolContract['risk']; contract: ToolContract}
export type PolicySummary = {id: string; effect: PolicyRule['effect']; reason: string; rule: PolicyRule}

/**
 * Everything that differs between two bundles, grouped the way a reviewer reads a release.
 * Paths in top-level groups are manifest paths (`model.temperature`); inside a tool or policy
 * they are relative to it (`args.properties.reason`, `when.0.value`).
 */
export type BundleDiff = {
  from: {ref: string; dir: string}
  to: {ref: string; dir: string}
  /** name, version, description. */
  meta: Change[]
  model: Change[]
  agent: Change[]
  /** `autonomy` (absent reads as `full` for every tenant, so adding `autonomy: full` is no change). */
  autonomy: Change[]
  /** Feature flags (absent reads as none). */
  flags: Change[]
  prompts: PromptChange[]
  tools: {added: ToolSummary[]; removed: ToolSummary[]; changed: {name: string; changes: Change[]}[]}
  policies: {
    /** policy_default. */
    default: Change[]
    added: PolicySummary[]
    removed: PolicySummary[]
    changed: {id: string; changes: Change[]}[]
  }
  budgets: Change[]
  tenant_quotas: Change[]
  retrieval: Change[]
  memory: Change[]
  guardrails: Change[]
}

/** What a bundle without `autonomy` does: every tenant at `full`. */
const FULL_AUTONOMY = {default: 'full', tenants: {}}

export function diffBundles(a: Bundle, b: Bundle): BundleDiff {
  const ma = a.manifest
  const mb = b.manifest
  return {
    from: {ref: a.ref, dir: a.dir},
    to: {ref: b.ref, dir: b.dir},
    meta: diffFields(pick(ma, ['name', 'version', 'description']), pick(mb, ['name', 'version', 'description'])),
    model: diffFields({model: ma.model}, {model: mb.model}),
    agent: diffFields({agent: ma.agent}, {agent: mb.agent}),
    autonomy: diffFields({autonomy: ma.autonomy ?? FULL_AUTONOMY}, {autonomy: mb.autonomy ?? FULL_AUTONOMY}),
    flags: diffFields({flags: ma.flags ?? {}}, {flags: mb.flags ?? {}}),
    prompts: diffPrompts(a, b),
    tools: diffTools(ma.tools, mb.tools),
    policies: {default: diffFields({policy_default: ma.policy_default}, {policy_default: mb.policy_default}), ...diffPolicies(ma.policies, mb.policies)},
    budgets: diffFields({budgets: ma.budgets}, {budgets: mb.budgets}),
    tenant_quotas: diffFields({tenant_quotas: ma.tenant_quotas}, {tenant_quotas: mb.tenant_quotas}),
    retrieval: diffFields({retrieval: ma.retrieval}, {retrieval: mb.retrieval}),
    memory: diffFields({memory: memoryByKey(ma.memory)}, {memory: memoryByKey(mb.memory)}, (p) => p.join('.') === 'memory.owners'),
    guardrails: diffFields({guardrails: ma.guardrails}, {guardrails: mb.guardrails}),
  }
}

/**
 * The bundles in two directories, diffed. Both are validated before either failure is reported, so
 * one run lists the problems of both bundles.
 */
export async function diffBundleDirs(a: string, b: string): Promise<BundleDiff> {
  const [va, vb] = await Promise.all([validateBundle(a), validateBundle(b)])
  if (!va.bundle || !vb.bundle) {
    const problems = [...new Set([...va.problems, ...vb.problems])]
    throw new ValidationError(problems, problems.length > 1 ? `${problems.length} problems; nothing compared` : undefined)
  }
  return diffBundles(va.bundle, vb.bundle)
}

export function isEmptyDiff(d: BundleDiff): boolean {
  return (
    [d.meta, d.model, d.agent, d.autonomy, d.flags, d.prompts, d.budgets, d.tenant_quotas, d.retrieval, d.memory, d.guardrails].every((g) => g.length === 0) &&
    d.tools.added.length + d.tools.removed.length + d.tools.changed.length === 0 &&
    d.policies.default.length + d.policies.added.length + d.policies.removed.length + d.policies.changed.length === 0
  )
}

/** Number of entries, counting each changed tool/policy field and each prompt once. */
export function countChanges(d: BundleDiff): number {
  const groups = [d.meta, d.model, d.agent, d.autonomy, d.flags, d.prompts, d.budgets, d.tenant_quotas, d.retrieval, d.memory, d.guardrails]
  return (
    groups.reduce((n, g) => n + g.length, 0) +
    d.tools.added.length +
    d.tools.removed.length +
    d.tools.changed.reduce((n, t) => n + t.changes.length, 0) +
    d.policies.default.length +
    d.policies.added.length +
    d.policies.removed.length +
    d.policies.changed.reduce((n, p) => n + p.changes.length, 0)
  )
}

function diffTools(a: ToolContract[], b: ToolContract[]): BundleDiff['tools'] {
  const summary = (t: ToolContract): ToolSummary => ({name: t.name, risk: t.risk, contract: t})
  const before = new Map(a.map((t) => [t.name, t]))
  const after = new Map(b.map((t) => [t.name, t]))
  const changed: {name: string; changes: Change[]}[] = []
  for (const name of sortedKeys(before, after)) {
    const ta = before.get(name)
    const tb = after.get(name)
    if (!ta || !tb) continue
    const changes = diffFields({...ta, args: canonicalArgs(ta.args)}, {...tb, args: canonicalArgs(tb.args)}, isToolSetPath)
    if (changes.length > 0) changed.push({name, changes})
  }
  return {
    added: b.filter((t) => !before.has(t.name)).map(summary).sort(byName),
    removed: a.filter((t) => !after.has(t.name)).map(summary).sort(byName),
    changed,
  }
}

function isToolSetPath(path: string[]): boolean {
  if (path[0] === 'sensitive_fields') return path.length === 1
  if (path[0] === 'roles') return path.length === 2
  return path[0] === 'args' && path.at(-1) === 'required'
}

function diffPolicies(a: PolicyRule[], b: PolicyRule[]): Omit<BundleDiff['policies'], 'default'> {
  const summary = (p: PolicyRule): PolicySummary => ({id: p.id, effect: p.effect, reason: p.reason, rule: p})
  const before = new Map(a.map((p) => [p.id, p]))
  const after = new Map(b.map((p) => [p.id, p]))
  const changed: {id: string; changes: Change[]}[] = []
  for (const id of sortedKeys(before, after)) {
    const pa = before.get(id)
    const pb = after.get(id)
    if (!pa || !pb) continue
    const changes = diffFields(pa, pb, (p) => p.length === 1 && ['tools', 'risk', 'tenants', 'roles'].includes(p[0]!), (p) => p.length === 1 && p[0] === 'when')
    if (changes.length > 0) changed.push({id, changes})
  }
  const byId = (x: PolicySummary, y: PolicySummary) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)
  return {
    added: b.filter((p) => !before.has(p.id)).map(summary).sort(byId),
    removed: a.filter((p) => !after.has(p.id)).map(summary).sort(byId),
    changed,
  }
}

function diffPrompts(a: Bundle, b: Bundle): PromptChange[] {
  const out: PromptChange[] = []
  for (const slot of ['system', 'plan'] as const) {
    const pa = a.manifest.prompts[slot] ?? null
    const pb = b.manifest.prompts[slot] ?? null
    const ta = pa === null ? '' : lf(a.templates[pa] ?? '')
    const tb = pb === null ? '' : lf(b.templates[pb] ?? '')
    const samePath = (pa === null ? null : normaliseTemplatePath(pa)) === (pb === null ? null : normaliseTemplatePath(pb))
    if (samePath && ta === tb) continue
    const {patch, added, removed} = unifiedDiff(pa ?? '/dev/null', pb ?? '/dev/null', ta, tb)
    out.push({slot, before: pa, after: pb, patch, lines_added: added, lines_removed: removed})
  }
  return out
}

function unifiedDiff(nameA: string, nameB: string, a: string, b: string): {patch: string; added: number; removed: number} {
  if (a === b) return {patch: '', added: 0, removed: 0}
  const p = structuredPatch(nameA === '/dev/null' ? nameA : `a/${nameA}`, nameB === '/dev/null' ? nameB : `b/${nameB}`, a, b, '', '', {context: 3})
  const lines = [`--- ${p.oldFileName}`, `+++ ${p.newFileName}`]
  let added = 0
  let removed = 0
  for (const h of p.hunks) {
    lines.push(`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`)
    for (const line of h.lines) {
      if (line.startsWith('+')) added++
      else if (line.startsWith('-')) removed++
      lines.push(line)
    }
  }
  return {patch: lines.join('\n') + '\n', added, removed}
}

type PathTest = (path: string[]) => boolean

/**
 * Field-by-field differences. Objects are compared key by key; lists for which `isSet` holds are
 * compared as sets (gained/lost); lists for which `byPosition` holds are compared element by
 * element when their lengths match (so an edited condition value shows as `when.0.value`), and as
 * sets otherwise; any other list that differs is one `changed` entry (its order matters: `enum`).
 */
export function diffFields(before: unknown, after: unknown, isSet: PathTest = () => false, byPosition: PathTest = () => false): Change[] {
  const out: Change[] = []
  walk(before, after, [], isSet, byPosition, out)
  return out
}

function walk(a: unknown, b: unknown, path: string[], isSet: PathTest, byPosition: PathTest, out: Change[]): void {
  if (canonicalJson(a) === canonicalJson(b)) return
  const at = path.join('.')
  if (a === undefined) return void out.push({path: at, kind: 'added', after: b})
  if (b === undefined) return void out.push({path: at, kind: 'removed', before: a})
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      walk(a[key], b[key], [...path, key], isSet, byPosition, out)
    }
    return
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (byPosition(path) && a.length === b.length) {
      a.forEach((x, i) => walk(x, b[i], [...path, String(i)], isSet, byPosition, out))
      return
    }
    if (isSet(path) || byPosition(path)) {
      const ka = new Set(a.map((x) => canonicalJson(x)))
      const kb = new Set(b.map((x) => canonicalJson(x)))
      for (const x of a) if (!kb.has(canonicalJson(x))) out.push({path: at, kind: 'lost', value: x})
      for (const x of b) if (!ka.has(canonicalJson(x))) out.push({path: at, kind: 'gained', value: x})
      return
    }
  }
  out.push({path: at, kind: 'changed', before: a, after: b})
}

/** Memory fields are named by `key`; diffing them as a map shows `memory.fields.<key>.ttl_seconds`. */
function memoryByKey(memory: BundleManifest['memory']): unknown {
  if (!memory) return undefined
  return {...memory, fields: Object.fromEntries(memory.fields.map(({key, ...rest}) => [key, rest]))}
}

function pick<T extends object, K extends keyof T>(obj: T, keys: K[]): Pick<T, K> {
  const out = {} as Pick<T, K>
  for (const k of keys) out[k] = obj[k]
  return out
}

function sortedKeys(a: Map<string, unknown>, b: Map<string, unknown>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].sort()
}

function byName(x: {name: string}, y: {name: string}): number {
  return x.name < y.name ? -1 : x.name > y.name ? 1 : 0
}

function lf(text: string): string {
  return text.replace(/\r\n/g, '\n')
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}
