import {baseSideOf, compareGroup, type TraceGroup} from '../diff/compare.js'
import type {RunInfo} from '../store/api.js'
import {goldenTrafficCursor, GoldenRatesAccumulator, type GoldenTally} from './golden-rates.js'
import {SummaryBuilder, type SummaryPartial} from './summary.js'
import {taskRef, type GroupTask, type TaskRef} from './task.js'
import type {KeyedTrafficCursor} from './traffic-join.js'

export type SummaryTaskArgs = {
  run: RunInfo
  /** The run's traffic file, for the golden expectations; null when it is gone. */
  trafficFile: string | null
}

/** A range's run summary and golden tally (null without a traffic file). */
export type SummaryTaskTotal = {summary: SummaryPartial; golden: GoldenTally | null}

/**
 * The run summary's and golden rates' pass over a range of a run: each request compared and added
 * to the range's summary, each trace judged against the golden expectations of its traffic line
 * (the file read in step, decoding only lines with `expect`). Nothing is handed back per request:
 * the range's summary comes back whole, to be absorbed in line order (SummaryBuilder.absorb),
 * which costs far less than passing 100k requests between threads.
 */
export function summaryTask(args: SummaryTaskArgs): GroupTask<never, SummaryTaskTotal> {
  const baseSide = baseSideOf(args.run)
  const builder = new SummaryBuilder(args.run, baseSide)
  const golden = new GoldenRatesAccumulator(args.run)
  let cursor: KeyedTrafficCursor | null = null
  const judge = (group: TraceGroup, record: Parameters<GoldenRatesAccumulator['add']>[0]): void => {
    for (const trace of group.traces) golden.add(record, trace)
  }
  return {
    map(group) {
      // Answer word diffs are only worth computing for the regressions kept in full (the builder does).
      builder.add(compareGroup(group, baseSide, {answerParts: false}))
      if (args.trafficFile === null) return undefined
      cursor ??= goldenTrafficCursor(args.trafficFile)
      const record = cursor.recordInChunk(group.line, group.request_id)
      if (record !== undefined) {
        judge(group, record)
        return undefined
      }
      // Awaited only when the next chunk of the file must be read.
      return cursor.recordAt(group.line, group.request_id).then((r) => {
        judge(group, r)
        return undefined
      })
    },
    finish: () => ({summary: builder.partial(), golden: args.trafficFile === null ? null : golden.tally()}),
    close: async () => {
      await cursor?.close()
    },
  }
}

export function summaryTaskRef(args: SummaryTaskArgs): TaskRef<SummaryTaskArgs, never, SummaryTaskTotal> {
  return taskRef(import.meta.url, 'summaryTask', summaryTask, args)
}
