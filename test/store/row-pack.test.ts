import {describe, expect, it} from 'vitest'
import {eachPackedRow, packRows, RowPacker, unpackRows} from '../../src/store/row-pack.js'
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

  it('decodes rows one at a time as they are asked for: a row is handed out before the next is read', () => {
    const rows = [['a', 1], ['b', null], ['c', 'x'.repeat(5000)]]
    const it = eachPackedRow(packRows(rows)!)
    const first = it.next()
    expect(first).toEqual({done: false, value: ['a', 1]})
    // The consumer may change the row it holds (the store puts a list key in place of its text); the rest is untouched.
    first.value!.push('changed')
    expect([...it]).toEqual(rows.slice(1))
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

  it('packs request after request into one buffer: what take() hands over is what packRows gives for all of them', () => {
    const packer = new RowPacker()
    const row = requestParams('run-1', fullTrace('req-1', 1))
    const requests = Array.from({length: 300}, (_, i) => [row.with(1, `req-${i}`), ['ascii', 'é', 'x'.repeat(24), `${'y'.repeat(23)}€`, i]])
    for (const rows of requests) expect(packer.append(rows)).toBe(true)
    expect(packer.rows).toBe(600)
    const taken = packer.take()!
    // Grown past its first 64 KB, and copied out to the bytes used.
    expect(taken.length).toBeGreaterThan(1 << 16)
    expect(taken.buffer.byteLength).toBe(taken.length)
    const expected = packRows(requests.flat())!
    expect(Buffer.from(taken.buffer).equals(Buffer.from(expected.buffer, 0, expected.length))).toBe(true)
    expect(unpackRows(taken)).toEqual(requests.flat())
    // Starts over; the bytes handed over are the batch's own, not the reused buffer.
    expect(packer.rows).toBe(0)
    expect(packer.take()).toBeNull()
    packer.append([['next', 2]])
    expect(unpackRows(packer.take()!)).toEqual([['next', 2]])
    expect(unpackRows(taken)).toEqual(requests.flat())
  })

  it('handOver gives its own buffer without a copy and goes on in a new one', () => {
    const packer = new RowPacker()
    const batch = Array.from({length: 200}, (_, i) => [`req-${i}`, 'x'.repeat(400), i])
    packer.append(batch)
    const first = packer.handOver()!
    // The whole buffer (grown past 64 KB), the rows at its start.
    expect(first.buffer.byteLength).toBeGreaterThan(first.length)
    expect(unpackRows(first)).toEqual(batch)
    // The next batch does not write over the one handed over, and gets a buffer as large.
    packer.append([['next', 1]])
    const second = packer.handOver()!
    expect(second.buffer).not.toBe(first.buffer)
    expect(second.buffer.byteLength).toBe(first.buffer.byteLength)
    expect(unpackRows(first)).toEqual(batch)
    expect(unpackRows(second)).toEqual([['next', 1]])
    expect(packer.handOver()).toBeNull()
  })

  it('appends nothing from rows holding a value it cannot carry, and clear() drops what was appended', () => {
    const packer = new RowPacker()
    packer.append([['a', 1]])
    expect(packer.append([['b', 2], ['c', undefined]])).toBe(false)
    expect(packer.rows).toBe(1)
    expect(unpackRows(packer.take()!)).toEqual([['a', 1]])
    packer.append([['d']])
    packer.clear()
    expect(packer.take()).toBeNull()
  })
})
