import {baseSideOf, compareGroup, groupByRequest} from '../diff/compare.js'
import {goldenTrafficCursor, GoldenRatesAccumulator} from '../eval/golden-rates.js'
import {trafficFileFor} from '../eval/join.js'
import {resolveRun, SummaryBuilder, type RunSummary} from '../report/summary.js'
import type {TraceStore} from '../store/api.js'
import {scorecard, type Scorecard} from './scorecard.js'
import type {Thresholds} from './thresholds.js'

/**
 * A run's summary and its scorecard, golden expectations included: what `scorecard` and `report`
 * show. One pass over the run's traces feeds both the summary and both sides' golden evaluation,
 * with the traffic file read once, in step (both are in line order), decoding only the lines with
 * expectations: reading the store is most of the cost, so it is read once.
 */
export async function scorecardForRun(store: TraceStore, runId: string, thresholds: Thresholds): Promise<{summary: RunSummary; card: Scorecard}> {
  const run = resolveRun(store, runId)
  const baseSide = baseSideOf(run)
  const builder = new SummaryBuilder(run, baseSide)
  const file = trafficFileFor(run)
  const golden = new GoldenRatesAccumulator(run)
  const cursor = file === null ? null : goldenTrafficCursor(file)
  try {
    for (const group of groupByRequest(store.iterateTraces(run.id))) {
      // Answer word diffs are only worth computing for the regressions kept in full (the builder does).
      builder.add(compareGroup(group, baseSide, {answerParts: false}))
      if (cursor === null) continue
      // Awaited only when the next chunk of the file must be read.
      let record = cursor.recordInChunk(group.line, group.request_id)
      if (record === undefined) record = await cursor.recordAt(group.line, group.request_id)
      for (const trace of group.traces) golden.add(record, trace)
    }
  } finally {
    await cursor?.close()
  }
  const summary = builder.finish()
  return {summary, card: scorecard(summary, thresholds, cursor === null ? {base: null, cand: null} : golden.rates())}
}
