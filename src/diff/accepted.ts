import {z} from 'zod'
import {matchesCause} from './cause.js'

/**
 * Accepted differences: cause ids (src/diff/cause.ts) a reviewer looked at and accepted, with who,
 * when and why. A request whose cause is accepted is counted as accepted, apart from its class and
 * from every figure the scorecard judges (as a skipped line is), and listed as accepted: never
 * hidden. An entry whose cause no run request has any more is stale. Pure: reading and writing
 * the file is src/runs/accepted-file.ts's.
 */

export const ACCEPTED_FILE = 'understudy.accepted.yaml'

export const AcceptedEntry = z.strictObject({
  /** A cause id as `diff --by cause` prints it, or a prefix of at least 4 hex digits. */
  cause: z.string().regex(/^[0-9a-f]{4,64}$/, 'a cause id: at least 4 lower-case hex digits, as `understudy diff <run> --by cause` prints them'),
  by: z.string().trim().min(1, 'who accepted it'),
  at: z.union([z.iso.date(), z.iso.datetime({offset: true})], {error: 'a date (2026-12-04) or an ISO date-time with offset'}),
  reason: z.string().trim().min(1, 'why it was accepted'),
  /** What the cause was when accepted (its class and description), for a reader of the file. */
  class: z.enum(['regression', 'behaviour_change', 'improvement', 'benign']).optional(),
  description: z.string().optional(),
  /** The run it was accepted on. */
  run: z.string().optional(),
})
export type AcceptedEntry = z.infer<typeof AcceptedEntry>

export const AcceptedFile = z.strictObject({
  version: z.literal(1).default(1),
  accepted: z.array(AcceptedEntry).default([]),
})
export type AcceptedFile = z.infer<typeof AcceptedFile>

/** The entry accepting cause `id` (the first in file order), or undefined. */
export function acceptedEntryFor(id: string, entries: readonly AcceptedEntry[]): AcceptedEntry | undefined {
  for (const e of entries) if (matchesCause(id, e.cause)) return e
  return undefined
}

/** The entries that accept none of `seen` (the cause ids a run's requests have): stale. */
export function staleEntries(entries: readonly AcceptedEntry[], seen: Iterable<string>): AcceptedEntry[] {
  const ids = [...seen]
  return entries.filter((e) => !ids.some((id) => matchesCause(id, e.cause)))
}
