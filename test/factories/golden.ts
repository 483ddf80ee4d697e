import {traceGolden} from '../../src/eval/golden.js'
import {createRedactor} from '../../src/runtime/redact.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import type {TrafficRecord} from '../../src/traffic/schema.js'

/** `t` as a replay of `r` stores it: with the record's golden expectations (traceGolden), if it has any. */
export function replayed(r: TrafficRecord, t: RequestTrace): RequestTrace {
  const golden = traceGolden(r, createRedactor())
  return golden === undefined ? t : {...t, golden}
}
