import {checkArgSchema, resolvePointer} from './arg-schema.js'
import {
  FeatureFlag,
  type ArgSchema,
  type BundleManifest,
  GuardrailConfig,
  MemoryContract,
  PolicyRule,
  RetrievalConfig,
  RiskLevel,
  TenantQuota,
  ToolContract,
} from './schema.js'
import type {Locator} from '../util/path-position.js'
import {problem} from '../util/zod-problems.js'

/**
 * Cross-checks: rules that span fields (a policy naming a tool, a write tool's idempotency, an
 * argument path) and so cannot live in the zod schema. They run on whatever parts of the manifest
 * parsed, so one bad tool does not hide a problem in another; each problem keeps its original index.
 */

type Indexed<T> = {index: number; value: T}

export type ManifestView = {
  /** Every tool's `name` as written (undefined where it is not a string), by index. */
  toolNames: (string | undefined)[]
  /** Tools that parsed, with their index in the file. */
  tools: Indexed<ToolContract>[]
  /** Every tool's argument schema as written, with the key it was written under, parsed or not. */
  argSchemas: {index: number; key: string; schema: unknown}[]
  /** Whether every tool parsed; checks that need the full tool set only run then. */
  allToolsParsed: boolean
  policyIds: (string | undefined)[]
  policies: Indexed<PolicyRule>[]
  tenantQuotas?: Record<string, TenantQuota>
  guardrails?: GuardrailConfig
  retrieval?: RetrievalConfig
  memory?: MemoryContract
  /** The feature flags that parsed, by name. */
  flags?: Record<string, FeatureFlag>
}

/** Builds the view from a fully parsed manifest, or section by section from raw input that did not parse. */
export function manifestView(raw: unknown, parsed: BundleManifest | null): ManifestView {
  const argSchemas = rawArgSchemas(raw)
  if (parsed) {
    return {
      toolNames: parsed.tools.map((t) => t.name),
      tools: parsed.tools.map((value, index) => ({index, value})),
      argSchemas,
      allToolsParsed: true,
      policyIds: parsed.policies.map((p) => p.id),
      policies: parsed.policies.map((value, index) => ({index, value})),
      tenantQuotas: parsed.tenant_quotas,
      guardrails: parsed.guardrails,
      retrieval: parsed.retrieval,
      memory: parsed.memory,
      flags: parsed.flags,
    }
  }
  const obj = isRecord(raw) ? raw : {}
  const rawTools = Array.isArray(obj.tools) ? obj.tools : []
  const rawPolicies = Array.isArray(obj.policies) ? obj.policies : []
  const tools = parsedEach(rawTools, ToolContract)
  const quotas: Record<string, TenantQuota> | undefined = isRecord(obj.tenant_quotas)
    ? Object.fromEntries(
        Object.entries(obj.tenant_quotas).flatMap(([k, v]) => {
          const r = TenantQuota.safeParse(v)
          return r.success ? [[k, r.data]] : []
        }),
      )
    : undefined
  return {
    toolNames: rawTools.map((t) => (isRecord(t) && typeof t.name === 'string' ? t.name : undefined)),
    tools,
    argSchemas,
    allToolsParsed: tools.length === rawTools.length,
    policyIds: rawPolicies.map((p) => (isRecord(p) && typeof p.id === 'string' ? p.id : undefined)),
    policies: parsedEach(rawPolicies, PolicyRule),
    tenantQuotas: quotas,
    guardrails: sectionIfValid(obj.guardrails, GuardrailConfig),
    retrieval: sectionIfValid(obj.retrieval, RetrievalConfig),
    memory: sectionIfValid(obj.memory, MemoryContract),
    flags: isRecord(obj.flags)
      ? Object.fromEntries(
          Object.entries(obj.flags).flatMap(([k, v]) => {
            const r = FeatureFlag.safeParse(v)
            return r.success ? [[k, r.data]] : []
          }),
        )
      : undefined,
  }
}

const SCHEMA_KEYS = ['args', 'parameters', 'input_schema'] as const

