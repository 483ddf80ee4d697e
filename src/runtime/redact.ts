import {canonicalJson, sha256} from '../util/canonical.js'
import {cardDigits, SECRET_PATTERNS, SECRET_SCREEN} from './guardrails/patterns.js'

export type Redactor = {
  /** Values at the sensitive paths replaced whole; every other string through redactText. */
  redactArgs(args: Record<string, unknown>, sensitivePaths: string[]): Record<string, unknown>
  /** Secret/PII patterns anywhere in a string. */
  redactText(text: string): string
  /** Deep: every string through redactText; keys and non-string values are kept. */
  redactValue(value: unknown): unknown
}

/** Kind used for a value redacted because of where it sits (a sensitive field), not what it looks like. */
export const FIELD_KIND = 'field'

/**
 * `[REDACTED:<kind>:<8 hex>]`. The hash is of the value itself, so two traces holding the same
 * secret still compare equal in a diff while neither shows it.
 */
export function redactionMarker(kind: string, value: string): string {
  return `[REDACTED:${kind}:${sha256(value).slice(0, 8)}]`
}

const CACHE_MAX_TEXT = 256
const CACHE_MAX_ENTRIES = 4096

export function createRedactor(): Redactor {
  const patterns = SECRET_PATTERNS.map((p) => ({...p, re: new RegExp(p.re.source, p.re.flags)}))

  // Guardrail details, step details and tool results repeat across thousands of requests; the
  // pattern pass is pure, so short texts are looked up first. Cleared when full, to stay bounded.
  const cache = new Map<string, string>()

  const redactText = (text: string): string => {
    if (text.length < 4 || !SECRET_SCREEN.test(text)) return text
    if (text.length > CACHE_MAX_TEXT) return redactPatterns(text)
    let out = cache.get(text)
    if (out === undefined) {
      if (cache.size >= CACHE_MAX_ENTRIES) cache.clear()
      out = redactPatterns(text)
      cache.set(text, out)
    }
    return out
  }

  const redactPatterns = (text: string): string => {
    let out = text
    for (const p of patterns) {
      out = out.replace(p.re, (match: string, ...groups: unknown[]) => {
        const kept = p.keep ? String(groups[0] ?? '') : ''
        const secret = match.slice(kept.length)
        if (p.confirm && !p.confirm(secret)) return match
        // A card reads the same with or without separators; hash its digits so both compare equal.
        const hashed = p.kind === 'card' ? cardDigits(secret) : secret
        return kept + redactionMarker(p.kind, hashed)
      })
    }
    return out
  }

  const redactDeep = (value: unknown): unknown => {
    if (typeof value === 'string') return redactText(value)
    if (Array.isArray(value)) return value.map(redactDeep)
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v)
      return out
    }
    return value
  }

  // The same result object is redacted more than once: a recorded call's result for the recorded
  // trace and again when the mock tools replay it, a fixture's answer on every request it serves.
  // Results are never mutated after parsing, so the redacted copy is kept per object.
  const redactedObjects = new WeakMap<object, unknown>()
  const redactValue = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return redactDeep(value)
    let out = redactedObjects.get(value)
    if (out === undefined) {
      out = redactDeep(value)
      redactedObjects.set(value, out)
    }
    return out
  }

  // Contracts hand the same sensitive_fields array to every call of a tool: its trie is built once.
  const trees = new WeakMap<readonly string[], PathNode>()
  const redactArgs = (args: Record<string, unknown>, sensitivePaths: string[]): Record<string, unknown> => {
    if (sensitivePaths.length === 0) return redactDeep(args) as Record<string, unknown>
    let tree = trees.get(sensitivePaths)
    if (tree === undefined) {
      tree = pathTree(sensitivePaths)
      trees.set(sensitivePaths, tree)
    }
    return redactTree(args, tree, redactDeep) as Record<string, unknown>
  }

  return {redactArgs, redactText, redactValue}
}

/** Sensitive paths as a trie; a node with `end` redacts the whole value found there. */
type PathNode = {end: boolean; children: Map<string, PathNode>}

function pathTree(paths: string[]): PathNode {
  const root: PathNode = {end: false, children: new Map()}
  for (const path of paths) {
    let node = root
    for (const seg of path.split('.')) {
      let next = node.children.get(seg)
      if (!next) {
        next = {end: false, children: new Map()}
        node.children.set(seg, next)
      }
      node = next
    }
    node.end = true
  }
  return root
}

/** The whole value hashed: a string as is, anything else in canonical JSON. */
function redactWhole(value: unknown): string {
  return redactionMarker(FIELD_KIND, typeof value === 'string' ? value : canonicalJson(value))
}

/**
 * Walks a value and its trie together. Arrays are transparent: `items.card` reaches the card of
 * every item, `items.0.card` only the first one's; `*` matches any key or index.
 */
function redactTree(value: unknown, node: PathNode, rest: (v: unknown) => unknown): unknown {
  if (node.children.size === 0) return rest(value)
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      const exact = node.children.get(String(i)) ?? node.children.get('*')
      if (exact) return exact.end ? redactWhole(item) : redactTree(item, exact, rest)
      return redactTree(item, node, rest)
    })
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      const child = node.children.get(k) ?? node.children.get('*')
      if (v === undefined || child === undefined) out[k] = rest(v)
      else if (child.end) out[k] = redactWhole(v)
      else out[k] = redactTree(v, child, rest)
    }
    return out
  }
  return rest(value)
}
