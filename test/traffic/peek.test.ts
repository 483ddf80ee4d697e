import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {peekLineKeys} from '../../src/traffic/peek.js'
import {lineKeys, type LineKeys} from '../../src/traffic/reader.js'
import {jsonTooDeepAt, MAX_NESTING} from '../../src/util/nesting.js'
import {repoRoot} from '../helpers/cli.js'

/**
 * What the reader makes of a line's bytes, the slow way: the keys `keep` is asked with after
 * JSON.parse, or null when the line is not a JSON object the reader takes (bad UTF-8, malformed,
 * too deep, not an object). peekLineKeys may say null where this does not, never anything else.
 */
const decoder = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})
function slowKeys(b: Buffer): LineKeys | null {
  let text: string
  try {
    text = decoder.decode(b)
  } catch {
    return null
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (jsonTooDeepAt(text) >= 0 || value === null || typeof value !== 'object' || Array.isArray(value)) return null
  return lineKeys(value as Record<string, unknown>)
}

const peek = (text: string | Buffer) => peekLineKeys(typeof text === 'string' ? Buffer.from(text, 'utf8') : text)

// Domains the reader's code has never seen: tau-bench's retail orders (every line with a session)
// and the banking assistant (none).
const shipped = ['retail-orders', 'banking-assistant'].flatMap((name) =>
  readFileSync(path.join(repoRoot, 'scenarios', name, 'traffic.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== ''),
)

describe('peekLineKeys', () => {
  it("reads every shipped line's id and session exactly as JSON.parse does", () => {
    for (const line of shipped) {
      const keys = peek(line)
      expect(keys).not.toBeNull()
      expect(keys).toEqual(slowKeys(Buffer.from(line)))
    }
    const sessions = shipped.map((l) => peek(l)?.session ?? null)
    expect(sessions.filter((s) => s !== null).length).toBeGreaterThan(50)
    expect(sessions.filter((s) => s === null).length).toBeGreaterThan(50)
  })

  it('says nothing of a line where the bytes could read otherwise than JSON.parse reads them', () => {
    const refused = [
      // A second top-level id or session: JSON.parse keeps the last.
      '{"id":"a","x":1,"id":"b"}',
      '{"id":"a","session_id":"s","session_id":"t"}',
      // A key with an escape may spell id or session_id.
      '{"id":"a","session\\u005fid":"s"}',
      '{"i\\u0064":"a"}',
      // Values that are not plain ASCII strings, or ids the reader does not take.
      '{"id":"a\\u0062"}',
      '{"id":"é"}',
      '{"id":7,"session_id":"s"}',
      '{"id":"a","session_id":null}',
      '{"id":""}',
      `{"id":"${'x'.repeat(201)}"}`,
      '{"session_id":"s"}',
      // Malformed after the keys: the line fails to parse, and is then keyed by its id alone.
      '{"id":"a","session_id":"s","n":01}',
      '{"id":"a","session_id":"s","n":1.}',
      '{"id":"a","session_id":"s","x":tru}',
      '{"id":"a","session_id":"s","x":"\\q"}',
      '{"id":"a","session_id":"s","x":"\\ug041"}',
      '{"id":"a","session_id":"s","x":"\\u004"}',
      '{"id":"a","session_id":"s","x":[{"y":1]}}',
      '{"id":"a","session_id":"s","x":"tab\there"}',
      '{"id":"a","session_id":"s","x":[1,]}',
      '{"id":"a","session_id":"s",}',
      '{"id":"a","session_id":"s"} {}',
      '{"id":"a","session_id":"s"',
      '\uFEFF{"id":"a"}',
      '[{"id":"a"}]',
      '{}',
      '',
    ]
    for (const line of refused) expect([line, peek(line)]).toEqual([line, null])
    // Bad UTF-8 after the keys, and nesting one level past the limit.
    expect(peek(Buffer.concat([Buffer.from('{"id":"a","session_id":"s","x":"'), Buffer.from([0xff]), Buffer.from('"}')]))).toBeNull()
    const nest = (depth: number) => `{"id":"a","session_id":"s","x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`
    expect(peek(nest(MAX_NESTING))).toEqual({id: 'a', session: 's'})
    expect(peek(nest(MAX_NESTING + 1))).toBeNull()
    expect(slowKeys(Buffer.from(nest(MAX_NESTING + 1)))).toBeNull()
  })

  it('reads keys past nested ids, escaped quotes and other keys, and whitespace JSON allows', () => {
    const line = ' {\t"x" : {"id":"nested","session_id":"no"} , "id" : "r-1",\r"s":"say \\"id\\": \\"no\\"","session_id":"s-1","y":[{"id":"z"},-0.5e+3,true,false,null]}  '
    expect(peek(line)).toEqual({id: 'r-1', session: 's-1'})
    expect(slowKeys(Buffer.from(line))).toEqual({id: 'r-1', session: 's-1'})
    expect(peek('{"id":"r-2","msg":"café ✓ \\ud83d\\ude00"}')).toEqual({id: 'r-2', session: null})
  })

  it('never answers otherwise than JSON.parse on lines mutated at random', () => {
    let seed = 11
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32
    const alphabet = Buffer.from('{}[]",:\\u0 19-+eE.tfnrulsa_id\t\r\n')
    const odd = [0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xa9, 0xed, 0xa0, 0xf4, 0x90, 0xff]
    const seeds = [...shipped.filter((_, i) => i % 8 === 0), '{"id":"a","session_id":"s","x":[{"id":"b"},"\\"",1e5]}', '{"x":{},"id":"q","y":[[]],"session_id":"t"}'].map((l) => Buffer.from(l))
    let vouched = 0
    const runs = 20_000
    for (let k = 0; k < runs; k++) {
      let b = seeds[Math.floor(next() * seeds.length)]!
      const edits = 1 + Math.floor(next() * 3)
      for (let e = 0; e < edits; e++) {
        // Aim most edits at the start, where the keys and the structure around them are.
        const at = Math.floor((next() < 0.7 ? Math.min(b.length, 60) : b.length) * next())
        const byte = Buffer.of(next() < 0.85 ? alphabet[Math.floor(next() * alphabet.length)]! : odd[Math.floor(next() * odd.length)]!)
        const op = next()
        const rest = b.subarray(op < 0.4 || op >= 0.7 ? at + 1 : at)
        b = Buffer.concat(op < 0.4 ? [b.subarray(0, at), rest] : [b.subarray(0, at), byte, rest])
      }
      const fast = peekLineKeys(b)
      if (fast === null) continue
      vouched++
      const slow = slowKeys(b)
      if (slow?.id !== fast.id || slow.session !== fast.session) expect([b.toString('latin1'), fast]).toEqual([b.toString('latin1'), slow])
    }
    // Enough mutated lines were vouched for (edits in strings keep a line valid) to have tested something.
    expect(vouched).toBeGreaterThan(runs / 10)
  })
})
