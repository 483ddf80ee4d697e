import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import type {Bundle} from '../../src/bundle/schema.js'
import {UnderstudyError} from '../../src/errors.js'
import {killSwitch} from '../../src/incident/variants.js'
import {writeBundle} from '../../src/incident/write-bundle.js'
import {LAST_KNOWN_GOOD, rollback} from '../../src/incident/rollback.js'
import {badBundles, currentStages, incidentFreeBlocker, lastKnownGood, parseWindow, rollbackFrequency} from '../../src/rollout/history.js'
import {planRollout} from '../../src/rollout/plan.js'
import type {Scorecard} from '../../src/scorecard/scorecard.js'
import {findStoredBundle, markBad, promoteBundle} from '../../src/rollout/promote.js'
import type {BundleHistoryEntry, TraceDatabase} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'

const repo = path.resolve(import.meta.dirname, '..', '..')
let dir: string
let store: TraceDatabase
let a: Bundle
let b: Bundle

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-rollout-'))
  store = openStore(path.join(dir, 'u.db'))
  a = await loadBundle(path.join(repo, 'scenarios', 'drill-refund-regression', 'good'))
  b = await loadBundle(path.join(repo, 'scenarios', 'drill-refund-regression', 'bad'))
})
afterEach(() => {
  store.close()
  rmSync(dir, {recursive: true, force: true})
})

function entry(id: number, hash: string, stage: BundleHistoryEntry['stage'], tenant = 'all'): BundleHistoryEntry {
  return {id, bundle_hash: hash, bundle_ref: `x#${hash}`, stage, tenant, promoted_at: `2025-01-0${id}T00:00:00Z`, note: null}
}

describe('last known good (pure)', () => {
  it('prefers the furthest stage, the most recent among equals, never a bad bundle', () => {
    const h = [entry(1, 'a', 'full'), entry(2, 'b', 'canary-1'), entry(3, 'c', 'full')]
    expect(lastKnownGood(h)?.bundle_hash).toBe('c')
    expect(lastKnownGood([...h, entry(4, 'c', 'bad')])?.bundle_hash).toBe('a')
    // Nothing reached full: the latest of the furthest stage reached.
    expect(lastKnownGood([entry(1, 'a', 'ramp-10'), entry(2, 'b', 'canary-1'), entry(3, 'c', 'ramp-10')])?.bundle_hash).toBe('c')
    expect(lastKnownGood([entry(1, 'a', 'full'), entry(2, 'a', 'bad')])).toBeNull()
  })

  it('reads a tenant history: its own promotions and the ones for all', () => {
    const h = [entry(1, 'a', 'full'), entry(2, 'b', 'full', 'acme'), entry(3, 'c', 'full', 'globex')]
    expect(lastKnownGood(h, 'acme')?.bundle_hash).toBe('b')
    expect(lastKnownGood(h, 'initech')?.bundle_hash).toBe('a')
    expect(currentStages([entry(1, 'a', 'canary-1'), entry(2, 'a', 'ramp-10', 'acme')], ['acme', 'globex'], 'a')).toEqual({acme: 'ramp-10', globex: 'canary-1'})
    expect(currentStages([entry(1, 'z', 'full')], ['acme'], 'a')).toEqual({acme: 'shadow'})
  })
})

