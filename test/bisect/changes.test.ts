import {mkdtempSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {atomicChanges, hybridBundle, modelVisible, promptHunks} from '../../src/bisect/changes.js'
import {ddmin} from '../../src/bisect/ddmin.js'
import {canonicalManifest} from '../../src/bundle/hash.js'
import {loadBundle} from '../../src/bundle/load.js'
import type {Bundle} from '../../src/bundle/schema.js'
import {validateBundle} from '../../src/bundle/validate.js'
import {repoRoot} from '../helpers/cli.js'

const bundle = (scenario: string, name: string): Promise<Bundle> => loadBundle(path.join(repoRoot, 'scenarios', scenario, name))
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

/** A hybrid written out as a bundle directory and loaded by the bundle loader. */
async function load(h: ReturnType<typeof hybridBundle>) {
  const dir = mkdtempSync(path.join(tmpdir(), 'understudy-hybrid-'))
  dirs.push(dir)
  mkdirSync(path.join(dir, 'prompts'))
  writeFileSync(path.join(dir, 'bundle.json'), JSON.stringify(h.manifest))
  for (const [file, text] of Object.entries(h.templates)) writeFileSync(path.join(dir, file), text)
  return validateBundle(dir)
}

const behaviour = (b: Bundle) => {
  const {name, version, description, prompts, ...rest} = canonicalManifest(b.manifest)
  return {rest, system: b.templates[prompts.system]!.replace(/\r\n/g, '\n')}
}

describe('atomic changes and hybrid bundles', () => {
  it('cuts support-refunds v1 → v2 into prompt hunks, tool fields and policy rules; all of them applied is v2, none is v1', async () => {
    const [v1, v2] = await Promise.all([bundle('support-refunds', 'v1'), bundle('support-refunds', 'v2')])
    const set = atomicChanges(v1, v2)
    expect(set.changes.map((c) => c.id)).toEqual([
      'prompt.system#1',
      'prompt.system#2',
      'prompt.system#3',
      'tool issue_refund args.reason',
      'tool search_kb roles.initech',
      'policy email-external-under-injection',
      'policy refund-needs-approval',
    ])
    const all = await load(hybridBundle(set, set.changes.map((c) => c.id)))
    const none = await load(hybridBundle(set, []))
    expect(behaviour(all.bundle!)).toEqual(behaviour(v2))
    expect(behaviour(none.bundle!)).toEqual(behaviour(v1))
    // Only what the model sees counts as model-visible: prompts and the argument, not rules or roles.
    expect(set.changes.filter((c) => modelVisible(set, c.id)).map((c) => c.id)).toEqual(['prompt.system#1', 'prompt.system#2', 'prompt.system#3', 'tool issue_refund args.reason'])
  })

  it('applies one prompt hunk alone, and one argument with whether it is required (enterprise-tickets)', async () => {
    const [v1, v2] = await Promise.all([bundle('enterprise-tickets', 'v1'), bundle('enterprise-tickets', 'v2')])
    const set = atomicChanges(v1, v2)
    const ids = set.changes.map((c) => c.id)
    expect(ids).toContain('tool grant_access args.justification')
    const h = await load(hybridBundle(set, ['tool grant_access args.justification']))
    expect(h.problems).toEqual([])
    const grant = h.bundle!.manifest.tools.find((t) => t.name === 'grant_access')!
    expect(grant.args.required).toContain('justification')
    expect(Object.keys(grant.args.properties as object)).toContain('justification')
    // Policies are still v1's.
    expect(h.bundle!.manifest.policies).toEqual(canonicalManifest(v1.manifest).policies)
    const hunk = ids.find((id) => id.startsWith('prompt.system#'))!
    const p = await load(hybridBundle(set, [hunk]))
    expect(p.bundle!.templates['prompts/system.md']).not.toBe(v1.templates[v1.manifest.prompts.system])
    expect(p.bundle!.manifest.tools).toEqual(canonicalManifest(v1.manifest).tools)
  })

  it('makes a subset that does not validate (a rule naming a tool another change adds) a loader problem, not a crash', async () => {
    const v1 = await bundle('support-refunds', 'v1')
    const m = structuredClone(v1.manifest)
    const lookup = m.tools.find((t) => t.name === 'lookup_order')!
    m.tools.push({...structuredClone(lookup), name: 'lookup_invoice'})
    m.policies.push({...structuredClone(m.policies[0]!), id: 'invoices-readable', tools: ['lookup_invoice']})
    const set = atomicChanges(v1, {...v1, manifest: m})
    expect(set.changes.map((c) => c.id)).toEqual(['tool lookup_invoice', 'policy invoices-readable'])
    const ruleOnly = await load(hybridBundle(set, ['policy invoices-readable']))
    expect(ruleOnly.bundle).toBeNull()
    expect(ruleOnly.problems.join('\n')).toContain('unknown tool "lookup_invoice"')
    expect((await load(hybridBundle(set, ['tool lookup_invoice', 'policy invoices-readable']))).problems).toEqual([])
  })

  it('splits a text into unchanged runs and hunks, a replaced line being one hunk', () => {
    const segs = promptHunks('a\nb\nc\nd\n', 'a\nB\nc\nd\ne\n')
    expect(segs).toEqual([{same: 'a\n'}, {old: 'b\n', new: 'B\n', line: 2}, {same: 'c\nd\n'}, {old: '', new: 'e\n', line: 5}])
  })
})

describe('ddmin', () => {
  const changes = ['a', 'b', 'c', 'd', 'e', 'f', 'g']
  const needs =
    (...wanted: string[]) =>
    async (s: readonly string[]) =>
      wanted.every((w) => s.includes(w))

  it('finds one culprit, and two changes that only act together', async () => {
    expect(await ddmin(changes, needs('e'))).toEqual(['e'])
    expect(await ddmin(changes, needs('b', 'f'))).toEqual(['b', 'f'])
    expect(await ddmin(changes, needs('a', 'c', 'g'))).toEqual(['a', 'c', 'g'])
  })

  it('steps past subsets that cannot be tried, and takes the first cut it is given', async () => {
    const tried: string[] = []
    const test = async (s: readonly string[]) => {
      tried.push(s.join(''))
      if (s.includes('c') && !s.includes('d')) return null
      return s.includes('f')
    }
    expect(await ddmin(changes, test, [['a', 'f'], ['b', 'c', 'd', 'e', 'g']])).toEqual(['f'])
    expect(tried[0]).toBe('af')
  })
})
