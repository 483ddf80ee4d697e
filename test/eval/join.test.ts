import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {KeyedTrafficCursor, TrafficCursor, type RecordCursor} from '../../src/runs/traffic-join.js'
import type {TrafficRecord} from '../../src/traffic/schema.js'
import {trafficRecord, type TrafficRecordOverrides} from '../factories/index.js'

const json = (over: TrafficRecordOverrides): string => JSON.stringify(trafficRecord(over))

/** Asks a cursor for every line 1..n in order, as a run's traces would. */
async function readAll(cursor: RecordCursor, ids: string[]): Promise<(TrafficRecord | null)[]> {
  const out: (TrafficRecord | null)[] = []
  try {
    for (let i = 0; i < ids.length; i++) out.push(await cursor.recordAt(i + 1, ids[i]!))
  } finally {
    await cursor.close()
  }
  return out
}

/** As the scorecard's pass asks: in hand when it can be, awaited when the next chunk is needed. */
async function readAllInChunk(cursor: KeyedTrafficCursor, ids: string[]): Promise<{records: (TrafficRecord | null)[]; awaited: number}> {
  const records: (TrafficRecord | null)[] = []
  let awaited = 0
  try {
    for (let i = 0; i < ids.length; i++) {
      let r = cursor.recordInChunk(i + 1, ids[i]!)
      if (r === undefined) {
        awaited++
        r = await cursor.recordAt(i + 1, ids[i]!)
      }
      records.push(r)
    }
  } finally {
    await cursor.close()
  }
  return {records, awaited}
}

function write(lines: string[], end = '\n'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'understudy-join-'))
  const file = path.join(dir, 'traffic.jsonl')
  writeFileSync(file, lines.join('\n') + end)
  return file
}

describe('KeyedTrafficCursor', () => {
  it('returns exactly the records TrafficCursor returns for the lines holding the key, null for the rest', async () => {
    const filler = 'x'.repeat(700_000)
    const lines = [
      '\uFEFF' + json({id: 'a', expect: {tools: ['lookup_order']}}),
      json({id: 'b'}),
      '',
      json({id: 'c', expect: {decision: 'deny'}}) + '\r',
      // Valid JSON, invalid record: the schema wants an array of tools.
      JSON.stringify({...trafficRecord({id: 'd'}), expect: {tools: 'lookup_order'}}),
      '{"id": "e", "expect": {',
      // Edited since the run: another request now sits on this line.
      json({id: 'f-edited', expect: {decision: 'allow'}}),
      // Long lines, so that one spans the reader's 1 MiB chunks.
      json({id: 'g', expect: {answer_contains: ['shipped']}, labels: {note: filler}}),
      json({id: 'h', expect: {answer_contains: ['refund']}, labels: {note: filler}}),
      // The key spelled with an escape still counts.
      json({id: 'i', expect: {decision: 'allow'}}).replace('"expect"', '"\\u0065xpect"'),
      // A BOM is only one at the start of the file.
      '\uFEFF' + json({id: 'k', expect: {decision: 'allow'}}),
      json({id: 'l', expect: {decision: 'deny'}}).replace('It has shipped.', 'It has shipped. \u0000INVALID'),
      json({id: 'j', expect: {forbidden_tools: ['send_email']}}),
    ]
    const ids = ['a', 'b', 'blank', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'k', 'l', 'j']
    const dir = mkdtempSync(path.join(tmpdir(), 'understudy-join-'))
    const file = path.join(dir, 'traffic.jsonl')
    // Line 12 carries a byte that is not UTF-8.
    const text = Buffer.from(lines.join('\n'))
    text[text.indexOf('\u0000INVALID')] = 0xff
    writeFileSync(file, text)
    const full = await readAll(new TrafficCursor(file), ids)
    const keyed = await readAll(new KeyedTrafficCursor(file, 'expect'), ids)
    expect(full.map((r) => r?.id ?? null)).toEqual(['a', 'b', null, 'c', null, null, null, 'g', 'h', 'i', null, null, 'j'])
    expect(keyed).toEqual(full.map((r) => (r?.expect === undefined ? null : r)))
    expect(keyed[8]?.labels.note).toHaveLength(filler.length)
    const inChunk = await readAllInChunk(new KeyedTrafficCursor(file, 'expect'), ids)
    expect(inChunk.records).toEqual(keyed)
    // The first chunk, the one after it (line h spans both) and the end of the file.
    expect(inChunk.awaited).toBe(3)
  })

  it('skips lines no trace asks for, answers a repeated line again, and null past the end', async () => {
    const file = write([json({id: 'a', expect: {decision: 'deny'}}), json({id: 'b', expect: {decision: 'allow'}}), json({id: 'c', expect: {decision: 'allow'}})])
    const cursor = new KeyedTrafficCursor(file, 'expect')
    try {
      expect((await cursor.recordAt(2, 'b'))?.expect).toEqual({decision: 'allow'})
      expect((await cursor.recordAt(2, 'b'))?.id).toBe('b')
      expect(await cursor.recordAt(2, 'other')).toBeNull()
      expect(await cursor.recordAt(1, 'a')).toBeNull()
      expect(await cursor.recordAt(9, 'z')).toBeNull()
    } finally {
      await cursor.close()
    }
  })

  it('treats a line over the size limit as unreadable', async () => {
    const file = write([json({id: 'a', expect: {decision: 'deny'}, labels: {note: 'y'.repeat(5000)}}), json({id: 'b', expect: {decision: 'deny'}})])
    expect((await readAll(new KeyedTrafficCursor(file, 'expect', 4096), ['a', 'b'])).map((r) => r?.id ?? null)).toEqual([null, 'b'])
  })

  it('a missing file is a one-line error naming it', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'understudy-join-')), 'gone.jsonl')
    await expect(readAll(new KeyedTrafficCursor(file, 'expect'), ['a'])).rejects.toThrow(`${file}: cannot read traffic file: no such file`)
  })
})
