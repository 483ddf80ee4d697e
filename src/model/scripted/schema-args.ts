import type {ToolSpec} from '../types.js'

/**
 * What every skill does to turn what it means into a tool call's arguments: walk the offered
 * tool's JSON Schema, fill the fields whose (normalised) names it recognises, pick the enum value
 * that means what it wants, and cut text to the schema's max length. Which names mean what, the
 * enum synonyms and the type rules stay with each skill.
 */
export type PropSchema = {
  type?: string | string[]
  enum?: unknown[]
  maxLength?: number
  max_length?: number
  properties?: Record<string, PropSchema>
  required?: string[]
}

/** A field name as the meaning tables key it: lower case, without `_` or `-`. */
export function normaliseField(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '')
}

/** An enum value or a wanted meaning, compared as lower_snake_case. */
export function normaliseValue(v: unknown): string {
  return String(v).toLowerCase().replace(/[\s-]+/g, '_')
}

/** The enum value that means `wanted` (exactly, then by a known synonym), else `fallback` when offered, else undefined. */
export function matchEnum(values: readonly unknown[], wanted: string, synonyms: Readonly<Record<string, readonly string[]>>, fallback: string | null): unknown {
  const want = normaliseValue(wanted)
  const exact = values.find((v) => normaliseValue(v) === want)
  if (exact !== undefined) return exact
  for (const syn of synonyms[want] ?? []) {
    const hit = values.find((v) => normaliseValue(v) === syn)
    if (hit !== undefined) return hit
  }
  return fallback === null ? undefined : values.find((v) => normaliseValue(v) === fallback)
}

/** The schema's type, ignoring `null` in a nullable type list. */
export function schemaType(schema: PropSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type
}

/** `text`, cut with an ellipsis to the schema's max length when it has one. */
export function fitText(text: string, schema: PropSchema): string {
  const max = schema.maxLength ?? schema.max_length
  return max !== undefined && text.length > max ? text.slice(0, Math.max(0, max - 1)).trimEnd() + '…' : text
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
  const params = tool.function.parameters as PropSchema
  const out: Record<string, unknown> = {}
  for (const [field, schema] of Object.entries(params.properties ?? {})) {
    const key = meanings[normaliseField(field)]
    if (!key) continue
    const v = valueFor(key, field, schema)
    if (v !== undefined) out[field] = v
  }
  return out
}
