import type {ToolSpec} from '../types.js'

/**
 * What every skill does to turn what it means into a tool call's arguments: walk the offered
 * tool's JSON Schema, fill the fields whose (normalised) names it recognises, pick the enum value
 * that means what it wants, and cut text to the schema's max length. Which names mean what, the
 * enum synonyms and the type rules stay with each skill.
 */
export type PropSchema = {
  type?: string | string[]
  description?: string
  enum?: unknown[]
  const?: unknown
  default?: unknown
  format?: string
  maxLength?: number
  minLength?: number
  minimum?: number
  maximum?: number
  properties?: Record<string, PropSchema>
  required?: string[]
  items?: PropSchema
  minItems?: number
  maxItems?: number
  anyOf?: PropSchema[]
  oneOf?: PropSchema[]
  $ref?: string
  $defs?: Record<string, PropSchema>
  definitions?: Record<string, PropSchema>
}

/**
 * The schema a value is built for: a `$ref` followed into the root's `$defs` (or draft-07
 * `definitions`), and of an `anyOf` / `oneOf` the first branch that is not `{type: null}` (how
 * pydantic writes Optional[...]). The outer schema's own keywords (description, default) win.
 */
export function resolveSchema(schema: PropSchema, root: PropSchema, depth = 0): PropSchema {
  if (depth > 16) return schema
  const {$ref, anyOf, oneOf, ...own} = schema
  if (typeof $ref === 'string') {
    const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec($ref)
    const target = m ? root[m[1] as '$defs' | 'definitions']?.[decodeURIComponent(m[2]!)] : undefined
    return target ? {...resolveSchema(target, root, depth + 1), ...own} : own
  }
  const branches = anyOf ?? oneOf
  if (Array.isArray(branches)) {
    const branch = branches.find((b) => b !== null && typeof b === 'object' && schemaType(b) !== 'null' && b.type !== 'null')
    return branch ? {...resolveSchema(branch, root, depth + 1), ...own} : own
  }
  return schema
}

/** A field name as the meaning tables key it: lower case, without `_` or `-`. */
export function normaliseField(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '')
}

/** An enum value or a wanted meaning, compared as lower_snake_case. */
export function normaliseValue(v: unknown): string {
  return String(v).toLowerCase().replace(/[\s-]+/g, '_')
}

/**
 * An enum's values normalised, kept per enum array: a run offers the same few tool schemas on
 * every call, and an offered schema is never changed (see fillArgs).
 */
const normalisedEnums = new WeakMap<readonly unknown[], string[]>()

function normalisedEnum(values: readonly unknown[]): string[] {
  let out = normalisedEnums.get(values)
  if (out === undefined) {
    out = values.map(normaliseValue)
    normalisedEnums.set(values, out)
  }
  return out
}

/** The first of `values` whose normalised form is `want`, else undefined. */
function enumValue(values: readonly unknown[], normalised: readonly string[], want: string): unknown {
  const at = normalised.indexOf(want)
  return at < 0 ? undefined : values[at]
}

/** The enum value that means `wanted` (exactly, then by a known synonym), else `fallback` when offered, else undefined. */
export function matchEnum(values: readonly unknown[], wanted: string, synonyms: Readonly<Record<string, readonly string[]>>, fallback: string | null): unknown {
  const want = normaliseValue(wanted)
  const normalised = normalisedEnum(values)
  const exact = enumValue(values, normalised, want)
  if (exact !== undefined) return exact
  for (const syn of synonyms[want] ?? []) {
    const hit = enumValue(values, normalised, syn)
    if (hit !== undefined) return hit
  }
  return fallback === null ? undefined : enumValue(values, normalised, fallback)
}

/** The schema's type, ignoring `null` in a nullable type list. */
export function schemaType(schema: PropSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type
}

/** `text`, cut with an ellipsis to the schema's maxLength when it has one. */
export function fitText(text: string, schema: PropSchema): string {
  const max = schema.maxLength
  return max !== undefined && text.length > max ? text.slice(0, Math.max(0, max - 1)).trimEnd() + '…' : text
}

/** The value the schema itself fixes or proposes (`const`, else `default`), or undefined. */
export function schemaValue(schema: PropSchema): unknown {
  return schema.const !== undefined ? schema.const : schema.default !== undefined && schema.default !== null ? schema.default : undefined
}

/**
 * Arguments for `tool`: for each property whose name `meanings` knows, `valueFor` gives the value
 * (undefined leaves the field out, even when required, so a schema change shows up downstream).
 */
export function fillArgs<K extends string>(
  tool: ToolSpec,
  meanings: Readonly<Record<string, K>>,
  valueFor: (meaning: K, field: string, schema: PropSchema) => unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const slot of slotsOf(tool, meanings)) {
    const v = valueFor(slot.meaning, slot.field, slot.schema)
    if (v !== undefined) out[slot.field] = v
  }
  return out
}

/** A property of a tool's schema that a skill's meanings know: its name, meaning and resolved schema. */
type Slot<K extends string> = {field: string; meaning: K; schema: PropSchema}

/**
 * The properties fillArgs fills, in schema order, worked out once per tool spec and meanings
 * table: a run offers the same tool specs on every call. Invariant: an offered tool spec (and its
 * schema) is never changed once made, and `valueFor` only reads the schema it is given.
 */
const slotCache = new WeakMap<ToolSpec, WeakMap<object, Slot<string>[]>>()

function slotsOf<K extends string>(tool: ToolSpec, meanings: Readonly<Record<string, K>>): Slot<K>[] {
  let byMeanings = slotCache.get(tool)
  if (byMeanings === undefined) {
    byMeanings = new WeakMap()
    slotCache.set(tool, byMeanings)
  }
  let slots = byMeanings.get(meanings) as Slot<K>[] | undefined
  if (slots === undefined) {
    const params = tool.function.parameters as PropSchema
    slots = []
    for (const [field, raw] of Object.entries(params.properties ?? {})) {
      const meaning = meanings[normaliseField(field)]
      if (meaning) slots.push({field, meaning, schema: resolveSchema(raw, params)})
    }
    byMeanings.set(meanings, slots)
  }
  return slots
}
