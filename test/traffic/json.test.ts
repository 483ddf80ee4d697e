import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {TrafficCursor} from '../../src/runs/traffic-join.js'
import {createRedactor} from '../../src/runtime/redact.js'
import {hasDigitRun, parseTrafficJson} from '../../src/traffic/json.js'
import {readTraffic} from '../../src/traffic/reader.js'
import {sha256} from '../../src/util/canonical.js'
import {removeTempDirs, tempDir, trafficRecordInput} from '../factories/index.js'

afterAll(removeTempDirs)

/** A 19-digit card number (Luhn-valid): past 2^53, JSON.parse rounds it to another number. */
const CARD_19 = '6011000990139424009'

describe('parseTrafficJson', () => {
  it('reads an integer past 2^53 as its exact digits, everything else as JSON.parse does', () => {
    expect(String(JSON.parse(CARD_19))).toBe('6011000990139424000')
    expect(parseTrafficJson(`{"card": ${CARD_19}, "n": -${CARD_19}, "safe": 4111111111111111, "f": 12345678901234567.5, "e": 1e300}`)).toEqual({
      card: CARD_19,
      n: `-${CARD_19}`,
      safe: 4111111111111111,
      f: Number('12345678901234567.5'),
      e: 1e300,
    })
  })

  it('leaves digits inside strings and keys alone, escaped quotes included', () => {
    const text = `{"a\\"${CARD_19}": "x\\" ${CARD_19}", "b": [${CARD_19}]}`
    expect(parseTrafficJson(text)).toEqual({[`a"${CARD_19}`]: `x" ${CARD_19}`, b: [CARD_19]})
  })

  it('finds a run of digits exactly where /\\d{n}/ does, probing one character in n', () => {
    let seed = 7
    const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    for (let i = 0; i < 20000; i++) {
      const n = 1 + Math.floor(next() * 20)
      let s = ''
      const len = Math.floor(next() * 3 * n)
      for (let k = 0; k < len; k++) s += next() < 0.85 ? String(Math.floor(next() * 10)) : next() < 0.5 ? 'x' : '٣'
      expect(hasDigitRun(s, n), `${n} ${s}`).toBe(new RegExp(`\\d{${n}}`).test(s))
    }
    expect(hasDigitRun('9'.repeat(16), 16)).toBe(true)
    expect(hasDigitRun(`a${'9'.repeat(15)}b${'9'.repeat(15)}`, 16)).toBe(false)
  })

  it('still rejects malformed JSON', () => {
    expect(() => parseTrafficJson(`{"a": ${CARD_19}`)).toThrow()
    expect(() => parseTrafficJson(`{"a": ${CARD_19}x}`)).toThrow()
  })
})

describe('the traffic readers keep a big card number exact', () => {
  it('readTraffic and the keyed cursor hand the tool result its digits, which redaction then takes as a card', async () => {
    const record = trafficRecordInput({
      production: {tool_calls: [{id: 'c1', name: 'lookup_order', args: {}, result: {card: 0}, latency_ms: 1, attempt: 1}]},
      expect: {tools: ['lookup_order']},
    })
    const file = path.join(tempDir(), 't.jsonl')
    writeFileSync(file, JSON.stringify(record).replace('"card":0', `"card":${CARD_19}`) + '\n')
    const lines = []
    for await (const l of readTraffic(file)) lines.push(l)
    expect(lines[0]!.ok && lines[0]!.record.production.tool_calls[0]!.result).toEqual({card: CARD_19})
    const cursor = new TrafficCursor(file)
    const joined = await cursor.recordAt(1, record.id)
    expect(joined?.production.tool_calls[0]?.result).toEqual({card: CARD_19})
    await cursor.close()
    expect(createRedactor().redactValue({card: CARD_19})).toEqual({card: `[REDACTED:card:${sha256(CARD_19).slice(0, 8)}]`})
  })
})
