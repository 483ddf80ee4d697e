import type {AcceptedEntry} from '../diff/accepted.js'
import {baseSideOf} from '../diff/compare.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {goldenRatesOf, type GoldenRates} from './golden-rates.js'
import {mapRun, type MapRunOptions} from './map-run.js'
import {SummaryBuilder, type RunSummary} from './summary.js'
import {summaryTaskRef} from './summary-task.js'

/** Everything a run's scorecard and reports are made from. */
export type RunSummaryWithGolden = {summary: RunSummary; golden: GoldenRates}

/**
 * A run's summary and both sides' golden pass rates: what `scorecard` and `report` show. One pass
 * over the run's traces feeds both (golden by the expectations stored with the traces): reading the
 * store is most of the cost, so it is read once, split across threads for a large run
 * (src/runs/map-run.ts), each range's summary absorbed in line order.
 */
export async function runSummary(
  store: TraceStore,
  run: RunInfo,
  options: MapRunOptions & {accepted?: readonly AcceptedEntry[]} = {},
): Promise<RunSummaryWithGolden> {
  const {accepted = [], ...mapOptions} = options
  const builder = new SummaryBuilder(run, baseSideOf(run), accepted)
  const parts = await mapRun(store, run.id, summaryTaskRef(accepted.length === 0 ? {run} : {run, accepted: [...accepted]}), () => {}, mapOptions)
  // Ranges come back in line order, so absorbing them in turn is one pass over the run.
  for (const part of parts) builder.absorb(part.summary)
  const summary = builder.finish()
  const golden = goldenRatesOf(parts.map((p) => p.golden))
  return {summary, golden}
}
