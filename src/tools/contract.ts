import type {ArgSchema, ToolContract} from '../bundle/schema.js'
import type {ToolSpec} from '../model/types.js'

/** One way a tool call's arguments break the contract; `path` is dotted (`items.0.sku`), '' for the root. */
export type ArgIssue = {path: string; message: string}

/** `amount: must be ≤ 500 (got 750)`; a root issue has no path prefix. */
export function formatArgIssue(issue: ArgIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`
}

export function formatArgIssues(issues: ArgIssue[]): string {
  return issues.map(formatArgIssue).join('; ')
}

type Check = (value: unknown, path: string, issues: ArgIssue[]) => void

/**
 * Compiles an argument schema once into a validator that reports every issue, not just the
 * first: a model that gets all of them back can fix its call in one retry. Unknown fields are
 * an issue only when `additional_properties: false` is written out.
 */
export function compileArgValidator(schema: ArgSchema): (args: unknown) => ArgIssue[] {
  const check = compileNode(schema)
  return (args) => {
    const issues: ArgIssue[] = []
    check(args, '', issues)
    return issues
  }
}

function join(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${key}`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  return typeof value
}

/** Short rendering of a value for messages; long strings are cut so messages stay one line. */
function show(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}

const TYPE_TESTS: Record<ArgSchema['type'], (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  integer: (v) => typeof v === 'number' && Number.isInteger(v),
  boolean: (v) => typeof v === 'boolean',
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  array: (v) => Array.isArray(v),
}

const ARTICLE: Record<ArgSchema['type'], string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
}

function compileNode(schema: ArgSchema): Check {
  const isType = TYPE_TESTS[schema.type]
  const typeMessage = `must be ${ARTICLE[schema.type]}`
  const checks: Check[] = []

  if (schema.enum) {
    const allowed = schema.enum
    const set = new Set<unknown>(allowed)
    const list = allowed.map((v) => String(v)).join(', ')
    checks.push((v, path, issues) => {
      if (!set.has(v)) issues.push({path, message: `must be one of ${list} (got ${show(v)})`})
    })
  }

  switch (schema.type) {
    case 'string':
      compileString(schema, checks)
      break
    case 'number':
    case 'integer':
      compileNumber(schema, checks)
      break
    case 'object':
      compileObject(schema, checks)
      break
    case 'array':
      compileArray(schema, checks)
      break
    case 'boolean':
      break
  }

  return (value, path, issues) => {
    if (!isType(value)) {
      // A value of the wrong type makes every other keyword meaningless; one issue says it all.
      issues.push({path, message: `${typeMessage} (got ${describe(value)})`})
      return
    }
    for (const c of checks) c(value, path, issues)
  }
}

/** Length in code points, as JSON Schema counts it; the UTF-16 length is an upper bound. */
function codePoints(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
    }
    n++
  }
  return n
}

const EMAIL = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/
const URI_SCHEME = /^[a-z][a-z0-9+.-]*:/i
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/

const FORMATS: Record<NonNullable<ArgSchema['format']>, (s: string) => boolean> = {
  email: (s) => EMAIL.test(s),
  uri: (s) => {
    if (!URI_SCHEME.test(s) || /\s/.test(s)) return false
    try {
      new URL(s)
      return true
    } catch {
      return false
    }
  },
  'date-time': (s) => {
    if (!DATE_TIME.test(s)) return false
    // The regex accepts 2024-02-31; Date.parse rolls it over, so compare the date part back.
    const ms = Date.parse(s.replace(' ', 'T'))
    if (Number.isNaN(ms)) return false
    const [y, m, d] = s.slice(0, 10).split('-').map(Number)
    const days = new Date(Date.UTC(y!, m!, 0)).getUTCDate()
    return m! >= 1 && m! <= 12 && d! >= 1 && d! <= days
  },
}

const FORMAT_NAMES: Record<NonNullable<ArgSchema['format']>, string> = {
  email: 'an email address',
  uri: 'a URI',
  'date-time': 'an RFC 3339 date-time',
}

