import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {diffBundles} from '../../src/bundle/diff.js'
import {renderBundleDiff} from '../../src/bundle/render-diff.js'
import {templateSections, templateVariables, withoutSections} from '../../src/bundle/templates.js'
import {validateBundle} from '../../src/bundle/validate.js'
import type {Bundle} from '../../src/bundle/schema.js'
import type {ChatRequest, ChatResponse, ModelClient} from '../../src/model/types.js'
import {runRequest} from '../../src/runtime/agent.js'
import {agentDeps, trafficRecord} from '../factories/index.js'
import {removeTempDirs, tempDir} from '../factories/temp-dir.js'

// Feature flags naming prompt sections, on the banking-assistant scenario (two banks as tenants).
const V1 = path.resolve('scenarios/banking-assistant/v1')
const RULE = '- Transfers above 1,500.00 are held for approval by the bank before they are sent.'

/** A copy of banking-assistant v1 whose transfer-limit rule is a named section, plus `flags` YAML appended. */
function sectionedBundle(flags: string, prompt?: (text: string) => string): string {
  const dir = tempDir('understudy-sections-')
  cpSync(V1, dir, {recursive: true})
  const file = path.join(dir, 'prompts/system.md')
  const text = readFileSync(file, 'utf8')
  expect(text).toContain(RULE)
  const sectioned = text.replace(RULE, `{{#section transfer_limits}}\n${RULE}\n{{/section transfer_limits}}`)
  writeFileSync(file, prompt ? prompt(sectioned) : sectioned)
  writeFileSync(path.join(dir, 'bundle.yaml'), readFileSync(path.join(dir, 'bundle.yaml'), 'utf8') + flags)
  return dir
}

const LIMITS_OFF_AT_NORTHMERE = '\nflags:\n  limits_in_prompt:\n    sections: [transfer_limits]\n    default: on\n    tenants: {northmere: off}\n'

function capture(): ModelClient & {requests: ChatRequest[]} {
  const model = {
    id: 'stub:capture',
    requests: [] as ChatRequest[],
    async chat(request: ChatRequest): Promise<ChatResponse> {
      model.requests.push(request)
      return {message: {role: 'assistant', content: 'Your balance is 100.00 EUR.', tool_calls: []}, input_tokens: 10, output_tokens: 2, latency_ms: 1, done_reason: 'stop'}
    },
  }
  return model
}

async function load(dir: string): Promise<Bundle> {
  const v = await validateBundle(dir)
  expect(v.problems).toEqual([])
  return v.bundle!
}

async function firstRequest(b: Bundle, tenant: string) {
  const model = capture()
  const trace = await runRequest(trafficRecord({id: 'bank-x', tenant, user: `${tenant}-u1`, role: 'customer', input: [{role: 'user', content: 'What is my balance?'}]}), 1, agentDeps(b, model))
  return {request: model.requests[0]!, trace, bundle: b}
}

afterAll(removeTempDirs)

describe('prompt sections (templates)', () => {
  it('a template without markers renders as written; markers are not template variables', () => {
    const plain = readFileSync(path.join(V1, 'prompts/system.md'), 'utf8')
    expect(withoutSections(plain, new Set(['transfer_limits']))).toBe(plain)
    const t = 'a {{tenant}}\r\n{{#section x}}\r\nonly x\r\n{{/section x}}\r\nb\n'
    expect(templateVariables(t).map((u) => u.name)).toEqual(['tenant'])
    expect(withoutSections(t, new Set())).toBe('a {{tenant}}\r\nonly x\r\nb\n')
    expect(withoutSections(t, new Set(['x']))).toBe('a {{tenant}}\r\nb\n')
  })

  it('bad markers are one problem each, with the template line', () => {
    const bad = ['{{#section a}}', '{{#section b}}', '{{/section b}}', 'x {{/section a}}', '{{/section c}}', '{{#section a}}', '{{#section Bad}}', '{{#section d}}'].join('\n')
    expect(templateSections('p.md', bad).problems).toEqual([
      'section "b" at p.md:2 opens inside section "a" (sections do not nest)',
      '{{/section b}} at p.md:3 closes section "a" (opened at line 1)',
      'malformed section marker at p.md:4: write {{#section name}} or {{/section name}} alone on its line (name: lowercase letters, digits, _ or -)',
      '{{/section c}} at p.md:5 closes section "a" (opened at line 1)',
      'section "a" at p.md:6 opens inside section "a" (sections do not nest)',
      'malformed section marker at p.md:7: write {{#section name}} or {{/section name}} alone on its line (name: lowercase letters, digits, _ or -)',
      'section "d" at p.md:8 opens inside section "a" (sections do not nest)',
      'section "a" opened at p.md:1 is never closed ({{/section a}})',
    ])
  })
})

