import {describe, expect, it} from 'vitest'
import {alignByKey} from '../../src/diff/align.js'

const align = (a: string[], b: string[]) => alignByKey(a, b, (x) => x).map((p) => `${p.kind}:${p.base ?? '-'}:${p.cand ?? '-'}`)

describe('alignByKey', () => {
  it('pairs identical sequences one to one', () => {
    expect(align(['a', 'b', 'c'], ['a', 'b', 'c'])).toEqual(['same:0:0', 'same:1:1', 'same:2:2'])
  })

  it('an inserted element does not shift later pairs', () => {
    expect(align(['lookup', 'refund', 'email'], ['lookup', 'search', 'refund', 'email'])).toEqual([
      'same:0:0',
      'added:-:1',
      'same:1:2',
      'same:2:3',
    ])
  })

  it('a removed element leaves the rest paired', () => {
    expect(align(['lookup', 'search', 'refund', 'email'], ['lookup', 'refund', 'email'])).toEqual([
      'same:0:0',
      'removed:1:-',
      'same:2:1',
      'same:3:2',
    ])
  })

  it('a reordered element is paired as moved, not as an add and a remove', () => {
    const rows = align(['lookup', 'email', 'refund'], ['lookup', 'refund', 'email'])
    expect(rows).toHaveLength(3)
    expect(rows[0]).toBe('same:0:0')
    expect(rows.filter((r) => r.startsWith('moved'))).toHaveLength(1)
    expect(rows.filter((r) => r.startsWith('same'))).toHaveLength(2)
    expect(rows.some((r) => r.startsWith('added') || r.startsWith('removed'))).toBe(false)
  })

  it('repeated names pair in order', () => {
    expect(align(['get', 'get', 'put'], ['get', 'put'])).toEqual(['same:0:0', 'removed:1:-', 'same:2:1'])
  })

  it('handles empty sides', () => {
    expect(align([], ['a'])).toEqual(['added:-:0'])
    expect(align(['a'], [])).toEqual(['removed:0:-'])
    expect(align([], [])).toEqual([])
  })

  it('falls back to a linear pass for very long sequences and still pairs everything', () => {
    const a = Array.from({length: 600}, (_, i) => `t${i % 7}`)
    const b = [...a.slice(0, 300), 'extra', ...a.slice(300)]
    const rows = alignByKey(a, b, (x) => x)
    expect(rows.filter((r) => r.kind === 'added')).toHaveLength(1)
    expect(rows.filter((r) => r.kind === 'same')).toHaveLength(600)
  })
})
