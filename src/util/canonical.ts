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
