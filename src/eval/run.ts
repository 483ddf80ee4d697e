import {loadBundle} from '../bundle/load.js'
import type {Bundle} from '../bundle/schema.js'
import {ShadowOptions} from '../shadow/options.js'
import type {TraceSide} from '../trace/schema.js'
import type {RunInfo, TraceStore} from '../store/api.js'
import {EvalAccumulator, type EvalOptions, type EvalSummary} from './evaluate.js'
import {joinTraffic} from './join.js'
import {securityReference} from './security.js'

/** Streams a run's traces of one side (the candidate unless told) with their traffic lines through the suites. */
export async function evaluateRun(
  store: TraceStore,
  run: RunInfo,
  trafficFile: string | null,
  opts: EvalOptions,
  side: TraceSide = 'candidate',
): Promise<EvalSummary> {
  const acc = new EvalAccumulator(run.id, opts)
  for await (const {trace, record} of joinTraffic(store.iterateTraces(run.id, {side}), trafficFile)) acc.add(record, trace)
  return acc.summary()
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
 * Paths come from the run's stored config, relative to where the run was started.
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
