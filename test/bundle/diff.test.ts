import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {type BundleDiff, diffBundles, isEmptyDiff} from '../../src/bundle/diff.js'
import {loadBundle} from '../../src/bundle/load.js'
import {renderBundleDiff} from '../../src/bundle/render-diff.js'
import {bundleDir, fixtureBundle, removeTempDirs} from '../factories/index.js'

afterEach(removeTempDirs)

const SYSTEM_PATCH = [
  '--- a/prompts/system.md',
  '+++ b/prompts/system.md',
  '@@ -3,4 +3,4 @@',
  ' Tools you may call:',
  ' {{tools}}',
  ' ',
  '-Be brief and polite. Refund only what the order allows.',
  '+Be brief and friendly. Refund only what the order allows.',
  '',
].join('\n')

describe('diffBundles', () => {
  it('groups the differences between the v1 and v2 fixtures exactly', async () => {
    const a = await loadBundle(fixtureBundle('refunds-v1'))
    const b = await loadBundle(fixtureBundle('refunds-v2'))
    const d = diffBundles(a, b)
    expect(d).toEqual({
      from: {ref: a.ref, dir: a.dir},
      to: {ref: b.ref, dir: b.dir},
      meta: [{path: 'version', kind: 'changed', before: '1.0.0', after: '2.0.0'}],
      model: [],
      agent: [],
      prompts: [
        {slot: 'system', before: 'prompts/system.md', after: 'prompts/system.md', patch: SYSTEM_PATCH, lines_added: 1, lines_removed: 1},
      ],
      tools: {
        added: [],
        removed: [],
        changed: [
          {
            name: 'issue_refund',
            changes: [
              {path: 'args.properties.amount.maximum', kind: 'changed', before: 500, after: 250},
              {path: 'args.properties.reason', kind: 'added', after: {type: 'string', enum: ['damaged', 'late', 'other']}},
              {path: 'args.required', kind: 'gained', value: 'reason'},
            ],
          },
        ],
      },
      policies: {
        default: [],
        added: [],
        removed: [],
        changed: [{id: 'refund-limit', changes: [{path: 'when.0.value', kind: 'changed', before: 100, after: 50}]}],
      },
      budgets: [],
      tenant_quotas: [],
      retrieval: [],
      memory: [],
      guardrails: [],
      autonomy: [],
      flags: [],
    } satisfies BundleDiff)
    expect(isEmptyDiff(d)).toBe(false)
  })

  it('finds nothing between bundles with the same hash (YAML vs reordered JSON)', async () => {
    const a = await loadBundle(fixtureBundle('refunds-v1'))
    const b = await loadBundle(fixtureBundle('refunds-v1-json'))
    const d = diffBundles(a, b)
    expect(isEmptyDiff(d)).toBe(true)
    expect(renderBundleDiff(d, {color: false})).toBe(`from ${a.ref}\nto   ${b.ref}\n\nno differences\n`)
  })

  it('reports added/removed tools and policies, model, mode, roles, budgets, quotas, memory and guardrails', async () => {
    const a = await loadBundle(bundleDir(() => {}))
    const dir = bundleDir((m) => {
      m.model.name = 'qwen2.5:7b'
      m.model.temperature = 0.2
      m.agent.mode = 'plan_first'
      m.tools[0].name = 'find_order'
      m.tools[1].roles.globex.push('agent')
      m.tools[1].roles.acme = ['supervisor']
      m.tools[1].sensitive_fields = []
      m.tools[1].rate_limits = {per_user_per_minute: 3}
      m.policies[1].id = 'block-injected-writes'
      m.policy_default = 'deny'
      m.budgets.max_steps = 10
      delete m.tenant_quotas.acme
      m.tenant_quotas.globex = {max_tool_calls_per_minute: 30}
      m.memory = {default_ttl_seconds: 60, fields: [{key: 'plan', type: 'string', owner: 'crm'}]}
      m.guardrails = {block_injection_in_input: true}
      delete m.prompts.plan
    })
    const b = await loadBundle(dir)
    const d = diffBundles(a, b)
    expect(d.model).toEqual([
      {path: 'model.name', kind: 'changed', before: 'refunds-script', after: 'qwen2.5:7b'},
      {path: 'model.temperature', kind: 'changed', before: 0, after: 0.2},
    ])
    expect(d.agent).toEqual([{path: 'agent.mode', kind: 'changed', before: 'react', after: 'plan_first'}])
    expect(d.prompts.map((p) => [p.slot, p.before, p.after, p.lines_removed, p.lines_added])).toEqual([['plan', 'prompts/plan.md', null, 1, 0]])
    expect(d.tools.added.map((t) => t.name)).toEqual(['find_order'])
    expect(d.tools.removed.map((t) => [t.name, t.risk])).toEqual([['lookup_order', 'read']])
    expect(d.tools.changed).toEqual([
      {
        name: 'issue_refund',
        changes: [
          {path: 'rate_limits', kind: 'added', after: {per_user_per_minute: 3}},
          {path: 'roles.acme', kind: 'lost', value: 'agent'},
          {path: 'roles.globex', kind: 'gained', value: 'agent'},
          {path: 'sensitive_fields', kind: 'lost', value: 'note'},
        ],
      },
    ])
    expect(d.policies.default).toEqual([{path: 'policy_default', kind: 'changed', before: 'allow', after: 'deny'}])
    expect(d.policies.added.map((p) => [p.id, p.effect, p.reason])).toEqual([['block-injected-writes', 'deny', 'INJECTION_SUSPECTED']])
    expect(d.policies.removed.map((p) => p.id)).toEqual(['no-injected-writes'])
    expect(d.policies.changed).toEqual([])
    expect(d.budgets).toEqual([{path: 'budgets.max_steps', kind: 'changed', before: 8, after: 10}])
    expect(d.tenant_quotas).toEqual([
      {path: 'tenant_quotas.acme', kind: 'removed', before: {max_requests_per_minute: 60}},
      {path: 'tenant_quotas.globex', kind: 'added', after: {max_tool_calls_per_minute: 30}},
    ])
    expect(d.memory).toEqual([
      {path: 'memory', kind: 'added', after: {default_ttl_seconds: 60, provenance_required: true, owners: [], fields: {plan: {type: 'string', owner: 'crm'}}}},
    ])
    expect(d.guardrails).toEqual([{path: 'guardrails.block_injection_in_input', kind: 'changed', before: false, after: true}])
    expect(d.retrieval).toEqual([])
  })

  it('shows autonomy: absent reads as full for every tenant; a tenant override is one change', async () => {
    const absent = await loadBundle(bundleDir(() => {}))
    const full = await loadBundle(bundleDir((m) => (m.autonomy = 'full')))
    const acme = await loadBundle(bundleDir((m) => (m.autonomy = {default: 'full', tenants: {acme: 'draft'}})))
    expect(diffBundles(absent, full).autonomy).toEqual([])
    const d = diffBundles(absent, acme)
    expect(d.autonomy).toEqual([{path: 'autonomy.tenants.acme', kind: 'added', after: 'draft'}])
    expect(renderBundleDiff(d, {color: false})).toContain('== autonomy ==\n')
    const flagged = await loadBundle(bundleDir((m) => (m.flags = {refunds_v2: {tools: ['issue_refund'], default: 'off', tenants: {acme: 'on'}}})))
    expect(diffBundles(absent, flagged).flags).toEqual([
      {path: 'flags.refunds_v2', kind: 'added', after: {tools: ['issue_refund'], default: 'off', tenants: {acme: 'on'}}},
    ])
  })

  it('compares memory fields by key and ignores CRLF-only template changes', async () => {
    const memory = (ttl: number) => ({default_ttl_seconds: 60, fields: [{key: 'a', type: 'string', owner: 'x'}, {key: 'plan', type: 'string', owner: 'crm', ttl_seconds: ttl}]})
    const a = await loadBundle(bundleDir((m) => (m.memory = memory(10))))
    const dir = bundleDir((m) => {
      m.memory = memory(20)
      m.memory.fields.reverse()
    })
    const file = path.join(dir, 'prompts', 'system.md')
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n/g, '\r\n'))
    const d = diffBundles(a, await loadBundle(dir))
    expect(d.prompts).toEqual([])
    expect(d.memory).toEqual([{path: 'memory.fields.plan.ttl_seconds', kind: 'changed', before: 10, after: 20}])
  })
})

