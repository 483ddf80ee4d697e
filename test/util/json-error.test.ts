import {describe, expect, it} from 'vitest'
import {findJsonSyntaxError} from '../../src/util/json-error.js'
import {firstInvalidUtf8} from '../../src/traffic/utf8.js'

describe('findJsonSyntaxError', () => {
  it('accepts what JSON.parse accepts', () => {
    for (const ok of ['{}', '[]', ' {"a":[1,-2.5e+3,true,false,null,"x\\u00e9\\n"],"b":{}} ', '0', '"s"', '[[[]]]']) {
      expect(JSON.parse(ok)).toBeDefined()
      expect(findJsonSyntaxError(ok)).toBeNull()
    }
  })

  it.each([
    ['{"a":}', 6, "unexpected '}' (expected a value)"],
    ['{"a" 1}', 6, "unexpected '1' (expected ':' after the property name)"],
    ["{'a':1}", 2, "unexpected ''' (expected a property name or '}')"],
    ['{"a":1,}', 8, "unexpected '}' (expected a property name in double quotes)"],
    ['[1 2]', 4, "unexpected '2' (expected ',' or ']')"],
    ['{"a":1} x', 9, "unexpected 'x' after the JSON value"],
    ['{"a":01}', 7, "unexpected '1' in a number (no leading zeros)"],
    ['{"a":tru}', 9, "unexpected '}' (expected true)"],
    ['{"a":"x', 8, 'unexpected end of line (unterminated string from column 6)'],
    ['{"a":"\\q"}', 7, 'bad escape \\q in a string'],
    ['{"a":"\t"}', 7, 'control character U+0009 in a string (must be escaped)'],
    ['{"a":[1,', 9, 'unexpected end of line (expected a value)'],
  ])('%s → column %i', (text, column, message) => {
    expect(() => JSON.parse(text)).toThrow()
    expect(findJsonSyntaxError(text)).toMatchObject({column, message})
  })
})

describe('firstInvalidUtf8', () => {
  it('finds the first bad sequence and passes good text', () => {
    expect(firstInvalidUtf8(Buffer.from('héllo 🚀 日本'))).toBeNull()
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xff]))).toEqual({offset: 1, reason: 'byte never valid in UTF-8 0xFF'})
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x80]))?.offset).toBe(1)
    // Overlong "/" and an encoded surrogate are rejected as the decoder does.
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xc0, 0xaf]))?.offset).toBe(2)
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))?.offset).toBe(0)
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xe6, 0x97]))).toEqual({
      offset: 1,
      reason: 'sequence starting 0xE6 cut short by the end of the line',
    })
  })

  it('agrees with TextDecoder on lead bytes and the edges of their second-byte ranges', () => {
    const dec = new TextDecoder('utf-8', {fatal: true})
    const agree = (bytes: Uint8Array): void => {
      let valid = true
      try {
        dec.decode(bytes)
      } catch {
        valid = false
      }
      expect([...bytes].concat(firstInvalidUtf8(bytes) === null ? 1 : 0)).toEqual([...bytes].concat(valid ? 1 : 0))
    }
    for (let a = 0; a < 256; a++) {
      for (const b of [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff]) {
        agree(Uint8Array.from([a, b, 0x80, 0x80]))
        agree(Uint8Array.from([a, b]))
      }
    }
  })
})