describe('feature flags naming prompt sections (banking-assistant)', () => {
  it('a tenant the flag is off for is sent the system prompt without the section; byte-identical for the same hash and tenant', async () => {
    const dir = sectionedBundle(LIMITS_OFF_AT_NORTHMERE)
    const b = await load(dir)
    const north = await firstRequest(b, 'northmere')
    const tally = await firstRequest(b, 'tallyrock')
    const system = (r: ChatRequest) => r.messages[0]!.content
    expect(system(tally.request)).toContain(RULE)
    expect(system(tally.request)).not.toContain('{{')
    expect(system(north.request)).not.toContain(RULE)
    expect(system(north.request).replace('northmere', 'tallyrock').replace('northmere-u1', 'tallyrock-u1')).toBe(system(tally.request).replace(`${RULE}\n`, ''))
    expect(north.trace.steps[0]!.detail).toContain('prompt section(s) flagged off: transfer_limits')
    expect(tally.trace.steps[0]!.detail).not.toContain('flagged off')
    // Another load and compile of the same bundle: same hash, same bytes for the same tenant.
    const again = await firstRequest(await load(dir), 'northmere')
    expect(again.bundle.hash).toBe(north.bundle.hash)
    expect(JSON.stringify(again.request)).toBe(JSON.stringify(north.request))
  })

  it('a bundle without sections keeps its hash; the flag shows in bundle diff', async () => {
    const plain = await load(V1)
    const sectioned = await load(sectionedBundle(''))
    // All sections on: the request is the original bundle's, byte for byte (only the hash differs).
    const a = await firstRequest(plain, 'tallyrock')
    const b = await firstRequest(sectioned, 'tallyrock')
    expect(JSON.stringify(b.request)).toBe(JSON.stringify(a.request))
    const flagged = await load(sectionedBundle(LIMITS_OFF_AT_NORTHMERE))
    const text = renderBundleDiff(diffBundles(sectioned, flagged), {color: false})
    expect(text).toContain('feature flags')
    expect(text).toContain('+ flags.limits_in_prompt: {"sections":["transfer_limits"],"default":"on","tenants":{"northmere":"off"}}')
    expect(plain.hash).not.toBe(sectioned.hash)
  })

  it('a flag naming an unknown section, or nothing, is a located error', async () => {
    const dir = sectionedBundle('\nflags:\n  typo:\n    sections: [transfer_limit]\n    default: off\n  empty:\n    default: on\n')
    const v = await validateBundle(dir)
    const yaml = readFileSync(path.join(dir, 'bundle.yaml'), 'utf8').split('\n')
    const line = (needle: string) => yaml.findIndex((l) => l.includes(needle)) + 1
    const file = path.join(dir, 'bundle.yaml')
    expect(v.problems).toEqual([
      `${file}:${line('  empty:')}:3: flags.empty: names no tool and no prompt section: give tools, sections or both`,
      `${file}:${line('sections: [transfer_limit]')}:16: flags.typo.sections.0: unknown prompt section "transfer_limit" (declared: transfer_limits)`,
    ])
  })

  it('a broken marker in a prompt fails the bundle at prompts.system', async () => {
    const dir = sectionedBundle('', (t) => t.replace('{{/section transfer_limits}}', '{{/section limits}}'))
    const v = await validateBundle(dir)
    expect(v.problems).toHaveLength(2)
    expect(v.problems[0]).toMatch(/bundle\.yaml:\d+:\d+: prompts\.system: \{\{\/section limits\}\} at prompts\/system\.md:\d+ closes section "transfer_limits"/)
  })
})
