import path from 'node:path'
import {UnderstudyError} from '../errors.js'
import type {RunInfo} from '../store/api.js'
import {readTraffic} from '../traffic/reader.js'

/**
 * Request timestamps, which traces do not carry: they come from the run's traffic file (the
 * recorded timeline), keyed by request id. Lines that do not parse have no time and are left out.
 */
export async function readRequestTimes(file: string): Promise<Map<string, number>> {
  const times = new Map<string, number>()
  try {
    for await (const item of readTraffic(file)) {
      if (!item.ok || times.has(item.record.id)) continue
      times.set(item.record.id, Date.parse(item.record.timestamp))
    }
  } catch (e) {
    if (e instanceof UnderstudyError) throw e
    throw new UnderstudyError(`${file}: cannot read the run's traffic file for request timestamps (${(e as Error).message})`, {cause: e})
  }
  return times
}

/** The traffic file a run replayed, resolved like the shadow command resolved it (from the working directory). */
export function runTrafficFile(run: RunInfo, override?: string): string {
  return path.resolve(override ?? run.traffic_file)
}

/** Labels (category etc.) by request id, for drills and golden tasks. */
export async function readRequestLabels(file: string): Promise<Map<string, Record<string, string>>> {
  const labels = new Map<string, Record<string, string>>()
  for await (const item of readTraffic(file)) {
    if (item.ok && !labels.has(item.record.id)) labels.set(item.record.id, item.record.labels)
  }
  return labels
}