function compileString(schema: ArgSchema, checks: Check[]): void {
  const {min_length: min, max_length: max, pattern, format} = schema
  if (min !== undefined) {
    checks.push((v, path, issues) => {
      const s = v as string
      // Code points ≥ half the UTF-16 length, so only short strings need counting.
      if (s.length < min || (s.length < 2 * min && codePoints(s) < min)) {
        issues.push({path, message: `must be at least ${min} characters (got ${codePoints(s)})`})
      }
    })
  }
  if (max !== undefined) {
    checks.push((v, path, issues) => {
      const s = v as string
      if (s.length > max && codePoints(s) > max) {
        issues.push({path, message: `must be at most ${max} characters (got ${codePoints(s)})`})
      }
    })
  }
  if (pattern !== undefined) {
    const re = new RegExp(pattern)
    checks.push((v, path, issues) => {
      if (!re.test(v as string)) issues.push({path, message: `must match ${pattern}`})
    })
  }
  if (format !== undefined) {
    const ok = FORMATS[format]
    const name = FORMAT_NAMES[format]
    checks.push((v, path, issues) => {
      if (!ok(v as string)) issues.push({path, message: `must be ${name}`})
    })
  }
}

function compileNumber(schema: ArgSchema, checks: Check[]): void {
  const {minimum, maximum} = schema
  if (minimum !== undefined) {
    checks.push((v, path, issues) => {
      if ((v as number) < minimum) issues.push({path, message: `must be ≥ ${minimum} (got ${v as number})`})
    })
  }
  if (maximum !== undefined) {
    checks.push((v, path, issues) => {
      if ((v as number) > maximum) issues.push({path, message: `must be ≤ ${maximum} (got ${v as number})`})
    })
  }
}

function compileObject(schema: ArgSchema, checks: Check[]): void {
  const props = Object.entries(schema.properties ?? {}).map(([key, s]) => ({key, check: compileNode(s)}))
  const known = new Set(props.map((p) => p.key))
  const required = schema.required ?? []
  const closed = schema.additional_properties === false
  checks.push((v, path, issues) => {
    const obj = v as Record<string, unknown>
    for (const key of required) {
      if (!Object.hasOwn(obj, key) || obj[key] === undefined) issues.push({path: join(path, key), message: 'required'})
    }
    for (const {key, check} of props) {
      if (Object.hasOwn(obj, key) && obj[key] !== undefined) check(obj[key], join(path, key), issues)
    }
    if (closed) {
      for (const key of Object.keys(obj)) {
        if (!known.has(key)) issues.push({path: join(path, key), message: 'is not an allowed field'})
      }
    }
  })
}

function compileArray(schema: ArgSchema, checks: Check[]): void {
  const {max_items: maxItems} = schema
  if (maxItems !== undefined) {
    checks.push((v, path, issues) => {
      const n = (v as unknown[]).length
      if (n > maxItems) issues.push({path, message: `must have at most ${maxItems} items (got ${n})`})
    })
  }
  if (schema.items) {
    const item = compileNode(schema.items)
    checks.push((v, path, issues) => {
      const arr = v as unknown[]
      for (let i = 0; i < arr.length; i++) item(arr[i], join(path, i), issues)
    })
  }
}

/** The contract as a function spec for Ollama / OpenAI-style tool calling (JSON Schema keywords). */
export function toToolSpec(tool: ToolContract): ToolSpec {
  return {
    type: 'function',
    function: {name: tool.name, description: tool.description, parameters: toJsonSchema(tool.args)},
  }
}

/** snake_case contract keywords to their JSON Schema spellings, in a fixed key order. */
export function toJsonSchema(schema: ArgSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {type: schema.type}
  if (schema.description !== undefined) out.description = schema.description
  if (schema.enum !== undefined) out.enum = [...schema.enum]
  if (schema.min_length !== undefined) out.minLength = schema.min_length
  if (schema.max_length !== undefined) out.maxLength = schema.max_length
  if (schema.pattern !== undefined) out.pattern = schema.pattern
  if (schema.format !== undefined) out.format = schema.format
  if (schema.minimum !== undefined) out.minimum = schema.minimum
  if (schema.maximum !== undefined) out.maximum = schema.maximum
  if (schema.properties !== undefined) {
    const props: Record<string, unknown> = {}
    for (const [key, s] of Object.entries(schema.properties)) props[key] = toJsonSchema(s)
    out.properties = props
  }
  if (schema.required !== undefined) out.required = [...schema.required]
  if (schema.additional_properties !== undefined) out.additionalProperties = schema.additional_properties
  if (schema.items !== undefined) out.items = toJsonSchema(schema.items)
  if (schema.max_items !== undefined) out.maxItems = schema.max_items
  return out
}
