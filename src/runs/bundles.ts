import {loadBundle} from '../bundle/load.js'
import {type Bundle, BundleManifest} from '../bundle/schema.js'
import {UnderstudyError} from '../errors.js'
import type {EvalOptions} from '../eval/evaluate.js'
import {securityReference} from '../eval/security.js'
import type {TraceSide} from '../trace/schema.js'
import type {RunInfo, TraceDatabase} from '../store/api.js'
import {ShadowOptions} from '../store/run-config.js'

/** The bundles a run ran with: as the store remembered them, or as their directories are now. */

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

/**
 * The manifest that set the limits of one side of a run: the baseline's for the baseline side of a
 * run against a baseline bundle, the candidate's otherwise (recorded production has none of its own).
 */
export function sideManifest(store: TraceDatabase, run: RunInfo, side: TraceSide): BundleManifest {
  return runManifest(store, run, side === 'baseline' && run.baseline_hash !== null ? 'baseline' : 'candidate')
}

export type EvalBundles = {
  /** Where the security suite's RBAC and deny rules come from, or null when no bundle could be loaded. */
  reference: {ref: string; source: string} | null
  maxRetries: number | null
  notes: string[]
  options: Pick<EvalOptions, 'reference' | 'maxRetries'>
}

async function tryLoad(dir: string, notes: string[], what: string): Promise<Bundle | null> {
  try {
    return await loadBundle(dir)
  } catch (e) {
    notes.push(`${what} bundle ${dir} could not be loaded (${(e as Error).message.split('\n')[0]})`)
    return null
  }
}

/**
 * The bundles the suites measure against: `policy` when given, else the run's baseline bundle
 * (what was allowed before), else the candidate itself; max_retries from the candidate.
 * Paths come from the run's stored config: absolute (a run started before they were stored so is
 * read relative to the working directory).
 */
export async function evalBundles(run: RunInfo, policy?: string): Promise<EvalBundles> {
  const notes: string[] = []
  const parsed = ShadowOptions.safeParse(run.config)
  const cfg = parsed.success ? parsed.data : null
  const candidate = cfg ? await tryLoad(cfg.candidate, notes, 'candidate') : null
  let reference: Bundle | null = null
  let source = ''
  if (policy !== undefined) {
    reference = await loadBundle(policy)
    source = policy
  } else if (cfg && cfg.baseline !== 'recorded') {
    reference = await tryLoad(cfg.baseline, notes, 'baseline')
    source = cfg.baseline
    if (reference !== null && run.baseline_hash !== null && reference.hash !== run.baseline_hash) {
      notes.push(`baseline bundle ${cfg.baseline} changed since the run (now ${reference.ref}); the security suite uses it as it is now`)
    }
  }
  if (reference === null && candidate !== null && policy === undefined) {
    reference = candidate
    source = cfg!.candidate
  }
  if (reference === null) notes.push('no reference bundle: the security suite checks recorded denials, recipients and secrets only (pass --policy <bundle>)')
  const maxRetries = candidate?.manifest.budgets.max_retries ?? null
  return {
    reference: reference ? {ref: reference.ref, source} : null,
    maxRetries,
    notes,
    options: {reference: reference ? securityReference(reference.manifest) : null, maxRetries},
  }
}
