import type {TraceSide} from '../trace/schema.js'
import {readRequestTimes, requireRunTrafficFile} from '../runs/traffic-join.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {auditActions, type AuditReport, type AuditWindow} from './audit.js'

/**
 * `understudy incident audit` over a stored run: one side's traces (repeat 0) placed on the
 * recorded timeline by the traffic file's timestamps (`traffic`, else the run's own).
 */
export async function auditRun(
  store: TraceStore,
  run: RunInfo,
  opts: {side: TraceSide; window: AuditWindow; traffic?: string},
): Promise<AuditReport & {run_id: string; side: TraceSide}> {
  const times = await readRequestTimes(requireRunTrafficFile(run, opts.traffic))
  const report = auditActions(store.iterateTraces(run.id, {side: opts.side, repeat: 0}), times, opts.window)
  return {run_id: run.id, side: opts.side, ...report}
}
