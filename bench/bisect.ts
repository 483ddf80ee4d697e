import path from 'node:path'
import type {BisectResult} from '../src/bisect/bisect.js'
import {mustSucceed, runCli} from './cli.js'
import {shadowRun, startSandboxServer} from './shadow.js'
import {SCENARIO_MODEL, type Scenario, type Workspace} from './workspace.js'

export type BisectFigures = {
  result: BisectResult
  /** Model calls of a naive bisect: every tried subset replayed over every request that differs, at the run's candidate calls per request. */
  naive_all: number
  wall_s: number
  shadow_calls: number
}

let measured: Promise<BisectFigures> | null = null

/**
 * Bisect of the support-refunds v2 change (v2 against v1 over the 720 recorded requests) through
 * the Ollama-protocol sandbox: one shadow run first (its model answers fill the store's cache, as
 * any run does), then `understudy bisect --class regression` in its own process. Measured once for
 * the figures that read it.
 */
export function measureBisect(ws: Workspace, sc: Scenario): Promise<BisectFigures> {
  measured ??= (async () => {
    const server = await startSandboxServer(sc)
    try {
      const db = ws.file('bisect.db')
      const run = await shadowRun(sc, path.join(sc.dir, 'traffic.jsonl'), db, {
        baseline: sc.baseline,
        model: `ollama:${SCENARIO_MODEL}`,
        ollama_host: server.url,
        concurrency: 8,
      })
      const cli = mustSucceed(await runCli(ws, ['bisect', run.run_id, '--db', db, '--class', 'regression', '--json']), 'understudy bisect')
      const result = JSON.parse(cli.stdout) as BisectResult
      const tried = result.replays.hybrids - result.invalid.length
      return {result, naive_all: tried * result.differing.candidate_model_calls, wall_s: cli.wall_s, shadow_calls: result.differing.candidate_model_calls}
    } finally {
      await server.stop()
    }
  })()
  return measured
}
