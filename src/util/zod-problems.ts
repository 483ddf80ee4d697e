import type {z} from 'zod'
import type {Locator} from './path-position.js'

type Issue = z.core.$ZodIssue

/**
 * Turns zod issues into `file:LINE:COL: path.to.field: message` lines (without `LINE:COL` when no
 * locator is given or the path is not in the text). zod's default wording
 * ("Invalid input: ...", "Unrecognized key") is written for developers; bundle authors get
 * shorter sentences that name what was expected and, where it helps, what they wrote.
 */
export function zodProblems(file: string, issues: readonly Issue[], input: unknown, locate?: Locator): string[] {
  const out: string[] = []
  for (const issue of issues) {
    const path = issue.path.map(String)
    if (issue.code === 'unrecognized_keys') {
      // One line per key, located at the key itself, so each can be fixed (or grepped) alone.
      for (const key of issue.keys) out.push(problem(file, [...path, key], `unknown field "${key}"`, locate))
      continue
    }
    out.push(problem(file, path, issueMessage(issue, valueAt(input, issue.path)), locate))
  }
  return out
}

/** `file:LINE:COL: path: message`; the position when a locator finds the path, the path when there is one. */
export function problem(file: string, path: readonly (string | number)[], message: string, locate?: Locator): string {
  const at = locate?.(path)
  const where = at ? `${file}:${at}` : file
  if (path.length === 0) return `${where}: ${message}`
  return at ? `${where}: ${path.join('.')}: ${message}` : `${file}:${path.join('.')}: ${message}`
}

function issueMessage(issue: Issue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      if (value === undefined) return `missing required field (expected ${issue.expected})`
      if (issue.expected === 'int') return `expected an integer, received ${describe(value)}`
      return `expected ${issue.expected}, received ${describe(value)}`
    }
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')} (got ${shown(value)})`
    case 'too_small': {
      const min = Number(issue.minimum)
      if (issue.origin === 'string') return min === 1 ? 'must not be empty' : `must be at least ${min} characters`
      if (issue.origin === 'array' || issue.origin === 'set')
        return min === 1 ? 'must not be empty' : `must have at least ${min} items`
      return `must be ${issue.inclusive ? '>=' : '>'} ${min} (got ${shown(value)})`
    }
    case 'too_big': {
      const max = Number(issue.maximum)
      if (issue.origin === 'string') return `must be at most ${max} characters`
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at most ${max} items`
      return `must be ${issue.inclusive ? '<=' : '<'} ${max} (got ${shown(value)})`
    }
    case 'invalid_format':
      return `${issue.message} (got ${shown(value)})`
    case 'invalid_union': {
      const expected = new Set<string>()
      for (const branch of issue.errors) for (const e of branch) if (e.code === 'invalid_type') expected.add(e.expected)
      if (expected.size > 0) return `expected ${[...expected].join(' or ')}, received ${describe(value)}`
      return issue.message
    }
    case 'custom':
      return value === undefined ? issue.message : `${issue.message} (got ${shown(value)})`
    default:
      return issue.message.replace(/^Invalid input: /, '')
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur = input
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<PropertyKey, unknown>)[key]
  }
  return cur
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number' && !Number.isInteger(value)) return `number ${value}`
  return typeof value
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? text.slice(0, 57) + '...' : text
}
