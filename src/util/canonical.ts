import crypto, {createHash} from 'node:crypto'

/**
 * Canonical JSON: object keys sorted at every depth, no whitespace, undefined dropped.
 * Hashes over it are stable across key order and formatting, and change with any value.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value))
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
