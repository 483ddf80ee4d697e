import {createHash} from 'node:crypto'

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

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex')
}

export function hashJson(value: unknown): string {
  return sha256(canonicalJson(value))
}
