import {readFileSync} from 'node:fs'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {loadBundle} from '../src/bundle/load.js'
import type {Bundle} from '../src/bundle/schema.js'
import {compileBundle} from '../src/runtime/compile.js'
import {renderTemplate} from '../src/runtime/messages.js'

export type PromptSectionsResult = {select_ns: number; render_ns: number; plain_render_ns: number; requests: number; tenants: number}

/**
 * Cost of choosing one request's prompts when a feature flag names a prompt section (#18), as the
 * runtime does for every request (`promptsFor`): banking-assistant v1 with its rules block made a
 * section that one bank has off, over the tenants of its recorded traffic in order. Beside it, for
 * scale, choosing and rendering the system prompt, with the flag and without (the same bundle as
 * shipped): the render was there before sections and costs the same either way.
 */
export async function measurePromptSections(root: string, requests: number): Promise<PromptSectionsResult> {
  const scenario = path.join(root, 'scenarios', 'banking-assistant')
  const plain = await loadBundle(path.join(scenario, 'v1'))
  const sectioned: Bundle = {
    ...plain,
    manifest: {...plain.manifest, flags: {rules: {sections: ['rules'], default: 'on', tenants: {northmere: 'off'}}}},
    templates: Object.fromEntries(Object.entries(plain.templates).map(([k, v]) => [k, v.replace('Rules:', '{{#section rules}}\nRules:').concat('\n{{/section rules}}\n')])),
  }
  const tenants = readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as {tenant: string}).tenant)
  const vars = {user: 'u', role: 'customer', date: '2026-01-01', tools: 'get_balance'}
  const time = (b: Bundle, render: boolean): number => {
    const c = compileBundle(b)
    let n = 0
    const once = (i: number) => {
      const tenant = tenants[i % tenants.length]!
      const p = c.promptsFor(tenant)
      n += render ? renderTemplate(p.system, {...vars, tenant}).length : p.off.length
    }
    for (let i = 0; i < Math.min(requests, 20_000); i++) once(i)
    const t0 = performance.now()
    for (let i = 0; i < requests; i++) once(i)
    if (n < 0) throw new Error('unreachable')
    return ((performance.now() - t0) * 1e6) / requests
  }
  return {
    select_ns: time(sectioned, false),
    render_ns: time(sectioned, true),
    plain_render_ns: time(plain, true),
    requests,
    tenants: new Set(tenants).size,
  }
}
