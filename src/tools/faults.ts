import {ValidationError} from '../errors.js'
import type {Fault, FaultInjector, FaultPoint} from './sandbox.js'
import {sha256} from '../util/canonical.js'

/**
 * Fault injection for the tool sandbox: `--faults timeouts=0.05,rate_limit=0.02,partial_write=0.01`.
 * Whether an attempt fails is a pure function of (seed, request id, call index, attempt), so a run
 * is reproducible however many requests run at once and in whatever order they finish.
 */

export type FaultSpec = {timeout: number; rate_limit: number; partial_write: number}

type Kind = keyof FaultSpec

/** Spellings accepted on the command line; the first of each is the one error messages show. */
const KIND_NAMES: Record<string, Kind> = {
  timeouts: 'timeout',
  timeout: 'timeout',
  rate_limit: 'rate_limit',
  rate_limits: 'rate_limit',
  partial_write: 'partial_write',
  partial_writes: 'partial_write',
}

/** How long a caller waits before giving up on a call that never answers. */
export const FAULT_TIMEOUT_MS = 5_000
/** A refusal comes back quickly ... */
export const FAULT_RATE_LIMIT_LATENCY_MS = 5
/** ... and asks the caller to wait this long. */
export const FAULT_RETRY_AFTER_MS = 1_000

export function emptyFaultSpec(): FaultSpec {
  return {timeout: 0, rate_limit: 0, partial_write: 0}
}

/** Parses `kind=probability,...`; every problem is a one-line ValidationError naming the flag. */
export function parseFaults(text: string, flag = '--faults'): FaultSpec {
  const spec = emptyFaultSpec()
  const seen = new Set<Kind>()
  const parts = text.split(',').map((p) => p.trim())
  if (text.trim() === '') throw new ValidationError([`${flag}: empty; expected e.g. timeouts=0.05,rate_limit=0.02`])
  for (const part of parts) {
    if (part === '') throw new ValidationError([`${flag}: empty entry in "${text}"`])
    const eq = part.indexOf('=')
    if (eq < 0) throw new ValidationError([`${flag}: "${part}" is not kind=probability`])
    const name = part.slice(0, eq).trim()
    const kind = Object.hasOwn(KIND_NAMES, name) ? KIND_NAMES[name] : undefined
    if (kind === undefined) {
      throw new ValidationError([`${flag}: unknown fault kind "${name}" (known: timeouts, rate_limit, partial_write)`])
    }
    if (seen.has(kind)) throw new ValidationError([`${flag}: fault kind "${name}" given twice`])
    seen.add(kind)
    const raw = part.slice(eq + 1).trim()
    const value = raw === '' ? Number.NaN : Number(raw)
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw new ValidationError([`${flag}: ${name}=${raw} must be a probability between 0 and 1`])
    }
    spec[kind] = value
  }
  const total = spec.timeout + spec.rate_limit + spec.partial_write
  if (total > 1 + 1e-9) {
    throw new ValidationError([`${flag}: probabilities add up to ${Number(total.toFixed(6))}, more than 1`])
  }
  return spec
}

/** The spec written back the way parseFaults reads it, for run metadata. */
export function formatFaults(spec: FaultSpec): string {
  return `timeouts=${spec.timeout},rate_limit=${spec.rate_limit},partial_write=${spec.partial_write}`
}

/** A uniform number in [0, 1) from the hash of one attempt's coordinates. */
export function faultRoll(seed: number, point: Pick<FaultPoint, 'requestId' | 'call' | 'attempt'>): number {
  const hex = sha256(`${seed}\u0000${point.requestId}\u0000${point.call}\u0000${point.attempt}`).slice(0, 13)
  return Number.parseInt(hex, 16) / 2 ** 52
}

export function createFaultInjector(spec: FaultSpec, seed: number): FaultInjector {
  const timeoutEnd = spec.timeout
  const rateEnd = timeoutEnd + spec.rate_limit
  const partialEnd = rateEnd + spec.partial_write
  return {
    decide(point: FaultPoint): Fault | null {
      if (partialEnd === 0) return null
      const roll = faultRoll(seed, point)
      if (roll < timeoutEnd) return {kind: 'timeout', latency_ms: FAULT_TIMEOUT_MS}
      if (roll < rateEnd) {
        return {kind: 'rate_limit', latency_ms: FAULT_RATE_LIMIT_LATENCY_MS, retry_after_ms: FAULT_RETRY_AFTER_MS}
      }
      // A lost response only means something for a call that changes state.
      if (roll < partialEnd && (point.risk === 'write_low' || point.risk === 'write_high')) {
        return {kind: 'partial_write', latency_ms: 0}
      }
      return null
    },
  }
}
