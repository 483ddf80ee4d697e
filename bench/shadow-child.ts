/**
 * One shadow run in its own process, as `understudy shadow` does it (startShadow over a store file
 * on disk) but without the CLI around it, so the bench times the replay alone and reads this
 * process's own peak RSS. Prints one JSON line on stdout.
 *
 *   node dist/bench/shadow-child.js '{"db": "/tmp/x.db", "traffic": "…", "candidate": "…", …}'
 */
import {existsSync, statSync} from 'node:fs'
import {startShadow} from '../src/shadow/run.js'
import type {ShadowOptionsInput} from '../src/store/run-config.js'
import {openStore} from '../src/store/sqlite.js'

export type ShadowChildResult = {
  run_id: string
  requests: number
  /** From the first traffic line read to the last trace committed. */
  replay_s: number
  /** User + system CPU of the whole process (every thread) over the replay: from the run's creation to its end. */
  replay_cpu_s: number
  /** The whole process: start-up, bundle loading, hashing the traffic file, replay. */
  wall_s: number
  max_rss_kb: number
  status: Record<string, Record<string, number>>
  /** The store file's size once closed (its WAL checkpointed into it), bytes. */
  store_bytes: number
}

const t0 = performance.now()
const {db, threads, ...input} = JSON.parse(process.argv[2] ?? '{}') as ShadowOptionsInput & {db: string; threads?: number}
const store = openStore(db)
let out: Omit<ShadowChildResult, 'store_bytes'>
try {
  let cpu0: NodeJS.CpuUsage | undefined
  const r = await startShadow(input, store, {onRunCreated: () => (cpu0 = process.cpuUsage()), ...(threads === undefined ? {} : {threads})})
  const cpu = process.cpuUsage(cpu0)
  out = {
    run_id: r.run.id,
    requests: r.progress.requests + r.progress.skipped,
    replay_s: (Date.now() - r.progress.started_at_ms) / 1000,
    replay_cpu_s: (cpu.user + cpu.system) / 1e6,
    wall_s: (performance.now() - t0) / 1000,
    max_rss_kb: process.resourceUsage().maxRSS,
    status: r.progress.status,
  }
} finally {
  store.close()
}
const size = (file: string): number => (existsSync(file) ? statSync(file).size : 0)
process.stdout.write(JSON.stringify({...out, store_bytes: size(db) + size(`${db}-wal`)} satisfies ShadowChildResult) + '\n')
