import {describe, expect, it} from 'vitest'
import path from 'node:path'
import {diffBundles} from '../../src/bundle/diff.js'
import {validateBundle} from '../../src/bundle/validate.js'
import {repoRoot} from '../helpers/cli.js'

const scenario = (v: string) => path.join(repoRoot, 'scenarios', 'support-refunds', v)

describe('shipped support-refunds bundles', () => {
  it('both validate, and v1 -> v2 differs in a prompt, a policy and a tool argument schema', async () => {
    const v1 = await validateBundle(scenario('v1'))
    const v2 = await validateBundle(scenario('v2'))
    expect(v1.problems).toEqual([])
    expect(v2.problems).toEqual([])
    const d = diffBundles(v1.bundle!, v2.bundle!)
    expect(d.prompts.some((p) => p.patch.includes('\n-') && p.patch.includes('\n+'))).toBe(true)
    expect(d.policies.added.length + d.policies.removed.length + d.policies.changed.length).toBeGreaterThan(0)
    const argChanges = d.tools.changed.flatMap((t) => t.changes).filter((c) => c.path.startsWith('args.'))
    expect(argChanges.length).toBeGreaterThan(0)
    expect(v1.bundle!.hash).not.toBe(v2.bundle!.hash)
  })
})
