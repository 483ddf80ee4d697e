import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {diffBundles} from '../../src/bundle/diff.js'
import {UnderstudyError, ValidationError} from '../../src/errors.js'
import {auditActions, parseInstant} from '../../src/incident/audit.js'
import {degrade, DRAFT_ONLY_REASON, killSwitch, tagVersion} from '../../src/incident/variants.js'
import {writeBundle} from '../../src/incident/write-bundle.js'
import {compilePolicy} from '../../src/policy/engine.js'
import {decision, loopingTrace, toolCall, trace} from '../factories/index.js'

const repo = path.resolve(import.meta.dirname, '..', '..')
const goodDir = path.join(repo, 'scenarios', 'drill-refund-regression', 'good')
let dir: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-incident-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

describe('kill-switch', () => {
  it('writes a validated variant with only the named tools disabled and prompts copied', async () => {
    const source = await loadBundle(goodDir)
    const out = path.join(dir, 'ks')
    const b = await writeBundle(killSwitch(source.manifest, ['send_email']), source.templates, out, 'test')
    expect(b.manifest.version).toBe('1.4.0+killswitch')
    expect(b.manifest.tools.filter((t) => !t.enabled).map((t) => t.name)).toEqual(['send_email'])
    expect(b.templates).toEqual(source.templates)
    expect(readFileSync(path.join(out, 'prompts', 'system.md'), 'utf8')).toBe(source.templates['prompts/system.md'])
    expect(b.hash).not.toBe(source.hash)
    // Everything but the switched tool, the version and the description is the same bundle.
    const reloaded = await loadBundle(out)
    expect({...reloaded.manifest, version: '', description: '', tools: reloaded.manifest.tools.map((t) => ({...t, enabled: true}))}).toEqual({
      ...source.manifest,
      version: '',
      description: '',
    })
  })

  it('refuses an unknown tool, naming the known ones', async () => {
    const source = await loadBundle(goodDir)
    expect(() => killSwitch(source.manifest, ['send_fax'])).toThrow(/no tool "send_fax".*send_email/)
    expect(() => killSwitch(source.manifest, [])).toThrow(ValidationError)
  })

  it('tags a version once', () => {
    expect(tagVersion('1.4.0', 'killswitch')).toBe('1.4.0+killswitch')
    expect(tagVersion('1.4.0+killswitch', 'killswitch')).toBe('1.4.0+killswitch')
    expect(tagVersion('1.4.0+b7', 'read-only')).toBe('1.4.0+b7.read-only')
  })
})

describe('degrade', () => {
  it('read_only disables every write tool and keeps the reads', async () => {
    const source = await loadBundle(goodDir)
    const m = degrade(source.manifest, 'read_only')
    expect(m.tools.filter((t) => t.enabled).map((t) => t.name).sort()).toEqual(['lookup_order', 'search_kb'])
    const b = await writeBundle(m, source.templates, path.join(dir, 'ro'), 'test')
    expect(b.manifest.version).toBe('1.4.0+read-only')
  })

  it('draft_only makes every write need approval, even where an allow rule would let it through', async () => {
    const source = await loadBundle(goodDir)
    const m = degrade(source.manifest, 'draft_only')
    const b = await writeBundle(m, source.templates, path.join(dir, 'draft'), 'test')
    const policy = compilePolicy(b.manifest.policies, b.manifest.policy_default)
    const ctx = {tenant: 'acme', user: 'u', role: 'supervisor', step: 1, tool_calls: 0, signals: {}}
    expect(policy({...ctx, tool: 'send_email', risk: 'write_low', args: {to: 'a@example.com'}})).toMatchObject({decision: 'require_approval', reason: DRAFT_ONLY_REASON})
    expect(policy({...ctx, tool: 'issue_refund', risk: 'write_high', args: {amount: 10}})).toMatchObject({decision: 'require_approval', reason: DRAFT_ONLY_REASON})
    expect(policy({...ctx, tool: 'lookup_order', risk: 'read', args: {}})).toMatchObject({decision: 'allow'})
    // A deny still wins over the degraded approval.
    expect(policy({...ctx, tool: 'issue_refund', risk: 'write_high', args: {amount: 9000}})).toMatchObject({decision: 'deny'})
    const diff = diffBundles(source, b)
    expect(JSON.stringify(diff)).toContain('incident-draft-only')
  })
})

describe('writing a bundle', () => {
  it('refuses a non-empty --out and leaves it untouched', async () => {
    const source = await loadBundle(goodDir)
    const out = path.join(dir, 'busy')
    mkdirSync(out)
    writeFileSync(path.join(out, 'keep.txt'), 'mine')
    await expect(writeBundle(source.manifest, source.templates, out, 'x')).rejects.toThrow(/not empty/)
    expect(readFileSync(path.join(out, 'keep.txt'), 'utf8')).toBe('mine')
  })

  it('writes nothing when the variant does not validate', async () => {
    const source = await loadBundle(goodDir)
    const out = path.join(dir, 'bad')
    const broken = {...source.manifest, prompts: {system: 'prompts/missing.md'}}
    const err = await writeBundle(broken, source.templates, out, 'x').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnderstudyError)
    expect((err as Error).message).toContain(out)
    expect(existsSync(out)).toBe(false)
  })
})

describe('audit', () => {
  const t0 = Date.parse('2025-07-01T00:00:00Z')
  const traces = [
    trace({request_id: 'r1', line: 1, tenant: 'acme', tool_calls: [toolCall('issue_refund', {amount: 5}, {step: 1, risk: 'write_high'})], policy_decisions: [decision('mid_run', 'issue_refund', 'allow', 'WRITE_ALLOWED', {tool_call_seq: 0})]}),
    trace({request_id: 'r2', line: 2, tenant: 'acme', tool_calls: [toolCall('issue_refund', {}, {step: 1, risk: 'write_high', outcome: 'needs_approval', executed: false})]}),
    trace({request_id: 'r3', line: 3, tenant: 'globex', tool_calls: [toolCall('lookup_order', {}, {step: 1})]}),
    loopingTrace(1, {request_id: 'r4', line: 4, tenant: 'acme'}),
  ]
  const times = new Map([
    ['r1', t0],
    ['r2', t0 + 60_000],
    ['r3', t0 + 120_000],
    ['r4', t0 + 3_600_000],
  ])

  it('lists executed actions in the window by tenant and tool, with their decisions', () => {
    const r = auditActions(traces, times, {from_ms: t0, to_ms: t0 + 120_000})
    expect(r.requests_in_window).toBe(3)
    expect(r).toMatchObject({actions: 2, writes: 1})
    expect(r.groups.map((g) => [g.tenant, g.tool, g.count])).toEqual([
      ['acme', 'issue_refund', 1],
      ['globex', 'lookup_order', 1],
    ])
    expect(r.groups[0]!.actions[0]).toMatchObject({request_id: 'r1', at: '2025-07-01T00:00:00.000Z', decisions: [{decision: 'allow', reason: 'WRITE_ALLOWED'}]})
  })

  it('is open-ended without bounds and reports requests without a time', () => {
    const r = auditActions([...traces, trace({request_id: 'r5', line: 5})], times, {from_ms: null, to_ms: null})
    expect(r.actions).toBe(3)
    expect(r.untimed).toEqual(['r5'])
  })

  it('rejects a bad instant with a one-line error', () => {
    expect(() => parseInstant('from', 'yesterday')).toThrow(/--from: "yesterday" is not a date-time/)
    expect(parseInstant('to', undefined)).toBeNull()
  })
})
