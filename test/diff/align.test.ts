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

  it('pairs sequences with a common head as the full LCS table does', () => {
    // The whole-table walk, written out plainly, as the reference for inputs of every shape.
    const reference = (a: string[], b: string[]): string[] => {
      const len = (i: number, j: number): number => (i >= a.length || j >= b.length ? 0 : a[i] === b[j] ? len(i + 1, j + 1) + 1 : Math.max(len(i + 1, j), len(i, j + 1)))
      const out: string[] = []
      let i = 0
      let j = 0
      while (i < a.length && j < b.length) {
        if (a[i] === b[j]) out.push(`same:${i++}:${j++}`)
        else if (len(i + 1, j) >= len(i, j + 1)) out.push(`removed:${i++}:-`)
        else out.push(`added:-:${j++}`)
      }
      while (i < a.length) out.push(`removed:${i++}:-`)
      while (j < b.length) out.push(`added:-:${j++}`)
      return out
    }
    // Every pair of sequences over {x, y} up to length 4 (moves aside, which neither side has here
    // when no key is left unpaired on both sides).
    const all: string[][] = [[]]
    for (let n = 1; n <= 4; n++) for (let k = 0; k < 2 ** n; k++) all.push(Array.from({length: n}, (_, i) => ((k >> i) & 1 ? 'y' : 'x')))
    let compared = 0
    for (const a of all) {
      for (const b of all) {
        const rows = align(a, b)
        if (rows.some((r) => r.startsWith('moved'))) continue
        expect(rows, `${a.join('')} vs ${b.join('')}`).toEqual(reference(a, b))
        compared++
      }
    }
    expect(compared).toBeGreaterThan(200)
  })

  it('falls back to a linear pass for very long sequences and still pairs everything', () => {
    const a = Array.from({length: 600}, (_, i) => `t${i % 7}`)
    const b = [...a.slice(0, 300), 'extra', ...a.slice(300)]
    const rows = alignByKey(a, b, (x) => x)
    expect(rows.filter((r) => r.kind === 'added')).toHaveLength(1)
    expect(rows.filter((r) => r.kind === 'same')).toHaveLength(600)
  })
})
