import {baseSideOf} from '../diff/compare.js'
import {goldenRatesOf} from '../eval/golden-rates.js'
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
 * split across threads for a large run (src/parallel/map-run.ts), each range's summary absorbed in
 * line order.
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
  const parts = await mapRun(store, run.id, summaryTaskRef({run, trafficFile}), () => {}, options)
  // Ranges come back in line order, so absorbing them in turn is one pass over the run.
  for (const part of parts) builder.absorb(part.summary)
  const summary = builder.finish()
  const golden = trafficFile === null ? {base: null, cand: null} : goldenRatesOf(parts.flatMap((p) => (p.golden === null ? [] : [p.golden])))
  return {summary, card: scorecard(summary, thresholds, golden)}
}
