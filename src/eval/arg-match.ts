import {deepEqual} from '../policy/engine.js'
import {type ArgExpectation, isArgMatcher} from '../traffic/schema.js'
import {canonicalJson, sha256} from '../util/canonical.js'

/**
 * Per-argument expectations (`expect.calls`, `expect.forbidden_calls`): each key of `args` is a
 * dotted path into the call's arguments, each value a plain value (equality) or a matcher object
 * with exactly one `$`-key (`{"$in": [...]}`; see ArgMatcher in src/traffic/schema.ts). Values
 * are compared as traces store them, so a redaction marker matches the value it hides. Pure.
 */

/** Every path of `expected` holds in `args` (fields `expected` does not name do not matter). */
export function argsHold(expected: Record<string, ArgExpectation>, args: Record<string, unknown>): boolean {
  for (const path in expected) if (!argHolds(expected[path], lookup(args, path))) return false
  return true
}

const ABSENT: unique symbol = Symbol('absent')
type Found = unknown | typeof ABSENT

/**
 * The value at a dotted path. A key that itself contains the dot wins (`{"a.b": 1}`), so records
 * written before paths existed keep their meaning; array elements are reached by index (`to.0`).
 */
export function lookup(args: Record<string, unknown>, path: string): Found {
  if (Object.hasOwn(args, path)) return args[path]
  let cur: unknown = args
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return ABSENT
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

/**
 * One expectation against the value found at its path. Only `$exists: false`, `$ne` and `$not_in`
 * hold for an absent path (the value is not there, so it is not the one excluded); everything else
 * needs the path present.
 */
export function argHolds(expected: ArgExpectation, found: Found): boolean {
  if (!isArgMatcher(expected)) return found !== ABSENT && sameStoredValue(expected, found)
  const m = expected as Record<string, unknown>
  if ('$exists' in m) return (found !== ABSENT) === m.$exists
  if ('$ne' in m) return found === ABSENT || !sameStoredValue(m.$ne, found)
  if ('$not_in' in m) return found === ABSENT || !(m.$not_in as unknown[]).some((v) => sameStoredValue(v, found))
  if (found === ABSENT) return false
  if ('$eq' in m) return sameStoredValue(m.$eq, found)
  if ('$in' in m) return (m.$in as unknown[]).some((v) => sameStoredValue(v, found))
  if ('$matches' in m) return typeof found === 'string' && new RegExp(m.$matches as string).test(found)
  if ('$contains' in m) {
    if (typeof found === 'string') return typeof m.$contains === 'string' && found.includes(m.$contains)
    return Array.isArray(found) && found.some((v) => sameStoredValue(m.$contains, v))
  }
  if (typeof found !== 'number') return false
  if ('$gt' in m) return found > (m.$gt as number)
  if ('$gte' in m) return found >= (m.$gte as number)
  if ('$lt' in m) return found < (m.$lt as number)
  if ('$lte' in m) return found <= (m.$lte as number)
  return false
}

const MARKERS = /\[REDACTED:[a-z_]+:([0-9a-f]{8})\]/g
const WHOLE_MARKER = /^\[REDACTED:[a-z_]+:([0-9a-f]{8})\]$/

/**
 * Two argument values as traces store them, which depends on the bundle: a field one bundle marks
 * sensitive is `[REDACTED:field:<hash>]` there, an e-mail address elsewhere `[REDACTED:email:<hash>]`
 * and any other value in the clear. They are the same value when equal once markers are compared by
 * the hash alone, or when one is a whole marker whose hash is that of the other's clear value (the
 * hash the redactor takes: the string itself, anything else as canonical JSON).
 */
export function sameStoredValue(expected: unknown, actual: unknown): boolean {
  const e = typeof expected === 'string' ? WHOLE_MARKER.exec(expected)?.[1] : undefined
  const a = typeof actual === 'string' ? WHOLE_MARKER.exec(actual)?.[1] : undefined
  if (e !== undefined && a === undefined) return clearHash(actual) === e
  if (a !== undefined && e === undefined) return clearHash(expected) === a
  if (typeof expected === 'string' && typeof actual === 'string') {
    return expected === actual || expected.replace(MARKERS, '[REDACTED:$1]') === actual.replace(MARKERS, '[REDACTED:$1]')
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((v, i) => sameStoredValue(v, actual[i]))
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false
    const keys = Object.keys(expected)
    const act = actual as Record<string, unknown>
    return keys.length === Object.keys(actual).length && keys.every((k) => Object.hasOwn(act, k) && sameStoredValue((expected as Record<string, unknown>)[k], act[k]))
  }
  return deepEqual(expected, actual)
}

function clearHash(value: unknown): string {
  return sha256(typeof value === 'string' ? value : canonicalJson(value)).slice(0, 8)
}
