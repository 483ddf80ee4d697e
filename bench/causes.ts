/**
 * The cost of grouping a run's differences by cause (#19), in isolation: the run's requests are
 * compared in process as the summary compares them, and only the time spent in causeKey and the
 * tally is counted, then the final sort (which hashes one id per group). What `report` and
 * `diff --by cause` add to a run of this size, whatever the machine's load does to the rest.
 *
 *   node dist/bench/causes.js <store.db> <runId>
 */
import {fileURLToPath} from 'node:url'
import {CauseTally, causeKey} from '../src/diff/cause.js'
import {baseSideOf} from '../src/diff/compare.js'
import {compareTraces} from '../src/runs/group.js'
import {openStore} from '../src/store/sqlite.js'

export type CauseBenchResult = {requests: number; differing: number; groups: number; grouping_s: number; compare_s: number}

export function measureCauseGrouping(db: string, runId: string): CauseBenchResult {
  const store = openStore(db, {readonly: true})
  try {
    const run = store.getRun(runId)
    if (!run) throw new Error(`no run ${runId} in ${db}`)
    const tally = new CauseTally()
    let requests = 0
    let differing = 0
    let grouping = 0n
    const started = process.hrtime.bigint()
    for (const r of compareTraces(store.iterateTraces(run.id, {guardrails: 'failed'}), baseSideOf(run), {answerParts: false})) {
      requests++
      if (!r.diff || !r.classification) continue
      const t0 = process.hrtime.bigint()
      const key = causeKey(r.diff, r.classification)
      tally.add(key, r.request_id)
      grouping += process.hrtime.bigint() - t0
      if (key !== null) differing++
    }
    const t0 = process.hrtime.bigint()
    const groups = tally.groupsSorted().length
    grouping += process.hrtime.bigint() - t0
    const total = process.hrtime.bigint() - started
    return {requests, differing, groups, grouping_s: Number(grouping) / 1e9, compare_s: Number(total - grouping) / 1e9}
  } finally {
    store.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [db, runId] = process.argv.slice(2)
  if (!db || !runId) throw new Error('usage: node dist/bench/causes.js <store.db> <runId>')
  process.stdout.write(JSON.stringify(measureCauseGrouping(db, runId)) + '\n')
}
