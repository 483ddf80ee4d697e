import {Ajv, type ErrorObject, type ValidateFunction} from 'ajv'
import {Ajv2020} from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'

/**
 * Tool argument contracts are standard JSON Schema (draft 2020-12, or draft-07 when `$schema` says
 * so), checked against the draft's meta-schema and compiled with ajv. This module is the one place
 * that knows the keyword vocabulary: the bundle checks report every problem of a schema at once,
 * located at the keyword (`tools.2.args.properties.amount.maximum`), and the runtime asks it for
 * the compiled validator, compiled once per distinct schema.
 */

/** A JSON Schema object as written in the bundle (args, parameters or input_schema). */
export type ArgSchema = {[keyword: string]: unknown}

export const DRAFT_2020 = 'https://json-schema.org/draft/2020-12/schema'
export const DRAFT_07 = 'http://json-schema.org/draft-07/schema'

// ajv-formats is CommonJS: under NodeNext its default import is the module object at type level.
const addFormats = ((addFormatsModule as unknown as {default?: unknown}).default ?? addFormatsModule) as (ajv: Ajv | Ajv2020) => void

/**
 * allErrors: a model that gets every issue back can fix its call in one retry. strict off: unknown
 * keywords are this module's own check (with a hint) so that all are reported, not the first.
 * addUsedSchema off: two bundles may use the same `$id` for different schemas.
 */
const AJV_OPTIONS = {allErrors: true, strict: false, logger: false, addUsedSchema: false} as const

let ajv2020: Ajv2020 | undefined
let ajv07: Ajv | undefined

function ajvFor(draft: Draft): Ajv | Ajv2020 {
  if (draft === '2020-12') {
    if (!ajv2020) {
      ajv2020 = new Ajv2020(AJV_OPTIONS)
      addFormats(ajv2020)
    }
    return ajv2020
  }
  if (!ajv07) {
    ajv07 = new Ajv(AJV_OPTIONS)
    addFormats(ajv07)
  }
  return ajv07
}

type Draft = '2020-12' | 'draft-07'

