import type {ErrorObject} from 'ajv'
import {compiledArgSchema} from '../bundle/arg-schema.js'
import type {ArgSchema, ToolContract} from '../bundle/schema.js'
import type {ToolSpec} from '../model/types.js'

/** One way a tool call's arguments break the contract; `path` is dotted (`items.0.sku`), '' for the root. */
export type ArgIssue = {path: string; keyword: string; message: string}

/** `amount: maximum: must be <= 500 (got 750)`: argument path, violated keyword, message; a root issue has no path prefix. */
export function formatArgIssue(issue: ArgIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`
}

export function formatArgIssues(issues: ArgIssue[]): string {
  return issues.map(formatArgIssue).join('; ')
}

/**
 * The contract's validator, reporting every issue rather than the first (a model that gets all of
 * them back can fix its call in one retry). The ajv function is compiled once per distinct schema
 * (src/bundle/arg-schema.ts) and callers keep this closure per bundle: nothing compiles per call.
 */
export function compileArgValidator(schema: ArgSchema): (args: unknown) => ArgIssue[] {
  const validate = compiledArgSchema(schema)
  return (args) => (validate(args) ? [] : argIssues(validate.errors ?? [], args))
}

/**
 * ajv's errors as `path: keyword: message (got value)`. Where an anyOf / oneOf failed, its branches'
 * own errors are dropped: the union's line says the value fits none of them.
 */
function argIssues(errors: readonly ErrorObject[], args: unknown): ArgIssue[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
  const out: ArgIssue[] = []
  for (const e of errors) {
    if (unions.some((u) => u !== e && e.schemaPath.startsWith(`${u.schemaPath}/`))) continue
    const at = pointerPath(e.instancePath)
    const params = e.params as Record<string, unknown>
    if (e.keyword === 'required') {
      out.push({path: join(at, String(params.missingProperty)), keyword: 'required', message: 'required'})
      continue
    }
    if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
      const key = String(params.additionalProperty ?? params.unevaluatedProperty)
      out.push({path: join(at, key), keyword: e.keyword, message: `${e.keyword}: is not an allowed field`})
      continue
    }
    const value = valueAt(args, e.instancePath)
    let message = e.message ?? 'is invalid'
    if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) message = `must be one of ${params.allowedValues.map((v) => String(v)).join(', ')}`
    if (e.keyword === 'format') message = `must be ${FORMAT_NAMES[String(params.format)] ?? `a valid ${String(params.format)}`}`
    if (e.keyword === 'pattern') message = `must match ${String(params.pattern)}`
    const got = e.keyword === 'type' ? describe(value) : show(value)
    out.push({path: at, keyword: e.keyword, message: `${e.keyword}: ${message} (got ${got})`})
  }
  return out
}

const FORMAT_NAMES: Record<string, string> = {
  email: 'an email address',
  uri: 'a URI',
  'date-time': 'an RFC 3339 date-time',
  date: 'an RFC 3339 date',
  uuid: 'a UUID',
}

/** Dotted argument path of a JSON pointer (`/items/0/sku` → `items.0.sku`). */
function pointerPath(pointer: string): string {
  if (pointer === '') return ''
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.')
}

function valueAt(root: unknown, pointer: string): unknown {
  if (pointer === '') return root
  let cur = root
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[seg]
  }
  return cur
}

function join(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${key}`
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer'
  return typeof value
}

/** Short rendering of a value for messages; long strings are cut so messages stay one line. */
function show(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}

/** The contract as a function spec for Ollama / OpenAI-style tool calling (JSON Schema keywords). */
export function toToolSpec(tool: ToolContract): ToolSpec {
  return {
    type: 'function',
    function: {name: tool.name, description: tool.description, parameters: tool.args},
  }
}