describe('renderBundleDiff', () => {
  it('renders sections with headers, +/-/~ lines and the prompt patch, without colour', async () => {
    const a = await loadBundle(fixtureBundle('refunds-v1'))
    const b = await loadBundle(fixtureBundle('refunds-v2'))
    const text = renderBundleDiff(diffBundles(a, b), {color: false})
    expect(text).toBe(
      [
        `from ${a.ref}`,
        `to   ${b.ref}`,
        '',
        '== bundle ==',
        '  ~ version: "1.0.0" -> "2.0.0"',
        '',
        '== prompts ==',
        '  ~ system (prompts/system.md): +1 -1 lines',
        ...SYSTEM_PATCH.trimEnd().split('\n').map((l) => `    ${l}`),
        '',
        '== tools ==',
        '  ~ issue_refund',
        '      ~ args.properties.amount.maximum: 500 -> 250',
        '      + args.properties.reason: {"type":"string","enum":["damaged","late","other"]}',
        '      + args.required gained "reason"',
        '',
        '== policies ==',
        '  ~ refund-limit',
        '      ~ when.0.value: 100 -> 50',
        '',
      ].join('\n'),
    )
    expect(text).not.toContain('\u001B[')
  })

  it('colours only when asked', async () => {
    const a = await loadBundle(fixtureBundle('refunds-v1'))
    const b = await loadBundle(fixtureBundle('refunds-v2'))
    const text = renderBundleDiff(diffBundles(a, b), {color: true})
    expect(text).toContain('\u001B[32m      + args.required gained "reason"\u001B[0m')
    expect(text).toContain('\u001B[31m    -Be brief and polite.')
    expect(text.replace(/\u001B\[[0-9;]*m/g, '')).toBe(renderBundleDiff(diffBundles(a, b), {color: false}))
  })

  it('shows added and removed tools and policies with their risk and effect', async () => {
    const a = await loadBundle(bundleDir(() => {}))
    const b = await loadBundle(
      bundleDir((m) => {
        m.tools[0].name = 'find_order'
        m.policies[1].id = 'block-writes'
      }),
    )
    const text = renderBundleDiff(diffBundles(a, b), {color: false})
    expect(text).toContain('== tools ==\n  + find_order (read)\n  - lookup_order (read)\n')
    expect(text).toContain('== policies ==\n  + block-writes (deny INJECTION_SUSPECTED)\n  - no-injected-writes (deny INJECTION_SUSPECTED)\n')
  })
})
