import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {validateTraffic} from '../../src/traffic/validate.js'
import {trafficStats} from '../../src/traffic/stats.js'
import {repoRoot} from '../helpers/cli.js'

// The shipped scenario's traffic must be replayable as is: every line valid, every id unique.
const file = path.join(repoRoot, 'scenarios/support-refunds/traffic.jsonl')

describe('scenarios/support-refunds/traffic.jsonl', () => {
  it('validates cleanly', async () => {
    const r = await validateTraffic(file, {maxErrors: 10})
    expect(r.errors).toEqual([])
    expect(r.invalid).toBe(0)
    expect(r.duplicateIds).toBe(0)
    expect(r.lines).toBeGreaterThan(0)
    expect(r.valid).toBe(r.lines)
  })

  it('summarises without invalid lines', async () => {
    const s = await trafficStats(file)
    expect(s.invalidLines).toBe(0)
    expect(s.requests).toBeGreaterThan(0)
    expect(Object.values(s.byTenant).reduce((a, b) => a + b, 0)).toBe(s.requests)
  })
})
