import {baseSideOf, compareGroup} from '../diff/compare.js'
import type {RunInfo} from '../store/api.js'
import {GoldenRatesAccumulator, type GoldenTally} from './golden-rates.js'
import {SummaryBuilder, type SummaryPartial} from './summary.js'
import {taskRef, type GroupTask, type TaskRef} from './task.js'

export type SummaryTaskArgs = {
  run: RunInfo
}

/** A range's run summary and golden tally. */
export type SummaryTaskTotal = {summary: SummaryPartial; golden: GoldenTally}

/**
 * The run summary's and golden rates' pass over a range of a run: each request compared and added
 * to the range's summary, each trace judged against the golden expectations stored with it.
 * Nothing is handed back per request: the range's summary comes back whole, to be absorbed in line
 * order (SummaryBuilder.absorb), which costs far less than passing 100k requests between threads.
 */
export function summaryTask(args: SummaryTaskArgs): GroupTask<never, SummaryTaskTotal> {
  const baseSide = baseSideOf(args.run)
  const builder = new SummaryBuilder(args.run, baseSide)
  const golden = new GoldenRatesAccumulator(args.run)
  return {
    map(group) {
      // Answer word diffs are only worth computing for the regressions kept in full (the builder does).
      builder.add(compareGroup(group, baseSide, {answerParts: false}))
      for (const trace of group.traces) golden.add(trace)
      return undefined
    },
    finish: () => ({summary: builder.partial(), golden: golden.tally()}),
  }
}

export function summaryTaskRef(args: SummaryTaskArgs): TaskRef<SummaryTaskArgs, never, SummaryTaskTotal> {
  // The summary and the golden suite look at failing guardrail results only.
  return taskRef(import.meta.url, 'summaryTask', summaryTask, args, {guardrails: 'failed'})
}
