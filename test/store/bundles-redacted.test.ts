import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {rollback} from '../../src/incident/rollback.js'
import {promoteBundle} from '../../src/rollout/promote.js'
import {bundleDir, tempStore, type TempStore} from '../factories/index.js'

const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const PHONE = '+44 20 7946 0958'

let fx: TempStore | undefined
afterEach(() => fx?.cleanup())

describe('bundles in the store', () => {
  it('are stored redacted, manifest and templates, under the hash of the bundle as it is', async () => {
    const dir = bundleDir((m) => {
      m.description = `Support agent. Ops key: ${AWS_SECRET}`
    })
    const template = path.join(dir, 'prompts', 'system.md')
    writeFileSync(template, `${readFileSync(template, 'utf8')}\nEscalations: call ${PHONE}.\n`)
    const bundle = await loadBundle(dir)
    fx = tempStore()
    promoteBundle(fx.store, bundle, 'full')

    const stored = fx.store.getBundle(bundle.hash)!
    expect(stored.hash).toBe(bundle.hash)
    expect((stored.manifest as {description: string}).description).toMatch(/^Support agent\. Ops key: \[REDACTED:aws_secret:[0-9a-f]{8}\]$/)
    expect(Object.values(stored.templates!).join('\n')).toMatch(/Escalations: call \[REDACTED:phone:[0-9a-f]{8}\]\./)
    fx.store.close()
    const bytes = readFileSync(fx.file).toString('latin1')
    expect(bytes).not.toContain(AWS_SECRET)
    expect(bytes).not.toContain(PHONE)
  })

  it('a rollback to a stored bundle that held a secret says why it cannot be rebuilt', async () => {
    const bundle = await loadBundle(bundleDir((m) => (m.description = `key ${AWS_SECRET}`)))
    fx = tempStore()
    promoteBundle(fx.store, bundle, 'full')
    await expect(rollback(fx.store, 'last-known-good', path.join(fx.dir, 'out'))).rejects.toThrow(/the stored copy had secrets redacted \(the store keeps none\); roll back with --to <bundleDir>/)
  })
})
