import {cpSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import type {z} from 'zod'
import {parse, stringify} from 'yaml'
import {BundleManifest, type Bundle} from '../../src/bundle/schema.js'
import {repoRoot} from '../helpers/cli.js'
import {merge, type Overrides} from './merge.js'
import {tempDir} from './temp-dir.js'

/** A bundle manifest as written in bundle.yaml, before the schema fills in its defaults. */
export type ManifestInput = z.input<typeof BundleManifest>
export type ManifestOverrides = Overrides<ManifestInput>

const MANIFEST: ManifestInput = {
  name: 'support',
  version: '1.0.0',
  model: {provider: 'scripted', name: 'support-v2'},
  prompts: {system: 'prompts/system.md'},
  tools: [{name: 'lookup_order', description: 'Look up', risk: 'read', args: {type: 'object'}, roles: {'*': ['agent']}}],
  budgets: {max_steps: 6, max_tool_calls: 4, max_total_tokens: 4000, max_retries: 2},
}

/**
 * A valid bundle manifest (parsed by the real schema): `support@1.0.0` on the scripted model with
 * one read-only tool any agent may call. Overrides merge at any depth (`budgets: {max_steps: 3}`
 * keeps the other budgets); arrays such as `tools` replace the default whole.
 */
export function manifest(...overrides: ManifestOverrides[]): BundleManifest {
  return BundleManifest.parse(merge(MANIFEST, ...overrides))
}

export type BundleOverrides = Omit<Overrides<Bundle>, 'manifest'> & {manifest?: ManifestOverrides}

/**
 * A loaded bundle in memory, its manifest built by manifest() and a template for each prompt
 * file it names. `ref` follows the manifest's name and version unless overridden.
 */
export function bundle(...overrides: BundleOverrides[]): Bundle {
  const m = manifest(...overrides.map((o) => o.manifest ?? {}))
  const templates: Record<string, string> = {}
  for (const file of [m.prompts.system, m.prompts.plan]) if (file) templates[file] = `You help {{tenant}} ({{role}} {{user}}). Tools: {{tools}}.`
  const hash = 'f'.repeat(64)
  const defaults: Omit<Bundle, 'manifest'> = {dir: '/bundles/support', manifestFile: 'bundle.yaml', templates, hash, ref: `${m.name}@${m.version}#${hash.slice(0, 12)}`}
  return {...merge(defaults, ...overrides.map(({manifest: _, ...rest}) => rest)), manifest: m}
}

/** Bundle directories under test/fixtures/bundles (refunds-v1, refunds-v1-json, refunds-v2). */
export const fixtureBundlesDir = path.join(repoRoot, 'test', 'fixtures', 'bundles')
export const fixtureBundle = (name: string): string => path.join(fixtureBundlesDir, name)

/** A fixture bundle's manifest as a plain object, as its bundle.yaml says: to change in a test. */
export function fixtureManifest(name = 'refunds-v1'): Record<string, any> {
  return parse(readFileSync(path.join(fixtureBundle(name), 'bundle.yaml'), 'utf8'))
}

/**
 * A copy of the refunds-v1 fixture bundle in a fresh tempDir(), its manifest changed by `mutate`
 * and written back as YAML (or as bundle.json with `as: 'json'`). Returns the bundle directory;
 * the bundle is not validated, so it may be invalid on purpose.
 */
export function bundleDir(mutate: (m: Record<string, any>) => void = () => {}, options: {as?: 'yaml' | 'json'} = {}): string {
  const dir = path.join(tempDir('understudy-bundle-'), 'b')
  cpSync(fixtureBundle('refunds-v1'), dir, {recursive: true})
  const m = fixtureManifest('refunds-v1')
  mutate(m)
  rmSync(path.join(dir, 'bundle.yaml'))
  if (options.as === 'json') writeFileSync(path.join(dir, 'bundle.json'), JSON.stringify(m, null, 2))
  else writeFileSync(path.join(dir, 'bundle.yaml'), stringify(m))
  return dir
}
