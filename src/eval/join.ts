import {existsSync, statSync} from 'node:fs'
import type {RequestTrace} from '../runtime/trace.js'
import {readTraffic} from '../traffic/reader.js'
import type {TrafficRecord} from '../traffic/schema.js'

/** A stored trace with the traffic line it replayed, when that line is still there and readable. */
export type JoinedTrace = {trace: RequestTrace; record: TrafficRecord | null}

/**
 * Pairs a run's traces with the traffic file's records. Both come in traffic-line order (the
 * store orders traces by line), so one pass over each suffices and only the current line is held.
 * A line is paired only when its request id is the trace's: a traffic file edited since the run
 * gives `record: null`, never another request's record.
 */
export async function* joinTraffic(traces: Iterable<RequestTrace>, trafficFile: string | null): AsyncGenerator<JoinedTrace> {
  const lines = trafficFile === null ? null : readTraffic(trafficFile)
  let current: {line: number; record: TrafficRecord | null} | null = null
  let done = lines === null
  try {
    for (const trace of traces) {
      while (!done && (current === null || current.line < trace.line)) {
        const next = await lines!.next()
        if (next.done) {
          done = true
          current = null
          break
        }
        current = {line: next.value.line, record: next.value.ok ? next.value.record : null}
      }
      const record = current !== null && current.line === trace.line && current.record?.id === trace.request_id ? current.record : null
      yield {trace, record}
    }
  } finally {
    await lines?.return(undefined)
  }
}

/** The run's traffic file (or `override`), when it is there to read; null otherwise. */
export function trafficFileFor(run: {traffic_file: string}, override?: string): string | null {
  const file = override ?? run.traffic_file
  return existsSync(file) && statSync(file).isFile() ? file : null
}
