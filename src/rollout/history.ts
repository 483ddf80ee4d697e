import type {BundleHistoryEntry} from '../store/api.js'
import {ALL_TENANTS, stageRank, type Stage} from './stages.js'

/**
 * Reading the bundle history (an append-only event log of promotions and bad marks). Pure.
 */

/** Hashes of every bundle marked bad (for any tenant: a bad bundle is bad everywhere). */
export function badBundles(history: readonly BundleHistoryEntry[]): Set<string> {
  return new Set(history.filter((e) => e.stage === 'bad').map((e) => e.bundle_hash))
}

function appliesTo(e: BundleHistoryEntry, tenant: string | undefined): boolean {
  return tenant === undefined || tenant === ALL_TENANTS || e.tenant === ALL_TENANTS || e.tenant === tenant
}

/**
 * The last known-good bundle: among promotions (for `tenant`, or for everyone) of bundles not
 * marked bad, the one that reached the highest stage, the most recent among equals. So it is the
 * most recent promotion to `full` when any bundle got there, else the latest of the furthest stage.
 */
export function lastKnownGood(history: readonly BundleHistoryEntry[], tenant?: string): BundleHistoryEntry | null {
  const bad = badBundles(history)
  let best: BundleHistoryEntry | null = null
  for (const e of history) {
    if (e.stage === 'bad' || bad.has(e.bundle_hash) || !appliesTo(e, tenant)) continue
    if (best === null || stageRank(e.stage) > stageRank(best.stage as Stage) || (stageRank(e.stage) === stageRank(best.stage as Stage) && e.id > best.id)) {
      best = e
    }
  }
  return best
}

/** Per tenant, the stage of the latest promotion that applies to it (an `all` promotion applies to every tenant). */
export function currentStages(history: readonly BundleHistoryEntry[], tenants: readonly string[], bundleHash?: string): Record<string, Stage> {
  const out: Record<string, Stage> = {}
  for (const tenant of tenants) {
    let stage: Stage = 'shadow'
    for (const e of history) {
      if (e.stage === 'bad' || (bundleHash !== undefined && e.bundle_hash !== bundleHash)) continue
      if (e.tenant === ALL_TENANTS || e.tenant === tenant) stage = e.stage
    }
    out[tenant] = stage
  }
  return out
}

export type HistoryView = {history: BundleHistoryEntry[]; bad: string[]; last_known_good: BundleHistoryEntry | null}

/** What `rollout history` shows: the events for `tenant` (and for all; every event without one), the bad bundles and the last known good. */
export function historyView(all: readonly BundleHistoryEntry[], tenant?: string): HistoryView {
  const history = tenant ? all.filter((e) => e.tenant === ALL_TENANTS || e.tenant === tenant) : [...all]
  return {history, bad: [...badBundles(all)], last_known_good: lastKnownGood(all, tenant)}
}

export type RollbackFrequency = {
  /** Distinct bundles promoted past shadow (for `tenant`, or anyone). */
  promoted: number
  /** Those among them later marked bad: rolled back. */
  rolled_back: number
}

/**
 * How often promoted bundles were rolled back: of the bundles promoted past shadow, how many were
 * later marked bad. A bad mark of a bundle never promoted (caught in shadow) is not a rollback.
 */
export function rollbackFrequency(history: readonly BundleHistoryEntry[], tenant?: string): RollbackFrequency {
  const promotedAt = new Map<string, number>()
  const rolledBack = new Set<string>()
  for (const e of history) {
    if (e.stage === 'bad') {
      if (promotedAt.has(e.bundle_hash)) rolledBack.add(e.bundle_hash)
    } else if (e.stage !== 'shadow' && appliesTo(e, tenant) && !promotedAt.has(e.bundle_hash)) {
      promotedAt.set(e.bundle_hash, e.id)
    }
  }
  return {promoted: promotedAt.size, rolled_back: rolledBack.size}
}

/** `7d`, `36h`, `90m` as milliseconds; null when `text` is not one of those. */
export function parseWindow(text: string): number | null {
  const m = /^([1-9][0-9]*)([dhm])$/.exec(text.trim())
  if (!m) return null
  return Number(m[1]) * (m[2] === 'd' ? 86_400_000 : m[2] === 'h' ? 3_600_000 : 60_000)
}

/**
 * The incident-free window before full rollout, for one tenant: why the candidate (`bundleHash`)
 * may not go to `full` yet, or null when it may. An incident is a bad mark in the history (for
 * this tenant or for all) within the window before `nowMs`; the candidate must also have been at
 * its current stage (its latest promotion that applies to the tenant) for the whole window.
 */
export function incidentFreeBlocker(
  history: readonly BundleHistoryEntry[],
  tenant: string,
  bundleHash: string,
  nowMs: number,
  windowMs: number,
  label: string,
): string | null {
  const applies = (e: BundleHistoryEntry) => e.tenant === ALL_TENANTS || e.tenant === tenant
  const incident = history.findLast((e) => e.stage === 'bad' && applies(e) && Date.parse(e.promoted_at) > nowMs - windowMs && Date.parse(e.promoted_at) <= nowMs)
  if (incident) return `incident-free window: ${incident.bundle_ref} was marked bad at ${incident.promoted_at}, within the last ${label}`
  const since = history.findLast((e) => e.stage !== 'bad' && e.bundle_hash === bundleHash && applies(e))
  if (!since) return `incident-free window: the candidate has no promotion yet; ${label} at a stage before full needed`
  if (nowMs - Date.parse(since.promoted_at) < windowMs) {
    return `incident-free window: at ${since.stage} since ${since.promoted_at}; ${label} without incident needed before full`
  }
  return null
}
