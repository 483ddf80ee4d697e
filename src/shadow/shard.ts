import {ValidationError} from '../errors.js'
import {sha256} from '../util/canonical.js'
import type {Bundle} from '../bundle/schema.js'
import type {LineKeys} from '../traffic/reader.js'
import type {TrafficRecord} from '../traffic/schema.js'

/**
 * Sharded replay (`understudy shadow --shard i/N`, docs/scale-out.md): N processes, each replaying
 * the traffic lines of its shard into its own store, merged afterwards by `runs merge`.
 *
 * The partition is by session: every request of a session lands in one shard, so whatever a
 * session carries from one request to the next stays in one process. A record without a
 * `session_id` is its own session (keyed by its request id); a line that is not a record at all is
 * keyed by its id when one could be read, else by `line-<n>`. The shard of a key is
 *
 *     1 + (uint32 big-endian of the first 4 bytes of SHA-256(UTF-8 key))  mod  N
 *
 * which depends on the key and N alone: stable across processes, machines, Node versions and the
 * order lines are read in, so N pods each given only `i` split the file without talking to each other.
 */

export type Shard = {index: number; count: number}

/** `i/N` with 1 ≤ i ≤ N; one located message otherwise. */
export function parseShard(text: string, source = '--shard'): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text)
  if (m === null) throw new ValidationError([`${source} "${text}": expected i/N, e.g. 2/4 (shard 2 of 4)`])
  const index = Number(m[1])
  const count = Number(m[2])
  if (count < 1 || count > MAX_SHARDS) throw new ValidationError([`${source} "${text}": the shard count must be 1 to ${MAX_SHARDS}`])
  if (index < 1 || index > count) throw new ValidationError([`${source} "${text}": the shard must be 1 to ${count}`])
  return {index, count}
}

export const MAX_SHARDS = 10_000

export function formatShard(s: Shard): string {
  return `${s.index}/${s.count}`
}

/** The shard (1-based) a partition key falls in. */
export function shardOfKey(key: string, count: number): number {
  // The first 4 bytes of the digest are its first 8 hex digits (sha256: one call, no Hash object).
  return 1 + (Number.parseInt(sha256(key).slice(0, 8), 16) % count)
}

/** The partition key of a record: its session, else its own id. */
export function recordShardKey(record: Pick<TrafficRecord, 'id' | 'session_id'>): string {
  return record.session_id ?? record.id
}

/** The partition key of a line that did not parse as a record. */
export function lineShardKey(id: string | null, line: number): string {
  return id ?? `line-${line}`
}

/**
 * The bundles' windows counted across requests: a user's or a tenant's calls per minute, a
 * tenant's quotas. They are the only state one request's replay leaves for another's (all of it
 * keyed by tenant, src/runtime/rate-limit.ts); sorted names, [] when the bundles set none.
 */
export function crossRequestWindows(bundles: readonly (Bundle | null)[]): string[] {
  const found = new Set<string>()
  for (const b of bundles) {
    if (b === null) continue
    for (const t of b.manifest.tools) {
      if (t.rate_limits?.per_user_per_minute !== undefined) found.add('rate_limits.per_user_per_minute')
      if (t.rate_limits?.per_tenant_per_minute !== undefined) found.add('rate_limits.per_tenant_per_minute')
    }
    if (Object.keys(b.manifest.tenant_quotas).length > 0) found.add('tenant_quotas')
  }
  return [...found].sort()
}

/**
 * What a shard cannot see: windows counted over more than one session (crossRequestWindows) are
 * counted per process, so in a sharded run each shard counts only its own share. Returns the
 * notice to give, or null when the bundles set none.
 */
export function crossSessionNotice(bundles: readonly (Bundle | null)[], shard: Shard): string | null {
  const found = crossRequestWindows(bundles)
  if (found.length === 0 || shard.count === 1) return null
  return (
    `--shard ${formatShard(shard)}: ${found.join(', ')} count calls across sessions, and each shard counts only its own sessions; ` +
    'a limit a single process would reach may not be reached in a shard (the merged run can differ there)'
  )
}

/**
 * The partition key of a line that is a JSON object, from its top-level keys, before its schema
 * check: the same key recordShardKey gives once it is a record, so a shard can drop another
 * shard's lines unchecked.
 */
export function keysShardKey(keys: LineKeys, line: number): string {
  return keys.session ?? lineShardKey(keys.id, line)
}
