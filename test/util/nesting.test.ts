import {describe, expect, it} from 'vitest'
import {jsonTooDeepAt, MAX_NESTING} from '../../src/util/nesting.js'

describe('jsonTooDeepAt', () => {
  it('finds the first bracket past the limit, whatever the counting shortcut', () => {
    const deep = `${'['.repeat(MAX_NESTING + 1)}${']'.repeat(MAX_NESTING + 1)}`
    expect(jsonTooDeepAt(deep)).toBe(MAX_NESTING)
    expect(jsonTooDeepAt(`{"a":${'{"b":'.repeat(MAX_NESTING)}1${'}'.repeat(MAX_NESTING)}}`)).toBe(5 + 5 * (MAX_NESTING - 1))
    expect(jsonTooDeepAt(`[${'['.repeat(MAX_NESTING - 1)}${']'.repeat(MAX_NESTING)}`)).toBe(-1)
  })

  it('does not count brackets inside strings, however many there are', () => {
    // More brackets than the limit in all, so the count alone cannot clear it; the scan must.
    const text = JSON.stringify({s: '['.repeat(MAX_NESTING * 2), t: '{'.repeat(MAX_NESTING * 2), a: [[{}]]})
    expect(jsonTooDeepAt(text)).toBe(-1)
    // Many shallow brackets side by side are not depth either.
    expect(jsonTooDeepAt(JSON.stringify(Array.from({length: MAX_NESTING * 2}, () => ({a: [1]}))))).toBe(-1)
  })
})
