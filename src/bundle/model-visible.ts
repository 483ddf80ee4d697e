import type {ArgSchema} from './arg-schema.js'

/**
 * What a model served by Ollama is shown of a tool's argument schema. Ollama decodes the tools of a
 * chat request into Go structs and re-encodes them into the prompt, so every keyword without a field
 * there is dropped before the model sees it (ollama/ollama `api/types.go`: `ToolFunctionParameters`
 * keeps `type`, `$defs`, `items`, `required`, `properties`; each property is an `api.ToolProperty`
 * keeping `anyOf`, `type`, `items`, `description`, `enum`, `properties`, `required`; `items` and
 * `$defs` are kept as raw JSON). The contract still enforces the dropped keywords, so a real model
 * learns the limits only from refusals — unless they are written into the description.
 */

const ROOT_KEPT: ReadonlySet<string> = new Set(['type', '$defs', 'items', 'required', 'properties'])
const PROPERTY_KEPT: ReadonlySet<string> = new Set(['anyOf', 'type', 'items', 'description', 'enum', 'properties', 'required'])
/** Dropped too, but they constrain nothing: not worth a warning. */
const ANNOTATIONS: ReadonlySet<string> = new Set(['title', 'description', 'default', 'examples', '$comment', 'deprecated', 'readOnly', 'writeOnly', '$schema', '$id', 'discriminator'])

export const OLLAMA_KEPT_KEYWORDS = [...PROPERTY_KEPT]

export type HiddenConstraint = {path: (string | number)[]; keyword: string}

/** Every constraint of `schema` that Ollama drops before the model sees it, with its path inside the schema. */
export function hiddenFromOllama(schema: ArgSchema): HiddenConstraint[] {
  const out: HiddenConstraint[] = []
  for (const key of Object.keys(schema)) if (!ROOT_KEPT.has(key) && !ANNOTATIONS.has(key)) out.push({path: [key], keyword: key})
  forEachProperty(schema, [], (prop, at) => {
    for (const key of Object.keys(prop)) if (!PROPERTY_KEPT.has(key) && !ANNOTATIONS.has(key)) out.push({path: [...at, key], keyword: key})
  })
  return out
}

function isObject(v: unknown): v is ArgSchema {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Visits the schemas Ollama decodes as `ToolProperty`: properties, nested properties and anyOf branches. */
function forEachProperty(schema: ArgSchema, at: (string | number)[], visit: (prop: ArgSchema, at: (string | number)[]) => void): void {
  if (!isObject(schema.properties)) return
  for (const [name, prop] of Object.entries(schema.properties)) {
    if (isObject(prop)) visitProperty(prop, [...at, 'properties', name], visit)
  }
}

function visitProperty(prop: ArgSchema, at: (string | number)[], visit: (prop: ArgSchema, at: (string | number)[]) => void): void {
  visit(prop, at)
  forEachProperty(prop, at, visit)
  if (Array.isArray(prop.anyOf)) prop.anyOf.forEach((b, i) => isObject(b) && visitProperty(b, [...at, 'anyOf', i], visit))
}

/**
 * The schema with each property's hidden constraints written into its description, e.g.
 * `"Amount in USD (at most 500)"`: the keywords stay (a server that keeps them still gets them).
 * Root-level constraints have no description to go into and are left as they are.
 */
export function describeConstraints(schema: ArgSchema): ArgSchema {
  return mapProperties(schema)
}

function mapProperties(schema: ArgSchema): ArgSchema {
  if (!isObject(schema.properties)) return schema
  const properties: Record<string, unknown> = {}
  for (const [name, prop] of Object.entries(schema.properties)) properties[name] = isObject(prop) ? describeProperty(prop) : prop
  return {...schema, properties}
}

function describeProperty(prop: ArgSchema): ArgSchema {
  let out = mapProperties(prop)
  if (Array.isArray(prop.anyOf)) out = {...out, anyOf: prop.anyOf.map((b) => (isObject(b) ? describeProperty(b) : b))}
  const phrases = Object.entries(prop)
    .filter(([key]) => !PROPERTY_KEPT.has(key) && !ANNOTATIONS.has(key))
    .map(([key, value]) => phrase(key, value))
  if (phrases.length === 0) return out
  const said = phrases.join('; ')
  const description = typeof prop.description === 'string' && prop.description !== '' ? `${prop.description} (${said})` : said
  return {...out, description}
}

/** One constraint in words a model reads: `at most 500`, `at most 80 characters`, `matching ^[A-Z]{3}$`. */
function phrase(keyword: string, value: unknown): string {
  const v = typeof value === 'string' ? value : JSON.stringify(value)
  switch (keyword) {
    case 'maximum':
      return `at most ${v}`
    case 'minimum':
      return `at least ${v}`
    case 'exclusiveMaximum':
      return `less than ${v}`
    case 'exclusiveMinimum':
      return `more than ${v}`
    case 'maxLength':
      return `at most ${v} characters`
    case 'minLength':
      return `at least ${v} characters`
    case 'maxItems':
      return `at most ${v} items`
    case 'minItems':
      return `at least ${v} items`
    case 'pattern':
      return `matching ${v}`
    case 'format':
      return `format ${v}`
    case 'multipleOf':
      return `a multiple of ${v}`
    case 'const':
      return `exactly ${JSON.stringify(value)}`
    case 'uniqueItems':
      return value === true ? 'no duplicates' : `uniqueItems ${v}`
    case 'additionalProperties':
      return value === false ? 'no other fields' : `additionalProperties ${v}`
    default:
      return `${keyword} ${v}`
  }
}
