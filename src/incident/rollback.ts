import {loadBundle} from '../bundle/load.js'
import {BundleManifest, type Bundle} from '../bundle/schema.js'
import {UnderstudyError} from '../errors.js'
import {lastKnownGood} from '../rollout/history.js'
import type {BundleHistoryEntry, TraceDatabase} from '../store/api.js'
import {writeBundle} from './write-bundle.js'

export const LAST_KNOWN_GOOD = 'last-known-good'

export type RollbackResult = {
  bundle: Bundle
  /** Where the bundle came from: the history's last known-good entry, or a directory. */
  source: {kind: 'history'; entry: BundleHistoryEntry} | {kind: 'dir'; dir: string}
}

/**
 * Writes the rollback target to `outDir`: the last known-good bundle from the store's history (for
 * one tenant, or for everyone), or a bundle directory given outright. A bundle from the history is
 * rebuilt from the stored manifest and templates and must hash exactly as it did when promoted.
 */
export async function rollback(store: TraceDatabase, to: string, outDir: string, tenant?: string): Promise<RollbackResult> {
  if (to !== LAST_KNOWN_GOOD) {
    const source = await loadBundle(to)
    const bundle = await writeBundle(source.manifest, source.templates, outDir, `Rollback to ${source.ref} (from ${to}).`)
    return {bundle, source: {kind: 'dir', dir: to}}
  }
  const history = store.listBundleHistory()
  const entry = lastKnownGood(history, tenant)
  if (!entry) {
    const who = tenant ? ` for tenant ${tenant}` : ''
    throw new UnderstudyError(
      history.length === 0
        ? `${store.path}: no bundle history yet; record promotions with \`understudy rollout promote\` or roll back with --to <bundleDir>`
        : `${store.path}: no known-good bundle${who}: every promoted bundle is marked bad; roll back with --to <bundleDir>`,
    )
  }
  const record = store.getBundle(entry.bundle_hash)
  if (!record) throw new UnderstudyError(`${store.path}: the history names ${entry.bundle_ref} but the bundle table does not hold it`)
  if (!record.templates) {
    throw new UnderstudyError(`${store.path}: ${entry.bundle_ref} was stored without its templates; promote its directory again with \`understudy rollout promote\``)
  }
  const manifest = BundleManifest.safeParse(record.manifest)
  if (!manifest.success) throw new UnderstudyError(`${store.path}: the stored manifest of ${entry.bundle_ref} no longer validates`)
  const bundle = await writeBundle(
    manifest.data,
    record.templates,
    outDir,
    `Rollback to the last known-good bundle ${entry.bundle_ref} (${entry.stage}, ${entry.tenant}, promoted ${entry.promoted_at}).`,
  )
  if (bundle.hash !== entry.bundle_hash) {
    // The store keeps bundles redacted: one that held a secret cannot be rebuilt from it.
    const why = JSON.stringify(record).includes('[REDACTED:')
      ? `the stored copy had secrets redacted (the store keeps none); roll back with --to <bundleDir>`
      : 'the stored copy is not faithful'
    throw new UnderstudyError(`${outDir}: the rebuilt bundle hashes to ${bundle.ref}, not ${entry.bundle_ref}; ${why}`)
  }
  return {bundle, source: {kind: 'history', entry}}
}