/** Each raw tool's schemas under args / parameters / input_schema (the schema says only one may be set). */
function rawArgSchemas(raw: unknown): ManifestView['argSchemas'] {
  const rawTools = isRecord(raw) && Array.isArray(raw.tools) ? raw.tools : []
  return rawTools.flatMap((t, index) => (isRecord(t) ? SCHEMA_KEYS.filter((key) => isRecord(t[key])).map((key) => ({index, key, schema: t[key]})) : []))
}

export function crossCheck(file: string, view: ManifestView, locate?: Locator): string[] {
  const out: string[] = []
  const add = (path: (string | number)[], message: string) => out.push(problem(file, path, message, locate))

  duplicates(view.toolNames, (i, first, name) => add(['tools', i, 'name'], `duplicate tool name "${name}" (first at tools.${first})`))
  for (const {index, value: tool} of view.tools) checkTool(tool, ['tools', index], add)
  for (const {index, key, schema} of view.argSchemas) for (const p of checkArgSchema(schema, ['tools', index, key])) add(p.path, p.message)

  duplicates(view.policyIds, (i, first, id) => add(['policies', i, 'id'], `duplicate policy id "${id}" (first at policies.${first})`))
  for (const {index, value: rule} of view.policies) checkPolicy(rule, ['policies', index], view, add)

  const known = new Set(view.toolNames.filter((n): n is string => n !== undefined))
  for (const [name, flag] of Object.entries(view.flags ?? {})) {
    if (flag.tools === undefined && flag.sections === undefined) add(['flags', name], 'names no tool and no prompt section: give tools, sections or both')
    flag.tools?.forEach((tool, i) => {
      if (!known.has(tool)) add(['flags', name, 'tools', i], `unknown tool "${tool}"`)
    })
  }

  const granted = grantedTenants(view)
  if (granted && view.tenantQuotas) {
    for (const tenant of Object.keys(view.tenantQuotas)) {
      if (tenant !== '*' && !granted.has(tenant))
        add(['tenant_quotas', tenant], `no tool grants tenant "${tenant}" any role, so this quota can never apply`)
    }
  }

  if (view.guardrails) {
    for (const key of ['injection_patterns', 'forbidden_output_patterns'] as const) {
      view.guardrails[key].forEach((p, i) => {
        const err = regexError(p, 'i')
        if (err) add(['guardrails', key, i], `not a valid regular expression: ${err}`)
      })
    }
    if (view.guardrails.output_schema !== undefined)
      for (const p of checkArgSchema(view.guardrails.output_schema, ['guardrails', 'output_schema'])) add(p.path, p.message)
    const intents = view.guardrails.intents ?? []
    duplicates(
      intents.map((t) => t.name),
      (i, first, name) => add(['guardrails', 'intents', i, 'name'], `duplicate intent "${name}" (first at guardrails.intents.${first})`),
    )
    const toolNames = new Set(view.toolNames.filter((n): n is string => n !== undefined))
    intents.forEach((intent, i) => {
      if (intent.patterns.length === 0 && intent.examples.length === 0)
        add(['guardrails', 'intents', i], `intent "${intent.name}" has no patterns and no examples, so no request can match it`)
      intent.patterns.forEach((p, j) => {
        const err = regexError(p, 'i')
        if (err) add(['guardrails', 'intents', i, 'patterns', j], `not a valid regular expression: ${err}`)
      })
      intent.tools.forEach((t, j) => {
        if (!toolNames.has(t)) add(['guardrails', 'intents', i, 'tools', j], `unknown tool "${t}"`)
      })
    })
  }

  const chunking = view.retrieval?.chunking
  if (chunking) {
    if (chunking.strategy === 'fixed' && chunking.size === undefined)
      add(['retrieval', 'chunking', 'size'], 'missing required field: strategy "fixed" needs a size')
    if (chunking.size !== undefined && chunking.overlap !== undefined && chunking.overlap >= chunking.size)
      add(['retrieval', 'chunking', 'overlap'], `overlap ${chunking.overlap} must be smaller than size ${chunking.size}`)
  }

  if (view.memory) {
    const memory = view.memory
    duplicates(
      memory.fields.map((f) => f.key),
      (i, first, key) => add(['memory', 'fields', i, 'key'], `duplicate memory field "${key}" (first at memory.fields.${first})`),
    )
    if (memory.owners.length > 0) {
      memory.fields.forEach((f, i) => {
        if (!memory.owners.includes(f.owner))
          add(['memory', 'fields', i, 'owner'], `owner "${f.owner}" is not listed in memory.owners (${memory.owners.join(', ')})`)
      })
    }
  }
  return out
}

