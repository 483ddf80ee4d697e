import {describe, expect, it} from 'vitest'
import {packRows, unpackRows} from '../../src/store/row-pack.js'
import {requestParams} from '../../src/store/rows.js'
import {fullTrace} from '../factories/index.js'

describe('row-pack (the trace writer hand-over)', () => {
  it('unpacks exactly the values packed: strings of any script, numbers, null', () => {
    const rows = [
      ['run-1', 'req-ü-字-😀', 3, 'candidate', 0, '', null, -0, 0.1 + 0.2, Number.MAX_SAFE_INTEGER, -1e-300],
      [requestParams('run-1', fullTrace('req-7', 7)).length, '{"a":"\\u0000\\n"}', 'x'.repeat(70_000)],
      [],
    ]
    const packed = packRows(rows)!
    expect(packed.length).toBeLessThanOrEqual(packed.buffer.byteLength)
    const back = unpackRows(packed)
    expect(back).toEqual(rows)
    expect(Object.is(back[0]![7], -0)).toBe(true)
  })

  it('round-trips a real trace row, and hands a lone surrogate over as the UTF-8 SQLite would be given (U+FFFD)', () => {
    const row = requestParams('run-1', {...fullTrace('req-1', 1), final_answer: 'a\uD800b'})
    const back = unpackRows(packRows([row])!)[0]!
    expect(back).toEqual(row.map((v) => (v === 'a\uD800b' ? 'a\uFFFDb' : v)))
    expect(Buffer.from(back[9] as string)).toEqual(Buffer.from('a\uD800b'))
  })

  it('refuses (null) a batch holding a value it cannot carry, so the caller sends the rows themselves', () => {
    expect(packRows([['a', 1, undefined]])).toBeNull()
    expect(packRows([['a'], [true]])).toBeNull()
    expect(packRows([[1n]])).toBeNull()
  })
})
