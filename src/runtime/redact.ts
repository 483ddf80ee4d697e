import {canonicalJson, sha256} from '../util/canonical.js'
import {isCardNumberValue, maySecretMatch, NO_SECRET, SECRET_PATTERNS, scanSecrets, secretShape, shapeAllows, textShape, type SecretPattern} from './guardrails/patterns.js'
import {createTextMemo} from '../util/text-memo.js'

export type Redactor = {
  /** Values at the sensitive paths replaced whole; every other string, key and number as in redactValue. */
  redactArgs(args: Record<string, unknown>, sensitivePaths: string[]): Record<string, unknown>
  /** Secret/PII patterns anywhere in a string. */
  redactText(text: string): string
  /**
   * redactText for a text seen on one request only (its id): the same result, kept for the calls
   * on the same string that follow (until the next such text) instead of in the memo, where every
   * id would push out a text that does come back.
   */
  redactRequestText(text: string): string
  /**
   * Deep: every string and every object key through redactText, and a number that is a card
   * number (isCardNumberValue) replaced by its marker; other numbers, booleans and null are kept.
   */
  redactValue(value: unknown): unknown
}

/** A Redactor that can also put markers back: what a model cassette needs (src/model/cassette.ts). */
export type RestoringRedactor = Redactor & {
  /**
   * `value` with each marker of a secret that `source` holds in the clear put back (a marker that
   * stood for a whole number becomes that number again); markers of anything else stay. Lets a
   * redacted copy of what a model said be replayed against the clear request it answered.
   */
  restoreFrom(value: unknown, source: unknown): unknown
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

const MARKER = /\[REDACTED:[a-z_]+:[0-9a-f]{8}\]/g

const CACHE_MAX_ENTRIES = 4096

type Compiled = SecretPattern & {own: RegExp}

export function createRedactor(): RestoringRedactor {
  const patterns: Compiled[] = SECRET_PATTERNS.map((p) => ({...p, own: new RegExp(p.re.source, p.re.flags)}))

  // Object keys, guardrail details, tool results and fixture answers repeat across thousands of
  // requests, and most hold nothing to redact. A text the character scan settles (clean) never
  // reaches the memo; the memo holds the rest, clean texts (as themselves) as well as redacted ones,
  // since settling a long one takes a pass over it. The pass is pure, so a hit is exact.
  const memo = createTextMemo<string>()
  /** The patterns' pass over a text some pattern may match (secretShape); any other comes back as it is. */
  const redactFresh = (text: string, found?: Map<string, string | number>): string => {
    const shape = secretShape(text)
    return shape === NO_SECRET ? text : redactPatterns(text, found, shape)
  }
  /** Too short for any pattern, or no pattern can match it (maySecretMatch): nothing to redact. */
  const clean = (text: string): boolean => text.length < 4 || !maySecretMatch(text)
  let requestText = ''
  let requestRedacted = ''
  const redactText = (text: string): string => (clean(text) ? text : text === requestText ? requestRedacted : memo.get(text, redactFresh))
  const redactRequestText = (text: string): string => {
    if (text !== requestText) {
      requestRedacted = clean(text) ? text : redactFresh(text)
      requestText = text
    }
    return requestRedacted
  }

  /**
   * Each pattern over the previous one's output, so a later pattern never sees a secret an earlier
   * one took. `found`, when given, collects marker → clear secret; `shape`, when given, is textShape(text).
   */
  const redactPatterns = (text: string, found?: Map<string, string | number>, shape = textShape(text)): string => {
    let out = text
    for (let i = 0; i < patterns.length; i++) {
      const p = patterns[i]!
      if (!shapeAllows(shape, p)) continue
      scan.text = out
      scan.pattern = p
      scan.found = found
      scan.next = ''
      scan.last = 0
      scanSecrets(out, p, p.own, onSecret)
      if (scan.last > 0) {
        out = scan.next + out.slice(scan.last)
        // A marker in place of a secret changes the text: its shape is found again.
        shape = textShape(out)
      }
    }
    // Nothing of this text is kept past the call.
    scan.text = scan.next = ''
    scan.found = undefined
    return out
  }

  // The pass's state and its one callback, made once per redactor: a closure per pattern and text
  // cost ~2 KB of garbage for every id redacted. Never re-entered: nothing onSecret calls redacts.
  const scan: {text: string; pattern: Compiled; found: Map<string, string | number> | undefined; next: string; last: number} = {
    text: '',
    pattern: patterns[0]!,
    found: undefined,
    next: '',
    last: 0,
  }
  const onSecret = (start: number, secret: string): boolean => {
    const marker = markerOf(scan.pattern, secret)
    scan.found?.set(marker, secret)
    scan.next += scan.text.slice(scan.last, start) + marker
    scan.last = start + secret.length
    return true
  }

  // A text that repeats one secret (a hostile one repeats it thousands of times) hashes it once.
  const markers = new Map<string, string>()
  const markerOf = (p: Compiled, secret: string): string => {
    const key = `${p.kind}\u0000${secret}`
    let marker = markers.get(key)
    if (marker === undefined) {
      if (markers.size >= CACHE_MAX_ENTRIES) markers.clear()
      marker = redactionMarker(p.kind, p.canonical ? p.canonical(secret) : secret)
      markers.set(key, marker)
    }
    return marker
  }

  const redactNumber = (value: number): unknown => (isCardNumberValue(value) ? redactionMarker('card', String(value)) : value)

  const redactDeep = (value: unknown): unknown => {
    if (typeof value === 'string') return redactText(value)
    if (typeof value === 'number') return redactNumber(value)
    if (Array.isArray(value)) return redactArray(value)
    if (value !== null && typeof value === 'object') return redactRecord(value as Record<string, unknown>)
    return value
  }

  // A plain array or record that redaction leaves as it is is handed back itself, not copied: the
  // arguments and results of most calls hold nothing to redact, and a copy of each was garbage. Like
  // a copy, it is never changed afterwards (arguments and results are not mutated once parsed). At
  // the first key or value that changes, the copy starts with the ones before it, then goes on as
  // the copying pass always did (each value redacted once: a secret deep down costs no more). A
  // record that is not plain (a Date from YAML, a class instance) is copied from the start, and a
  // `__proto__` key starts the copy, so what a trace stores is the same as before.
  const redactArray = (a: unknown[]): unknown[] => {
    if (Object.getPrototypeOf(a) !== Array.prototype) return a.map(redactDeep)
    let out: unknown[] | null = null
    for (let i = 0; i < a.length; i++) {
      const v = a[i]
      const r = redactDeep(v)
      if (out === null) {
        if (Object.is(r, v)) continue
        out = a.slice(0, i)
      }
      out.push(r)
    }
    return out ?? a
  }
  const redactRecord = (o: Record<string, unknown>): Record<string, unknown> => {
    // Object.keys: the order of Object.entries without an array per entry.
    const keys = Object.keys(o)
    let out: Record<string, unknown> | null = Object.getPrototypeOf(o) === Object.prototype ? null : {}
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!
      const v = o[k]
      const rk = redactText(k)
      const r = redactDeep(v)
      if (out === null) {
        if (rk === k && k !== '__proto__' && Object.is(r, v)) continue
        out = {}
        for (let j = 0; j < i; j++) out[keys[j]!] = o[keys[j]!]
      }
      out[rk] = r
    }
    return out ?? o
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
    return redactTree(args, tree, redactDeep, redactText) as Record<string, unknown>
  }

  const restoreFrom = (value: unknown, source: unknown): unknown => {
    const known = new Map<string, string | number>()
    const collect = (v: unknown): void => {
      if (typeof v === 'string') {
        if (v.length >= 4) redactFresh(v, known)
      } else if (typeof v === 'number') {
        if (isCardNumberValue(v)) known.set(redactionMarker('card', String(v)), v)
      } else if (Array.isArray(v)) {
        for (const item of v) collect(item)
      } else if (v !== null && typeof v === 'object') {
        for (const [k, item] of Object.entries(v)) {
          collect(k)
          collect(item)
        }
      }
    }
    collect(source)
    if (known.size === 0) return value
    const text = (s: string): string => s.replace(MARKER, (m) => String(known.get(m) ?? m))
    const put = (v: unknown): unknown => {
      if (typeof v === 'string') {
        const whole = known.get(v)
        return typeof whole === 'number' ? whole : text(v)
      }
      if (Array.isArray(v)) return v.map(put)
      if (v !== null && typeof v === 'object') {
        const out: Record<string, unknown> = {}
        for (const [k, item] of Object.entries(v)) out[text(k)] = put(item)
        return out
      }
      return v
    }
    return put(value)
  }

  return {redactArgs, redactText, redactRequestText, redactValue, restoreFrom}
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
function redactTree(value: unknown, node: PathNode, rest: (v: unknown) => unknown, key: (k: string) => string): unknown {
  if (node.children.size === 0) return rest(value)
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      const exact = node.children.get(String(i)) ?? node.children.get('*')
      if (exact) return exact.end ? redactWhole(item) : redactTree(item, exact, rest, key)
      return redactTree(item, node, rest, key)
    })
  }
  if (value !== null && typeof value === 'object') {
    // Paths name the keys as written; the keys themselves are stored redacted like any text.
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      const child = node.children.get(k) ?? node.children.get('*')
      if (v === undefined || child === undefined) out[key(k)] = rest(v)
      else if (child.end) out[key(k)] = redactWhole(v)
      else out[key(k)] = redactTree(v, child, rest, key)
    }
    return out
  }
  return rest(value)
}

const ids = createRedactor()

/**
 * A request id as traces store it: through the redactor, so an id that is or holds a secret is
 * stored as its marker (the hash keeps two such requests apart). Deterministic and idempotent, so
 * whatever joins traces to traffic by id compares this with the stored id, and an id given either
 * way (as recorded, or as stored and shown) finds the same traces.
 */
export function storedRequestId(id: string): string {
  return ids.redactText(id)
}
