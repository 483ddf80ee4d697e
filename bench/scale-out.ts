import {setTimeout as sleep} from 'node:timers/promises'
import {startOllamaServer, type OllamaServer} from '../src/model/ollama-server.js'
import {createScriptedModel} from '../src/model/scripted.js'
import type {ModelClient} from '../src/model/types.js'
import {mergeShards} from '../src/runs/merge.js'
import {shadowRun, type ShadowRun} from './shadow.js'
import {SCENARIO_MODEL, type Scenario, type Workspace} from './workspace.js'

/**
 * Scale-out figures (#21, docs/scale-out.md), each a ratio of two things measured in the same
 * bench run: on a shared machine only ratios mean anything.
 */

export type ShardFigures = {
  shards: number
  requests: number
  /** One process over the whole file: its process wall time. */
  single_s: number
  /** The shard processes started together, until the last one ends. */
  shards_s: number
  merge_s: number
  shard_walls: number[]
  merged_requests: number
}

/** N shard processes of the same traffic at once, then `runs merge`, against one process (`single`). */
export async function measureShards(ws: Workspace, sc: Scenario, traffic: string, single: ShadowRun, count: number): Promise<ShardFigures> {
  const t0 = performance.now()
  const runs = await Promise.all(
    Array.from({length: count}, (_, i) => shadowRun(sc, traffic, ws.file(`shard-${i + 1}.db`), {shard: {index: i + 1, count}})),
  )
  const shards_s = (performance.now() - t0) / 1000
  const into = ws.file('merged.db')
  const t1 = performance.now()
  const merged = mergeShards(runs.map((r) => r.db), into)
  const merge_s = (performance.now() - t1) / 1000
  for (const r of runs) ws.remove(r.db)
  ws.remove(into)
  return {
    shards: count,
    requests: single.requests,
    single_s: single.wall_s,
    shards_s,
    merge_s,
    shard_walls: runs.map((r) => r.wall_s),
    merged_requests: merged.run.requests_done,
  }
}

export type ServerScaling = {delay_ms: number; requests: number; per_s: number[]; calls: number[][]}

/**
 * Throughput of one replay over 1, 2 … `max` Ollama-protocol servers, each answering one call at a
 * time after a fixed delay (as an Ollama with OLLAMA_NUM_PARALLEL=1 serves one model): the model
 * servers, not this machine's CPUs, bound the run, so the figure is how well `--ollama-host a,b,c`
 * spreads the calls. The servers run in this process; the replay in a child, `--concurrency 8`.
 */
export async function measureServerScaling(ws: Workspace, sc: Scenario, traffic: string, max: number, delayMs: number): Promise<ServerScaling> {
  const servers: OllamaServer[] = []
  try {
    for (let i = 0; i < max; i++) {
      const model = serialWithDelay(createScriptedModel({name: SCENARIO_MODEL, seed: 0}), delayMs)
      servers.push(await startOllamaServer({resolveModel: () => model, models: [SCENARIO_MODEL]}))
    }
    const per_s: number[] = []
    const calls: number[][] = []
    let requests = 0
    for (let n = 1; n <= max; n++) {
      const hosts = servers.slice(0, n).map((s) => s.url)
      const before = servers.map((s) => s.stats.requests)
      const run = await shadowRun(sc, traffic, ws.file(`servers-${n}.db`), {model: `ollama:${SCENARIO_MODEL}`, ollama_host: hosts.join(','), concurrency: 8, skills: []})
      ws.remove(run.db)
      requests = run.requests
      per_s.push(run.requests / run.replay_s)
      calls.push(servers.slice(0, n).map((s, i) => s.stats.requests - before[i]!))
    }
    return {delay_ms: delayMs, requests, per_s, calls}
  } finally {
    for (const s of servers) await s.close()
  }
}

/** A model that answers one call at a time, each after `delayMs`. */
function serialWithDelay(inner: ModelClient, delayMs: number): ModelClient {
  let queue: Promise<unknown> = Promise.resolve()
  return {
    id: inner.id,
    chat(request, signal) {
      const answer = queue.then(async () => {
        await sleep(delayMs)
        return inner.chat(request, signal)
      })
      queue = answer.catch(() => {})
      return answer
    },
  }
}
