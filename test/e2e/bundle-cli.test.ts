import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeAll, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {runCli} from '../helpers/cli.js'
import {pathLocator} from '../../src/util/path-position.js'
import {bundleDir, fixtureBundle, removeTempDirs} from '../factories/index.js'
import {fieldPathsOnly} from '../helpers/problem-positions.js'

afterEach(removeTempDirs)

let v1Ref = ''
let v2Ref = ''
let v1Hash = ''
beforeAll(async () => {
  const v1 = await loadBundle(fixtureBundle('refunds-v1'))
  v1Ref = v1.ref
  v1Hash = v1.hash
  v2Ref = (await loadBundle(fixtureBundle('refunds-v2'))).ref
})

describe('understudy bundle validate', () => {
  it('prints ok with ref, counts and mode, and exits 0', async () => {
    const r = await runCli(['bundle', 'validate', fixtureBundle('refunds-v1')])
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe(`ok ${v1Ref} (2 tools, 2 policies, mode react)\n`)
    expect(r.code).toBe(0)
  })

  it('prints every problem on its own line to stderr and exits 1', async () => {
    const dir = bundleDir((m) => {
      m.policies[0].tools = ['wire_money']
      m.budgets.max_steps = -1
    })
    const file = path.join(dir, 'bundle.yaml')
    const r = await runCli(['bundle', 'validate', dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    const lines = fieldPathsOnly(file, r.stderr.trimEnd().split('\n'))
    expect(lines).toContain(`${file}:budgets.max_steps: must be >= 0 (got -1)`)
    expect(lines).toContain(`${file}:policies.0.tools.0: unknown tool "wire_money"`)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('prints a single problem as one line', async () => {
    const dir = bundleDir(() => {})
    writeFileSync(path.join(dir, 'bundle.yaml'), 'name: x\nmodel:\n\tprovider: scripted\n')
    const r = await runCli(['bundle', 'validate', dir])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`understudy: ${path.join(dir, 'bundle.yaml')}:3:1: Tabs are not allowed as indentation\n`)
  })

  it('returns the structures with --json, on success and on failure', async () => {
    const ok = await runCli(['bundle', 'validate', fixtureBundle('refunds-v1-json'), '--json'])
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout)).toEqual({
      ok: true,
      ref: v1Ref,
      hash: v1Hash,
      dir: fixtureBundle('refunds-v1-json'),
      manifest_file: 'bundle.json',
      tools: 2,
      policies: 2,
      mode: 'react',
      warnings: [],
    })

    const dir = bundleDir((m) => {
      m.tools[1].args.properties.amount.maximum = 'lots'
    })
    const bad = await runCli(['bundle', 'validate', dir, '--json'])
    expect(bad.code).toBe(1)
    const file = path.join(dir, 'bundle.yaml')
    const at = pathLocator(readFileSync(file, 'utf8'))(['tools', 1, 'args', 'properties', 'amount', 'maximum'])
    const problem = `${file}:${at}: tools.1.args.properties.amount.maximum: must be number`
    expect(JSON.parse(bad.stdout)).toEqual({error: {message: problem, problems: [problem]}})
  })

  it('warns, exit 0, about each constraint a model served by Ollama never sees (#23)', async () => {
    const dir = bundleDir((m) => {
      m.model = {...m.model, provider: 'ollama', name: 'qwen3:8b'}
    })
    const r = await runCli(['bundle', 'validate', dir, '--json'])
    expect(r.code).toBe(0)
    const {warnings} = JSON.parse(r.stdout) as {warnings: string[]}
    expect(warnings.length).toBeGreaterThan(0)
    expect(warnings[0]).toMatch(/^.*bundle\.yaml:\d+:\d+: tools\.\d+\.args\.[\w.]+: warning: Ollama does not show \w+ to the model/)
    expect(r.stderr.trimEnd().split('\n')).toEqual(warnings)
  })

  it('gives a one-line error for a missing directory', async () => {
    const r = await runCli(['bundle', 'validate', 'no/such/bundle'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('understudy: no/such/bundle: no such bundle directory\n')
  })
})

describe('understudy bundle hash', () => {
  it('prints the ref, and the full hash with --full; YAML and JSON twins agree', async () => {
    expect((await runCli(['bundle', 'hash', fixtureBundle('refunds-v1')])).stdout).toBe(`${v1Ref}\n`)
    const full = await runCli(['bundle', 'hash', fixtureBundle('refunds-v1-json'), '--full'])
    expect(full.code).toBe(0)
    expect(full.stdout).toBe(`${v1Ref}\n${v1Hash}\n`)
  })

  it('returns ref, hash, name and version with --json', async () => {
    const r = await runCli(['bundle', 'hash', fixtureBundle('refunds-v2'), '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ref: v2Ref, hash: expect.stringMatching(/^[0-9a-f]{64}$/), name: 'refunds', version: '2.0.0'})
  })
})

describe('understudy bundle diff', () => {
  it('prints the grouped diff and exits 0 by default', async () => {
    const r = await runCli(['bundle', 'diff', fixtureBundle('refunds-v1'), fixtureBundle('refunds-v2')])
    expect(r.code).toBe(0)
    expect(r.stdout.startsWith(`from ${v1Ref}\nto   ${v2Ref}\n`)).toBe(true)
    for (const line of [
      '== prompts ==',
      '    -Be brief and polite. Refund only what the order allows.',
      '    +Be brief and friendly. Refund only what the order allows.',
      '== tools ==\n  ~ issue_refund\n      ~ args.properties.amount.maximum: 500 -> 250',
      '      + args.required gained "reason"',
      '== policies ==\n  ~ refund-limit\n      ~ when.0.value: 100 -> 50',
    ])
      expect(r.stdout).toContain(line)
    expect(r.stdout).not.toContain('\u001B[')
  })

  it('exits 1 with --exit-code when bundles differ and 0 when they do not', async () => {
    expect((await runCli(['bundle', 'diff', fixtureBundle('refunds-v1'), fixtureBundle('refunds-v2'), '--exit-code'])).code).toBe(1)
    const same = await runCli(['bundle', 'diff', fixtureBundle('refunds-v1'), fixtureBundle('refunds-v1-json'), '--exit-code'])
    expect(same.code).toBe(0)
    expect(same.stdout).toBe(`from ${v1Ref}\nto   ${v1Ref}\n\nno differences\n`)
  })

  it('returns the diff structure with --json, honouring --exit-code', async () => {
    const r = await runCli(['bundle', 'diff', fixtureBundle('refunds-v1'), fixtureBundle('refunds-v2'), '--json', '--exit-code'])
    expect(r.code).toBe(1)
    const d = JSON.parse(r.stdout)
    expect(d.identical).toBe(false)
    expect(d.from.ref).toBe(v1Ref)
    expect(d.policies.changed).toEqual([{id: 'refund-limit', changes: [{path: 'when.0.value', kind: 'changed', before: 100, after: 50}]}])
    expect(d.tools.changed[0].changes).toContainEqual({path: 'args.required', kind: 'gained', value: 'reason'})
    expect(d.prompts[0].slot).toBe('system')
  })

  it('reports the problems of an invalid bundle instead of a diff', async () => {
    const dir = bundleDir((m) => {
      m.policies[0].tools = ['wire_money']
    })
    const r = await runCli(['bundle', 'diff', fixtureBundle('refunds-v1'), dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    const file = path.join(dir, 'bundle.yaml')
    expect(fieldPathsOnly(file, [r.stderr.replace(/^understudy: /, '')])).toEqual([`${file}:policies.0.tools.0: unknown tool "wire_money"\n`])
  })
})
