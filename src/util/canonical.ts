import crypto, {createHash} from 'node:crypto'
import {IdentityRing} from './identity-ring.js'
import {createTextMemo} from './text-memo.js'

/**
 * Canonical JSON: object keys sorted at every depth, no whitespace, undefined dropped.
 * Hashes over it are stable across key order and formatting, and change with any value.
 */
export function canonicalJson(value: unknown): string {
  return plainCanonical(value, 0) ?? JSON.stringify(sortKeys(value))
}

/** Nesting past this is not plain data for the fast path (a cycle): the reference path judges it. */
const MAX_DEPTH = 64

/**
 * canonicalJson written out directly for plain data (records, arrays, strings, numbers, booleans,
 * null): no sorted copy of every object and no second walk by JSON.stringify, and no sort when the
 * keys already come sorted. Undefined (not written) for anything whose reference result follows
 * other rules, so JSON.stringify(sortKeys(value)) decides it: a key that is an array index (an
 * object orders those first), `__proto__` (the copy's assignment drops it), `toJSON`, a value
 * undefined in an array, a function, a symbol, a BigInt, a Date or other class instance, a cycle.
 */
function plainCanonical(v: unknown, depth: number): string | undefined {
  switch (typeof v) {
    case 'string':
      return quoted(v)
    case 'number':
      // As JSON.stringify: -0 as 0, NaN and the infinities as null.
      return Number.isFinite(v) ? String(v) : 'null'
    case 'boolean':
      return v ? 'true' : 'false'
    case 'object':
      break
    default:
      return undefined
  }
  if (v === null) return 'null'
  if (depth > MAX_DEPTH) return undefined
  const proto = Object.getPrototypeOf(v) as unknown
  if (proto === Array.prototype) {
    const a = v as unknown[]
    let out = '['
    for (let i = 0; i < a.length; i++) {
      const text = plainCanonical(a[i], depth + 1)
      if (text === undefined) return undefined
      out += i === 0 ? text : `,${text}`
    }
    return `${out}]`
  }
  if (proto !== Object.prototype && proto !== null) return undefined
  const record = v as Record<string, unknown>
  const keys = Object.keys(record)
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      sortKeysInPlace(keys, i)
      break
    }
  }
  let out = '{'
  for (const key of keys) {
    const c = key.charCodeAt(0)
    if ((c >= 0x30 && c <= 0x39) || key === '__proto__' || key === 'toJSON') return undefined
    const e = record[key]
    if (e === undefined) continue
    const text = plainCanonical(e, depth + 1)
    if (text === undefined) return undefined
    out += `${out.length === 1 ? '' : ','}${quotedKey(key)}:${text}`
  }
  return `${out}}`
}

/** Keys past this many are sorted by Array.prototype.sort; fewer, by insertion in place. */
const INSERTION_SORT_MAX = 16

/**
 * `keys.sort()` (UTF-16 code unit order, as `<` compares strings), given that `keys[0..from)` is
 * already in order. A tool call's few argument names sort in place: the built-in sort copies the
 * array into a work area first, ~600 bytes of garbage a request.
 */
function sortKeysInPlace(keys: string[], from: number): void {
  if (keys.length > INSERTION_SORT_MAX) {
    keys.sort()
    return
  }
  for (let i = from; i < keys.length; i++) {
    const key = keys[i]!
    let j = i - 1
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!
      j--
    }
    keys[j + 1] = key
  }
}

/** JSON.stringify(s): printable ASCII quoted here, anything else by JSON.stringify. */
function quoted(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return JSON.stringify(s)
  }
  return `"${s}"`
}

/** Keys repeat across every request (a tool's argument names): quoted once each, up to a bound. */
const quotedKeys = createTextMemo<string>()
const quoteKey = (key: string): string => JSON.stringify(key)

function quotedKey(key: string): string {
  return quotedKeys.get(key, quoteKey)
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key]
      if (v !== undefined) out[key] = sortKeys(v)
    }
    return out
  }
  return value
}

/**
 * The same value with the keys of every plain object in sorted order (arrays keep theirs, undefined
 * is dropped): what canonicalJson hashes, as a value. Code that iterates the result's keys therefore
 * sees the same order for any two inputs with the same canonical JSON.
 */
export function withSortedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withSortedKeys) as T
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown
    // Only plain objects are records; anything else (a Date from YAML, say) is a leaf kept as it is.
    if (proto !== Object.prototype && proto !== null) return value
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key]
      if (v !== undefined) out[key] = withSortedKeys(v)
    }
    return out as T
  }
  return value
}

/**
 * `crypto.hash` (Node >= 20.12) hashes in one call, without a Hash object: ~0.3 µs against ~0.8 µs
 * for a tool call's arguments, and the replay hashes several per request. Same digest either way.
 */
const oneShot = (crypto as {hash?: (algorithm: string, data: string | Buffer, encoding: 'hex') => string}).hash

export function sha256(text: string | Buffer): string {
  return oneShot !== undefined ? oneShot('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex')
}

export function hashJson(value: unknown): string {
  return sha256(canonicalJson(value))
}

/**
 * canonicalJson of a tool call's arguments, and their sha256, kept for the last ARGS_KEPT argument
 * objects asked, by identity. One recorded call's arguments are canonicalised for the recorded
 * trace, by the mock tools matching a call against it, and again as the model-free candidate's
 * identical call (the recorded model proposes the record's own object), and hashed twice. Invariant:
 * arguments are never changed after they are parsed (records, model proposals), so an object met
 * again has the same canonical form; anything else is computed as canonicalJson does.
 */
export function canonicalArgs(value: unknown): string {
  return keptArgs(value)?.text ?? canonicalJson(value)
}

/** sha256 of canonicalArgs(value), kept alike. */
export function hashArgs(value: unknown): string {
  const kept = keptArgs(value)
  if (kept === undefined) return hashJson(value)
  return (kept.hash ??= sha256(kept.text))
}

const argsForms = new IdentityRing<object, {text: string; hash?: string}>(8)

function keptArgs(value: unknown): {text: string; hash?: string} | undefined {
  if (value === null || typeof value !== 'object') return undefined
  let form = argsForms.get(value)
  if (form === undefined) {
    form = {text: canonicalJson(value)}
    argsForms.set(value, form)
  }
  return form
}
