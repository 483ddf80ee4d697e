import {storedRequestId} from '../runtime/redact.js'
import type {RequestTrace} from '../trace/schema.js'
import type {GoldenSpec} from './spec.js'

/**
 * Golden tasks: requests (by id or category label) that must still work after a mitigation. A task
 * passes when its status is accepted and, with `same_actions` (the default), it executes the same
 * tools as the good bundle did on the same request: a refund request that "completes" by telling the
 * customer the refund tool is unavailable has not done its job. Pure.
 */

export type GoldenFailure = {request_id: string; status: string; reason: string}

export type GoldenResult = {
  total: number
  passed: number
  rate: number
  /** Golden requests the run holds no trace for (a golden task that did not run has not passed). */
  missing: string[]
  failed: GoldenFailure[]
}

/** Golden request ids as traces store them (storedRequestId); `labels` is keyed the same way. */
export function goldenIds(spec: GoldenSpec, labels: ReadonlyMap<string, Record<string, string>>): Set<string> {
  const ids = new Set(spec.requests.map(storedRequestId))
  if (spec.categories.length > 0) {
    for (const [id, l] of labels) if (l.category !== undefined && spec.categories.includes(l.category)) ids.add(id)
  }
  return ids
}

/** Names of the tools a request executed, sorted (a multiset: two refunds are not one). */
export function executedTools(t: RequestTrace): string[] {
  return t.tool_calls.filter((c) => c.executed).map((c) => c.name).sort()
}

export function evaluateGolden(
  traces: Iterable<RequestTrace>,
  ids: ReadonlySet<string>,
  spec: GoldenSpec,
  reference?: ReadonlyMap<string, RequestTrace>,
): GoldenResult {
  const seen = new Set<string>()
  const failed: GoldenFailure[] = []
  let passed = 0
  for (const t of traces) {
    if (!ids.has(t.request_id) || seen.has(t.request_id)) continue
    seen.add(t.request_id)
    if (!(spec.accept as string[]).includes(t.status)) {
      failed.push({request_id: t.request_id, status: t.status, reason: `status ${t.status}, expected ${spec.accept.join(' or ')}`})
      continue
    }
    const ref = reference?.get(t.request_id)
    if (spec.same_actions && ref) {
      const want = executedTools(ref).join(', ')
      const got = executedTools(t).join(', ')
      if (want !== got) {
        failed.push({request_id: t.request_id, status: t.status, reason: `executed [${got}], the good bundle executed [${want}]`})
        continue
      }
    }
    passed++
  }
  const missing = [...ids].filter((id) => !seen.has(id)).sort()
  const total = ids.size
  return {total, passed, rate: total === 0 ? 0 : passed / total, missing, failed}
}
