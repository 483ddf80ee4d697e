import {hashJson, withSortedKeys} from '../util/canonical.js'
import {type ArgSchema, type BundleManifest, DEFAULT_MAX_ANSWER_BYTES, type ModelConfig, type PolicyRule, type ToolContract} from './schema.js'
import {normaliseTemplatePath} from './templates.js'

/**
 * Bumped only if the canonical form itself changes meaning, so that old and new hashes of the
 * same bundle are never mistaken for each other.
 */
const CANONICAL_FORM = 1

/**
 * The bundle as hashed: the canonical manifest (below) with prompt paths normalised, and templates
 * keyed by normalised path with LF line ends.
 */
export function canonicalBundle(manifest: BundleManifest, templates: Record<string, string>): unknown {
  const m = canonicalManifest(manifest)
  return {
    canonical_form: CANONICAL_FORM,
    manifest: {
      ...m,
      model: hashedModel(m.model),
      prompts: {
        system: normaliseTemplatePath(m.prompts.system),
        plan: m.prompts.plan === undefined ? undefined : normaliseTemplatePath(m.prompts.plan),
      },
    },
    templates: Object.fromEntries(
      Object.entries(templates).map(([p, text]) => [normaliseTemplatePath(p), text.replace(/\r\n/g, '\n')]),
    ),
  }
}

/**
 * The manifest after zod parsing (so a default written out explicitly is the same bundle), with
 * every order the hash ignores fixed: tools and policies in name/id order, object keys sorted at
 * every depth (argument `properties`, model `options`, `roles`, `tenant_quotas`), and the lists
 * whose order means nothing sorted: `required`, a tool's roles per tenant and its
 * `sensitive_fields`, a policy's selector lists, memory fields (by key) and owners. Lists whose
 * order may matter keep it: `enum`, policy conditions, guardrail patterns.
 *
 * The runtime runs this form, not the file's (compileBundle): two bundles with the same hash then
 * send byte-identical model requests and decide alike, whatever order their files list things in.
 */
export function canonicalManifest(manifest: BundleManifest): BundleManifest {
  const byKey = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)
  return withSortedKeys({
    ...manifest,
    tools: manifest.tools.map(canonicalTool).sort(byKey((t: ToolContract) => t.name)),
    policies: manifest.policies.map(canonicalPolicy).sort(byKey((p: PolicyRule) => p.id)),
    memory: manifest.memory && {
      ...manifest.memory,
      fields: [...manifest.memory.fields].sort(byKey((f) => f.key)),
      owners: sorted(manifest.memory.owners),
    },
  })
}

/**
 * The model settings as hashed. Settings added after bundles were first hashed are left out at
 * their default (written out or not), so every bundle that does not set one keeps its hash; set
 * to anything else they count. Key order is that of the sorted manifest either way.
 */
function hashedModel(model: ModelConfig): Omit<ModelConfig, 'max_answer_bytes'> & {max_answer_bytes?: number} {
  const {max_answer_bytes, ...rest} = model
  return max_answer_bytes === DEFAULT_MAX_ANSWER_BYTES ? rest : model
}

/** sha256 (hex) over the canonical form. */
export function hashBundle(manifest: BundleManifest, templates: Record<string, string>): string {
  return hashJson(canonicalBundle(manifest, templates))
}

/** `name@version#<first 12 hex of the hash>`: short enough to read, long enough not to collide. */
export function bundleRef(manifest: Pick<BundleManifest, 'name' | 'version'>, hash: string): string {
  return `${manifest.name}@${manifest.version}#${hash.slice(0, 12)}`
}

function canonicalTool(tool: ToolContract): ToolContract {
  // `escalates: false` is the default written out: left out, so it is the same bundle as omitting it.
  // `result` checks at their default (true) and an empty `retryable_errors` are left out likewise.
  const {escalates, result, retryable_errors, ...rest} = tool
  const checks = {
    ...(result?.structured === false ? {structured: false} : {}),
    ...(result?.confirms_with_id === false ? {confirms_with_id: false} : {}),
  }
  return {
    ...rest,
    args: canonicalArgs(tool.args),
    roles: Object.fromEntries(Object.entries(tool.roles).map(([tenant, roles]) => [tenant, sorted(roles)])),
    sensitive_fields: sorted(tool.sensitive_fields),
    ...(escalates === true ? {escalates} : {}),
    ...(Object.keys(checks).length > 0 ? {result: checks} : {}),
    ...(retryable_errors !== undefined && retryable_errors.length > 0 ? {retryable_errors: sorted([...new Set(retryable_errors)])} : {}),
  }
}

function canonicalPolicy(rule: PolicyRule): PolicyRule {
  return {
    ...rule,
    tools: rule.tools && sorted(rule.tools),
    risk: rule.risk && sorted(rule.risk),
    tenants: rule.tenants && sorted(rule.tenants),
    roles: rule.roles && sorted(rule.roles),
  }
}

function sorted<T extends string>(list: readonly T[]): T[] {
  return [...list].sort()
}

/**
 * `required` lists sorted at every object schema reachable through properties, items and `$defs`:
 * their order means nothing. Other lists (anyOf branches, enum, prefixItems) keep theirs: the order
 * is what the model is shown.
 */
export function canonicalArgs(schema: ArgSchema): ArgSchema {
  const out: ArgSchema = {...schema}
  if (Array.isArray(schema.required)) out.required = [...(schema.required as string[])].sort()
  for (const key of ['properties', '$defs', 'definitions']) {
    const map = schema[key]
    if (isSchema(map)) out[key] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, isSchema(v) ? canonicalArgs(v) : v]))
  }
  if (isSchema(schema.items)) out.items = canonicalArgs(schema.items)
  return out
}

function isSchema(v: unknown): v is ArgSchema {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}