/** The draft a schema's `$schema` names; undefined for one this project does not support. */
export function draftOf(schema: ArgSchema): Draft | undefined {
  const s = schema.$schema
  if (s === undefined) return '2020-12'
  if (typeof s !== 'string') return undefined
  const bare = s.replace(/#$/, '').replace(/^http:/, 'https:')
  if (bare === DRAFT_2020) return '2020-12'
  if (bare === DRAFT_07.replace(/^http:/, 'https:')) return 'draft-07'
  return undefined
}

const ANNOTATIONS = ['title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly', '$comment']
/** Every keyword of draft 2020-12 and draft-07, plus the annotations; anything else is a typo or a dialect. */
const KEYWORDS: ReadonlySet<string> = new Set([
  ...ANNOTATIONS,
  '$schema', '$id', '$ref', '$defs', 'definitions', '$anchor', '$dynamicRef', '$dynamicAnchor', '$vocabulary',
  'allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else', 'dependentSchemas', 'dependencies',
  'prefixItems', 'items', 'additionalItems', 'contains', 'properties', 'patternProperties', 'additionalProperties',
  'propertyNames', 'unevaluatedItems', 'unevaluatedProperties',
  'type', 'enum', 'const', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'maxContains', 'minContains',
  'maxProperties', 'minProperties', 'required', 'dependentRequired',
  'format', 'contentEncoding', 'contentMediaType', 'contentSchema',
  // pydantic writes an OpenAPI `discriminator` beside `oneOf` for tagged unions; an annotation here.
  'discriminator',
])
const BY_LOWER = new Map([...KEYWORDS].map((k) => [k.replace(/_/g, '').toLowerCase(), k]))

const ONE_SCHEMA = ['not', 'if', 'then', 'else', 'additionalItems', 'contains', 'additionalProperties', 'propertyNames', 'unevaluatedItems', 'unevaluatedProperties', 'contentSchema']
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems']
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies']

export type SchemaProblem = {path: (string | number)[]; message: string}

function isObject(v: unknown): v is ArgSchema {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Visits every subschema (objects only; `true`/`false` have no keywords) with its path. */
function walk(schema: unknown, at: (string | number)[], visit: (s: ArgSchema, at: (string | number)[]) => void): void {
  if (!isObject(schema)) return
  visit(schema, at)
  for (const k of ONE_SCHEMA) walk(schema[k], [...at, k], visit)
  const items = schema.items
  if (Array.isArray(items)) items.forEach((s, i) => walk(s, [...at, 'items', i], visit))
  else walk(items, [...at, 'items'], visit)
  for (const k of SCHEMA_LISTS) {
    const list = schema[k]
    if (Array.isArray(list)) list.forEach((s, i) => walk(s, [...at, k, i], visit))
  }
  for (const k of SCHEMA_MAPS) {
    const map = schema[k]
    if (isObject(map)) for (const [name, s] of Object.entries(map)) walk(s, [...at, k, name], visit)
  }
}

/**
 * Every problem of a tool's argument schema, each located under `at`: an unsupported `$schema`, a
 * root that is not `type: object`, meta-schema violations, unknown keywords (with the standard
 * spelling when one is meant), bad regular expressions, `$ref`s that point nowhere, `required`
 * names missing from `properties`, and finally anything ajv still refuses to compile.
 */
export function checkArgSchema(schema: unknown, at: (string | number)[]): SchemaProblem[] {
  const out: SchemaProblem[] = []
  const add = (path: (string | number)[], message: string) => out.push({path, message})
  if (!isObject(schema)) {
    add(at, 'must be a JSON Schema object (tool arguments are always a JSON object)')
    return out
  }
  const draft = draftOf(schema)
  if (!draft) {
    add([...at, '$schema'], `unsupported $schema ${JSON.stringify(schema.$schema)} (use ${DRAFT_2020} or ${DRAFT_07}#, or leave it out for 2020-12)`)
    return out
  }
  if (schema.type !== 'object') {
    add([...at, 'type'], `tool arguments must be an object schema: type: object (got ${JSON.stringify(schema.type)})`)
  }
  const ajv = ajvFor(draft)
  if (!ajv.validateSchema(schema)) for (const e of metaProblems(ajv.errors ?? [])) add([...at, ...e.path], e.message)

  walk(schema, at, (s, here) => {
    for (const key of Object.keys(s)) {
      if (KEYWORDS.has(key)) continue
      const meant = BY_LOWER.get(key.replace(/[_-]/g, '').toLowerCase())
      add([...here, key], `unknown JSON Schema keyword "${key}"${meant ? ` (did you mean ${meant}?)` : ''}`)
    }
    typeProblems(s, here, add)
    if (typeof s.pattern === 'string') {
      const why = regexProblem(s.pattern)
      if (why) add([...here, 'pattern'], `is not a valid regular expression: ${why}`)
    }
    if (isObject(s.patternProperties)) {
      for (const p of Object.keys(s.patternProperties)) {
        const why = regexProblem(p)
        if (why) add([...here, 'patternProperties', p], `is not a valid regular expression: ${why}`)
      }
    }
    if (typeof s.$ref === 'string' && s.$ref.startsWith('#/') && resolvePointer(schema, s.$ref) === undefined) {
      add([...here, '$ref'], `"${s.$ref}" points to nothing in this schema`)
    }
    if (Array.isArray(s.required) && isObject(s.properties) && !hasOtherPropertySources(s)) {
      const props = s.properties
      s.required.forEach((name, i) => {
        if (typeof name === 'string' && !Object.hasOwn(props, name)) add([...here, 'required', i], `"${name}" is required but not defined in properties`)
      })
    }
  })
  if (out.length === 0) {
    try {
      // Through the cache: the runtime then finds this schema compiled.
      compiledArgSchema(schema)
    } catch (e) {
      add(at, `cannot compile: ${(e as Error).message.split('\n')[0]}`)
    }
  }
  return out
}

/**
 * Keywords of another type than the one `type` names are ignored by every validator, so they are a
 * mistake (ajv's strictTypes says the same); so are bounds that no value can meet and enum values
 * of the wrong type. Only a single-type schema is checked.
 */
const KEYWORD_TYPES: Record<string, readonly string[]> = {
  maxLength: ['string'], minLength: ['string'], pattern: ['string'], format: ['string'],
  minimum: ['number', 'integer'], maximum: ['number', 'integer'], exclusiveMinimum: ['number', 'integer'], exclusiveMaximum: ['number', 'integer'], multipleOf: ['number', 'integer'],
  properties: ['object'], required: ['object'], additionalProperties: ['object'], patternProperties: ['object'], minProperties: ['object'], maxProperties: ['object'],
  items: ['array'], prefixItems: ['array'], maxItems: ['array'], minItems: ['array'], uniqueItems: ['array'], contains: ['array'],
}

const SIMPLE_TYPES = new Set(['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'])

function typeProblems(s: ArgSchema, at: (string | number)[], add: (path: (string | number)[], message: string) => void): void {
  const type = s.type
  if (typeof type !== 'string' || !SIMPLE_TYPES.has(type)) return
  for (const [keyword, types] of Object.entries(KEYWORD_TYPES)) {
    if (s[keyword] !== undefined && !types.includes(type)) add([...at, keyword], `only applies to type ${types.join(' or ')}, not "${type}"`)
  }
  if (Array.isArray(s.enum)) {
    s.enum.forEach((v, i) => {
      if (!fitsType(type, v)) add([...at, 'enum', i], `${JSON.stringify(v)} is not a valid ${type}`)
    })
  }
  for (const [lo, hi] of [['minimum', 'maximum'], ['minLength', 'maxLength'], ['minItems', 'maxItems']] as const) {
    const a = s[lo]
    const b = s[hi]
    if (typeof a === 'number' && typeof b === 'number' && a > b) add([...at, hi], `${hi} ${b} is less than ${lo} ${a}`)
  }
}

function fitsType(type: string, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string'
    case 'number':
      return typeof v === 'number'
    case 'integer':
      return Number.isInteger(v)
    case 'boolean':
      return typeof v === 'boolean'
    case 'null':
      return v === null
    case 'array':
      return Array.isArray(v)
    default:
      return isObject(v)
  }
}

/** A `required` name may come from a composed or referenced schema; only a plain object is checked. */
function hasOtherPropertySources(s: ArgSchema): boolean {
  return ['allOf', 'anyOf', 'oneOf', '$ref', 'patternProperties', 'dependentSchemas', 'if'].some((k) => s[k] !== undefined) || isObject(s.additionalProperties)
}

function regexProblem(pattern: string): string | null {
  try {
    // ajv compiles patterns with the `u` flag; the same check here reports every bad one at once.
    new RegExp(pattern, 'u')
    return null
  } catch (e) {
    return (e as Error).message.replace(/^Invalid regular expression: /, '')
  }
}

/** The value a local JSON pointer (`#/$defs/Item`) names inside `root`, or undefined. */
export function resolvePointer(root: unknown, ref: string): unknown {
  let cur: unknown = root
  for (const raw of ref.slice(2).split('/')) {
    const seg = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~')
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, seg)) return undefined
    cur = (cur as Record<string, unknown>)[seg]
  }
  return cur
}

