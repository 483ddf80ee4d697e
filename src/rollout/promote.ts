import type {Bundle} from '../bundle/schema.js'
import {UnderstudyError} from '../errors.js'
import type {BundleHistoryEntry, BundleRecord, TraceDatabase} from '../store/api.js'
import {badBundles} from './history.js'
import {ALL_TENANTS, type Stage} from './stages.js'

/**
 * Recording rollout events. A promotion stores the bundle in full (manifest and templates) first,
 * so that any bundle in the history can be written back out by a rollback.
 */
export function promoteBundle(store: TraceDatabase, bundle: Bundle, stage: Stage, tenant: string = ALL_TENANTS, note: string | null = null): BundleHistoryEntry {
  store.recordBundle(bundle.hash, bundle.ref, bundle.manifest, bundle.templates)
  return store.addBundleHistory({bundle_hash: bundle.hash, bundle_ref: bundle.ref, stage, tenant, note})
}

/** promoteBundle for a person promoting by hand: a bundle marked bad in the history is refused. */
export function promoteUnlessBad(store: TraceDatabase, bundle: Bundle, stage: Stage, tenant: string = ALL_TENANTS, note: string | null = null): BundleHistoryEntry {
  if (badBundles(store.listBundleHistory()).has(bundle.hash)) {
    throw new UnderstudyError(`${bundle.ref} is marked bad in the history; it cannot be promoted`)
  }
  return promoteBundle(store, bundle, stage, tenant, note)
}

/** A bundle the store knows, by full ref (`name@version#hash12`), full hash, or unique hash prefix (6+ hex). */
export function findStoredBundle(store: TraceDatabase, refOrHash: string): BundleRecord {
  const bundles = store.listBundles()
  const exact = bundles.filter((b) => b.ref === refOrHash || b.hash === refOrHash)
  if (exact.length === 1) return exact[0]!
  const hashPart = refOrHash.includes('#') ? refOrHash.slice(refOrHash.lastIndexOf('#') + 1) : refOrHash
  const matches = /^[0-9a-f]{6,64}$/.test(hashPart) ? bundles.filter((b) => b.hash.startsWith(hashPart)) : []
  if (matches.length === 1) return matches[0]!
  if (matches.length > 1) {
    throw new UnderstudyError(`bundle "${refOrHash}" is ambiguous: ${matches.map((b) => b.ref).join(', ')}`)
  }
  throw new UnderstudyError(`${store.path}: no bundle "${refOrHash}" in the store (see \`understudy rollout history\`)`)
}

export function markBad(store: TraceDatabase, refOrHash: string, note: string | null = null): BundleHistoryEntry {
  const b = findStoredBundle(store, refOrHash)
  return store.addBundleHistory({bundle_hash: b.hash, bundle_ref: b.ref, stage: 'bad', tenant: ALL_TENANTS, note})
}
