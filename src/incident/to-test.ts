import {existsSync} from 'node:fs'
import path from 'node:path'
import {UnderstudyError, ValidationError} from '../errors.js'
import {evaluateRequest} from '../eval/evaluate.js'
import {deriveExpectations, type ExpectOverrides} from '../eval/incident.js'
import {SUITES} from '../eval/types.js'
import {evalBundles} from '../runs/bundles.js'
import {findRecord, requireRunTrafficFile} from '../runs/traffic-join.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {readTraffic} from '../traffic/reader.js'
import {type Expectations, TrafficRecord} from '../traffic/schema.js'
import {writeFileAtomic} from '../util/atomic-write.js'
import {readRegularFileSync} from '../util/regular-file.js'

export type ToTestOptions = {
  requestId: string
  /** Golden file to append to; default golden.jsonl beside the traffic file. */
  out?: string
  /** Traffic file the run replayed (default: the run's own). */
  traffic?: string
  /** Bundle whose RBAC and deny rules say what was disallowed (default: evalBundles' choice). */
  policy?: string
  overrides?: ExpectOverrides
}

export type ToTestResult = {file: string; line: number; request_id: string; expect: Expectations}

/**
 * "Every incident creates a test": the candidate's traces of one request of a run judged by every
 * suite, and what went wrong turned into an `expect` block (src/eval/incident.ts) on the request's
 * recorded traffic line, appended to the golden file. Refused when nothing went wrong that an
 * expect block can capture, and for a request the file already holds.
 */
export async function incidentToTest(store: TraceStore, run: RunInfo, opts: ToTestOptions): Promise<ToTestResult> {
  const traces = [...store.iterateTraces(run.id, {side: 'candidate', requestId: opts.requestId})]
  if (traces.length === 0) throw new UnderstudyError(`run ${run.id} has no candidate trace for request ${opts.requestId}`)
  const trafficFile = requireRunTrafficFile(run, opts.traffic)
  const {record} = await findRecord(trafficFile, opts.requestId)
  const bundles = await evalBundles(run, opts.policy)
  const verdicts = traces.filter((t) => t.status !== 'skipped').flatMap((t) => evaluateRequest(record, t, {suites: SUITES, ...bundles.options}))
  const expect = deriveExpectations(record, traces, verdicts, opts.overrides)
  if (Object.keys(expect).length === 0) {
    throw new UnderstudyError(`request ${opts.requestId}: nothing went wrong that an expect block can capture; say what should happen with --forbid, --expect-tool or --decision`)
  }
  const out = opts.out ?? path.join(path.dirname(trafficFile), 'golden.jsonl')
  const written = await appendCase(out, {...record, labels: {...record.labels, incident_run: run.id}, expect})
  return {...written, request_id: opts.requestId, expect}
}

/**
 * Appends a case to a golden file, refusing one whose request id is already there. The whole file
 * is rewritten atomically (old content plus the new line), so nothing already there can be lost.
 */
async function appendCase(file: string, record: TrafficRecord): Promise<{file: string; line: number}> {
  const checked = TrafficRecord.safeParse(record)
  if (!checked.success) {
    const issue = checked.error.issues[0]
    throw new ValidationError([`${record.id}: ${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}`])
  }
  let existing = ''
  let lines = 0
  if (existsSync(file)) {
    for await (const l of readTraffic(file)) {
      lines = l.line
      const id = l.ok ? l.record.id : l.id
      if (id === record.id) throw new UnderstudyError(`${file}:${l.line}: request ${record.id} is already a test case; not adding it twice`)
    }
    existing = readRegularFileSync(file)
    lines = existing === '' ? 0 : existing.split('\n').length - (existing.endsWith('\n') ? 1 : 0)
  }
  const sep = existing === '' || existing.endsWith('\n') ? '' : '\n'
  writeFileAtomic(file, [existing, sep, JSON.stringify(checked.data) + '\n'])
  return {file, line: lines + 1}
}
