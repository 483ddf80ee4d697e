/**
 * The TUI runs list's VERDICT and REGR columns (#20): the scorecard colour and regression count of
 * each run, worked out lazily for the rows on screen (src/tui/run-verdicts.ts). A store of `runs`
 * copies of one support-refunds v2 run (model-free replay, 720 requests, 1,440 traces each) is
 * built, then the list is drawn (`listRuns`) and the verdicts of one 24-row screen (9 runs), then
 * of all, are worked out as the TUI does. CPU time per run is the figure: it is how long keys wait
 * while one run is read on the TUI's thread.
 *
 *   node dist/bench/tui-verdicts.js <empty-dir> [runs]
 */
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {runSummary} from '../src/runs/run-summary.js'
import {scorecard} from '../src/scorecard/scorecard.js'
import {startShadow} from '../src/shadow/run.js'
import {openStore} from '../src/store/sqlite.js'
import {VerdictCache} from '../src/tui/run-verdicts.js'
import {scenarioPaths} from './workspace.js'

export type VerdictBenchResult = {runs: number; traces_per_run: number; list_ms: number; cpu_ms_median: number; cpu_ms_max: number; screen_s: number; all_s: number; cached_ms: number}

export async function measureRunVerdicts(dir: string, runs = 20): Promise<VerdictBenchResult> {
  const db = path.join(dir, 'tui-verdicts.db')
  const sc = scenarioPaths()
  const writer = openStore(db)
  try {
    const {run} = await startShadow({traffic: path.join(sc.dir, 'traffic.jsonl'), candidate: sc.candidate, fixtures: sc.fixtures, model: 'recorded', approver: 'pending'}, writer)
    const traces = [...writer.iterateTraces(run.id)]
    for (let i = 1; i < runs; i++) {
      const copy = writer.createRun({
        name: `copy ${i}`,
        candidate_ref: run.candidate_ref,
        candidate_hash: run.candidate_hash,
        baseline_ref: run.baseline_ref,
        baseline_hash: run.baseline_hash,
        traffic_file: run.traffic_file,
        traffic_hash: run.traffic_hash,
        model: run.model,
        repeat: run.repeat,
        faults: run.faults,
        seed: run.seed,
        config: run.config,
      })
      writer.writeTraces(copy.id, traces)
      writer.finishRun(copy.id, 'completed')
    }
  } finally {
    writer.close()
  }
  const store = openStore(db, {readonly: true})
  try {
    let t0 = performance.now()
    const listed = store.listRuns()
    const list_ms = performance.now() - t0
    const cpu: number[] = []
    const cache = new VerdictCache(async (r) => {
      const reader = openStore(db, {readonly: true})
      const c0 = process.cpuUsage()
      try {
        const {summary, golden} = await runSummary(reader, r)
        return {colour: scorecard(summary, undefined, golden).colour, regressions: summary.regressions.count}
      } finally {
        const c = process.cpuUsage(c0)
        cpu.push((c.user + c.system) / 1000)
        reader.close()
      }
    })
    t0 = performance.now()
    await cache.fill(listed.slice(0, 9), () => {}, () => false)
    const screen_s = (performance.now() - t0) / 1000
    await cache.fill(listed, () => {}, () => false)
    const all_s = (performance.now() - t0) / 1000
    t0 = performance.now()
    await cache.fill(listed, () => {}, () => false)
    const cached_ms = performance.now() - t0
    cpu.sort((a, b) => a - b)
    return {runs: listed.length, traces_per_run: store.countTraces(listed[0]!.id), list_ms, cpu_ms_median: cpu[cpu.length >> 1]!, cpu_ms_max: cpu.at(-1)!, screen_s, all_s, cached_ms}
  } finally {
    store.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir, runs] = process.argv.slice(2)
  if (!dir) throw new Error('usage: node dist/bench/tui-verdicts.js <empty-dir> [runs]')
  process.stdout.write(JSON.stringify(await measureRunVerdicts(dir, runs === undefined ? 20 : Number(runs))) + '\n')
}
