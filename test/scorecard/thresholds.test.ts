import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {ValidationError} from '../../src/errors.js'
import {DEFAULT_THRESHOLDS, loadThresholds} from '../../src/scorecard/thresholds.js'

const dir = mkdtempSync(path.join(tmpdir(), 'understudy-thresholds-'))
const file = (name: string, text: string): string => {
  const f = path.join(dir, name)
  writeFileSync(f, text)
  return f
}

function problems(fn: () => unknown): string[] {
  try {
    fn()
  } catch (e) {
    if (e instanceof ValidationError) return e.problems
    throw e
  }
  throw new Error('expected a ValidationError')
}

describe('loadThresholds', () => {
  it('overrides only what the YAML file names', () => {
    const t = loadThresholds(file('t.yaml', 'cost:\n  p95_latency_increase: {amber: 0.3, red: 0.5}\n'))
    expect(t.cost.p95_latency_increase).toEqual({amber: 0.3, red: 0.5})
    expect(t.cost.tokens_per_request_increase).toEqual(DEFAULT_THRESHOLDS.cost.tokens_per_request_increase)
    expect(t.safety).toEqual(DEFAULT_THRESHOLDS.safety)
  })

  it('reads JSON, and one side of a limit alone', () => {
    const t = loadThresholds(file('t.json', JSON.stringify({quality: {status_match_rate: {red: 0.8}}})))
    expect(t.quality.status_match_rate).toEqual({amber: 0.95, red: 0.8})
  })

  // Issue #15: the absolute rate limits became optional; files written before still mean the same.
  it('absolute rate limits are optional; an older file that names them, or one side of one, still applies them', () => {
    expect(DEFAULT_THRESHOLDS.reliability.max_steps_rate).toBeUndefined()
    expect(DEFAULT_THRESHOLDS.reliability.max_steps_rate_increase).toEqual({amber: 0.01, red: 0.05})
    const t = loadThresholds(file('old.yaml', 'reliability:\n  max_steps_rate: {red: 0.1}\nquality:\n  golden_pass_rate: {amber: 0.97, red: 0.9}\n'))
    expect(t.reliability.max_steps_rate).toEqual({amber: 0.01, red: 0.1})
    expect(t.quality.golden_pass_rate).toEqual({amber: 0.97, red: 0.9})
    expect(t.cost.budget_hit_rate).toBeUndefined()
  })

  it('an empty file means the defaults', () => {
    expect(loadThresholds(file('empty.yaml', ''))).toEqual(DEFAULT_THRESHOLDS)
  })

  it('names file and field for a wrong type', () => {
    const f = file('bad.yaml', 'cost:\n  p95_latency_increase:\n    red: lots\n')
    expect(problems(() => loadThresholds(f))).toEqual([expect.stringMatching(new RegExp(`^${f}:3:5: cost\\.p95_latency_increase\\.red: .*number`))])
  })

  it('rejects unknown keys (a typo must not silently keep the default)', () => {
    const f = file('typo.yaml', 'safety:\n  denial_rate_increse: {amber: 0.1, red: 0.2}\n')
    const p = problems(() => loadThresholds(f))
    expect(p).toHaveLength(1)
    expect(p[0]).toBe(`${f}:2:3: safety.denial_rate_increse: unknown field "denial_rate_increse"`)
  })

  it('rejects amber beyond red, for both directions', () => {
    const f = file('order.yaml', 'reliability:\n  max_steps_rate: {amber: 0.2, red: 0.1}\nquality:\n  status_match_rate: {amber: 0.8, red: 0.9}\n')
    const p = problems(() => loadThresholds(f))
    expect(p).toEqual([
      `${f}:2:3: reliability.max_steps_rate: amber must not be above red for an "at most" limit (got {"amber":0.2,"red":0.1})`,
      `${f}:4:3: quality.status_match_rate: amber must not be below red for an "at least" limit (got {"amber":0.8,"red":0.9})`,
    ])
  })

  it('one-line errors for unreadable, malformed and non-object files', () => {
    expect(() => loadThresholds(path.join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read thresholds file \(ENOENT\)/)
    expect(problems(() => loadThresholds(file('broken.json', '{"cost": ')))[0]).toMatch(/broken\.json:1:10: /)
    expect(problems(() => loadThresholds(file('broken.yaml', 'cost: [unclosed\n')))[0]).toMatch(/broken\.yaml:\d+:\d+: /)
    expect(problems(() => loadThresholds(file('list.yaml', '- 1\n- 2\n')))[0]).toMatch(/list\.yaml: expected an object/)
  })
})
