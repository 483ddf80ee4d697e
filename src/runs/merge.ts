import {existsSync, realpathSync} from 'node:fs'
import path from 'node:path'
import {UnderstudyError} from '../errors.js'
import type {RunInfo} from '../store/api.js'
import {mergeRunsInto, type MergedRun} from '../store/merge.js'
import {ShadowOptions} from '../store/run-config.js'
import {openStore} from '../store/sqlite.js'
import {canonicalJson} from '../util/canonical.js'

/**
 * `understudy runs merge <db…> --into <db>`: the N shard runs of one sharded replay
 * (`shadow --shard i/N`, one per store) joined into one run. The shards must be one run: the same
 * bundles, traffic and options, each shard i of N exactly once, every one completed. Anything else
 * is one error naming the store it is about, and nothing is written.
 */

export type ShardRun = {file: string; run: RunInfo; index: number; count: number}
export type MergeResult = {run: RunInfo; into: string; shards: {file: string; run_id: string; shard: string; requests: number}[]}

export function mergeShards(files: readonly string[], into: string): MergeResult {
  if (files.length === 0) throw new UnderstudyError('runs merge: name the shard stores to merge')
  const shards = files.map(readShard)
  checkOneRun(shards, into)
  const first = shards[0]!
  const config = {...first.run.config, shard: null}
  const merged: MergedRun = {
    name: first.run.name,
    candidate_ref: first.run.candidate_ref,
    candidate_hash: first.run.candidate_hash,
    baseline_ref: first.run.baseline_ref,
    baseline_hash: first.run.baseline_hash,
    traffic_file: first.run.traffic_file,
    traffic_hash: first.run.traffic_hash,
    model: first.run.model,
    repeat: first.run.repeat,
    faults: first.run.faults,
    seed: first.run.seed,
    config,
    started_at: shards.map((s) => s.run.started_at).sort()[0]!,
    finished_at: shards.map((s) => s.run.finished_at ?? '').sort().at(-1) || null,
    requests_total: shards.every((s) => s.run.requests_total !== null) ? shards.reduce((n, s) => n + s.run.requests_total!, 0) : null,
  }
  const ordered = [...shards].sort((a, b) => a.index - b.index)
  const hashes = [first.run.candidate_hash, ...(first.run.baseline_hash === null ? [] : [first.run.baseline_hash])]
  const run = mergeRunsInto(into, ordered.map((s) => ({file: s.file, runId: s.run.id})), merged, hashes)
  return {
    run,
    into,
    shards: ordered.map((s) => ({file: s.file, run_id: s.run.id, shard: `${s.index}/${s.count}`, requests: s.run.requests_done})),
  }
}

/** The one shard run a store holds, completed. */
function readShard(file: string): ShardRun {
  if (!existsSync(file)) throw new UnderstudyError(`${file}: no trace store there`)
  const store = openStore(file, {readonly: true})
  try {
    const shardRuns = store.listRuns().flatMap((run) => {
      const opts = ShadowOptions.safeParse(run.config)
      return opts.success && opts.data.shard !== null ? [{file, run, index: opts.data.shard.index, count: opts.data.shard.count}] : []
    })
    if (shardRuns.length === 0) throw new UnderstudyError(`${file}: holds no shard run (one started by \`understudy shadow --shard i/N\`)`)
    if (shardRuns.length > 1) {
      throw new UnderstudyError(`${file}: holds ${shardRuns.length} shard runs (${shardRuns.map((s) => s.run.id).join(', ')}); a shard store holds one: delete the others with \`understudy runs delete\` or replay the shard into a new store`)
    }
    const shard = shardRuns[0]!
    if (shard.run.status !== 'completed') {
      const fix = shard.run.status === 'failed' ? 'replay the shard into a new store' : `finish it with \`understudy shadow --resume ${shard.run.id} --db ${file}\``
      throw new UnderstudyError(`${file}: shard ${shard.index}/${shard.count} (run ${shard.run.id}) is ${shard.run.status}, not completed; ${fix}`)
    }
    return shard
  } finally {
    store.close()
  }
}

/** Same inputs, same count, each index once, and the target none of them. */
function checkOneRun(shards: readonly ShardRun[], into: string): void {
  const first = shards[0]!
  const target = canonicalPath(into)
  for (const s of shards) {
    if (canonicalPath(s.file) === target) throw new UnderstudyError(`${s.file}: is both a shard and the --into store; merge into another file`)
  }
  for (const s of shards.slice(1)) {
    const why = difference(first.run, s.run)
    if (why !== null) throw new UnderstudyError(`${s.file}: shard ${s.index}/${s.count} (run ${s.run.id}) is not of the same run as ${first.file}: ${why}`)
    if (s.count !== first.count) throw new UnderstudyError(`${s.file}: shard ${s.index}/${s.count}, but ${first.file} is shard ${first.index}/${first.count}: the shard counts differ`)
  }
  const byIndex = new Map<number, ShardRun>()
  for (const s of shards) {
    const seen = byIndex.get(s.index)
    if (seen !== undefined) throw new UnderstudyError(`${s.file}: shard ${s.index}/${s.count} again (it is also ${seen.file}, run ${seen.run.id})`)
    byIndex.set(s.index, s)
  }
  const missing: number[] = []
  for (let i = 1; i <= first.count; i++) if (!byIndex.has(i)) missing.push(i)
  if (missing.length > 0) {
    const given = [...shards].sort((a, b) => a.index - b.index).map((s) => `${s.file} ${s.index}/${s.count}`).join(', ')
    throw new UnderstudyError(`runs merge: shard${missing.length === 1 ? '' : 's'} ${missing.map((i) => `${i}/${first.count}`).join(', ')} missing (given: ${given})`)
  }
}

/** What makes two shard runs not one run, or null. The shard index is what may differ. */
function difference(a: RunInfo, b: RunInfo): string | null {
  const fields: [string, unknown, unknown][] = [
    ['candidate bundle hash', a.candidate_hash, b.candidate_hash],
    ['baseline bundle hash', a.baseline_hash, b.baseline_hash],
    ['traffic hash', a.traffic_hash, b.traffic_hash],
    ['model', a.model, b.model],
    ['repeat', a.repeat, b.repeat],
    ['faults', a.faults, b.faults],
    ['seed', a.seed, b.seed],
  ]
  for (const [name, x, y] of fields) if (x !== y) return `${name} differs (${String(y)} here, ${String(x)} there)`
  const ca = withoutShardIndex(a.config)
  const cb = withoutShardIndex(b.config)
  const keys = [...new Set([...Object.keys(ca), ...Object.keys(cb)])].sort()
  const differing = keys.filter((k) => k !== 'shard' && canonicalJson(ca[k] ?? null) !== canonicalJson(cb[k] ?? null))
  if (differing.length > 0) return `options differ: ${differing.join(', ')}`
  return null
}

function withoutShardIndex(config: Record<string, unknown>): Record<string, unknown> {
  return {...config, shard: null}
}

function canonicalPath(file: string): string {
  const abs = path.resolve(file)
  try {
    return realpathSync(abs)
  } catch {
    return abs
  }
}
