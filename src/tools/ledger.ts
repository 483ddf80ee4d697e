import type {ToolContract} from '../bundle/schema.js'
import {canonicalJson, sha256} from '../util/canonical.js'

/**
 * Per-request memory of what writes have done, so that a retry never executes a write twice.
 *
 * Tools with `idempotency: required` carry a key derived from the request, the tool and the
 * arguments; once a write with that key has happened (answered ok, or executed with its response
 * lost) the ledger answers every later attempt itself. Writes without idempotency cannot be
 * deduplicated safely, so after an ambiguous failure the ledger only remembers that the outcome is
 * unknown, and the runtime refuses to repeat the call ("confirm before retry").
 */

/** sha256 over request id, tool name and canonical args; the first 24 hex digits. */
export function idempotencyKey(requestId: string, tool: string, args: Record<string, unknown>): string {
  return idempotencyKeyOf(requestId, tool, canonicalJson(args))
}

/** idempotencyKey for args already in canonical JSON (a caller that needs that form anyway). */
export function idempotencyKeyOf(requestId: string, tool: string, canonicalArgs: string): string {
  // NUL separators: no id/name pair can run into another's args.
  return sha256(`${requestId}\u0000${tool}\u0000${canonicalArgs}`).slice(0, 24)
}

export function needsIdempotencyKey(tool: ToolContract | undefined): boolean {
  return tool?.idempotency === 'required'
}

/** A write the runtime must not blindly repeat: it changes something and has no idempotency key. */
export function isUnkeyedWrite(tool: ToolContract | undefined): boolean {
  return tool !== undefined && tool.idempotency !== 'required' && tool.risk !== 'read'
}

/** How a call is recognised as "the same call" when it has no key. */
export function callSignature(tool: string, args: Record<string, unknown>): string {
  return callSignatureOf(tool, canonicalJson(args))
}

/** callSignature for args already in canonical JSON. */
export function callSignatureOf(tool: string, canonicalArgs: string): string {
  return `${tool}\u0000${canonicalArgs}`
}

export type LedgerEntry = {
  /** How the first execution ended as the runtime saw it: answered, or executed with the response lost. */
  outcome: 'ok' | 'partial_write'
  /** What the tool returned, as the sandbox knows it even when the caller never saw it. */
  result: unknown
}

export class OutcomeLedger {
  private readonly done = new Map<string, LedgerEntry>()
  private readonly ambiguous = new Set<string>()

  /** The recorded outcome of the write with this key, if it has happened. */
  lookup(key: string): LedgerEntry | undefined {
    return this.done.get(key)
  }

  /** The first execution wins: a later record for the same key never overwrites it. */
  record(key: string, entry: LedgerEntry): void {
    if (!this.done.has(key)) this.done.set(key, entry)
  }

  /** An unkeyed write failed ambiguously (timeout, lost response): it may or may not have happened. */
  markAmbiguous(signature: string): void {
    this.ambiguous.add(signature)
  }

  isAmbiguous(signature: string): boolean {
    return this.ambiguous.has(signature)
  }
}
