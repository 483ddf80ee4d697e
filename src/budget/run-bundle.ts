import {BundleManifest} from '../bundle/schema.js'
import {UnderstudyError} from '../errors.js'
import type {RunInfo, TraceDatabase} from '../store/api.js'

/**
 * The manifest of a run's candidate (or baseline) bundle, as the store remembered it when the run
 * started: budget reports judge a run by the limits it actually ran under, not by today's files.
 */
export function runManifest(store: TraceDatabase, run: RunInfo, which: 'candidate' | 'baseline' = 'candidate'): BundleManifest {
  const hash = which === 'candidate' ? run.candidate_hash : run.baseline_hash
  const ref = which === 'candidate' ? run.candidate_ref : run.baseline_ref
  if (hash === null) throw new UnderstudyError(`run ${run.id} has no ${which} bundle (it compared with recorded production)`)
  const record = store.getBundle(hash)
  if (!record) throw new UnderstudyError(`${store.path}: run ${run.id}'s ${which} bundle ${ref} is not in the store's bundle table`)
  const parsed = BundleManifest.safeParse(record.manifest)
  if (!parsed.success) throw new UnderstudyError(`${store.path}: the stored manifest of ${ref} no longer validates (${parsed.error.issues[0]?.message})`)
  return parsed.data
}
