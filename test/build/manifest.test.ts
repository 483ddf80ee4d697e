import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'

// `npm ci` regenerates oclif.manifest.json through `prepare`; a fresh clone must stay clean, so the file must
// not depend on the order in which oclif's loaders happen to finish.
describe('oclif.manifest.json', () => {
  const text = readFileSync(new URL('../../oclif.manifest.json', import.meta.url), 'utf8')
  const manifest = JSON.parse(text) as {commands: Record<string, unknown>}

  it('lists its commands sorted by id', () => {
    const ids = Object.keys(manifest.commands)
    expect(ids.length).toBeGreaterThan(20)
    expect(ids).toEqual([...ids].sort())
  })

  it('is written in the canonical form (two-space JSON, one trailing newline)', () => {
    expect(text).toBe(JSON.stringify(manifest, null, 2) + '\n')
  })
})
