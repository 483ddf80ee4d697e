import type {AcceptedEntry} from '../diff/accepted.js'
import {baseSideOf, compareGroup} from '../diff/compare.js'
import {withAnswerParts} from '../diff/request-diff.js'
import type {RunInfo, TraceFilter} from '../store/api.js'
import {GoldenRatesAccumulator, type GoldenTally} from './golden-rates.js'
import {SummaryBuilder, type SummaryPartial} from './summary.js'
import {taskRef, type GroupTask, type TaskRef} from './task.js'

export type SummaryTaskArgs = {
  run: RunInfo
  /** Accepted differences (src/diff/accepted.ts): their requests are counted apart. */
  accepted?: AcceptedEntry[]
}

/** A range's run summary and golden tally. */
export type SummaryTaskTotal = {summary: SummaryPartial; golden: GoldenTally}

/**
 * The run summary's and golden rates' pass over a range of a run: each request compared and added
 * to the range's summary, each trace judged against the golden expectations stored with it.
 * Nothing is handed back per request: the range's summary comes back whole, to be absorbed in line
 * order (SummaryBuilder.absorb), which costs far less than passing 100k requests between threads.
 */
export function summaryTask(args: SummaryTaskArgs, range: TraceFilter = {}): GroupTask<never, SummaryTaskTotal> {
  const baseSide = baseSideOf(args.run)
  const builder = new SummaryBuilder(args.run, baseSide, args.accepted)
  const golden = new GoldenRatesAccumulator(args.run)
  // The range that starts the run has its first regressions kept in full whatever the others
  // hold, so it makes their answers' word diffs itself, while the other ranges are still being
  // read; a later range's are made at the end, for those the run keeps (SummaryBuilder.finish).
  const startsRun = range.fromLine === undefined
  return {
    map(group) {
      // Answer word diffs are only worth computing for the regressions kept in full (see above).
      // An accepted difference counts in no figure, its golden expectations included.
      if (builder.add(compareGroup(group, baseSide, {answerParts: false}))) return undefined
      for (const trace of group.traces) golden.add(trace)
      return undefined
    },
    finish: () => {
      const summary = builder.partial()
      if (startsRun) for (const r of summary.regressions.diffs) withAnswerParts(r.diff)
      return {summary, golden: golden.tally()}
    },
  }
}

export function summaryTaskRef(args: SummaryTaskArgs): TaskRef<SummaryTaskArgs, never, SummaryTaskTotal> {
  // The summary and the golden suite look at failing guardrail results only.
  return taskRef(import.meta.url, 'summaryTask', summaryTask, args, {guardrails: 'failed'})
}
