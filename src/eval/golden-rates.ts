import {baseSideOf} from '../diff/compare.js'
import type {GoldenRates} from '../scorecard/scorecard.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {goldenPassRate} from './evaluate.js'
import {trafficFileFor} from './join.js'
import {evaluateRun} from './run.js'

/**
 * The golden-expectation pass rate of both sides of a run, for the scorecard's Quality dimension.
 * Null for a side when the run's traffic file is gone or carries no expectations.
 */
export async function goldenRates(store: TraceStore, run: RunInfo): Promise<GoldenRates> {
  const file = trafficFileFor(run)
  if (file === null) return {base: null, cand: null}
  const opts = {suites: ['golden'] as const}
  const cand = goldenPassRate(await evaluateRun(store, run, file, opts, 'candidate'))
  if (cand === null) return {base: null, cand: null}
  const base = goldenPassRate(await evaluateRun(store, run, file, opts, baseSideOf(run)))
  return {base, cand}
}
