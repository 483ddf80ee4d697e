import type {RequestTrace} from '../trace/schema.js'
import type {TraceFilter, TraceStore} from '../store/api.js'

/**
 * A read-only view of a store that shows only one tenant's traces, so the run summary and the
 * scorecard (which read through TraceStore) can score a tenant exactly as they score a whole run.
 */
export function tenantView(store: TraceStore, tenant: string): TraceStore {
  const refuse = (): never => {
    throw new Error('tenantView is read-only')
  }
  return {
    path: store.path,
    getRun: (id) => store.getRun(id),
    listRuns: () => store.listRuns(),
    *iterateTraces(runId: string, filter?: TraceFilter): IterableIterator<RequestTrace> {
      for (const t of store.iterateTraces(runId, filter)) if (t.tenant === tenant) yield t
    },
    countTraces(runId: string, filter?: TraceFilter): number {
      let n = 0
      for (const t of store.iterateTraces(runId, filter)) if (t.tenant === tenant) n++
      return n
    },
    storedTraceKeys: () => refuse(),
    createRun: () => refuse(),
    writeTraces: () => refuse(),
    setRequestsTotal: () => refuse(),
    finishRun: () => refuse(),
    close: () => {},
  }
}

/** Tenants with at least one trace in the run, sorted; skipped lines (no tenant) are left out. */
export function runTenants(store: TraceStore, runId: string): {tenant: string; requests: number}[] {
  const seen = new Map<string, Set<string>>()
  for (const t of store.iterateTraces(runId)) {
    if (t.tenant === '') continue
    let ids = seen.get(t.tenant)
    if (!ids) seen.set(t.tenant, (ids = new Set()))
    ids.add(t.request_id)
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([tenant, ids]) => ({tenant, requests: ids.size}))
}
