import {describe, expect, it} from 'vitest'
import {closestCommand, editDistance} from '../../src/cli/not-found.js'

const IDS = ['shadow', 'runs:list', 'runs:rm', 'runs:prune', 'runs:merge', 'report', 'scorecard', 'bisect', 'traffic:import', 'traffic:validate']

describe('closestCommand', () => {
  it('names the nearest command: a slip, a swap, a missing letter, a topic typed alone', () => {
    expect(closestCommand('shadw', IDS)).toBe('shadow')
    expect(closestCommand('runs:lsit', IDS)).toBe('runs:list')
    expect(closestCommand('runs:lst', IDS)).toBe('runs:list')
    expect(closestCommand('traffic:imprt', IDS)).toBe('traffic:import')
    expect(closestCommand('scorcard', IDS)).toBe('scorecard')
  })

  it('suggests nothing rather than a guess that far off', () => {
    expect(closestCommand('frobnicate', IDS)).toBeNull()
    expect(closestCommand('runs:frobnicate', IDS)).toBeNull()
    expect(closestCommand('x', [])).toBeNull()
  })

  it('counts an adjacent swap as one edit', () => {
    expect(editDistance('lsit', 'list')).toBe(1)
    expect(editDistance('', 'abc')).toBe(3)
    expect(editDistance('kitten', 'sitting')).toBe(3)
  })
})
