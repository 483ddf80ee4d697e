import {hashBundle} from '../bundle/hash.js'
import {loadBundle} from '../bundle/load.js'
import {BundleManifest, type Bundle} from '../bundle/schema.js'
import {UnderstudyError} from '../errors.js'
import {lastKnownGood} from '../rollout/history.js'
import type {BundleHistoryEntry, TraceDatabase} from '../store/api.js'
import {degrade, killSwitch} from './variants.js'
import {writeBundle} from './write-bundle.js'

export const LAST_KNOWN_GOOD = 'last-known-good'

/** What a rollback may also do in the same step: disable every high-risk tool, and/or every write. */
export type RollbackVariant = {disableHighRisk?: boolean; readOnly?: boolean}

export type RollbackResult = {
  bundle: Bundle
  /** Tools the variant disabled (enabled in the target, disabled in what was written). */
  disabled: string[]
  /** Where the bundle came from: the history's last known-good entry, or a directory. */
  source: {kind: 'history'; entry: BundleHistoryEntry} | {kind: 'dir'; dir: string}
}

/**
 * Writes the rollback target to `outDir`: the last known-good bundle from the store's history (for
 * one tenant, or for everyone), or a bundle directory given outright. A bundle from the history is
 * rebuilt from the stored manifest and templates and must hash exactly as it did when promoted.
 */
export async function rollback(store: TraceDatabase, to: string, outDir: string, tenant?: string, variant: RollbackVariant = {}): Promise<RollbackResult> {
  if (to !== LAST_KNOWN_GOOD) {
    const source = await loadBundle(to)
    const v = applyVariant(source.manifest, variant, to)
    const bundle = await writeBundle(v.manifest, source.templates, outDir, `Rollback to ${source.ref} (from ${to})${v.note}.`)
    return {bundle, disabled: v.disabled, source: {kind: 'dir', dir: to}}
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
  const v = applyVariant(manifest.data, variant, entry.bundle_ref)
  // A variant hashes differently by design: the stored copy is checked before it is changed.
  if (v.disabled.length > 0 && hashBundle(manifest.data, record.templates) !== entry.bundle_hash) {
    throw new UnderstudyError(`${store.path}: the stored copy of ${entry.bundle_ref} no longer hashes as it did when promoted; roll back with --to <bundleDir>`)
  }
  const bundle = await writeBundle(
    v.manifest,
    record.templates,
    outDir,
    `Rollback to the last known-good bundle ${entry.bundle_ref} (${entry.stage}, ${entry.tenant}, promoted ${entry.promoted_at})${v.note}.`,
  )
  if (v.disabled.length === 0 && bundle.hash !== entry.bundle_hash) {
    // The store keeps bundles redacted: one that held a secret cannot be rebuilt from it.
    const why = JSON.stringify(record).includes('[REDACTED:')
      ? `the stored copy had secrets redacted (the store keeps none); roll back with --to <bundleDir>`
      : 'the stored copy is not faithful'
    throw new UnderstudyError(`${outDir}: the rebuilt bundle hashes to ${bundle.ref}, not ${entry.bundle_ref}; ${why}`)
  }
  return {bundle, disabled: v.disabled, source: {kind: 'history', entry}}
}

/**
 * The rollback target with the incident variants asked for: every enabled `write_high` tool
 * disabled (kill-switch), then every write disabled (read-only degrade). `note` is for the header.
 */
function applyVariant(manifest: BundleManifest, variant: RollbackVariant, source: string): {manifest: BundleManifest; disabled: string[]; note: string} {
  let m = manifest
  const notes: string[] = []
  if (variant.disableHighRisk) {
    const high = m.tools.filter((t) => t.enabled && t.risk === 'write_high').map((t) => t.name)
    if (high.length > 0) m = killSwitch(m, high, source)
    notes.push(high.length > 0 ? `high-risk tools disabled (${high.join(', ')})` : 'no enabled high-risk tool to disable')
  }
  if (variant.readOnly) {
    m = degrade(m, 'read_only')
    notes.push('degraded to read-only')
  }
  const before = new Set(manifest.tools.filter((t) => t.enabled).map((t) => t.name))
  const disabled = m.tools.filter((t) => !t.enabled && before.has(t.name)).map((t) => t.name)
  return {manifest: m, disabled, note: notes.length > 0 ? `; ${notes.join('; ')}` : ''}
}
