import {baseSideOf} from '../diff/compare.js'
import {goldenRatesOf, type GoldenTally} from '../eval/golden-rates.js'
import {trafficFileFor} from '../eval/join.js'
import {mapRun, type MapRunOptions} from '../parallel/map-run.js'
import {resolveRun, SummaryBuilder, type RunSummary} from '../report/summary.js'
import {summaryTaskRef} from '../report/summary-task.js'
import type {TraceStore} from '../store/api.js'
import {scorecard, type Scorecard} from './scorecard.js'
import type {Thresholds} from './thresholds.js'

/**
 * A run's summary and its scorecard, golden expectations included: what `scorecard` and `report`
 * show. One pass over the run's traces feeds both the summary and both sides' golden evaluation,
 * with the traffic file read in step: reading the store is most of the cost, so it is read once,
 * split across threads for a large run (src/parallel/map-run.ts), the facts folded in line order.
 */
export async function scorecardForRun(
  store: TraceStore,
  runId: string,
  thresholds: Thresholds,
  options: MapRunOptions = {},
): Promise<{summary: RunSummary; card: Scorecard}> {
  const run = resolveRun(store, runId)
  const builder = new SummaryBuilder(run, baseSideOf(run))
  const trafficFile = trafficFileFor(run)
  const tallies = await mapRun(store, run.id, summaryTaskRef({run, trafficFile}), (f) => builder.addFacts(f), options)
  const summary = builder.finish()
  const golden = trafficFile === null ? {base: null, cand: null} : goldenRatesOf(tallies.filter((t): t is GoldenTally => t !== null))
  return {summary, card: scorecard(summary, thresholds, golden)}
}
