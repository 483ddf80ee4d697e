import {EvalAccumulator, type EvalOptions, type EvalSummary} from '../eval/evaluate.js'
import type {SuiteName} from '../eval/types.js'
import type {TraceSide} from '../trace/schema.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {evalBundles, type EvalBundles} from './bundles.js'
import {joinTraffic, requireRunTrafficFile} from './traffic-join.js'

/**
 * Streams a run's traces of one side (the candidate unless told) with their traffic lines through
 * the suites; `trafficFile` null reads none (the golden suite needs none: it judges what the traces store).
 */
export async function evaluateRun(
  store: TraceStore,
  run: RunInfo,
  trafficFile: string | null,
  opts: EvalOptions,
  side: TraceSide = 'candidate',
): Promise<EvalSummary> {
  const acc = new EvalAccumulator(run.id, opts)
  for await (const {trace, record} of joinTraffic(store.iterateTraces(run.id, {side}), trafficFile)) acc.add(record, trace)
  return acc.summary()
}

export type RunEvaluation = {summary: EvalSummary; bundles: EvalBundles}

/**
 * A run's candidate through the suites, measured against the bundles evalBundles picks (`policy`
 * overriding them). The traffic file (`traffic`, else the run's own) must be there for every suite
 * but golden, which judges the expectations stored with the traces and reads no file.
 */
export async function evaluateRunSuites(
  store: TraceStore,
  run: RunInfo,
  opts: {suites: readonly SuiteName[]; traffic?: string; policy?: string},
): Promise<RunEvaluation> {
  const trafficFile = opts.suites.some((s) => s !== 'golden') ? requireRunTrafficFile(run, opts.traffic) : null
  const bundles = await evalBundles(run, opts.policy)
  const summary = await evaluateRun(store, run, trafficFile, {suites: opts.suites, ...bundles.options})
  return {summary, bundles}
}