type Add = (path: (string | number)[], message: string) => void

const WRITE_RISKS: ReadonlySet<RiskLevel> = new Set(['write_low', 'write_high'])

function checkTool(tool: ToolContract, at: (string | number)[], add: Add): void {
  tool.sensitive_fields.forEach((field, i) => {
    if (!argSchemaAt(tool.args, field)) add([...at, 'sensitive_fields', i], `"${field}" is not a field of args`)
  })
  // The one exception: a write that cannot take keys may instead have every uncertain retry confirmed.
  if (WRITE_RISKS.has(tool.risk) && tool.idempotency !== 'required' && tool.retry !== 'confirm') {
    add([...at, 'idempotency'], `write tools (risk ${tool.risk}) must set idempotency: required, or idempotency: none with retry: confirm`)
  }
  if (tool.retry === 'confirm' && (tool.idempotency === 'required' || !WRITE_RISKS.has(tool.risk))) {
    add([...at, 'retry'], `retry: confirm is for write tools with idempotency: none (this one has risk ${tool.risk}, idempotency: ${tool.idempotency})`)
  }
}

/**
 * The schema at a dotted path into tool arguments (`customer.email`, `items.*.sku`), or undefined.
 * Array elements are addressed with `*` or an index.
 */
export function argSchemaAt(schema: ArgSchema, dotted: string): ArgSchema | undefined {
  if (dotted === '') return undefined
  let cur: ArgSchema | undefined = schema
  for (const seg of dotted.split('.')) {
    if (!cur) return undefined
    cur = childSchema(schema, cur, seg)
  }
  return cur
}

/** The subschema for one path segment: through `$ref`s, and any branch of anyOf / oneOf / allOf that has it. */
function childSchema(root: ArgSchema, schema: ArgSchema, seg: string, depth = 0): ArgSchema | undefined {
  if (depth > 32) return undefined
  const props = schema.properties
  if (isRecord(props) && Object.hasOwn(props, seg) && isRecord(props[seg])) return props[seg]
  if ((seg === '*' || /^\d+$/.test(seg)) && isRecord(schema.items)) return schema.items
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith('#/')) {
    const target = resolvePointer(root, schema.$ref)
    if (isRecord(target)) {
      const hit = childSchema(root, target, seg, depth + 1)
      if (hit) return hit
    }
  }
  for (const k of ['anyOf', 'oneOf', 'allOf']) {
    const list = schema[k]
    if (!Array.isArray(list)) continue
    for (const branch of list) {
      const hit = isRecord(branch) ? childSchema(root, branch, seg, depth + 1) : undefined
      if (hit) return hit
    }
  }
  return undefined
}

/** Context fields a condition may test (besides `args.<path>` and `signals.<name>`). */
export const CONDITION_FIELDS = ['tool', 'risk', 'tenant', 'user', 'role', 'step', 'tool_calls'] as const

