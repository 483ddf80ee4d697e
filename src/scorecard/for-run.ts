import {goldenRates} from '../eval/golden-rates.js'
import {summarizeRun, type RunSummary} from '../report/summary.js'
import type {TraceStore} from '../store/api.js'
import {scorecard, type Scorecard} from './scorecard.js'
import type {Thresholds} from './thresholds.js'

/** A run's summary and its scorecard, golden expectations included: what `scorecard` and `report` show. */
export async function scorecardForRun(store: TraceStore, runId: string, thresholds: Thresholds): Promise<{summary: RunSummary; card: Scorecard}> {
  const summary = summarizeRun(store, runId)
  const golden = await goldenRates(store, summary.run)
  return {summary, card: scorecard(summary, thresholds, golden)}
}
