import {describe, expect, it} from 'vitest'
import stringWidth from 'string-width'
import {breakToWidth, displayWidth, fitWidth, graphemes} from '../../src/util/display-width.js'

describe('display width', () => {
  it('counts CJK and emoji as two columns, combining marks and joiners as none', () => {
    expect(displayWidth('abc')).toBe(3)
    expect(displayWidth('退款')).toBe(4)
    expect(displayWidth('👍')).toBe(2)
    expect(displayWidth('👨‍👩‍👧')).toBe(2)
    expect(displayWidth('e\u0301')).toBe(1)
  })

  it('breaks text into pieces of at most the line width, the first in the room left', () => {
    expect(breakToWidth('abcdefgh', 3, 3)).toEqual(['abc', 'def', 'gh'])
    expect(breakToWidth('abcdefgh', 2, 4)).toEqual(['ab', 'cdef', 'gh'])
    expect(breakToWidth('abc', 5, 5)).toEqual(['abc'])
    expect(breakToWidth('退款已经', 3, 3)).toEqual(['退', '款', '已', '经'])
    // No room left on the current line: the first piece is empty.
    expect(breakToWidth('退款', 1, 4)).toEqual(['', '退款'])
    // A grapheme wider than a whole line still moves on, one per line.
    expect(breakToWidth('退款', 1, 1)).toEqual(['', '退', '款'])
    expect(breakToWidth('ae\u0301b', 2, 2)).toEqual(['ae\u0301', 'b'])
  })

  it('fits a cell to exactly the width, cutting wide characters with an ellipsis and padding', () => {
    expect(fitWidth('ab', 4)).toBe('ab  ')
    expect(fitWidth('abcdef', 4)).toBe('abc…')
    expect(fitWidth('退款已经', 4)).toBe('退… ')
    expect(fitWidth('退款', 4)).toBe('退款')
    for (const s of ['退款已经处理', '👍👍👍', 'a退款b', 'x']) for (const w of [1, 2, 3, 4, 5]) expect(displayWidth(fitWidth(s, w))).toBe(w)
  })

  it('segments in windows exactly as the whole string segments, clusters straddling the window edges included', () => {
    const family = '👨‍👩‍👧‍👦'
    const flag = '🇫🇷'
    const zalgo = 'e' + '\u0301'.repeat(150)
    const pieces = ['a', '退', family, flag, zalgo, 'é', 'e\u0301', '👍🏽', ' ', '\r\n', 'x']
    let seed = 7
    let text = ''
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      text += pieces[seed % pieces.length]
    }
    const whole = Array.from(new Intl.Segmenter(undefined, {granularity: 'grapheme'}).segment(text), (x) => x.segment)
    expect([...graphemes(text)]).toEqual(whole)
    expect(displayWidth(text)).toBe(stringWidth(text))
  })

  it('stays linear on a long text that is not ASCII', () => {
    // Node 20's Intl.Segmenter iterates a one-byte (Latin-1) string in quadratic time: this took minutes.
    const text = 'é'.repeat(150_000)
    const started = Date.now()
    expect(displayWidth(text)).toBe(150_000)
    const pieces = breakToWidth(text, 10, 58)
    expect(pieces.length).toBe(1 + Math.ceil((150_000 - 10) / 58))
    expect(pieces.slice(1, -1).every((p) => p.length === 58)).toBe(true)
    expect(fitWidth(text, 20)).toBe('é'.repeat(19) + '…')
    expect(Date.now() - started).toBeLessThan(15_000)
  }, 120_000)
})