describe('bundle history in the store', () => {
  it('incident-free window before full (#18): a bad mark within it, or too short a time at the current stage, holds the tenant', async () => {
    // The refund-regression incident: a at ramp-50 everywhere, then b promoted and marked bad.
    promoteBundle(store, a, 'ramp-50')
    promoteBundle(store, b, 'ramp-50', 'acme')
    markBad(store, b.ref, 'refunds over the limit executed')
    const history = store.listBundleHistory()
    const marked = Date.parse(history.at(-1)!.promoted_at)
    const week = parseWindow('7d')!
    expect(week).toBe(7 * 86_400_000)
    expect(parseWindow('7 days')).toBeNull()
    expect(incidentFreeBlocker(history, 'acme', a.hash, marked + 86_400_000, week, '7d')).toMatch(/^incident-free window: .* was marked bad at .*, within the last 7d$/)
    // A bad mark is for every tenant; with none, the candidate must still have spent the window at its stage.
    expect(incidentFreeBlocker(history, 'globex', a.hash, marked + 86_400_000, week, '7d')).toMatch(/was marked bad/)
    const quiet = [entry(1, 'a', 'ramp-50')]
    expect(incidentFreeBlocker(quiet, 'globex', 'a', Date.parse('2025-01-03T00:00:00Z'), week, '7d')).toBe(
      'incident-free window: at ramp-50 since 2025-01-01T00:00:00Z; 7d without incident needed before full',
    )
    expect(incidentFreeBlocker(history, 'acme', a.hash, marked + 8 * 86_400_000, week, '7d')).toBeNull()
    const green: Scorecard = {run_id: 'r1', colour: 'green', dimensions: [], red: []}
    const plan = planRollout({
      overall: green,
      tenants: [{tenant: 'acme', requests: 100, card: green}],
      current: {acme: 'ramp-50'},
      fullBlockers: {acme: incidentFreeBlocker(history, 'acme', a.hash, marked + 86_400_000, week, '7d')},
    })
    expect(plan.tenants[0]).toMatchObject({recommended: 'ramp-50', action: 'hold'})
    expect(plan.tenants[0]!.blockers[0]).toMatch(/^incident-free window/)
    expect(planRollout({overall: green, tenants: [{tenant: 'acme', requests: 100, card: green}], current: {acme: 'ramp-50'}}).tenants[0]!.recommended).toBe('full')
  })

  it('rollback --disable-high-risk --read-only in one step: the last known good, its high-risk tools and then every write disabled (#18)', async () => {
    promoteBundle(store, a, 'full')
    promoteBundle(store, b, 'full')
    markBad(store, b.ref, 'refunds over the limit executed')
    const high = a.manifest.tools.filter((t) => t.enabled && t.risk === 'write_high').map((t) => t.name)
    const writes = a.manifest.tools.filter((t) => t.enabled && t.risk !== 'read').map((t) => t.name)
    expect(high.length).toBeGreaterThan(0)
    const onlyHigh = await rollback(store, LAST_KNOWN_GOOD, path.join(dir, 'high'), undefined, {disableHighRisk: true})
    expect(onlyHigh.disabled).toEqual(high)
    expect(onlyHigh.bundle.manifest.version).toBe(`${a.manifest.version}+killswitch`)
    const r = await rollback(store, LAST_KNOWN_GOOD, path.join(dir, 'safe'), undefined, {disableHighRisk: true, readOnly: true})
    expect(r.source).toMatchObject({kind: 'history', entry: {bundle_ref: a.ref}})
    expect([...r.disabled].sort()).toEqual([...writes].sort())
    const reloaded = await loadBundle(path.join(dir, 'safe'))
    expect(reloaded.manifest.tools.filter((t) => t.enabled).every((t) => t.risk === 'read')).toBe(true)
    expect(reloaded.manifest.version).toBe(`${a.manifest.version}+killswitch.read-only`)
    expect(reloaded.templates).toEqual(a.templates)
  })

  it('promote a, promote b, mark b bad: last known good is a, and rollback writes a back out exactly', async () => {
    promoteBundle(store, a, 'full', 'all', 'release 1.4')
    promoteBundle(store, b, 'full')
    expect(lastKnownGood(store.listBundleHistory())?.bundle_ref).toBe(b.ref)
    markBad(store, b.ref, 'refunds over the limit executed')
    const history = store.listBundleHistory()
    expect(history.map((e) => [e.bundle_ref, e.stage])).toEqual([
      [a.ref, 'full'],
      [b.ref, 'full'],
      [b.ref, 'bad'],
    ])
    expect(badBundles(history)).toEqual(new Set([b.hash]))
    const out = path.join(dir, 'rollback')
    const r = await rollback(store, LAST_KNOWN_GOOD, out)
    expect(r.bundle.hash).toBe(a.hash)
    expect(r.source).toMatchObject({kind: 'history', entry: {bundle_ref: a.ref, note: 'release 1.4'}})
    const reloaded = await loadBundle(out)
    expect(reloaded.ref).toBe(a.ref)
    expect(reloaded.templates).toEqual(a.templates)
  })

  it('rolls back per tenant', async () => {
    promoteBundle(store, a, 'full')
    promoteBundle(store, b, 'canary-1', 'acme')
    const r = await rollback(store, LAST_KNOWN_GOOD, path.join(dir, 'all'))
    expect(r.bundle.hash).toBe(a.hash)
    markBad(store, a.hash)
    expect((await rollback(store, LAST_KNOWN_GOOD, path.join(dir, 'acme'), 'acme')).bundle.hash).toBe(b.hash)
    await expect(rollback(store, LAST_KNOWN_GOOD, path.join(dir, 'globex'), 'globex')).rejects.toThrow(/no known-good bundle for tenant globex/)
  })

  it('explains an empty history and a bundle stored without templates', async () => {
    await expect(rollback(store, LAST_KNOWN_GOOD, path.join(dir, 'x'))).rejects.toThrow(/no bundle history yet/)
    // A shadow run records bundles without templates: a promotion of that bundle must be redone.
    store.recordBundle(a.hash, a.ref, a.manifest)
    store.addBundleHistory({bundle_hash: a.hash, bundle_ref: a.ref, stage: 'full', tenant: 'all', note: null})
    await expect(rollback(store, LAST_KNOWN_GOOD, path.join(dir, 'y'))).rejects.toThrow(/without its templates/)
    // Recording it again with templates fills them in; the first sighting is kept otherwise.
    store.recordBundle(a.hash, 'renamed', a.manifest, a.templates)
    expect(store.getBundle(a.hash)).toMatchObject({ref: a.ref, templates: a.templates})
    expect((await rollback(store, LAST_KNOWN_GOOD, path.join(dir, 'z'))).bundle.hash).toBe(a.hash)
  })

  it('rolls back to a directory given outright', async () => {
    const variant = await writeBundle(killSwitch(a.manifest, ['send_email']), a.templates, path.join(dir, 'ks'), 'x')
    const r = await rollback(store, variant.dir, path.join(dir, 'out'))
    expect(r.bundle.hash).toBe(variant.hash)
    expect(r.source).toEqual({kind: 'dir', dir: variant.dir})
  })

  it('finds a stored bundle by ref, hash or unique prefix, and refuses an unknown one', () => {
    promoteBundle(store, a, 'shadow')
    expect(findStoredBundle(store, a.ref).hash).toBe(a.hash)
    expect(findStoredBundle(store, a.hash.slice(0, 8)).hash).toBe(a.hash)
    expect(() => findStoredBundle(store, 'nope@1#000000000000')).toThrow(UnderstudyError)
    expect(() => store.addBundleHistory({bundle_hash: a.hash, bundle_ref: a.ref, stage: 'sideways' as never, tenant: 'all', note: null})).toThrow(/stage must be one of/)
  })

  it('stores drills, newest first', () => {
    const d1 = store.recordDrill({scenario: 's1', started_at: '2025-01-01T00:00:00Z', finished_at: '2025-01-01T00:00:01Z', passed: true, report: {n: 1}})
    store.recordDrill({scenario: 's2', started_at: '2025-01-02T00:00:00Z', finished_at: '2025-01-02T00:00:01Z', passed: false, report: {n: 2}})
    expect(store.listDrills().map((d) => [d.scenario, d.passed, d.report])).toEqual([
      ['s2', false, {n: 2}],
      ['s1', true, {n: 1}],
    ])
    expect(store.listDrills(1)).toHaveLength(1)
    expect(d1.id).toBeGreaterThan(0)
  })
})

describe('rollbackFrequency (#15)', () => {
  const e = (id: number, bundle_hash: string, stage: BundleHistoryEntry['stage'], tenant = 'all'): BundleHistoryEntry => ({
    id,
    bundle_hash,
    bundle_ref: `b@${id}`,
    stage,
    tenant,
    promoted_at: '2026-12-01T00:00:00Z',
    note: null,
  })

  it('counts bundles promoted past shadow that were later marked bad', () => {
    const history = [e(1, 'a', 'canary-1'), e(2, 'a', 'full'), e(3, 'b', 'canary-1'), e(4, 'b', 'bad'), e(5, 'c', 'shadow'), e(6, 'c', 'bad'), e(7, 'd', 'ramp-10', 'acme')]
    // c was caught in shadow: not a rollback. d was promoted for acme only.
    expect(rollbackFrequency(history)).toEqual({promoted: 3, rolled_back: 1})
    expect(rollbackFrequency(history, 'globex')).toEqual({promoted: 2, rolled_back: 1})
    expect(rollbackFrequency([])).toEqual({promoted: 0, rolled_back: 0})
  })
})