function checkPolicy(rule: PolicyRule, at: (string | number)[], view: ManifestView, add: Add): void {
  const known = new Set(view.toolNames.filter((n): n is string => n !== undefined))
  rule.tools?.forEach((name, i) => {
    if (!known.has(name)) add([...at, 'tools', i], `unknown tool "${name}"`)
  })
  const granted = grantedTenants(view)
  rule.tenants?.forEach((tenant, i) => {
    if (granted && tenant !== '*' && !granted.has(tenant))
      add([...at, 'tenants', i], `no tool grants tenant "${tenant}" any role, so this rule can never fire for it`)
  })

  const targets = targetedTools(rule, view)
  rule.when.forEach((cond, i) => {
    const where = [...at, 'when', i]
    const field = cond.field
    if (field.startsWith('args.') || field.startsWith('signals.')) {
      const rest = field.slice(field.indexOf('.') + 1)
      if (rest === '' || rest.split('.').some((s) => s === '')) {
        add([...where, 'field'], `"${field}" is not a valid path`)
      } else if (field.startsWith('args.') && targets && targets.length > 0) {
        if (!targets.some((t) => argSchemaAt(t.args, rest)))
          add([...where, 'field'], `no targeted tool has argument "${rest}" (targets: ${targets.map((t) => t.name).join(', ')})`)
      }
    } else if (!(CONDITION_FIELDS as readonly string[]).includes(field)) {
      add(
        [...where, 'field'],
        `unknown field "${field}" (expected ${CONDITION_FIELDS.join(', ')}, args.<path> or signals.<name>)`,
      )
    }
    checkConditionValue(cond.op, cond.value, [...where, 'value'], add)
    if (field === 'tool' || field === 'risk') {
      const allowed = field === 'tool' ? known : new Set<string>(RiskLevel.options)
      const values = Array.isArray(cond.value) ? cond.value : [cond.value]
      if (['eq', 'ne', 'in', 'not_in'].includes(cond.op)) {
        for (const v of values) {
          if (typeof v === 'string' && !allowed.has(v))
            add([...where, 'value'], `unknown ${field} "${v}"`)
        }
      }
    }
  })
}

function checkConditionValue(op: PolicyRule['when'][number]['op'], value: unknown, at: (string | number)[], add: Add): void {
  switch (op) {
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      if (typeof value !== 'number' || !Number.isFinite(value)) add(at, `${op} needs a number, got ${shown(value)}`)
      return
    case 'in':
    case 'not_in':
      if (!Array.isArray(value)) add(at, `${op} needs an array, got ${shown(value)}`)
      return
    case 'matches':
    case 'not_matches': {
      if (typeof value !== 'string') return add(at, `${op} needs a regular expression string, got ${shown(value)}`)
      const err = regexError(value)
      if (err) add(at, `not a valid regular expression: ${err}`)
      return
    }
    case 'exists':
    case 'missing':
      if (value !== undefined) add(at, `${op} takes no value`)
      return
    default:
      if (value === undefined) add(at, `missing required field: ${op} needs a value`)
  }
}

/** Tools a rule can apply to, or undefined when that cannot be known (some tools did not parse). */
function targetedTools(rule: PolicyRule, view: ManifestView): ToolContract[] | undefined {
  if (!view.allToolsParsed) return undefined
  let tools = view.tools.map((t) => t.value)
  if (rule.tools) tools = tools.filter((t) => rule.tools!.includes(t.name))
  if (rule.risk) tools = tools.filter((t) => rule.risk!.includes(t.risk))
  return tools
}

/** Tenants some tool grants a role to; undefined means "every tenant" (a `*` grant) or unknown. */
function grantedTenants(view: ManifestView): Set<string> | undefined {
  if (!view.allToolsParsed) return undefined
  const tenants = new Set<string>()
  for (const {value: tool} of view.tools) for (const t of Object.keys(tool.roles)) tenants.add(t)
  return tenants.has('*') ? undefined : tenants
}

function duplicates(values: (string | undefined)[], report: (index: number, first: number, value: string) => void): void {
  const seen = new Map<string, number>()
  values.forEach((v, i) => {
    if (v === undefined) return
    const first = seen.get(v)
    if (first === undefined) seen.set(v, i)
    else report(i, first, v)
  })
}

function regexError(pattern: string, flags?: string): string | undefined {
  try {
    new RegExp(pattern, flags)
    return undefined
  } catch (e) {
    return (e as Error).message.replace(/^Invalid regular expression: /, '')
  }
}

function parsedEach<T>(items: unknown[], schema: {safeParse(v: unknown): {success: true; data: T} | {success: false}}): Indexed<T>[] {
  return items.flatMap((item, index) => {
    const r = schema.safeParse(item)
    return r.success ? [{index, value: r.data}] : []
  })
}

function sectionIfValid<T>(value: unknown, schema: {safeParse(v: unknown): {success: true; data: T} | {success: false}}): T | undefined {
  if (value === undefined) return undefined
  const r = schema.safeParse(value)
  return r.success ? r.data : undefined
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function shown(value: unknown): string {
  if (value === undefined) return 'nothing'
  return JSON.stringify(value) ?? String(value)
}
