import {describe, expect, it} from 'vitest'
import {pathLocator} from '../../src/util/path-position.js'

const YAML = `name: desk
tools:
  - name: quote_fare
    args:
      type: object
      properties:
        fare: {type: number, maximum: 900}
  - name: book
policies: []
`

describe('pathLocator', () => {
  const at = pathLocator(YAML)

  it('points at the key of a mapping entry and at the item of a list, 1-based', () => {
    expect(at(['name'])).toBe('1:1')
    expect(at(['tools', 0])).toBe('3:5')
    expect(at(['tools', 0, 'args', 'type'])).toBe('5:7')
    expect(at(['tools', 0, 'args', 'properties', 'fare', 'maximum'])).toBe('7:30')
    expect(at(['tools', 1, 'name'])).toBe('8:5')
  })

  it('points a missing field at the deepest part of its path that exists', () => {
    expect(at(['tools', 1, 'args'])).toBe('8:5')
    expect(at(['tools', 7, 'name'])).toBe('2:1')
    expect(at(['budgets'])).toBe('1:1')
  })

  it('reads JSON as YAML, and a leading byte-order mark does not shift the columns', () => {
    const json = pathLocator('{\n  "model": {"name": "m", "seed": "x"}\n}\n')
    expect(json(['model', 'seed'])).toBe("2:26")
    expect(pathLocator('\ufeffa: 1\nb: 2\n')(['b'])).toBe('2:1')
  })

  it('gives no position for text that is not YAML, and never throws', () => {
    expect(pathLocator('')(['a'])).toBeNull()
    expect(pathLocator(': : :\n\t- ]')(['a'])).toBeNull()
  })
})