/** `/properties/x/maxLength` as path segments (JSON pointer unescaped). */
function pointerPath(pointer: string): string[] {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/**
 * Meta-schema errors, one per place: where the meta-schema says "one of these shapes" (`anyOf`,
 * e.g. `type` as a name or a list of names), its branches' errors become one message.
 */
function metaProblems(errors: readonly ErrorObject[]): {path: string[]; message: string}[] {
  const unionAt = new Set(errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath))
  const out: {path: string[]; message: string}[] = []
  const merged = new Map<string, string[]>()
  for (const e of errors) {
    if (!unionAt.has(e.instancePath)) {
      out.push({path: pointerPath(e.instancePath), message: errorMessage(e)})
      continue
    }
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') continue
    let said = merged.get(e.instancePath)
    if (!said) {
      said = []
      merged.set(e.instancePath, said)
      out.push({path: pointerPath(e.instancePath), message: ''})
    }
    said.push(errorMessage(e))
  }
  // Each merged place gets its branches' messages in one line.
  for (const o of out) if (o.message === '') o.message = [...new Set(merged.get(o.path.length === 0 ? '' : `/${o.path.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`) ?? [])].join(', or ')
  return out
}

function errorMessage(e: ErrorObject): string {
  if (e.keyword === 'enum' && Array.isArray((e.params as {allowedValues?: unknown[]}).allowedValues)) {
    return `must be one of ${(e.params as {allowedValues: unknown[]}).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
  }
  return e.message ?? e.keyword
}

const compiled = new Map<string, ValidateFunction>()

/**
 * The ajv validator of a schema that passed checkArgSchema, compiled once per distinct schema text
 * for the life of the process: a run compiles each tool once, never per call.
 */
export function compiledArgSchema(schema: ArgSchema): ValidateFunction {
  const key = JSON.stringify(schema)
  let v = compiled.get(key)
  if (!v) {
    v = ajvFor(draftOf(schema) ?? '2020-12').compile(schema)
    compiled.set(key, v)
  }
  return v
}
