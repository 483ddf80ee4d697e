import {describe, expect, it} from 'vitest'
import {HashedKeySet, IdLineSet} from '../../src/util/id-set.js'

describe('IdLineSet', () => {
  it('remembers the first line of each id and nothing else', () => {
    const s = new IdLineSet(2)
    expect(s.get('req-1')).toBeUndefined()
    s.set('req-1', 1)
    s.set('req-2', 2)
    s.set('req-1', 9) // a duplicate keeps the first line
    expect(s.get('req-1')).toBe(1)
    expect(s.get('req-2')).toBe(2)
    expect(s.get('req-3')).toBeUndefined()
    expect(s.get('')).toBeUndefined()
    expect(s.size).toBe(2)
  })

  it('keeps every id apart across growth, including near-identical ones', () => {
    const s = new IdLineSet(4)
    const n = 200_000
    for (let i = 0; i < n; i++) s.set(`req-${i}`, i + 1)
    expect(s.size).toBe(n)
    for (let i = 0; i < n; i += 997) expect(s.get(`req-${i}`)).toBe(i + 1)
    expect(s.get(`req-${n}`)).toBeUndefined()
    expect(s.get('req-01')).toBeUndefined() // not req-1
    expect(s.get('1-qer')).toBeUndefined()
  })

  it('answers the same sized up front for all its ids as grown from the default', () => {
    const sized = new IdLineSet(5000)
    const grown = new IdLineSet()
    for (let i = 1; i <= 5000; i++) {
      const id = `req-${i % 4000}`
      sized.set(id, i)
      grown.set(id, i)
    }
    expect(sized.size).toBe(4000)
    for (let i = 0; i < 4100; i++) expect(sized.get(`req-${i}`)).toBe(grown.get(`req-${i}`))
  })

  it('refuses a line that is not a positive integer (0 marks an empty slot)', () => {
    expect(() => new IdLineSet().set('a', 0)).toThrow(RangeError)
  })
})

describe('HashedKeySet', () => {
  it('answers membership for every key added and none other, across growth', () => {
    const keys = new HashedKeySet(4)
    const key = (i: number) => `req-${i}\u0000${i % 3 === 0 ? 'recorded' : 'candidate'}\u0000${i % 2}`
    for (let i = 0; i < 50_000; i++) keys.add(key(i))
    // Adding again changes nothing.
    for (let i = 0; i < 1000; i++) keys.add(key(i))
    expect(keys.size).toBe(50_000)
    for (let i = 0; i < 50_000; i++) expect(keys.has(key(i))).toBe(true)
    let falsePositives = 0
    for (let i = 50_000; i < 150_000; i++) if (keys.has(key(i))) falsePositives++
    expect(falsePositives).toBe(0)
    expect(keys.has('')).toBe(false)
  })
})
