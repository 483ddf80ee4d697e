import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {bundleRef, hashBundle} from '../../src/bundle/hash.js'
import {loadBundle} from '../../src/bundle/load.js'
import {BundleManifest} from '../../src/bundle/schema.js'
import {bundleDir, fixtureBundle, fixtureManifest, removeTempDirs} from '../factories/index.js'

afterEach(removeTempDirs)

const hashOf = async (dir: string) => (await loadBundle(dir)).hash

/** Rebuilds every object with its keys in reverse order, to prove key order does not matter. */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys)
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]))
  return v
}

describe('hashBundle: stable under changes without meaning', () => {
  it('gives the YAML fixture and its reordered JSON twin (explicit defaults, ./ paths) the same hash', async () => {
    const yaml = await loadBundle(fixtureBundle('refunds-v1'))
    const json = await loadBundle(fixtureBundle('refunds-v1-json'))
    expect(json.hash).toBe(yaml.hash)
    expect(json.ref).toBe(yaml.ref)
  })

  it('ignores key order, YAML vs JSON, and tool/policy order', async () => {
    const base = await hashOf(bundleDir(() => {}))
    const reordered = bundleDir((m) => {
      for (const k of Object.keys(m)) {
        const v = m[k]
        delete m[k]
        m[k] = reverseKeys(v)
      }
      m.tools.reverse()
      m.policies.reverse()
    })
    expect(await hashOf(reordered)).toBe(base)
    expect(await hashOf(bundleDir(() => {}, {as: 'json'}))).toBe(base)
  })

  it('ignores the order of required, roles and sensitive_fields (sets), not of enum', async () => {
    const base = await hashOf(bundleDir(() => {}))
    const sets = bundleDir((m) => {
      m.tools[1].args.required.reverse()
      m.tools[1].roles.acme.reverse()
    })
    expect(await hashOf(sets)).toBe(base)

    const withEnum = (values: string[]) =>
      bundleDir((m) => {
        m.tools[1].args.properties.note = {type: 'string', enum: values}
      })
    expect(await hashOf(withEnum(['a', 'b']))).not.toBe(await hashOf(withEnum(['b', 'a'])))
  })

  it('normalises CRLF in templates', async () => {
    const base = await hashOf(bundleDir(() => {}))
    const dir = bundleDir(() => {})
    const file = path.join(dir, 'prompts', 'system.md')
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n/g, '\r\n'))
    expect(await hashOf(dir)).toBe(base)
  })

  it('treats a default written out explicitly as the same bundle', async () => {
    const base = await hashOf(bundleDir(() => {}))
    const explicit = bundleDir((m) => {
      m.model.temperature = 0
      m.model.seed = 0
      m.model.pricing = {input_per_1k: 0, output_per_1k: 0}
      m.tools[0].enabled = true
      m.tools[0].idempotency = 'none'
      m.policy_default = 'allow'
      m.guardrails = {max_input_chars: 20000}
      m.policies[0].when[0].value = 100.0
    })
    expect(await hashOf(explicit)).toBe(base)
  })

  it('treats escalates: false as no escalates, and escalates: true as another bundle', async () => {
    const base = await hashOf(bundleDir(() => {}))
    expect(await hashOf(bundleDir((m) => (m.tools[1].escalates = false)))).toBe(base)
    expect(await hashOf(bundleDir((m) => (m.tools[1].escalates = true)))).not.toBe(base)
  })

  it('leaves result checks at their default and an empty retryable_errors out; anything else is another bundle (#15)', async () => {
    const base = await hashOf(bundleDir(() => {}))
    expect(await hashOf(bundleDir((m) => (m.tools[1].result = {structured: true, confirms_with_id: true})))).toBe(base)
    expect(await hashOf(bundleDir((m) => (m.tools[1].result = {})))).toBe(base)
    expect(await hashOf(bundleDir((m) => (m.tools[1].retryable_errors = [])))).toBe(base)
    expect(await hashOf(bundleDir((m) => (m.tools[1].result = {confirms_with_id: false})))).not.toBe(base)
    expect(await hashOf(bundleDir((m) => (m.tools[1].retryable_errors = ['upstream_busy'])))).not.toBe(base)
  })

  it('is a pure function of manifest and templates', () => {
    const m = BundleManifest.parse(fixtureManifest())
    const templates = {'prompts/system.md': 'hi {{user}}\n', 'prompts/plan.md': 'plan\n'}
    const h = hashBundle(m, templates)
    expect(h).toMatch(/^[0-9a-f]{64}$/)
    expect(hashBundle({...m, tools: [...m.tools].reverse()}, {'prompts/plan.md': 'plan\n', 'prompts/system.md': 'hi {{user}}\r\n'})).toBe(h)
    expect(bundleRef(m, h)).toBe(`refunds@1.0.0#${h.slice(0, 12)}`)
  })
})

describe('hashBundle: changes with meaning change it', () => {
  it('changes with one prompt word', async () => {
    const base = await hashOf(bundleDir(() => {}))
    const dir = bundleDir(() => {})
    const file = path.join(dir, 'prompts', 'system.md')
    writeFileSync(file, readFileSync(file, 'utf8').replace('polite', 'curt'))
    expect(await hashOf(dir)).not.toBe(base)
  })

  it('changes with a maxLength, a policy value, a policy effect, a required field, a default overridden', async () => {
    const base = await hashOf(bundleDir(() => {}))
    const variants: ((m: Record<string, any>) => void)[] = [
      (m) => (m.tools[1].args.properties.note.maxLength = 201),
      (m) => (m.policies[0].when[0].value = 101),
      (m) => (m.policies[0].effect = 'deny'),
      (m) => m.tools[1].args.required.push('note'),
      (m) => (m.model.temperature = 0.1),
      (m) => (m.tools[0].enabled = false),
      (m) => m.policies[1].when.reverse() && m.policies[1].when.push({field: 'tool_calls', op: 'gt', value: 1}),
    ]
    const hashes = new Set([base])
    for (const change of variants) hashes.add(await hashOf(bundleDir(change)))
    expect(hashes.size).toBe(variants.length + 1)
  })
})

describe('hashBundle: model.think and model.keep_alive (#23)', () => {
  const templates = {'prompts/system.md': 'hi\n'}
  const withModel = (over: Record<string, unknown>) => {
    const m = fixtureManifest() as Record<string, any>
    return BundleManifest.parse({...m, model: {...m.model, ...over}})
  }

  it('left out, a bundle keeps the hash it had before the fields existed', () => {
    // Pinned from main before model.think / model.keep_alive were added, then recomputed once when
    // the fixture's argument schema moved from the snake_case dialect to standard JSON Schema (#16).
    expect(hashBundle(BundleManifest.parse(fixtureManifest()), templates)).toBe('54516f55be46ece7f5974b6b9a2bf8c23a50b35bbe8a44655641b69777949200')
  })

  it('set, each value is a different bundle', () => {
    const hashes = new Set(
      [{}, {think: true}, {think: false}, {think: 'low'}, {think: 'high'}, {keep_alive: '10m'}, {keep_alive: -1}].map((o) => hashBundle(withModel(o), templates)),
    )
    expect(hashes.size).toBe(7)
  })

  it('accepts only what Ollama accepts', () => {
    for (const bad of [{think: 'max'}, {think: 'yes'}, {keep_alive: 'soon'}, {keep_alive: 1.5}]) {
      expect(() => withModel(bad)).toThrow()
    }
    expect(withModel({keep_alive: '1h30m'}).model.keep_alive).toBe('1h30m')
  })
})
